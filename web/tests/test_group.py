"""Three people in a group, on three Chromium sessions: create it, invite by link, admins,
messages with sender names, and WhatsApp's tick rule (read once every member read it)."""

import re

from conftest import DESKTOP
from playwright.sync_api import expect
from test_chat import contacts, name


def test_a_group_of_three_with_an_invite_link_and_read_ticks(people):
    asha = people(name("asha"), DESKTOP).sign_up()
    ravi = people(name("ravi")).sign_up()
    meera = people(name("meera")).sign_up()
    contacts(asha, ravi)

    # Asha creates the group with Ravi, her contact.
    group = f"Trip {asha.name[-4:]}"
    asha.page.get_by_role("button", name="New group").click()
    dialog = asha.page.get_by_role("dialog")
    dialog.get_by_label("Group name").fill(group)
    dialog.get_by_role("checkbox", name=ravi.name).check()
    dialog.get_by_role("button", name="Create group").click()
    expect(asha.page.get_by_role("heading", name=group, level=2)).to_be_visible()
    expect(asha.messages().first).to_contain_text("You created the group")

    # An invite link brings Meera, who is nobody's contact.
    asha.page.get_by_role("button", name="Group info").click()
    dialog.get_by_role("button", name="Create link").click()
    link = dialog.get_by_label("Invite link")
    expect(link).to_have_value(re.compile(r"#/join/[A-Za-z0-9_-]{22}$"))
    invite = link.input_value()
    dialog.get_by_role("button", name="Close").click()
    meera.page.goto(invite)
    expect(meera.page.get_by_role("heading", name=group, level=2)).to_be_visible()
    expect(asha.messages().filter(has_text="joined with an invite link")).to_have_count(1)

    # Admins: Asha makes Ravi an admin.
    asha.page.get_by_role("button", name="Group info").click()
    members = dialog.get_by_role("list", name="Members")
    expect(members.get_by_role("listitem")).to_have_count(3)
    dialog.get_by_role("button", name=f"Make admin {ravi.name}").click()
    expect(dialog.get_by_role("button", name=f"Dismiss as admin {ravi.name}")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()

    ravi.open_chat(group)
    asha.send("Lunch at 1?")
    mine = asha.message("Lunch at 1?")
    # Both have the chat open: delivered to both, then read by both (blue).
    expect(ravi.message("Lunch at 1?")).to_contain_text(asha.name)
    expect(meera.message("Lunch at 1?")).to_have_count(1)
    expect(mine).to_have_attribute("data-status", "read")

    meera.send("count me in")
    expect(asha.message("count me in")).to_contain_text(meera.name)
    expect(ravi.message("count me in")).to_have_count(1)
    expect(meera.message("count me in")).to_have_attribute("data-status", "read")
    for person in (asha, ravi, meera):
        texts = person.messages().all_inner_texts()
        assert sum("Lunch at 1?" in t for t in texts) == 1, texts
        assert sum("count me in" in t for t in texts) == 1, texts
