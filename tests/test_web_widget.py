"""The website chat widget on the real stack: `aftercare run` (Rasa with the web channel, the
action server, the notifier, the demo clinic page), driven by Debian's chromium through
Playwright, and the widget API called directly for what a browser never sends.

Screenshots of every step go to results/web/ (and one more when a test fails).
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import time
from urllib.parse import urlsplit

import httpx
import pytest

from bot.channels.control import SIGNATURE_HEADER, control_key, signed_request
from bot.channels.web.format import contrast_ratio, conversation_id_for, new_token
from bot.channels.web.tokens import TokenSigner
from bot.domain.advisor import Advisor
from bot.domain.intents import topic_intents
from bot.kb.loader import load_clinic
from bot.settings import PROJECT_DIR, Settings
from tests.conftest import AFTERCARE, DOMAIN, SHIPPED_CLINIC, RunningBot, register_client

pytestmark = pytest.mark.integration
EXTRA_SITE = "https://www.clinic-from-env.example"
TOKEN_SECRET = "widget-token-key-" + "7" * 32
SECRETS = ("smtp-pass-6a1f0c", "webhook-secret-93be77", TOKEN_SECRET)
SITE = {"Origin": "https://www.northside-skin.example"}
ALERTS_OFF_ON = (
    "    # webhook:\n    #   url:",
    '    webhook:\n      url: "http://127.0.0.1:9/hook"\n    #   url:',
)


@pytest.fixture(scope="module")
def web_bot(tmp_path_factory, trained_model):
    """One running bot for the module (each test uses its own browser profile or token)."""
    home = tmp_path_factory.mktemp("web")
    clinic_dir = home / "clinic"
    shutil.copytree(SHIPPED_CLINIC, clinic_dir)
    # An alert channel (nothing listens there: alerts wait, retried), so red flags are promised.
    settings = clinic_dir / "settings.yml"
    settings.write_text(settings.read_text().replace(*ALERTS_OFF_ON))
    bot = RunningBot(
        {
            "AFTERCARE_CLINIC_DIR": str(clinic_dir),
            "AFTERCARE_DATABASE_URL": f"sqlite:///{home / 'app.db'}",
            "AFTERCARE_TRACKER_DB": str(home / "tracker.db"),
            "AFTERCARE_WEB_ORIGINS": EXTRA_SITE,
            # Secrets of other features: none may reach the page, the script or the config.
            "AFTERCARE_SMTP_PASSWORD": SECRETS[0],
            "AFTERCARE_WEBHOOK_SECRET": SECRETS[1],
            "AFTERCARE_WEB_TOKEN_SECRET": TOKEN_SECRET,
        }
    )
    bot.clinic_dir, bot.home = clinic_dir, home
    bot.start()
    yield bot
    assert bot.stop() == 0


@pytest.fixture(scope="module")
def advisor_of(web_bot) -> Advisor:
    return Advisor(load_clinic(web_bot.clinic_dir, topic_intents(DOMAIN)))


def demo_url(bot: RunningBot, path: str = "/") -> str:
    return f"http://127.0.0.1:{bot.web_port}{path}"


def api(bot: RunningBot, route: str) -> str:
    return f"http://127.0.0.1:{bot.port}/webhooks/web/{route}"


def words(text: str) -> str:
    return " ".join(text.split())


def issued(bot: RunningBot, token: str | None = None) -> str:
    """A token the bot issued for a new chat (or for the chat of `token`)."""
    response = httpx.post(
        api(bot, "session"), headers=SITE, content=json.dumps({"token": token}), timeout=60
    )
    assert response.status_code == 200
    return response.json()["token"]


def escalations(bot: RunningBot) -> int:
    with sqlite3.connect(bot.home / "app.db") as db:
        return db.execute("select count(*) from escalations").fetchone()[0]


# --- driving the widget like a client ------------------------------------------------------


def open_chat(page, advisor: Advisor) -> None:
    page.get_by_role("button", name=advisor.phrase("web.launcher")).click()
    page.get_by_role("dialog").wait_for()


def bot_texts(page) -> list[str]:
    return [words(t) for t in page.locator(".message.bot .text").all_inner_texts()]


def client_texts(page) -> list[str]:
    return [t for t in page.locator(".message.client .text").all_inner_texts()]


def wait_for_bot_messages(page, count: int) -> list[str]:
    page.wait_for_function(
        "n => document.querySelector('#aftercare-chat').shadowRoot"
        ".querySelectorAll('.message.bot').length >= n",
        arg=count,
    )
    return bot_texts(page)


def send(page, advisor: Advisor, text: str) -> list[str]:
    """Type and send a message; wait for the reply; return every bot message shown."""
    before = page.locator(".message.bot").count()
    page.get_by_role("textbox", name=advisor.phrase("web.input_label"), exact=True).fill(text)
    page.keyboard.press("Enter")
    texts = wait_for_bot_messages(page, before + 1)
    page.locator(".typing.on").wait_for(state="detached")
    return texts


# --- the conversation in a browser -----------------------------------------------------------


def test_new_client_gives_date_gets_day_aware_answer_and_keeps_history_across_reload_and_pages(
    web_bot, advisor_of, browser_page
):
    page, shots = browser_page, browser_page.screens
    page.goto(demo_url(web_bot))
    clinic = advisor_of.clinic.settings
    assert page.title() == f"Home | {clinic.name}"
    header_colour = page.eval_on_selector("header.site", "e => getComputedStyle(e).backgroundColor")
    assert header_colour == "rgb(31, 111, 120)"  # web.colour #1f6f78 from the clinic settings
    shots.shot("demo-page")

    open_chat(page, advisor_of)
    assert page.get_by_role("dialog", name=clinic.name).is_visible()
    texts = wait_for_bot_messages(page, 2)
    assert texts[0] == words(advisor_of.phrase("chat.greet"))
    assert texts[1] == words(advisor_of.phrase("date.ask"))  # no code: the date is asked
    shots.shot("widget-open-asks-date")

    texts = send(page, advisor_of, "3 days ago")
    assert "today is day 3" in texts[2]
    shots.shot("date-given")

    texts = send(page, advisor_of, "can I go to the gym?")
    expected = advisor_of.answer("exercise", 3, "medical").reply
    assert texts[-1] == words(expected)
    assert texts[-1].startswith("Day 3")
    stamps = page.locator(".message time").evaluate_all("ts => ts.map(t => t.dateTime)")
    assert stamps and all(re.match(r"\d{4}-\d\d-\d\dT", s) for s in stamps)
    shots.shot("day-aware-answer")

    shown = bot_texts(page)
    page.reload()
    page.get_by_role("dialog").wait_for()  # it was open: it opens again, with the history
    assert wait_for_bot_messages(page, len(shown)) == shown
    assert client_texts(page) == ["3 days ago", "can I go to the gym?"]
    shots.shot("history-after-reload")

    page.get_by_role("link", name="Aftercare").click()
    page.wait_for_url(demo_url(web_bot, "/aftercare"))
    page.get_by_role("dialog").wait_for()
    assert wait_for_bot_messages(page, len(shown)) == shown
    shots.shot("history-on-another-page")
    assert page.errors == []


def test_red_flags_show_the_escalation_banner_and_the_staff_acknowledgement_arrives(
    web_bot, advisor_of, browser_page
):
    page, shots = browser_page, browser_page.screens
    page.goto(demo_url(web_bot))
    open_chat(page, advisor_of)
    wait_for_bot_messages(page, 2)
    send(page, advisor_of, "my treatment was 4 days ago")
    banner = page.locator(".banner")
    assert banner.is_hidden()

    send(page, advisor_of, "there's yellow pus and the skin feels hot")
    banner.wait_for()
    assert page.get_by_role("alert").filter(has_text="as urgent").is_visible()
    assert words(banner.inner_text()) == words(advisor_of.phrase("web.banner_urgent"))
    assert page.locator(".message.bot.escalated.urgent").count() == 1
    shots.shot("urgent-banner")

    send(page, advisor_of, "my lips and tongue are swelling and I can't breathe properly")
    page.locator(".banner.emergency").wait_for()
    assert advisor_of.phrase("web.banner_emergency") in banner.inner_text()
    call = page.locator(".banner-call")
    assert call.inner_text() == "999" and call.get_attribute("href") == "tel:999"
    shots.shot("emergency-banner")

    # Staff see it as an escalation and acknowledge it. The client has closed the chat: the
    # notice arrives as a count on the chat button, and is there when they open it.
    page.keyboard.press("Escape")
    badge = page.locator(".badge")
    assert badge.is_hidden()
    listing = subprocess.run(
        [AFTERCARE, "escalations", "list"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        env=web_bot.env,
        timeout=60,
    ).stdout
    emergency = next(line for line in listing.splitlines() if "emergency" in line)
    subprocess.run(
        [AFTERCARE, "escalations", "ack", emergency.split()[0].lstrip("#"), "--by", "nurse"],
        cwd=PROJECT_DIR,
        env=web_bot.env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    badge.wait_for(timeout=90_000)  # the widget checks every 15 s
    assert badge.inner_text() == "1"
    launcher = page.locator(".launcher")
    assert launcher.get_attribute("aria-label").endswith(advisor_of.phrase("web.unread", count=1))
    shots.shot("notice-badge")
    launcher.click()
    assert bot_texts(page)[-1] == words(advisor_of.phrase("escalation.acknowledged"))
    assert badge.is_hidden()
    shots.shot("acknowledged-notice")

    page.reload()  # the banner comes back with the history
    page.locator(".banner.emergency").wait_for()
    shots.shot("banner-after-reload")
    assert page.errors == []


def test_html_in_messages_is_shown_as_text(web_bot, advisor_of, browser_page):
    page, shots = browser_page, browser_page.screens
    page.goto(demo_url(web_bot))
    open_chat(page, advisor_of)
    wait_for_bot_messages(page, 2)
    attack = "<img src=x onerror=alert(1)>"
    send(page, advisor_of, attack)
    assert client_texts(page)[-1] == attack
    root = "document.querySelector('#aftercare-chat').shadowRoot"
    assert page.evaluate(f"{root}.querySelectorAll('img, script, iframe').length") == 0
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    shots.shot("html-as-text")
    page.reload()
    page.get_by_role("dialog").wait_for()
    page.locator(".message.client .text", has_text=attack).wait_for()
    assert page.evaluate(f"{root}.querySelectorAll('img').length") == 0
    shots.shot("html-as-text-after-reload")
    assert page.errors == []  # no alert() dialog, no script error


def test_link_code_answers_for_the_registered_treatment_without_asking_the_date(
    web_bot, advisor_of, browser_page
):
    page, shots = browser_page, browser_page.screens
    # Someone else chatted in this browser before (a shared computer).
    page.goto(demo_url(web_bot))
    open_chat(page, advisor_of)
    wait_for_bot_messages(page, 2)
    send(page, advisor_of, "my treatment was yesterday, I'm Pat Previous")
    page.keyboard.press("Escape")

    client = register_client(web_bot.env, days_ago=4)
    page.goto(demo_url(web_bot, f"/?code={client['code']}"))
    page.get_by_role("dialog").wait_for()  # a clinic link opens the chat at once
    (greeting,) = wait_for_bot_messages(page, 1)
    assert "today is day 4" in greeting
    assert "code" not in urlsplit(page.url).query  # used once, then gone from the address
    assert "Pat Previous" not in page.locator(".log").inner_text()  # a new chat of its own
    shots.shot("linked-greeting")

    texts = send(page, advisor_of, "can I wear makeup?")
    assert texts[-1] == words(advisor_of.answer("makeup", 4, client["kind"]).reply)
    assert words(advisor_of.phrase("date.ask")) not in texts
    shots.shot("answer-for-registered-day")

    listing = subprocess.run(
        [AFTERCARE, "clients", "list", "--json"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        env=web_bot.env,
        timeout=60,
    )
    (row,) = (c for c in json.loads(listing.stdout) if c["id"] == client["id"])
    assert [c["channel"] for c in row["conversations"]] == ["web"]
    assert row["conversations"][0]["conversation_id"].startswith("web-")

    page.reload()  # the same client's chat, still linked: no date question, no new greeting
    page.get_by_role("dialog").wait_for()
    assert wait_for_bot_messages(page, len(texts)) == texts
    shots.shot("linked-after-reload")


def test_new_chat_deletes_the_conversation_after_confirmation(web_bot, advisor_of, browser_page):
    page, shots = browser_page, browser_page.screens
    page.goto(demo_url(web_bot))
    open_chat(page, advisor_of)
    wait_for_bot_messages(page, 2)
    send(page, advisor_of, "it was 2 days ago and my name is Robin Gone")
    token = page.evaluate(
        "() => Object.entries(localStorage).find(([k]) => k.startsWith('aftercare-chat:'))[1]"
    )
    page.get_by_role("button", name=advisor_of.phrase("web.new_chat")).click()
    confirm = page.get_by_role("group", name=advisor_of.phrase("web.forget_confirm"))
    assert confirm.is_visible()
    root = "document.querySelector('#aftercare-chat').shadowRoot"
    assert page.evaluate(f"{root}.activeElement.textContent") == advisor_of.phrase("web.forget_no")
    shots.shot("confirm")
    page.get_by_role("button", name=advisor_of.phrase("web.forget_yes")).click()
    page.wait_for_function(
        f"() => !{root}.querySelector('.log').textContent.includes('Robin Gone')"
        f" && {root}.querySelectorAll('.message.bot').length >= 2"
    )
    assert bot_texts(page)[:2] == [
        words(advisor_of.phrase("chat.greet")),
        words(advisor_of.phrase("date.ask")),
    ]
    shots.shot("new-chat")
    tracker = httpx.get(
        f"http://127.0.0.1:{web_bot.port}/conversations/{conversation_id_for(token)}/tracker"
    ).json()
    assert "Robin Gone" not in json.dumps(tracker)


def test_widget_works_when_the_browser_blocks_storage(web_bot, advisor_of, chromium):
    context = chromium.new_context()
    context.add_init_script(
        "for (const name of ['localStorage', 'sessionStorage']) {"
        "  Object.defineProperty(window, name, {get() { throw new DOMException('blocked'); }});"
        "}"
    )
    page = context.new_page()
    try:
        page.goto(demo_url(web_bot))
        open_chat(page, advisor_of)
        wait_for_bot_messages(page, 2)
        assert any("today is day 2" in t for t in send(page, advisor_of, "2 days ago"))
    finally:
        context.close()


def test_widget_works_by_keyboard_and_screen_reader_with_quick_replies(
    web_bot, advisor_of, browser_page
):
    page, shots = browser_page, browser_page.screens
    page.goto(demo_url(web_bot))
    root = "document.querySelector('#aftercare-chat').shadowRoot"
    launcher = page.get_by_role("button", name=advisor_of.phrase("web.launcher"))
    assert launcher.get_attribute("aria-expanded") == "false"
    launcher.focus()
    page.keyboard.press("Enter")
    page.get_by_role("dialog").wait_for()
    assert launcher.get_attribute("aria-expanded") == "true"
    assert page.evaluate(f"{root}.activeElement.id") == "aa-input"  # focus moves in
    assert page.get_by_role("log").count() == 1
    wait_for_bot_messages(page, 2)
    send(page, advisor_of, "yesterday")
    assert page.evaluate(f"{root}.activeElement.id") == "aa-input"  # focus stays to type on

    # No guidance: the offer comes with Rasa's buttons, as quick replies.
    send(page, advisor_of, "do you sell gift vouchers?")
    yes = page.get_by_role("button", name=advisor_of.phrase("handoff.offer_yes"))
    yes.wait_for()
    assert page.get_by_role("button", name=advisor_of.phrase("handoff.offer_no")).is_visible()
    shots.shot("quick-replies")
    yes.focus()
    before = page.locator(".message.bot").count()
    page.keyboard.press("Enter")
    wait_for_bot_messages(page, before + 1)
    assert client_texts(page)[-1] == advisor_of.phrase("handoff.offer_yes")
    assert bot_texts(page)[-1] == words(advisor_of.phrase("handoff.recorded"))
    assert yes.count() == 0  # answered: the buttons are gone
    shots.shot("quick-reply-sent")

    # Screen-reader labels and contrast (WCAG AA: 4.5:1 for text).
    assert (
        page.locator(".message.bot .sr-only")
        .first.inner_text()
        .startswith(advisor_of.phrase("web.bot_said"))
    )
    colours = page.evaluate(
        f"""() => {{
        const r = {root};
        const css = (sel) => {{ const s = getComputedStyle(r.querySelector(sel));
            return [s.color, s.backgroundColor]; }};
        return {{launcher: css('.launcher'), client: css('.message.client'),
                 bot: css('.message.bot'), send: css('.send'), header: css('header'),
                 stamp: [getComputedStyle(r.querySelector('.message.bot time')).color,
                         getComputedStyle(r.querySelector('.message.bot')).backgroundColor]}};
    }}"""
    )
    for name, (fg, bg) in colours.items():
        assert contrast_ratio(hex_of(fg), hex_of(bg)) >= 4.5, (name, fg, bg)

    # Escape closes it and gives focus back to the launcher.
    page.keyboard.press("Escape")
    assert page.get_by_role("dialog").is_hidden()
    assert launcher.get_attribute("aria-expanded") == "false"
    assert page.evaluate(f"{root}.activeElement.className").startswith("launcher")
    shots.shot("closed-by-escape")


def test_on_a_phone_the_chat_fills_the_screen(web_bot, advisor_of, chromium):
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    try:
        page.goto(demo_url(web_bot))
        page.get_by_role("button", name=advisor_of.phrase("web.launcher")).tap()
        dialog = page.get_by_role("dialog")
        dialog.wait_for()
        wait_for_bot_messages(page, 2)
        box = dialog.bounding_box()
        assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
        close = page.get_by_role("button", name=advisor_of.phrase("web.close"))
        close_box = close.bounding_box()
        assert close_box["width"] >= 44 and close_box["height"] >= 44  # a finger-sized target
        page.screenshot(path=PROJECT_DIR / "results" / "web" / "phone-01-chat-open.png")
        close.tap()
        assert dialog.is_hidden()
    finally:
        context.close()


def test_too_long_message_gets_a_clear_message_and_nothing_is_lost(
    web_bot, advisor_of, browser_page
):
    page, shots = browser_page, browser_page.screens
    page.goto(demo_url(web_bot))
    open_chat(page, advisor_of)
    wait_for_bot_messages(page, 2)
    limit = advisor_of.clinic.settings.web.max_message_length
    long_text = "my skin is a bit red " * (limit // 20 + 5)
    box = page.get_by_role("textbox", name=advisor_of.phrase("web.input_label"), exact=True)
    box.fill(long_text)
    assert page.locator(".counter.over").is_visible()
    page.keyboard.press("Enter")
    notice = page.locator(".notice")
    notice.wait_for()
    assert notice.inner_text() == advisor_of.phrase("web.too_long", max_length=limit)
    assert box.input_value() == long_text  # kept, to shorten
    assert client_texts(page) == []
    shots.shot("too-long")


def hex_of(css_colour: str) -> str:
    r, g, b = (int(v) for v in re.findall(r"\d+", css_colour)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


# --- the widget API: what a browser on the clinic's site never sends -------------------------


def test_other_sites_are_refused_and_the_clinics_sites_get_cors_headers(web_bot):
    evil = {"Origin": "https://evil.example"}
    for method, route in (("GET", "config"), ("POST", "session"), ("POST", "history")):
        response = httpx.request(method, api(web_bot, route), headers=evil, content="{}")
        assert response.status_code == 403, route
        assert "access-control-allow-origin" not in response.headers
    for site in ("https://www.northside-skin.example", EXTRA_SITE, demo_url(web_bot).rstrip("/")):
        response = httpx.get(api(web_bot, "config"), headers={"Origin": site})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == site
    script = httpx.get(api(web_bot, "widget.js"))
    assert script.headers["content-type"].startswith("application/javascript")


def test_no_secret_reaches_the_page_the_script_or_the_config(web_bot):
    served = [
        httpx.get(demo_url(web_bot)),
        httpx.get(demo_url(web_bot, "/site.css")),
        httpx.get(api(web_bot, "widget.js")),
        httpx.get(api(web_bot, "widget.css")),
        httpx.get(api(web_bot, "config")),
    ]
    assert all(r.status_code == 200 for r in served)
    for response in served:
        for secret in SECRETS:
            assert secret not in response.text
    page = served[0]
    assert "script-src http://127.0.0.1:" in page.headers["content-security-policy"]


def test_malformed_and_oversized_requests_are_rejected(web_bot, advisor_of):
    site = SITE
    token = issued(web_bot)
    bad = [
        "not json",
        "[1, 2]",
        json.dumps({"text": "hello"}),  # no token
        json.dumps({"token": "short", "text": "hello"}),
        json.dumps({"token": token, "text": "x" * 70_000}),  # over the body limit
    ]
    for body in bad:
        response = httpx.post(api(web_bot, "message"), headers=site, content=body)
        assert response.status_code == 400, body[:40]
    limit = advisor_of.clinic.settings.web.max_message_length
    response = httpx.post(
        api(web_bot, "message"),
        headers=site,
        content=json.dumps({"token": token, "text": "a" * (limit + 1)}),
    )
    assert response.status_code == 413
    assert response.json()["message"] == advisor_of.phrase("web.too_long", max_length=limit)
    empty = httpx.post(
        api(web_bot, "message"), headers=site, content=json.dumps({"token": token, "text": " "})
    )
    assert empty.status_code == 400 and empty.json()["error"] == "empty"


def test_typed_or_forged_intent_syntax_is_read_as_words(web_bot):
    # Rasa reads "/intent{entities}" as an intent with entities set: a client must not be
    # able to forge one (by typing it, or as a button payload).
    site = SITE
    token = issued(web_bot)
    forged = '/deny{"symptom": "none"}'
    typed = httpx.post(
        api(web_bot, "message"),
        headers=site,
        content=json.dumps({"token": token, "text": forged}),
        timeout=60,
    )
    assert typed.status_code == 200
    as_payload = httpx.post(
        api(web_bot, "message"),
        headers=site,
        content=json.dumps({"token": token, "payload": forged}),
        timeout=60,
    )
    assert as_payload.status_code == 400  # not a domain intent, and no words with it
    tracker = httpx.get(
        f"http://127.0.0.1:{web_bot.port}/conversations/{conversation_id_for(token)}/tracker"
    ).json()
    said = [e["text"] for e in tracker["events"] if e["event"] == "user"]
    assert said == ["/day_summary", forged.lstrip("/")]  # the chat's opening, then words


def test_a_flood_of_messages_is_slowed_down(web_bot, advisor_of):
    site = SITE
    token = issued(web_bot)
    statuses = []
    for _ in range(25):
        response = httpx.post(
            api(web_bot, "message"),
            headers=site,
            content=json.dumps({"token": token, "text": "thanks"}),
            timeout=60,
        )
        statuses.append(response.status_code)
    assert statuses[:20] == [200] * 20 and set(statuses[20:]) == {429}
    assert response.json()["message"] == advisor_of.phrase("web.busy")
    # Still over the limit, an emergency is screened and answered, never just "busy".
    emergency = httpx.post(
        api(web_bot, "message"),
        headers=site,
        content=json.dumps({"token": token, "text": "my lips are swelling and I can't breathe"}),
        timeout=60,
    )
    assert emergency.status_code == 429 and emergency.json()["escalation"] == "emergency"
    assert emergency.json()["message"].startswith(advisor_of.phrase("notice.emergency"))


def test_two_browsers_never_see_each_others_chat(web_bot):
    site = SITE
    first, second = issued(web_bot), issued(web_bot)
    httpx.post(
        api(web_bot, "message"),
        headers=site,
        content=json.dumps({"token": first, "text": "my name is Alex Private"}),
        timeout=60,
    )
    other = httpx.post(
        api(web_bot, "history"), headers=site, content=json.dumps({"token": second})
    ).json()
    assert "Alex Private" not in json.dumps(other)
    mine = httpx.post(
        api(web_bot, "history"), headers=site, content=json.dumps({"token": first})
    ).json()
    assert "Alex Private" in json.dumps(mine)


# --- tokens: issued here, signed, expiring -------------------------------------------------

EMERGENCY = "my lips are swelling and I can't breathe"


def from_address(address: str) -> httpx.Client:
    """A client calling from another loopback address (its own per-address budget)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


def test_a_thousand_tokens_the_server_did_not_issue_are_refused_and_raise_no_alert(web_bot):
    before = escalations(web_bot)
    other_key = TokenSigner(b"another-deployment-" + b"k" * 32)
    real = issued(web_bot)
    chat, expires, signature = real.split(".")
    forged = []
    for i in range(1000):
        kind = i % 4
        if kind == 0:
            forged.append(new_token())  # made up, of the shape tokens had before signing
        elif kind == 1:
            forged.append(other_key.issue(None, time.time(), 30))  # another key
        elif kind == 2:
            forged.append(f"{new_token()}.{expires}.{signature}")  # a real signature, moved
        else:
            forged.append(f"{chat}.{int(expires) + 86_400 * i}.{signature}")  # a longer life
    statuses = []
    for half, address in ((forged[:500], "127.0.0.2"), (forged[500:], "127.0.0.3")):
        with from_address(address) as client:
            for token in half:
                body = json.dumps({"token": token, "text": EMERGENCY})
                statuses.append(client.post(api(web_bot, "message"), headers=SITE, content=body))
    assert [r.status_code for r in statuses] == [401] * 1000
    assert {r.json()["error"] for r in statuses} == {"unauthorised"}
    assert escalations(web_bot) == before  # nothing screened, stored or alerted
    # The real token still works.
    answer = httpx.post(
        api(web_bot, "message"),
        headers=SITE,
        content=json.dumps({"token": real, "text": "thanks"}),
        timeout=60,
    )
    assert answer.status_code == 200


def test_every_visit_renews_the_token_for_the_same_chat(web_bot):
    first = issued(web_bot)
    httpx.post(
        api(web_bot, "message"),
        headers=SITE,
        content=json.dumps({"token": first, "text": "my name is Robin Renewed"}),
        timeout=60,
    )
    time.sleep(1.1)  # a later second: a later expiry
    second = issued(web_bot, first)
    assert second != first and second.split(".")[0] == first.split(".")[0]
    assert int(second.split(".")[1]) > int(first.split(".")[1])
    history = httpx.post(
        api(web_bot, "history"), headers=SITE, content=json.dumps({"token": second})
    )
    assert "Robin Renewed" in history.text


def test_an_expired_token_is_refused_its_chat_cannot_be_resumed_but_can_be_deleted(
    web_bot, advisor_of
):
    token = issued(web_bot)
    chat = token.split(".")[0]
    httpx.post(
        api(web_bot, "message"),
        headers=SITE,
        content=json.dumps({"token": token, "text": "my name is Sam Expired"}),
        timeout=60,
    )
    lifetime = advisor_of.clinic.settings.web.chat_days
    expired = TokenSigner(TOKEN_SECRET.encode()).issue(
        chat, time.time() - (lifetime + 1) * 86_400, lifetime
    )
    message = httpx.post(
        api(web_bot, "message"),
        headers=SITE,
        content=json.dumps({"token": expired, "text": EMERGENCY}),
    )
    # Refused, but a red flag in it is still screened, answered and escalated.
    assert message.status_code == 401 and message.json()["error"] == "expired"
    assert message.json()["escalation"] == "emergency"
    assert message.json()["message"].startswith(advisor_of.phrase("notice.emergency"))
    assert message.json()["message"].endswith(advisor_of.phrase("web.expired"))
    calm = httpx.post(
        api(web_bot, "message"),
        headers=SITE,
        content=json.dumps({"token": expired, "text": "thanks"}),
    )
    assert calm.status_code == 401 and calm.json()["message"] == advisor_of.phrase("web.expired")
    history = httpx.post(
        api(web_bot, "history"), headers=SITE, content=json.dumps({"token": expired})
    )
    assert history.status_code == 401 and "Sam Expired" not in history.text
    renewed = httpx.post(
        api(web_bot, "session"), headers=SITE, content=json.dumps({"token": expired})
    )
    assert renewed.status_code == 200
    assert renewed.json()["token"].split(".")[0] != chat  # a new chat
    assert "Sam Expired" not in renewed.text
    # Its random part alone (shaped like a token from before signing) opens nothing either.
    as_bare = httpx.post(api(web_bot, "session"), headers=SITE, content=json.dumps({"token": chat}))
    assert as_bare.json()["token"].split(".")[0] != chat and "Sam Expired" not in as_bare.text
    forgotten = httpx.post(
        api(web_bot, "forget"), headers=SITE, content=json.dumps({"token": expired})
    )
    assert forgotten.status_code == 200
    tracker = httpx.get(
        f"http://127.0.0.1:{web_bot.port}/conversations/{conversation_id_for(chat)}/tracker"
    ).json()
    assert not [e for e in tracker["events"] if e["event"] == "user"]


def test_a_chat_from_before_tokens_were_signed_is_kept_and_gets_a_signed_token(web_bot):
    old = new_token()  # what a browser held before this release
    conversation = conversation_id_for(old)
    event = {"event": "bot", "text": "Hello from the previous release", "timestamp": time.time()}
    added = httpx.post(
        f"http://127.0.0.1:{web_bot.port}/conversations/{conversation}/tracker/events",
        json=event,
        timeout=60,
    )
    assert added.status_code == 200
    refused = httpx.post(api(web_bot, "history"), headers=SITE, content=json.dumps({"token": old}))
    assert refused.status_code == 401  # only /session takes it, to exchange it
    exchanged = httpx.post(
        api(web_bot, "session"), headers=SITE, content=json.dumps({"token": old})
    )
    assert exchanged.json()["token"].split(".")[0] == old
    assert "Hello from the previous release" in exchanged.text
    # Exchanged once: from then on only a signed token opens it.
    again = httpx.post(api(web_bot, "session"), headers=SITE, content=json.dumps({"token": old}))
    assert again.json()["token"].split(".")[0] != old
    assert "Hello from the previous release" not in again.text
    # A made-up token of the old shape names no chat: it gets a new one.
    made_up = new_token()
    fresh = httpx.post(
        api(web_bot, "session"), headers=SITE, content=json.dumps({"token": made_up})
    )
    assert fresh.json()["token"].split(".")[0] != made_up


def test_in_the_browser_an_ended_chat_keeps_the_message_and_the_next_send_starts_a_new_chat(
    web_bot, advisor_of, browser_page
):
    page, shots = browser_page, browser_page.screens
    page.goto(demo_url(web_bot))
    open_chat(page, advisor_of)
    wait_for_bot_messages(page, 2)
    send(page, advisor_of, "it was 3 days ago and my name is Kim Ended")
    token = page.evaluate(
        "() => Object.entries(localStorage).find(([k]) => k.startsWith('aftercare-chat:'))[1]"
    )
    lifetime = advisor_of.clinic.settings.web.chat_days
    expired = TokenSigner(TOKEN_SECRET.encode()).issue(
        token.split(".")[0], time.time() - (lifetime + 1) * 86_400, lifetime
    )

    def with_expired_token(route):  # the chat ends while the page is open
        body = json.loads(route.request.post_data)
        route.continue_(post_data=json.dumps({**body, "token": expired}))

    page.route("**/webhooks/web/message", with_expired_token)
    box = page.get_by_role("textbox", name=advisor_of.phrase("web.input_label"), exact=True)
    box.fill("can I wear makeup?")
    page.keyboard.press("Enter")
    notice = page.get_by_role("alert").filter(has_text=advisor_of.phrase("web.expired")[:40])
    notice.wait_for()
    assert box.input_value() == "can I wear makeup?"  # nothing lost
    shots.shot("chat-ended")
    page.unroute("**/webhooks/web/message")
    before = page.locator(".message.bot").count()
    page.keyboard.press("Enter")
    root = "document.querySelector('#aftercare-chat').shadowRoot"
    page.wait_for_function(f"() => !{root}.querySelector('.log').textContent.includes('Kim Ended')")
    page.wait_for_function(
        f"() => [...{root}.querySelectorAll('.message.client .text')]"
        ".some(e => e.textContent === 'can I wear makeup?')"
    )
    page.locator(".typing.on").wait_for(state="detached")
    assert page.locator(".message.bot").count() >= 2 and before >= 2
    new_token_kept = page.evaluate(
        "() => Object.entries(localStorage).find(([k]) => k.startsWith('aftercare-chat:'))[1]"
    )
    assert new_token_kept.split(".")[0] != token.split(".")[0]
    shots.shot("new-chat-after-ended")


def test_when_the_team_cannot_be_alerted_the_urgent_banner_says_to_call(
    web_bot, advisor_of, browser_page
):
    page, shots = browser_page, browser_page.screens
    settings = web_bot.clinic_dir / "settings.yml"
    settings.write_text(settings.read_text().replace(*reversed(ALERTS_OFF_ON)))  # no channel
    try:
        page.goto(demo_url(web_bot))
        open_chat(page, advisor_of)
        wait_for_bot_messages(page, 2)
        send(page, advisor_of, "my treatment was 4 days ago")
        send(page, advisor_of, "there's yellow pus and the skin feels hot")
        banner = page.locator(".banner.urgent")
        banner.wait_for()
        assert words(banner.inner_text()) == words(advisor_of.phrase("web.banner_urgent_unsent"))
        assert advisor_of.phrase("web.banner_urgent") not in banner.inner_text()
        shots.shot("urgent-banner-team-not-alerted")
        history = page.evaluate(
            "() => Object.entries(localStorage).find(([k]) => k.startsWith('aftercare-chat:'))[1]"
        )
        messages = httpx.post(
            api(web_bot, "history"), headers=SITE, content=json.dumps({"token": history})
        ).json()["messages"]
        flagged = [m for m in messages if m["escalation"] == "urgent"]
        assert flagged and all(m["alert_unsent"] for m in flagged)
    finally:
        settings.write_text(settings.read_text().replace(*ALERTS_OFF_ON))


def control_forget(bot: RunningBot, key: bytes, client_id: int, now: float | None = None):
    body, signature = signed_request(key, client_id, "not checked before the signature", now)
    return httpx.post(
        f"http://127.0.0.1:{bot.port}/webhooks/control/forget-client",
        content=body,
        headers={SIGNATURE_HEADER: signature},
        timeout=60,
    )


def test_staff_forget_a_client_through_the_running_bot(web_bot, advisor_of):
    client = register_client(web_bot.env, days_ago=4)
    token = issued(web_bot)
    linked = httpx.post(
        api(web_bot, "session"),
        headers=SITE,
        content=json.dumps({"token": token, "code": client["code"]}),
        timeout=60,
    )
    token = linked.json()["token"]
    conversation = conversation_id_for(token)
    sent = httpx.post(
        api(web_bot, "message"),
        headers=SITE,
        content=json.dumps(
            {"token": token, "text": "my face is hot red and spreading, feel feverish"}
        ),
        timeout=60,
    )
    assert sent.status_code == 200

    def stored() -> tuple[int, int, int]:
        with sqlite3.connect(web_bot.home / "tracker.db") as db:
            events = db.execute(
                "select count(*) from events where sender_id = ?", (conversation,)
            ).fetchone()[0]
        with sqlite3.connect(web_bot.home / "app.db") as db:
            ours = db.execute(
                "select count(*) from escalations where sender_id = ?", (conversation,)
            ).fetchone()[0]
            clients = db.execute(
                "select count(*) from clients where id = ?", (client["id"],)
            ).fetchone()[0]
        return events, ours, clients

    before = stored()
    assert before[0] > 0 and before[1] == 1 and before[2] == 1
    key = control_key(Settings.from_env({**web_bot.env}))
    # Unsigned, signed with another key, or expired: refused, nothing deleted.
    assert control_forget(web_bot, b"k" * 32, client["id"]).status_code == 401
    assert control_forget(web_bot, key, client["id"], now=time.time() - 120).status_code == 401
    unsigned = httpx.post(
        f"http://127.0.0.1:{web_bot.port}/webhooks/control/forget-client",
        content=json.dumps({"client": client["id"], "expires": int(time.time()) + 30}),
        timeout=60,
    )
    assert unsigned.status_code == 401
    assert stored() == before

    result = subprocess.run(
        [
            AFTERCARE,
            "clients",
            "forget",
            str(client["id"]),
            "--yes",
            "--json",
            "--url",
            f"http://127.0.0.1:{web_bot.port}",
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        env=web_bot.env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "client": client["id"],
        "existed": True,
        "conversations": 1,
        "escalations_redacted": 1,
    }
    assert stored() == (0, 0, 0)
    with sqlite3.connect(web_bot.home / "app.db") as db:  # the clinical facts stay, no text
        assert (
            db.execute("select count(*) from escalations where sender_id = 'forgotten'").fetchone()[
                0
            ]
            >= 1
        )
    again = subprocess.run(
        [AFTERCARE, "clients", "forget", str(client["id"]), "--yes"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        env=web_bot.env,
        timeout=120,
    )
    assert again.returncode == 1 and f"no client #{client['id']}" in again.stderr
