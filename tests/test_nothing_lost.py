"""Nothing lost between a channel and its answer, on the real stack (issue 14): `aftercare
run` with the widget and Telegram (webhook, fake Bot API on loopback).

- The action server dies and nothing restarts it yet: a red flag on the widget and on
  Telegram still gets its reply (the emergency number first) and its escalation.
- Rasa is killed while turns hang (the action server paused): a Telegram update that got 200
  and a widget message whose request died with Rasa are screened by the recovery path once Rasa
  is back and answered (on Telegram, and in the chat the widget polls); the same update sent
  again is handled once.
- A turn hangs in a live Rasa: after the recovery delay it is cut short and the red flag is
  answered by screening, with no late second answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import threading
import time

import httpx
import pytest

from tests.conftest import RunningBot
from tests.fakes.telegram_api import FakeTelegramApi
from tests.test_red_flags_end_to_end import wait_until
from tests.test_supervision import answered_within, pid_of
from tests.test_telegram_end_to_end import USER, base_env, texts_to, wait_for_texts

pytestmark = pytest.mark.integration
SITE = {"Origin": "https://www.northside-skin.example"}
SECRET = "webhook-secret_for-recovery-test"
EMERGENCY_WEB = "my lips have blown up and my throat feels tight"
EMERGENCY_TELEGRAM = "my tongue is swelling and I can't breathe properly"
URGENT_TELEGRAM = "there's yellow pus coming out of a spot on my cheek"
URGENT_WEB = "green pus is oozing from the spots on my forehead"


@pytest.fixture
def client_api():
    """The clients' bot on the fake Bot API (loopback, driven by the real python-telegram-bot)."""
    api = FakeTelegramApi()
    api.start()
    yield api
    api.stop()


def update(update_id: int, text: str) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": {"id": USER, "is_bot": False, "first_name": "Sam"},
            "chat": {"id": USER, "type": "private", "first_name": "Sam"},
            "date": 1_790_000_000,
            "text": text,
        },
    }


def push(bot: RunningBot, update_id: int, text: str) -> int:
    """Telegram delivering an update to the webhook; the status it gets back."""
    return httpx.post(
        f"http://127.0.0.1:{bot.port}/webhooks/telegram/webhook",
        json=update(update_id, text),
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        timeout=30,
    ).status_code


def widget(bot: RunningBot, route: str, body: dict) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{bot.port}/webhooks/web/{route}",
        headers=SITE,
        content=json.dumps(body),
        timeout=90,
    )


def widget_lost(bot: RunningBot, token: str) -> None:
    """A widget message whose request dies with Rasa (the client sees a network error)."""
    with contextlib.suppress(httpx.HTTPError):
        widget(bot, "message", {"token": token, "text": URGENT_WEB})


def flagged(bot: RunningBot, token: str) -> bool:
    """Whether the chat shows a red-flag reply (the widget's next poll of /history)."""
    try:
        messages = widget(bot, "history", {"token": token, "after": 0}).json()["messages"]
    except (httpx.HTTPError, KeyError, ValueError):
        return False
    return any(m["from"] == "bot" and m["escalation"] == "urgent" for m in messages)


def test_red_flags_are_answered_and_escalated_with_the_action_server_down_or_rasa_killed(
    trained_model, clinic_dir, client_api, tmp_path
):
    env = {
        **base_env(tmp_path, clinic_dir, client_api),
        "TELEGRAM_WEBHOOK_URL": "https://clinic.example/telegram/webhook",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "AFTERCARE_RECOVER_AFTER_SECONDS": "8",
    }
    log_file = tmp_path / "run.log"
    bot = RunningBot(env, log_file=log_file)
    bot.start()
    run = bot.process.pid
    try:
        assert wait_until(lambda: client_api.calls("setWebhook"), 60)
        token = widget(bot, "session", {}).json()["token"]

        # 1. The action server is dead and its supervisor paused: nothing can answer a turn.
        os.kill(run, signal.SIGSTOP)
        try:
            os.kill(pid_of(run, "bot.serve.action_server"), signal.SIGKILL)
            time.sleep(1)
            web = widget(bot, "message", {"token": token, "text": EMERGENCY_WEB})
            assert push(bot, 1, EMERGENCY_TELEGRAM) == 200
            (telegram_reply,) = wait_for_texts(client_api, USER, 1)
        finally:
            os.kill(run, signal.SIGCONT)
        assert web.status_code == 200 and "error" not in web.json(), web.text
        (web_reply,) = [m for m in web.json()["messages"] if m["from"] == "bot"][-1:]
        assert web_reply["escalation"] == "emergency" and "999" in web_reply["text"]
        assert "999" in telegram_reply
        assert answered_within(bot, 60, "rest-client") < 60  # the action server is back

        # 2. A turn hangs (the action server paused) and Rasa is killed in the middle of it,
        # after Telegram was told 200; Telegram also sends the update again.
        # A widget message is in the same hung turn when Rasa dies.
        second_chat = widget(bot, "session", {}).json()["token"]
        actions = pid_of(run, "bot.serve.action_server")
        os.kill(actions, signal.SIGSTOP)
        lost_request = threading.Thread(target=widget_lost, args=(bot, second_chat))
        try:
            assert push(bot, 2, URGENT_TELEGRAM) == 200
            assert push(bot, 2, URGENT_TELEGRAM) == 200
            lost_request.start()
            time.sleep(1.5)
            os.kill(pid_of(run, "bot.serve.rasa_server"), signal.SIGKILL)
        finally:
            os.kill(actions, signal.SIGCONT)
        lost_request.join(timeout=60)
        texts = wait_for_texts(client_api, USER, 2, timeout=180)
        assert wait_until(lambda: flagged(bot, second_chat), 60)  # the widget shows it later
        time.sleep(6)  # a second reply to the same update would come by now
        assert len(texts_to(client_api, USER)) == 2
        recovered = texts[1]
        assert "pass" in recovered.lower() or "clinic" in recovered.lower(), recovered

        # 3. A turn hangs in a live Rasa (the action server paused): after the recovery delay
        # the red flag is answered by screening, and the hung turn, cut short, adds nothing.
        assert answered_within(bot, 90, "rest-client-2") < 90
        actions = pid_of(run, "bot.serve.action_server")
        os.kill(actions, signal.SIGSTOP)
        try:
            assert push(bot, 3, EMERGENCY_TELEGRAM) == 200
            third = wait_for_texts(client_api, USER, 3, timeout=60)[2]
        finally:
            os.kill(actions, signal.SIGCONT)
        assert "999" in third
        time.sleep(5)
        assert len(texts_to(client_api, USER)) == 3
    finally:
        bot.stop()
    written = log_file.read_text()
    assert "Couldn't connect to the server" in written  # the fallback was what answered
    assert "A turn took over 8.0s: answered by screening" in written
    assert written.count("whose turn never ended (red flag)") == 2  # Telegram's and the widget's
    assert "Dropped Telegram update 2: received before" in written
    for words in (EMERGENCY_WEB, EMERGENCY_TELEGRAM, URGENT_TELEGRAM, URGENT_WEB):
        assert words not in written  # no client text in any log
    with sqlite3.connect(tmp_path / "app.db") as connection:
        levels = connection.execute(
            "SELECT sender_id, level FROM escalations ORDER BY id"
        ).fetchall()
        inbound = connection.execute(
            "SELECT external_id, state, text FROM inbound WHERE channel = 'telegram' ORDER BY id"
        ).fetchall()
        stored_texts = connection.execute(
            "SELECT COUNT(*) FROM inbound WHERE text IS NOT NULL"
        ).fetchone()
    assert (f"telegram-{USER}", "emergency") in levels and (f"telegram-{USER}", "urgent") in levels
    web_levels = sorted(level for sender, level in levels if sender.startswith("web"))
    assert web_levels == ["emergency", "urgent"]
    assert inbound == [("1", "done", None), ("2", "recovered", None), ("3", "done", None)]
    assert stored_texts == (0,)
