"""Check-ins in the website widget, on the real stack: `aftercare run` (Rasa with the web
channel, the action server, the notifier, the demo clinic page) driven by Debian's chromium
through Playwright. A check-in is sent the way the notifier sends it: by the real
`CheckinDispatcher` (here with a clock set to the check-in's time), through Rasa's API.

What is shown: the launcher counts a check-in sent while the page was closed (or while the
chat was closed), opening the chat shows it with its quick replies, and the chat's switch turns
check-ins off (recorded, pending ones skipped) and back on (planned again).

Screenshots: results/web/checkin-*.png (copied to docs/screenshots/).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from bot.alerts.checkins import CheckinDispatcher
from bot.alerts.rasa_api import RasaConversations
from bot.channels.web.format import conversation_id_for, new_token
from bot.channels.web.tokens import TokenSigner
from bot.domain.checkins import checkin_text
from bot.domain.intents import topic_intents
from bot.kb.loader import load_clinic
from bot.kb.model import Clinic
from bot.kb.store import ClinicStore
from bot.settings import PROJECT_DIR
from bot.storage.checkins import Checkins
from bot.storage.engine import session_factory
from tests.conftest import (
    AFTERCARE,
    DOMAIN,
    SCREENSHOTS,
    SHIPPED_CLINIC,
    RunningBot,
    register_client,
)
from tests.test_web_widget import (
    SITE,
    TOKEN_SECRET,
    api,
    bot_texts,
    client_texts,
    demo_url,
    issued,
    wait_for_bot_messages,
    words,
)

pytestmark = pytest.mark.integration
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 667}
DOCS_SCREENSHOTS = PROJECT_DIR / "docs" / "screenshots"
ROOT = "document.querySelector('#aftercare-chat').shadowRoot"


@pytest.fixture(scope="module")
def checkin_bot(tmp_path_factory, trained_model):
    """One running bot for the module, on a copy of the shipped clinic (its check-ins)."""
    home = tmp_path_factory.mktemp("web-checkins")
    clinic_dir = home / "clinic"
    shutil.copytree(SHIPPED_CLINIC, clinic_dir)
    bot = RunningBot(
        {
            "AFTERCARE_CLINIC_DIR": str(clinic_dir),
            "AFTERCARE_DATABASE_URL": f"sqlite:///{home / 'app.db'}",
            "AFTERCARE_TRACKER_DB": str(home / "tracker.db"),
            "AFTERCARE_WEB_TOKEN_SECRET": TOKEN_SECRET,
        }
    )
    bot.clinic_dir, bot.home = clinic_dir, home
    bot.start()
    bot.sessions = session_factory(f"sqlite:///{home / 'app.db'}")  # the bot made its schema
    yield bot
    assert bot.stop() == 0


@pytest.fixture(scope="module")
def clinic_of(checkin_bot) -> Clinic:
    return load_clinic(checkin_bot.clinic_dir, topic_intents(DOMAIN))


class Dispatcher:
    """The notifier's check-in dispatcher, run from the test at the moment it is told."""

    def __init__(self, bot: RunningBot):
        self.moment: datetime | None = None
        self.real = CheckinDispatcher(
            bot.sessions,
            ClinicStore(bot.clinic_dir, topic_intents(DOMAIN)),
            RasaConversations(f"http://127.0.0.1:{bot.port}"),
            clock=lambda: self.moment,
        )

    def cycle_at(self, moment: datetime) -> int:
        """One cycle at `moment`; how many check-ins were sent. (Playwright's sync API holds
        this thread's event loop, so the cycle runs in a thread of its own.)"""
        self.moment = moment
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, self.real.cycle()).result(timeout=120)


def due(bot: RunningBot, conversation: str) -> dict[str, datetime]:
    """The conversation's check-ins still to send: key → due time."""
    return {v.key: v.due_at for v in Checkins(bot.sessions).listing("due", conversation)}


def rows(bot: RunningBot, conversation: str) -> dict[str, object]:
    return {v.key: v for v in Checkins(bot.sessions).listing(sender_id=conversation)}


def stored_token(page) -> str:
    return page.evaluate(
        "() => Object.entries(localStorage).find(([k]) => k.startsWith('aftercare-chat:'))[1]"
    )


def linked_chat(page, bot: RunningBot, days_ago: int) -> tuple[dict, str]:
    """A client registered at the desk opens their clinic link: the chat opens, linked.
    Returns the client and the chat's conversation id."""
    client = register_client(bot.env, days_ago=days_ago)
    page.goto(demo_url(bot, f"/?code={client['code']}"))
    page.get_by_role("dialog").wait_for()
    (greeting,) = wait_for_bot_messages(page, 1)
    assert f"today is day {days_ago}" in greeting
    return client, conversation_id_for(stored_token(page))


def shot(page, name: str) -> None:
    """results/web/<name>.png at desktop size and <name>-phone.png at 375x667, copied to
    docs/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for suffix, size in (("", DESKTOP), ("-phone", PHONE)):
        page.set_viewport_size(size)
        path = SCREENSHOTS / f"{name}{suffix}.png"
        page.screenshot(path=path)
        shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)
    page.set_viewport_size(DESKTOP)


def expected_checkin(clinic: Clinic, key: str, client: dict) -> str:
    item = clinic.checkins.get(key)
    treated = date.fromisoformat(client["treatment_date"])
    return words(checkin_text(clinic, item, client["name"], treated, client["kind"]))


# --- a check-in in the widget ----------------------------------------------------------------


def test_a_checkin_sent_while_the_page_was_closed_is_counted_then_shown_and_answered(
    checkin_bot, clinic_of, advisor, browser_page
):
    bot, page, clinic = checkin_bot, browser_page, clinic_of
    # Day 2: the next check-in is day 3's, tomorrow morning (never due while this runs).
    client, conversation = linked_chat(page, bot, days_ago=2)
    assert set(due(bot, conversation)) == {"day3_morning", "day7", "day28_book_next"}
    page.get_by_role("button", name=advisor.phrase("web.close")).click()  # seen, closed
    page.goto("about:blank")  # the client leaves the site

    dispatcher = Dispatcher(bot)
    assert dispatcher.cycle_at(due(bot, conversation)["day3_morning"] + timedelta(minutes=1)) == 1
    assert rows(bot, conversation)["day3_morning"].status == "sent"

    # Back on the site: the launcher counts the check-in; the chat stays closed.
    page.goto(demo_url(bot))
    badge = page.locator(".badge")
    badge.wait_for()
    assert badge.inner_text() == "1"
    launcher = page.locator(".launcher")
    assert launcher.get_attribute("aria-label") == (
        f"{advisor.phrase('web.launcher')}. {advisor.phrase('web.unread', count=1)}"
    )
    assert launcher.get_attribute("aria-expanded") == "false"
    assert page.get_by_role("dialog").is_hidden()
    shot(page, "checkin-unread")

    # Opened: the check-in, with its quick replies; the count is gone.
    launcher.click()
    page.get_by_role("dialog").wait_for()
    assert bot_texts(page)[-1] == expected_checkin(clinic, "day3_morning", client)
    assert bot_texts(page)[-1].startswith("Hi Sam, day 3!")
    titles = [clinic.checkins.titles[m] for m in ("fine", "worried", "wrong")]
    assert page.locator(".replies .reply").all_inner_texts() == titles
    assert badge.is_hidden()
    assert launcher.get_attribute("aria-label") == advisor.phrase("web.launcher")
    shot(page, "checkin-open")

    before = page.locator(".message.bot").count()
    page.get_by_role("button", name="All good 👍").click()
    texts = wait_for_bot_messages(page, before + 1)
    fine = clinic.checkins.replies["fine"].format(**clinic.settings.placeholders())
    assert texts[-1] == words(fine)
    assert client_texts(page)[-1] == "All good 👍"
    assert page.locator(".replies .reply").count() == 0
    assert rows(bot, conversation)["day3_morning"].answer == "fine"
    shot(page, "checkin-answered")

    # Seen: a reload shows no count. A check-in arriving while the page is open but the chat
    # closed is counted by the widget's polling.
    page.get_by_role("button", name=advisor.phrase("web.close")).click()
    page.reload()
    page.locator(".launcher").wait_for()
    page.wait_for_function(f"() => {ROOT}.querySelectorAll('.message.bot').length >= 3")
    assert badge.is_hidden()
    assert dispatcher.cycle_at(due(bot, conversation)["day7"] + timedelta(minutes=1)) == 1
    badge.wait_for(timeout=60_000)  # the widget asks every 15 s
    assert badge.inner_text() == "1"
    launcher.click()
    assert bot_texts(page)[-1] == expected_checkin(clinic, "day7", client)
    assert badge.is_hidden()
    assert page.errors == []


# --- the check-in switch ---------------------------------------------------------------------


def test_the_switch_turns_checkins_off_skipping_the_pending_ones_and_back_on(
    checkin_bot, advisor, browser_page
):
    bot, page = checkin_bot, browser_page
    _, conversation = linked_chat(page, bot, days_ago=2)
    planned = set(due(bot, conversation))
    assert planned == {"day3_morning", "day7", "day28_book_next"}
    switch = page.get_by_role("button", name=advisor.phrase("web.checkins_label"), exact=True)
    expect(switch).to_have_attribute("aria-pressed", "true")
    assert advisor.phrase("web.checkins_on") in switch.inner_text()
    hint = page.locator("#aa-checkins-hint")
    assert switch.get_attribute("aria-describedby") == "aa-checkins-hint"
    assert hint.inner_text() == advisor.phrase("web.checkins_hint")

    switch.focus()  # by keyboard
    page.keyboard.press("Enter")
    expect(switch).to_have_attribute("aria-pressed", "false")
    assert advisor.phrase("web.checkins_off") in switch.inner_text()
    checkins = Checkins(bot.sessions)
    assert checkins.opted_out(conversation) == "client"
    assert due(bot, conversation) == {}
    skipped = {(k, v.reason) for k, v in rows(bot, conversation).items() if v.status == "skipped"}
    assert skipped == {(key, "opted_out") for key in planned}
    shot(page, "checkins-off")

    # The setting is the chat's: a reload shows it off; questions are still answered.
    page.reload()
    page.get_by_role("dialog").wait_for()
    expect(switch).to_have_attribute("aria-pressed", "false")
    texts_before = page.locator(".message.bot").count()
    page.get_by_role("textbox", name=advisor.phrase("web.input_label"), exact=True).fill("thanks")
    page.keyboard.press("Enter")
    wait_for_bot_messages(page, texts_before + 1)

    switch.click()
    expect(switch).to_have_attribute("aria-pressed", "true")
    assert checkins.opted_out(conversation) is None
    assert set(due(bot, conversation)) == planned  # planned again
    assert page.errors == []


def checkins_call(bot: RunningBot, body, headers=SITE) -> httpx.Response:
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx.post(api(bot, "checkins"), headers=headers, content=content, timeout=60)


def test_the_checkins_route_checks_the_token_and_the_setting_and_tells_the_state(
    checkin_bot, advisor
):
    bot = checkin_bot
    token = issued(bot)
    conversation = conversation_id_for(token)
    session = httpx.post(api(bot, "session"), headers=SITE, content=json.dumps({"token": token}))
    assert session.json()["checkins"] is True

    off = checkins_call(bot, {"token": token, "on": False})
    assert off.status_code == 200 and off.json() == {"checkins": False}
    assert off.headers["access-control-allow-origin"] == SITE["Origin"]
    assert checkins_call(bot, {"token": token, "on": False}).json() == {"checkins": False}
    assert Checkins(bot.sessions).opted_out(conversation) == "client"
    session = httpx.post(api(bot, "session"), headers=SITE, content=json.dumps({"token": token}))
    assert session.json()["checkins"] is False

    # Not a boolean: refused, nothing changed.
    for on in ("yes", "true", 1, 0, None, [], {}):
        refused = checkins_call(bot, {"token": token, "on": on})
        assert refused.status_code == 400, on
        assert refused.json() == {"error": "bad_request", "field": "on"}
    missing = checkins_call(bot, {"token": token})
    assert missing.status_code == 400 and missing.json()["field"] == "on"
    assert Checkins(bot.sessions).opted_out(conversation) == "client"

    # A malformed body or token: 400; a token this server did not issue, or expired: 401.
    for body in ("not json", "[true]", {"on": True}, {"token": "short", "on": True}):
        response = checkins_call(bot, body)
        assert response.status_code == 400 and response.json() == {"error": "bad_request"}
    forged = TokenSigner(b"another-deployment-" + b"k" * 32).issue(None, time.time(), 30)
    for stranger in (new_token(), forged):
        response = checkins_call(bot, {"token": stranger, "on": True})
        assert response.status_code == 401 and response.json()["error"] == "unauthorised"
    lifetime = advisor.clinic.settings.web.chat_days
    chat = token.split(".")[0]
    expired = TokenSigner(TOKEN_SECRET.encode()).issue(
        chat, time.time() - (lifetime + 1) * 86_400, lifetime
    )
    response = checkins_call(bot, {"token": expired, "on": True})
    assert response.status_code == 401 and response.json()["error"] == "expired"
    other_site = checkins_call(
        bot, {"token": token, "on": True}, {"Origin": "https://evil.example"}
    )
    assert other_site.status_code == 403
    assert Checkins(bot.sessions).opted_out(conversation) == "client"

    on = checkins_call(bot, {"token": token, "on": True})
    assert on.status_code == 200 and on.json() == {"checkins": True}
    assert Checkins(bot.sessions).opted_out(conversation) is None


def test_the_clinics_off_wins_over_the_widgets_on(checkin_bot):
    bot = checkin_bot
    client = register_client(bot.env, days_ago=2)
    linked = httpx.post(
        api(bot, "session"),
        headers=SITE,
        content=json.dumps({"token": None, "code": client["code"]}),
        timeout=60,
    )
    token = linked.json()["token"]
    assert linked.json()["checkins"] is True
    subprocess.run(
        [AFTERCARE, "clients", "checkins", str(client["id"]), "off"],
        cwd=PROJECT_DIR,
        env=bot.env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    answer = checkins_call(bot, {"token": token, "on": True})
    assert answer.status_code == 200 and answer.json() == {"checkins": False}
    assert Checkins(bot.sessions).opted_out(conversation_id_for(token)) == "clinic"
    assert due(bot, conversation_id_for(token)) == {}


# --- visitors without a chat, and blocked storage ---------------------------------------------


def signed_chats(bot: RunningBot) -> int:
    with sqlite3.connect(bot.home / "app.db") as db:
        return db.execute("select count(*) from web_chats").fetchone()[0]


def test_a_visitor_without_a_chat_gets_none_started_by_the_unread_check(
    checkin_bot, advisor, browser_page
):
    bot, page = checkin_bot, browser_page
    before = signed_chats(bot)
    calls: list[str] = []
    page.on("request", lambda r: calls.append(urlsplit(r.url).path.rsplit("/", 1)[-1]))
    page.goto(demo_url(bot))
    page.get_by_role("button", name=advisor.phrase("web.launcher")).wait_for()
    page.wait_for_timeout(3_000)  # what the widget does next on its own
    assert "config" in calls
    assert "session" not in calls and "history" not in calls
    assert page.locator(".badge").is_hidden()
    assert signed_chats(bot) == before
    assert page.errors == []


def test_with_storage_blocked_the_chat_and_its_switch_still_work(checkin_bot, advisor, chromium):
    context = chromium.new_context()
    context.add_init_script(
        "for (const name of ['localStorage', 'sessionStorage']) {"
        "  Object.defineProperty(window, name, {get() { throw new DOMException('blocked'); }});"
        "}"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(demo_url(checkin_bot))
        page.get_by_role("button", name=advisor.phrase("web.launcher")).click()
        wait_for_bot_messages(page, 2)
        switch = page.get_by_role("button", name=advisor.phrase("web.checkins_label"))
        expect(switch).to_have_attribute("aria-pressed", "true")
        switch.click()
        expect(switch).to_have_attribute("aria-pressed", "false")
        page.get_by_role("button", name=advisor.phrase("web.close")).click()
        assert page.locator(".badge").is_hidden()
        assert errors == []
    finally:
        context.close()
