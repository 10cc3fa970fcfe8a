"""Message actions between two Chromium sessions, through the app's own screens: a reply with
its quote, reactions (one each, replaced, taken back), an edit and a delete for everyone, each
seen live on the other side and again in the history after a reload."""

import re

from conftest import DESKTOP
from playwright.sync_api import expect
from test_chat import contacts, name

DELETED = "This message was deleted"
DELETED_OWN = "You deleted this message"


def pair(people):
    """Asha on a phone, Ravi on a desktop (his chat list stays beside the chat), contacts, each
    in the chat with the other."""
    asha = people(name("asha")).sign_up()
    ravi = people(name("ravi"), DESKTOP).sign_up()
    contacts(asha, ravi)
    asha.open_chat_with(ravi)
    ravi.open_chat_with(asha)
    return asha, ravi


def reopen(person, title):
    """The app opened afresh (the session is kept): everything from the history."""
    person.page.goto("/")
    person.wait_connected()
    person.open_chat(title)


def test_reply_shows_the_quote_on_both_sides_live_and_in_history(people):
    asha, ravi = pair(people)
    asha.send("Dinner at 7?")
    expect(ravi.bubble("Dinner at 7?")).to_have_count(1)
    original = asha.bubble("Dinner at 7?").get_attribute("data-id")

    # Someone else's message: react and reply, no edit or delete.
    sheet = ravi.options("Dinner at 7?")
    expect(sheet).to_have_accessible_name(f"Message from {asha.name}")
    expect(sheet.get_by_role("button", name="Reply", exact=True)).to_be_visible()
    expect(sheet.get_by_role("button", name="React with 👍")).to_be_visible()
    expect(sheet.get_by_role("button", name="Edit", exact=True)).to_have_count(0)
    expect(sheet.get_by_role("button", name="Delete", exact=True)).to_have_count(0)
    sheet.get_by_role("button", name="Reply", exact=True).click()
    expect(sheet).to_be_hidden()

    # The reply bar above the composer; Cancel takes it away and the next send is no reply.
    box = ravi.page.get_by_label("Message", exact=True)
    bar = ravi.page.locator(".composer-bar")
    expect(bar).to_be_visible()
    expect(bar).to_contain_text(f"Replying to {asha.name}")
    expect(bar).to_contain_text("Dinner at 7?")
    expect(box).to_be_focused()
    ravi.page.get_by_role("button", name="Cancel reply").click()
    expect(bar).to_be_hidden()
    ravi.send("not a reply")
    expect(asha.bubble("not a reply")).to_have_count(1)
    expect(asha.bubble("not a reply").locator(".quote")).to_have_count(0)

    # The reply: shown with its quote at once, sent with `rp`, the bar gone after the send.
    ravi.options("Dinner at 7?").get_by_role("button", name="Reply", exact=True).click()
    expect(bar).to_contain_text("Dinner at 7?")
    ravi.send("Yes! See you there")
    expect(bar).to_be_hidden()
    mine = ravi.bubble("Yes! See you there")
    expect(mine.get_by_role("button", name=f"In reply to {asha.name}: Dinner at 7?")).to_be_visible()
    expect(mine).to_have_attribute("data-status", re.compile("delivered|read"))
    sent = [f["d"] for f in ravi.sent if f["t"] == "MSG" and f["d"].get("c") == "Yes! See you there"]
    assert sent and all(d.get("rp") == original for d in sent), sent
    plain = [f["d"] for f in ravi.sent if f["t"] == "MSG" and f["d"].get("c") == "not a reply"]
    assert plain and all("rp" not in d for d in plain), plain

    # Asha gets it live (the MSG frame's `q`): her own message quoted, as "You".
    theirs = asha.bubble("Yes! See you there")
    quote = theirs.get_by_role("button", name="In reply to You: Dinner at 7?")
    expect(quote).to_be_visible()
    expect(quote.locator(".quote-sender")).to_have_text("You")
    # The quote leads to the message it answers.
    quote.click()
    expect(asha.bubble("Dinner at 7?")).to_have_class(re.compile(r"\bflash\b"))

    # From the history (`replyTo`), on both sides.
    reopen(asha, ravi.name)
    expect(asha.bubble("Yes! See you there").get_by_role("button", name="In reply to You: Dinner at 7?")).to_be_visible()
    expect(asha.bubble("not a reply").locator(".quote")).to_have_count(0)
    reopen(ravi, asha.name)
    expect(ravi.bubble("Yes! See you there").get_by_role("button", name=f"In reply to {asha.name}: Dinner at 7?")).to_be_visible()
    expect(ravi.messages()).to_have_count(3)


def test_reactions_replace_and_come_off_live_on_the_other_side(people):
    asha, ravi = pair(people)
    text = "Guess who got the job"
    asha.send(text)
    expect(ravi.bubble(text)).to_have_count(1)
    row_a = asha.bubble(text).get_by_role("group", name="Reactions")
    row_r = ravi.bubble(text).get_by_role("group", name="Reactions")
    expect(row_a).to_have_count(0)

    # Ravi reacts: the row under the bubble, on both sides (Asha's from the RCT frame).
    ravi.react(text, "👍")
    expect(row_a.get_by_role("button", name=f"👍 1: {ravi.name}")).to_be_visible()
    expect(row_r.get_by_role("button", name="👍 1: You")).to_have_attribute("aria-pressed", "true")
    expect(row_a.get_by_role("button", name=f"👍 1: {ravi.name}")).to_have_attribute("aria-pressed", "false")

    # One reaction each: a new one replaces his.
    ravi.react(text, "❤️")
    expect(row_a.get_by_role("button", name=f"❤️ 1: {ravi.name}")).to_be_visible()
    expect(row_a.get_by_role("button")).to_have_count(1)
    expect(row_r.get_by_role("button")).to_have_count(1)

    # Asha taps his reaction under the bubble: hers too, counted.
    row_a.get_by_role("button", name=f"❤️ 1: {ravi.name}").click()
    expect(row_a.get_by_role("button", name=f"❤️ 2: You, {ravi.name}")).to_be_visible()
    expect(row_r.get_by_role("button", name=f"❤️ 2: You, {asha.name}")).to_be_visible()
    expect(row_r.locator(".count")).to_have_text("2")

    # Ravi taps his own reaction again in the picker: it comes off, on both sides.
    sheet = ravi.options(text)
    expect(sheet.get_by_role("button", name="React with ❤️")).to_have_attribute("aria-pressed", "true")
    expect(sheet.get_by_role("button", name="React with 👍")).to_have_attribute("aria-pressed", "false")
    sheet.get_by_role("button", name="React with ❤️").click()
    expect(row_a.get_by_role("button", name="❤️ 1: You")).to_be_visible()
    expect(row_r.get_by_role("button", name=f"❤️ 1: {asha.name}")).to_have_attribute("aria-pressed", "false")

    # Asha takes hers back from the row: no reactions left anywhere.
    row_a.get_by_role("button", name="❤️ 1: You").click()
    expect(row_a).to_have_count(0)
    expect(row_r).to_have_count(0)

    # The history has them: a reaction, then both apps opened afresh.
    ravi.react(text, "😂")
    expect(row_a.get_by_role("button", name=f"😂 1: {ravi.name}")).to_be_visible()
    reopen(asha, ravi.name)
    expect(row_a.get_by_role("button", name=f"😂 1: {ravi.name}")).to_be_visible()
    reopen(ravi, asha.name)
    expect(row_r.get_by_role("button", name="😂 1: You")).to_have_attribute("aria-pressed", "true")
    expect(row_r.get_by_role("button")).to_have_count(1)


def test_edit_updates_the_other_side_with_edited(people):
    asha, ravi = pair(people)
    asha.send("Dinner at 7?")
    expect(ravi.bubble("Dinner at 7?")).to_have_count(1)
    expect(ravi.bubble("Dinner at 7?").locator(".edited")).to_have_count(0)

    # His options on her message offer no edit.
    sheet = ravi.options("Dinner at 7?")
    expect(sheet.get_by_role("button", name="Edit", exact=True)).to_have_count(0)
    sheet.get_by_role("button", name="Cancel").click()
    expect(sheet).to_be_hidden()

    # Hers do: the text goes in the composer, Save (Enter) sends the edit.
    sheet = asha.options("Dinner at 7?")
    expect(sheet).to_have_accessible_name("Your message")
    sheet.get_by_role("button", name="Edit", exact=True).click()
    box = asha.page.get_by_label("Message", exact=True)
    expect(box).to_have_value("Dinner at 7?")
    expect(box).to_be_focused()
    expect(asha.page.locator(".composer-bar")).to_contain_text("Edit message")
    expect(asha.page.get_by_role("button", name="Save")).to_be_visible()
    box.fill("Dinner at 8?")
    box.press("Enter")
    expect(box).to_have_value("")
    expect(asha.page.get_by_role("button", name="Send")).to_be_visible()
    mine = asha.bubble("Dinner at 8?")
    expect(mine.locator(".meta .edited")).to_have_text("edited")
    expect(asha.bubble("Dinner at 7?")).to_have_count(0)

    # Ravi's bubble changes in place (EDIT frame), marked edited; his chat list follows.
    theirs = ravi.bubble("Dinner at 8?")
    expect(theirs).to_have_count(1)
    expect(theirs.locator(".meta .edited")).to_have_text("edited")
    expect(ravi.bubble("Dinner at 7?")).to_have_count(0)
    expect(ravi.messages()).to_have_count(1)
    expect(ravi.chat_item(asha.name)).to_contain_text("Dinner at 8?")
    assert theirs.get_attribute("data-id") == mine.get_attribute("data-id")

    # The history has the edit.
    reopen(ravi, asha.name)
    expect(ravi.bubble("Dinner at 8?").locator(".meta .edited")).to_have_text("edited")
    expect(ravi.chat_item(asha.name)).to_contain_text("Dinner at 8?")

    # Past the server's 15 minutes, the options no longer offer an edit (a delete still).
    asha.page.evaluate(
        """(id) => {
            for (const chat of whatspe.store.chats.values()) {
                const m = chat.messages.get(id);
                if (m) m.createdAt = new Date(Date.now() - 16 * 60_000).toISOString();
            }
        }""",
        mine.get_attribute("data-id"),
    )
    sheet = asha.options("Dinner at 8?")
    expect(sheet.get_by_role("button", name="Delete", exact=True)).to_be_visible()
    expect(sheet.get_by_role("button", name="Edit", exact=True)).to_have_count(0)
    asha.page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()
    # Focus goes back to the message's options button.
    expect(mine.get_by_role("button", name="Message options")).to_be_focused()


def test_delete_for_everyone_leaves_a_tombstone_on_both_sides_and_after_reload(people):
    asha, ravi = pair(people)
    asha.send("keep this")
    asha.send("oops, wrong chat")
    expect(ravi.bubble("oops, wrong chat")).to_have_count(1)
    expect(ravi.chat_item(asha.name)).to_contain_text("oops, wrong chat")
    gone = asha.bubble("oops, wrong chat").get_attribute("data-id")

    # Not his to delete.
    sheet = ravi.options("oops, wrong chat")
    expect(sheet.get_by_role("button", name="Delete", exact=True)).to_have_count(0)
    sheet.get_by_role("button", name="Cancel").click()

    # Asks first: Cancel keeps the message.
    asha.options("oops, wrong chat").get_by_role("button", name="Delete", exact=True).click()
    confirm = asha.page.get_by_role("dialog", name="Delete message?")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(asha.bubble("oops, wrong chat")).to_have_count(1)

    asha.options("oops, wrong chat").get_by_role("button", name="Delete", exact=True).click()
    asha.page.get_by_role("dialog", name="Delete message?").get_by_role("button", name="Delete for everyone").click()

    def tombstone(person):
        # What the receiver sees; the sender is told it was theirs, as on WhatsApp.
        return person.messages().filter(has_text=DELETED_OWN if person is asha else DELETED)

    for person in (asha, ravi):
        expect(tombstone(person)).to_have_count(1)
        expect(tombstone(person)).to_have_attribute("data-id", gone)
        expect(person.message("oops, wrong chat")).to_have_count(0)
        expect(person.bubble("keep this")).to_have_count(1)
        # A tombstone takes no actions.
        expect(tombstone(person).get_by_role("button")).to_have_count(0)
    # Ravi's chat list shows it, as the server's does.
    expect(ravi.chat_item(asha.name)).to_contain_text(DELETED)
    expect(ravi.chat_item(asha.name)).not_to_contain_text("oops")

    # The history keeps the tombstone, in its place.
    for person, other in ((asha, ravi), (ravi, asha)):
        reopen(person, other.name)
        expect(person.messages()).to_have_count(2)
        expect(person.messages().last).to_contain_text(DELETED_OWN if person is asha else DELETED)
        expect(person.messages().last).to_have_attribute("data-id", gone)
        expect(person.message("oops, wrong chat")).to_have_count(0)
    expect(ravi.chat_item(asha.name)).to_contain_text(DELETED)
    # Asha's own chat list (her phone shows it when she goes back to it) says it was hers.
    asha.page.goto("/")
    asha.wait_connected()
    expect(asha.chat_item(ravi.name)).to_contain_text(DELETED_OWN)
