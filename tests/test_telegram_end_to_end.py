"""Telegram on the real stack: `aftercare run` (Rasa with our python-telegram-bot channel, the
action server, the notifier) against the fake Bot API on loopback, in polling and webhook mode."""

from __future__ import annotations

import html
import sqlite3
import subprocess

import httpx
import pytest

from bot.domain.advisor import Advisor
from bot.domain.intents import topic_intents
from bot.kb.loader import load_clinic
from bot.settings import PROJECT_DIR
from tests.conftest import AFTERCARE, DOMAIN, RunningBot, edit, register_client
from tests.fakes.telegram_api import FakeTelegramApi
from tests.test_red_flags_end_to_end import wait_until

pytestmark = pytest.mark.integration
USER = 5151
SENDER = f"telegram-{USER}"


@pytest.fixture
def client_api():
    api = FakeTelegramApi()
    api.start()
    yield api
    api.stop()


def texts_to(api: FakeTelegramApi, chat_id: int) -> list[str]:
    return [
        html.unescape(c["params"]["text"])
        for c in api.calls("sendMessage")
        if str(c["params"]["chat_id"]) == str(chat_id)
    ]


def wait_for_texts(
    api: FakeTelegramApi, chat_id: int, count: int, timeout: float = 60
) -> list[str]:
    assert wait_until(lambda: len(texts_to(api, chat_id)) >= count, timeout), texts_to(api, chat_id)
    return texts_to(api, chat_id)


def base_env(tmp_path, clinic_dir, api: FakeTelegramApi) -> dict[str, str]:
    return {
        "AFTERCARE_CLINIC_DIR": str(clinic_dir),
        "AFTERCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "AFTERCARE_TRACKER_DB": str(tmp_path / "tracker.db"),
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE_URL": api.base_url,
    }


def rows_mentioning(db_path, needles: list[str]) -> list[str]:
    """Every row of every table in a SQLite file that contains one of `needles`."""
    found = []
    with sqlite3.connect(db_path) as connection:
        tables = [
            r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                line = " | ".join(str(v) for v in row)
                if any(n in line for n in needles):
                    found.append(f"{table}: {line[:200]}")
    return found


def test_a_client_opens_the_clinic_link_and_chats_on_telegram(
    trained_model, clinic_dir, client_api, tmp_path
):
    api = client_api
    long_thanks = " ".join(["You're welcome, and look after that skin."] * 130)
    assert len(long_thanks) > 5000
    env = base_env(tmp_path, clinic_dir, api)
    registered = register_client(env, days_ago=3)
    assert registered["link"].startswith("https://t.me/NorthsideAftercareBot?start=")
    code = registered["link"].split("?start=")[1]
    bot = RunningBot(env)
    bot.start()
    try:
        assert wait_until(lambda: api.calls("getUpdates"), 60), "the channel never polled"
        # The deep link: Telegram sends "/start <code>"; the chat is linked, no date question.
        api.push_text(USER, f"/start {code}")
        (linked,) = wait_for_texts(api, USER, 1)
        assert "today is day 3" in linked

        # "can I go to the gym?" is answered for the registered day and kind.
        api.push_text(USER, "can I go to the gym?")
        texts = wait_for_texts(api, USER, 2)
        clinic = load_clinic(clinic_dir, topic_intents(DOMAIN))
        expected = Advisor(clinic).answer("exercise", 3, "medical").reply
        assert texts[1] == expected
        assert api.calls("sendChatAction")

        # A reply over 4096 characters (the clinic's own text) arrives whole, in parts.
        edit(
            clinic_dir / "knowledge" / "phrases.yml",
            'thanks: "You\'re welcome! Look after that skin, and message me any time."',
            f'thanks: "{long_thanks}"',
        )
        api.push_text(USER, "thank you so much!")
        texts = wait_for_texts(api, USER, 4)
        assert all(len(t) <= 4096 for t in texts[2:4])
        assert " ".join(texts[2:4]).split() == long_thanks.split()

        # A photo starts a question-level escalation for the team, with the photo kept.
        api.add_file("photo-1", b"\xff\xd8\xff a photo of the cheek", "photos/1.jpg")
        api.push_update(
            {
                "message": {
                    "message_id": 900,
                    "from": {"id": USER, "is_bot": False, "first_name": "Sam"},
                    "chat": {"id": USER, "type": "private", "first_name": "Sam"},
                    "date": 1_790_000_000,
                    "photo": [
                        {
                            "file_id": "photo-1",
                            "file_unique_id": "p1",
                            "width": 800,
                            "height": 600,
                            "file_size": 25,
                        }
                    ],
                }
            }
        )
        texts = wait_for_texts(api, USER, 5)
        assert "passed your photo" in texts[4]
        listing = subprocess.run(
            [AFTERCARE, "escalations", "list"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            env={**bot.env},
            timeout=60,
        ).stdout
        assert "question" in listing and "Sam Client" in listing

        # Staff acknowledge it: the client is told on Telegram (Rasa's API, latest channel).
        escalation_id = listing.split()[0].lstrip("#")
        subprocess.run(
            [AFTERCARE, "escalations", "ack", escalation_id, "--by", "nurse"],
            cwd=PROJECT_DIR,
            env={**bot.env},
            check=True,
            capture_output=True,
            timeout=60,
        )
        texts = wait_for_texts(api, USER, 6)
        assert "has seen your message" in texts[5]

        # /forget, confirmed: nothing of the client is left in the database or tracker store.
        api.push_text(USER, "/forget")
        wait_for_texts(api, USER, 7)
        confirm_id = max(k[1] for k in api._messages if k[0] == USER)
        api.push_callback(USER, "forget:yes", confirm_id)
        texts = wait_for_texts(api, USER, 8)
        assert texts[7].startswith("Done: I've deleted")
    finally:
        assert bot.stop() == 0
    traces = [
        SENDER,
        "Sam Client",
        "can I go to the gym",
        "a photo of the cheek",
        "thank you so much",
    ]
    assert rows_mentioning(tmp_path / "app.db", traces) == []
    assert rows_mentioning(tmp_path / "tracker.db", traces) == []
    with sqlite3.connect(tmp_path / "app.db") as connection:
        kept = connection.execute("SELECT level, status, message FROM escalations").fetchall()
    assert kept == [("question", "acknowledged", None)]  # the clinic's record, without text


def test_webhook_accepts_only_telegram_with_the_secret(
    trained_model, clinic_dir, client_api, tmp_path
):
    api = client_api
    secret = "s3cret-token_for-webhook"
    env = {
        **base_env(tmp_path, clinic_dir, api),
        "TELEGRAM_WEBHOOK_URL": "https://clinic.example/telegram/webhook",
        "TELEGRAM_WEBHOOK_SECRET": secret,
    }
    bot = RunningBot(env)
    bot.start()
    url = f"http://127.0.0.1:{bot.port}/webhooks/telegram/webhook"

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

    def user_turns() -> list[str]:
        tracker = httpx.get(
            f"http://127.0.0.1:{bot.port}/conversations/{SENDER}/tracker", timeout=30
        )
        return [e.get("text") for e in tracker.json()["events"] if e["event"] == "user"]

    try:
        assert wait_until(lambda: api.calls("setWebhook"), 60)
        registered = api.calls("setWebhook")[-1]["params"]
        assert registered["url"] == "https://clinic.example/telegram/webhook"
        assert registered["secret_token"] == secret
        assert not api.calls("getUpdates")  # webhook mode never polls
        health = httpx.get(f"http://127.0.0.1:{bot.port}/webhooks/telegram/", timeout=10).json()
        assert health["mode"] == "webhook"

        forged = httpx.post(
            url,
            json=update(1, "my lips are swelling"),
            timeout=30,
            headers={"X-Telegram-Bot-Api-Secret-Token": "guessed"},
        )
        missing = httpx.post(url, json=update(2, "my lips are swelling"), timeout=30)
        assert (forged.status_code, missing.status_code) == (403, 403)
        malformed = httpx.post(
            url,
            content=b"{not json",
            timeout=30,
            headers={"X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"},
        )
        assert malformed.status_code == 400

        genuine = httpx.post(
            url,
            json=update(3, "can I wear makeup?"),
            timeout=30,
            headers={"X-Telegram-Bot-Api-Secret-Token": secret},
        )
        assert genuine.status_code == 200
        (reply,) = wait_for_texts(api, USER, 1)
        assert "when was your treatment?" in reply  # makeup depends on the day: it asks first
        # Only the genuine update reached Rasa.
        assert user_turns() == ["can I wear makeup?"]
    finally:
        assert bot.stop() == 0
    with sqlite3.connect(tmp_path / "app.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM escalations").fetchone() == (0,)
