"""Rejecting a request, logging out and signing back in, in the browser."""

from playwright.sync_api import expect
from test_chat import name


def test_reject_a_request_then_log_out_and_sign_back_in(people):
    asha = people(name("asha")).sign_up()
    ravi = people(name("ravi")).sign_up()

    # Ravi asks; the request reaches Asha live (REQ); she rejects it.
    ravi.request_contact(asha)
    asha.tab("Contacts")
    requests = asha.page.get_by_role("list", name="Contact requests")
    expect(requests).to_contain_text(ravi.name)
    asha.page.get_by_role("button", name=f"Reject {ravi.name}", exact=True).click()
    expect(requests).to_have_count(0)
    expect(asha.page.get_by_role("list", name="Contacts")).to_have_count(0)

    # Logging out ends the session: its tokens stop working, the sign-in screen is back.
    old = asha.page.evaluate("whatspe.api.session")
    asha.page.get_by_role("button", name="Log out").click()
    expect(asha.page.get_by_label("Phone number")).to_be_visible()
    assert asha.page.evaluate("localStorage.getItem('whatspe.session')") is None
    refused = asha.page.evaluate(
        """async (token) => (await fetch('/api/auth/refresh', {method: 'POST',
            headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({refreshToken: token})})).status""",
        old["refreshToken"],
    )
    assert refused == 401

    # The same number signs back in to the same account (no registration this time).
    asha.sign_in()
    assert asha.user_id == old["user"]["id"]
