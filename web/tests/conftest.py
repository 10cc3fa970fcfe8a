"""The browser tests' harness: the local gateway on a free port, Debian's Chromium driven by
Playwright, and a Person: one browser context (its own storage, like its own phone) that
signs up through the app's own screens."""

import json
import os
import re
import signal
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("WHATSPE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUT = Path(os.environ.get("WHATSPE_WEB_TEST_OUT", ROOT / "target" / "web-test"))
# A phone-sized screen: the app must work there.
PHONE = {"width": 390, "height": 760}
DESKTOP = {"width": 1100, "height": 760}
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def gateway():
    """The local gateway (in-memory stores) on a free port; its base URL."""
    binary = os.environ.get("WHATSPE_LOCAL_BIN", str(ROOT / "target" / "debug" / "whatspe-local"))
    OUT.mkdir(parents=True, exist_ok=True)
    log = open(OUT / "gateway.log", "w")
    # The gateway logs to stdout: into the file, so a full pipe never blocks it.
    proc = subprocess.Popen(
        [binary, "--store", "memory", "--port", "0"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "RUST_LOG": os.environ.get("RUST_LOG", "info"),
            "NO_COLOR": "1",
            # Every browser here signs in from 127.0.0.1: the per-IP sign-in and look-up
            # limits (issue 15) would stop the suite's ~20 sign-ups, as for api-check.
            "WHATSPE_OTP_IP_SENDS_PER_HOUR": "1000000",
            "WHATSPE_OTP_IP_VERIFIES_PER_HOUR": "1000000",
            "WHATSPE_LOOKUPS_PER_MINUTE": "1000000",
            "WHATSPE_LOOKUPS_PER_DAY": "1000000",
        },
    )
    base = None
    deadline = time.monotonic() + 30
    while base is None and time.monotonic() < deadline and proc.poll() is None:
        m = re.search(r"listening on (http://\S+)", (OUT / "gateway.log").read_text())
        if m:
            base = m.group(1)
        else:
            time.sleep(0.05)
    if base is None:
        proc.kill()
        raise RuntimeError(f"the gateway did not start; see {OUT / 'gateway.log'}")
    yield base
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    assert "panicked" not in (OUT / "gateway.log").read_text(), "the gateway panicked"


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


_phones = iter(range(9_890_100_000, 9_890_200_000))


class Person:
    """One user on one device: a browser context of their own."""

    def __init__(self, browser, base, name, viewport):
        self.name = name
        self.base = base
        self.context = browser.new_context(viewport=viewport, base_url=base)
        self.page: Page = self.context.new_page()
        self.errors = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.console = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.phone = str(next(_phones))
        self.offline = False
        # Every socket of this "phone" goes through here, so the test can drop it like a
        # network would (the server sees the connection end; the page sees code 1006).
        self.sockets = []
        # Every frame each way, parsed: what the page sent (`sent`) and what the server sent
        # it (`received`, including frames `drop` kept from the page).
        self.sent = []
        self.received = []
        # A test may set `drop(frame) -> bool` (the page never gets that frame, as if lost)
        # and `cut_after(frame) -> bool` (the network goes right after that frame reached the
        # server: the socket closes before any answer; once).
        self.drop = None
        self.cut_after = None
        self.context.route_web_socket(re.compile(r"/ws$"), self._socket)

    def _socket(self, route):
        if self.offline:
            route.close()
            return
        server = route.connect_to_server()
        self.sockets.append(server)

        # Frames pass both ways unless the test makes this socket silent (`silence()`).
        def to_server(message):
            if getattr(route, "silent", False):
                return
            frame = _frame(message)
            if frame:
                self.sent.append(frame)
            server.send(message)
            if frame and self.cut_after and self.cut_after(frame):
                self.cut_after = None
                route.silent = True  # nothing more either way, not even an answer in flight
                server.close()

        def to_page(message):
            if getattr(route, "silent", False):
                return
            frame = _frame(message)
            if frame:
                self.received.append(frame)
                if self.drop and self.drop(frame):
                    return
            route.send(message)

        route.on_message(to_server)
        server.on_message(to_page)
        self.routes = getattr(self, "routes", []) + [route]

    def silence(self):
        """The current socket stops carrying frames without closing (a NAT that forgot it)."""
        for route in getattr(self, "routes", []):
            route.silent = True

    def enter_code(self):
        """Phone number, then the code the local gateway's SMS outbox shows (the dev hint)."""
        p = self.page
        if not p.url.startswith(self.base):
            p.goto("/")
        p.get_by_label("Phone number").fill(self.phone)
        p.get_by_role("button", name="Send code").click()
        p.get_by_role("button", name="Use it").click()
        expect(p.get_by_label("Code", exact=True)).to_have_value(re.compile(r"^\d{6}$"))
        p.get_by_role("button", name="Verify").click()

    def sign_up(self):
        self.enter_code()
        self.page.get_by_label("Username").fill(self.name)
        self.page.get_by_role("button", name="Create account").click()
        expect(self.page.get_by_role("heading", name=self.name)).to_be_visible()
        self.wait_connected()
        return self

    def sign_in(self):
        """A known number: straight into the app."""
        self.enter_code()
        expect(self.page.get_by_role("heading", name=self.name)).to_be_visible()
        self.wait_connected()
        return self

    def wait_connected(self):
        expect(self.page.locator("body")).to_have_attribute("data-connection", "ready")

    @property
    def user_id(self):
        return self.page.evaluate("window.whatspe.api.me.id")

    def tab(self, name):
        self.page.get_by_role("tab", name=name).click()

    def request_contact(self, other: "Person"):
        p = self.page
        self.tab("Contacts")
        p.get_by_label("Find people").fill(other.name)
        p.get_by_role("button", name="Search").click()
        p.get_by_role("button", name=f"Add contact {other.name}", exact=True).click()
        expect(p.get_by_role("list", name="Sent requests")).to_contain_text(other.name)

    def accept_contact(self, other: "Person"):
        p = self.page
        self.tab("Contacts")
        p.get_by_role("button", name=f"Accept {other.name}", exact=True).click()
        expect(p.get_by_role("list", name="Contacts")).to_contain_text(other.name)

    def open_chat_with(self, other: "Person"):
        self.tab("Contacts")
        self.page.get_by_role("link", name=f"Message {other.name}", exact=True).click()
        expect(self.page.get_by_role("heading", name=other.name, level=2)).to_be_visible()

    def open_chat(self, title):
        self.tab("Chats")
        self.page.get_by_role("list", name="Chats").get_by_role("link", name=re.compile(re.escape(title))).click()
        expect(self.page.get_by_role("heading", name=title, level=2)).to_be_visible()

    def send(self, text):
        box = self.page.get_by_label("Message", exact=True)
        box.fill(text)
        box.press("Enter")

    def messages(self):
        """The open conversation's bubbles, as a locator."""
        return self.page.get_by_role("log").locator("li.msg")

    def message(self, text):
        return self.messages().filter(has_text=text)

    def bubble(self, text):
        """The open conversation's message whose own text is exactly `text` (not a reply
        quoting it)."""
        own = self.page.locator(".bubble > .text").filter(has_text=re.compile(f"^{re.escape(text)}$"))
        return self.messages().filter(has=own)

    def options(self, text):
        """Opens the options of the message whose text is `text`; the sheet (a dialog)."""
        self.bubble(text).get_by_role("button", name="Message options").click()
        sheet = self.page.get_by_role("dialog")
        expect(sheet).to_be_visible()
        return sheet

    def react(self, text, emoji):
        self.options(text).get_by_role("button", name=f"React with {emoji}").click()

    def chat_item(self, title):
        """The chat list's entry for `title` (the Chats tab shown: beside the chat on a desktop)."""
        self.tab("Chats")
        return self.page.get_by_role("list", name="Chats").get_by_role("link", name=re.compile(re.escape(title)))

    def go_offline(self):
        """The network goes away: the socket drops (the server closes it), new sockets and
        requests fail."""
        self.offline = True
        while self.sockets:
            self.sockets.pop().close()
        self.context.set_offline(True)

    def go_online(self):
        self.offline = False
        self.context.set_offline(False)

    def close(self):
        assert not self.errors, f"{self.name}'s page threw: {self.errors}"
        self.context.close()


@pytest.fixture
def people(browser, gateway):
    made = []

    def make(name, viewport=PHONE):
        person = Person(browser, gateway, name, viewport)
        made.append(person)
        return person

    yield make
    for person in made:
        (OUT / f"{person.name}.console.log").write_text("\n".join(person.console))
        person.close()


def _frame(message):
    """A socket message as a frame dict (None if it is not one)."""
    try:
        frame = json.loads(message)
    except (TypeError, ValueError):
        return None
    return frame if isinstance(frame, dict) else None


def png(width=96, height=64):
    """A real PNG (a colour gradient) the browser can decode and thumbnail."""
    rows = b"".join(
        b"\x00" + b"".join(bytes(((x * 255) // width, (y * 255) // height, 128)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
