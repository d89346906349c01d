"""Check-ins on the real stack: `aftercare run` (its notifier's dispatcher, Rasa, the action
server, our python-telegram-bot channel) against the fake Bot API, with staff alerts on a real
SMTP server on loopback."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.settings import PROJECT_DIR
from tests.conftest import AFTERCARE, RunningBot, edit, register_client
from tests.fakes.telegram_api import FakeTelegramApi
from tests.test_red_flags_end_to_end import wait_until
from tests.test_telegram_end_to_end import base_env, texts_to, wait_for_texts

pytestmark = pytest.mark.integration
USER = 6262
ZONE = ZoneInfo("Europe/London")  # clinic/settings.yml
MARK = "Day 4 already, Sam"


@pytest.fixture
def client_api():
    api = FakeTelegramApi()
    api.start()
    yield api
    api.stop()


def open_window_today(clinic_dir) -> None:
    """A day-4 check-in whose window is open now (quiet hours off), added to the clinic's
    check-ins, the way a clinic edits clinic/checkins.yml."""
    now = datetime.now(ZONE)
    if now.hour == 23 and now.minute >= 45:  # a window must end the day it starts
        time.sleep((60 - now.minute) * 60 + 30 - now.second)
        now = datetime.now(ZONE)
    start = max(now - timedelta(minutes=2), now.replace(hour=0, minute=0))
    path = clinic_dir / "checkins.yml"
    edit(
        path,
        'quiet_hours: {from: "21:00", to: "08:00"}',
        'quiet_hours: {from: "00:00", to: "00:00"}',
    )
    path.write_text(
        path.read_text()
        + f"""  day4_now:
    day: 4
    window: {{from: "{start:%H:%M}", to: "23:59"}}
    text: "{MARK}, {{name}}! How is your skin?"
    quick_replies: [fine, worried, wrong]
"""
    )


def checkins(env: dict[str, str], *flags: str) -> list[dict]:
    result = subprocess.run(
        [AFTERCARE, "checkins", "list", "--json", *flags],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def buttons_of(call: dict) -> list[str]:
    markup = call["params"].get("reply_markup") or {}
    markup = json.loads(markup) if isinstance(markup, str) else markup
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


def test_a_checkin_arrives_on_telegram_and_a_swelling_answer_on_day_4_reaches_staff(
    trained_model, clinic_dir, client_api, smtp_inbox, tmp_path
):
    api = client_api
    open_window_today(clinic_dir)
    edit(
        clinic_dir / "settings.yml",
        "  alerts:\n",
        f"""  alerts:
    email:
      to: ["team@clinic.example"]
      from: "bot@clinic.example"
      smtp_host: "127.0.0.1"
      smtp_port: {smtp_inbox.port}
""",
    )
    env = base_env(tmp_path, clinic_dir, api)
    code = register_client(env, days_ago=4)["link"].split("?start=")[1]
    bot = RunningBot(env, log_file=tmp_path / "bot.log")  # what every process logs
    bot.start()
    try:
        assert wait_until(lambda: api.calls("getUpdates"), 60), "the channel never polled"
        api.push_text(USER, f"/start {code}")
        (linked,) = wait_for_texts(api, USER, 1)
        assert "today is day 4" in linked

        # The dispatcher (in the notifier) sends the check-in through Rasa to Telegram.
        texts = wait_for_texts(api, USER, 2, timeout=90)
        assert texts[1] == f"{MARK}, Sam! How is your skin?"
        (sent,) = (c for c in api.calls("sendMessage") if MARK in c["params"]["text"])
        assert buttons_of(sent) == ["All good 👍", "A bit worried", "Something's wrong"]
        (row,) = checkins(bot.env, "--sent")
        assert row["checkin"] == "day4_now" and row["late"] is False and row["answer"] is None
        assert {r["checkin"] for r in checkins(bot.env, "--due")} == {"day7", "day28_book_next"}

        # The answer in the client's own words: swelling getting worse on day 4 is urgent.
        api.push_text(USER, "my face is getting more swollen")
        texts = wait_for_texts(api, USER, 3)
        assert "020 7946 0321" in texts[2]
        assert wait_until(lambda: len(smtp_inbox.messages) == 1, 30), "staff were not alerted"
        assert "[URGENT]" in smtp_inbox.messages[0]["Subject"]
        (row,) = checkins(bot.env, "--sent")
        assert row["answer"] == "text" and row["escalated"] is True

        # /stop: the rest are skipped (recorded); questions are still answered.
        api.push_text(USER, "/stop")
        texts = wait_for_texts(api, USER, 4)
        assert "won't send you check-in messages" in texts[3]
        assert checkins(bot.env, "--due") == []
        skipped = [r for r in checkins(bot.env) if r["status"] == "skipped"]
        assert {(r["checkin"], r["reason"]) for r in skipped} == {
            ("day7", "opted_out"),
            ("day28_book_next", "opted_out"),
        }
        # /start: back on, and planned again.
        api.push_text(USER, "/start")
        texts = wait_for_texts(api, USER, 5)
        assert "Check-in messages are on again" in texts[4]
        assert {r["checkin"] for r in checkins(bot.env, "--due")} == {"day7", "day28_book_next"}
    finally:
        assert bot.stop() == 0
    assert len([t for t in texts_to(api, USER) if MARK in t]) == 1  # sent once
