"""The staff inbox on the real stack (`aftercare run`: Rasa with the Telegram and widget
channels, the action server, the notifier, the inbox) with a Telegram client on the fake Bot
API, a widget client and a staff member in real browsers (Playwright + Debian chromium)."""

from __future__ import annotations

import html
import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.domain.advisor import Advisor
from bot.domain.intents import topic_intents
from bot.kb.loader import load_clinic
from bot.serve.harness import free_port
from bot.settings import PROJECT_DIR
from tests.conftest import AFTERCARE, DOMAIN, SCREENSHOTS, RunningBot
from tests.fakes.telegram_api import FakeTelegramApi
from tests.test_red_flags_end_to_end import wait_until
from tests.test_web_widget import open_chat, send, wait_for_bot_messages

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery staple"
USER = 6161
WIDGET_RED_FLAG = "there's yellow pus and the skin feels hot"
TELEGRAM_RED_FLAG = "there is yellow pus coming out of my cheek and it smells"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received = []
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.fixture
def stack(trained_model, clinic_dir, tmp_path, hook):
    api = FakeTelegramApi()
    api.start()
    settings = clinic_dir / "settings.yml"
    on = f'    webhook:\n      url: "{hook}"\n    #   url:'
    settings.write_text(settings.read_text().replace("    # webhook:\n    #   url:", on))
    env = {
        "AFTERCARE_CLINIC_DIR": str(clinic_dir),
        "AFTERCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "AFTERCARE_TRACKER_DB": str(tmp_path / "tracker.db"),
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE_URL": api.base_url,
    }
    bot = RunningBot(env)
    bot.start()
    added = subprocess.run(
        [AFTERCARE, "staff", "add", "Sam", "--role", "admin"],
        input=PASSWORD + "\n",
        cwd=PROJECT_DIR,
        env=bot.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    bot.api, bot.advisor = api, Advisor(load_clinic(clinic_dir, topic_intents(DOMAIN)))
    yield bot
    assert bot.stop() == 0
    api.stop()


def telegram_texts(api: FakeTelegramApi) -> list[str]:
    return [
        html.unescape(c["params"]["text"])
        for c in api.calls("sendMessage")
        if str(c["params"]["chat_id"]) == str(USER)
    ]


def telegram_says(api: FakeTelegramApi, text: str, replies: int = 1) -> list[str]:
    before = len(telegram_texts(api))
    api.push_text(USER, text)
    assert wait_until(lambda: len(telegram_texts(api)) >= before + replies, 90)
    return telegram_texts(api)[before:]


def escalations(bot: RunningBot) -> str:
    """`aftercare escalations list` of the running bot (for a failure's message)."""
    listing = subprocess.run(
        [AFTERCARE, "escalations", "list", "--all"],
        cwd=PROJECT_DIR,
        env=bot.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    import httpx

    tracker = httpx.get(f"http://127.0.0.1:{bot.port}/conversations/telegram-{USER}/tracker").json()
    events = [
        (e["event"], e.get("name") or e.get("text"), (e.get("parse_data") or {}).get("intent"))
        for e in tracker["events"][-30:]
    ]
    return listing.stdout + listing.stderr + "\n" + json.dumps(events, default=str)


def shots(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"inbox-{name}.png", full_page=True)


def staff_page(chromium, bot: RunningBot, size: str = "desktop"):
    context = chromium.new_context(viewport=SIZES[size], locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"http://127.0.0.1:{bot.inbox_port}/")
    page.get_by_label("Name").fill("Sam")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Queue").wait_for()
    return page


def test_staff_take_over_reply_and_hand_back_on_telegram_and_the_widget(
    stack, chromium, browser_page
):
    bot, api, advisor = stack, stack.api, stack.advisor
    telegram_says(api, "my treatment was 3 days ago")
    telegram_says(api, TELEGRAM_RED_FLAG)
    widget = browser_page
    widget.goto(f"http://127.0.0.1:{bot.web_port}/")
    open_chat(widget, advisor)
    wait_for_bot_messages(widget, 2)
    send(widget, advisor, WIDGET_RED_FLAG)
    assert wait_until(lambda: len(_Hook.received) >= 2, 30)  # both alerted

    # From the alert to a reply in the client's chat, in the browser, without a terminal.
    started = time.monotonic()
    staff = staff_page(chromium, bot)
    items = staff.locator("li.item")
    assert wait_until(lambda: items.count() == 2, 20)
    assert staff.locator("li.item", has_text="Telegram").count() == 1
    assert staff.locator("li.item", has_text="Website chat").count() == 1
    assert items.first.locator(".level").inner_text() == "URGENT"
    shots(staff, "queue-desktop")
    staff.locator("li.item", has_text="Telegram").locator("a").click()
    staff.get_by_role("button", name="Claim (bot goes quiet)").click()
    staff.get_by_text("You have this chat").wait_for()
    joined = advisor.phrase("handoff.staff_joined", staff_name="Sam")
    assert wait_until(lambda: joined in telegram_texts(api), 20)
    reply = "Hi, this is Sam. Could you send a photo? <b>not bold</b>"
    staff.get_by_label("Reply to the client").fill(reply)
    staff.get_by_role("button", name="Send", exact=True).click()
    assert wait_until(lambda: any(reply in t for t in telegram_texts(api)), 20)
    assert any(t.startswith("Sam (") for t in telegram_texts(api))
    took = time.monotonic() - started  # log in, find it, claim, reply: well under a minute
    print(f"alert to reply in the client's Telegram chat: {took:.1f} s")
    assert took < 60

    # While the chat is owned the bot is quiet, but a new red flag still alerts.
    # Taking the chat acknowledged its escalation (no "seen" notice: they were told who joined).
    staff.get_by_text("Acknowledged by inbox:Sam").wait_for()
    before = len(telegram_texts(api))
    api.push_text(USER, "can I wear makeup tomorrow?")
    staff.locator(".line.client", has_text="makeup tomorrow").wait_for(timeout=20_000)
    alerts = len(_Hook.received)
    api.push_text(USER, "the pus is worse now and my face is hot and I feel feverish")
    assert wait_until(lambda: len(_Hook.received) > alerts, 30), escalations(bot)
    assert _Hook.received[-1]["level"] == "urgent"
    time.sleep(2)
    assert len(telegram_texts(api)) == before  # the bot said nothing in the owned chat
    shots(staff, "conversation-desktop")

    # Hand back: the client is told and the bot answers again.
    staff.get_by_role("button", name="Hand back to the bot").click()
    left = advisor.phrase("handoff.staff_left", staff_name="Sam")
    assert wait_until(lambda: left in telegram_texts(api), 20)
    answered = telegram_says(api, "when will I see results?")
    assert answered and "Sam" not in answered[0]
    # Once only: a staff event written from outside a turn ends listening (without that, the
    # rules ran the answer up to 10 times).
    count = len(telegram_texts(api))
    time.sleep(3)
    assert len(telegram_texts(api)) == count and len(set(answered)) == len(answered)

    # The widget client: a reply with HTML arrives as text, and resolve tells them.
    staff.goto(f"http://127.0.0.1:{bot.inbox_port}/")
    staff.locator("li.item", has_text="Website chat").locator("a").click()
    attack = "Please come in <img src=x onerror=alert(1)> today"
    staff.get_by_label("Reply to the client").fill(attack)
    staff.get_by_role("button", name="Send", exact=True).click()
    widget.locator(".message.bot .text", has_text="onerror=alert(1)").wait_for(timeout=30_000)
    assert widget.locator(".message.bot img").count() == 0 and not widget.errors
    widget.screens.shot("staff-reply")
    staff.get_by_role("button", name="Resolve").first.click()
    resolved = advisor.phrase("handoff.resolved")
    widget.locator(".message.bot .text", has_text=resolved.split(".")[0]).wait_for(timeout=30_000)

    # The widget's "Talk to a person" button puts a request in the queue, which shows it by
    # itself (flashing: marked new) while staff have it open.
    staff.goto(f"http://127.0.0.1:{bot.inbox_port}/")
    assert staff.locator("li.item.level-question").count() == 0
    widget.get_by_role("button", name=advisor.phrase("web.talk_to_person")).click()
    recorded = advisor.phrase("handoff.recorded").split(":")[0]
    widget.locator(".message.bot .text", has_text=recorded).wait_for(timeout=30_000)
    staff.locator("li.item.new.level-question", has_text="Website chat").wait_for(timeout=20_000)
    assert staff.title().startswith("(!)")

    # The audit log shows who did what, without the words.
    staff.goto(f"http://127.0.0.1:{bot.inbox_port}/audit")
    audit = staff.locator("table").inner_text()
    for action in ("took the chat", "replied", "acknowledged", "handed back", "resolved"):
        assert action in audit
    assert "not bold" not in audit and "onerror" not in audit
    shots(staff, "audit-desktop")
    staff.goto(f"http://127.0.0.1:{bot.inbox_port}/overview")
    staff.locator("svg").first.wait_for()
    shots(staff, "overview-desktop")
    staff.context.close()

    phone = staff_page(chromium, bot, "phone")
    phone.goto(f"http://127.0.0.1:{bot.inbox_port}/?view=resolved")
    shots(phone, "queue-phone")
    phone.locator("li.item a").first.click()
    phone.get_by_role("heading", level=1).wait_for()
    shots(phone, "conversation-phone")
    phone.goto(f"http://127.0.0.1:{bot.inbox_port}/overview")
    shots(phone, "overview-phone")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    phone.context.close()
