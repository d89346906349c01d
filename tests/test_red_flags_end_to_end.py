"""Red flags on the real stack: Rasa, action server and alert notifier (`aftercare run`), with
the staff Telegram chat on a fake Bot API driven by python-telegram-bot and a real SMTP server,
all on loopback."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import STAFF_BOT_TOKEN, RunningBot, SmtpInbox, edit

pytestmark = pytest.mark.integration
STAFF_CHAT = "-100999"


def wait_until(condition, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def staff_alerts(api) -> list[dict]:
    return [c for c in api.calls("sendMessage") if str(c["params"]["chat_id"]) == STAFF_CHAT]


@pytest.fixture
def alerting_clinic(clinic_dir, smtp_inbox):
    edit(
        clinic_dir / "settings.yml",
        "  alerts:\n",
        f"""  alerts:
    telegram_staff:
      chat_id: "{STAFF_CHAT}"
    email:
      to: ["team@clinic.example"]
      from: "bot@clinic.example"
      smtp_host: "127.0.0.1"
      smtp_port: {smtp_inbox.port}
""",
    )
    return clinic_dir


def test_red_flags_reach_staff_once_and_calm_messages_alert_no_one(
    trained_model, alerting_clinic, smtp_inbox, telegram_api, tmp_path
):
    bot = RunningBot(
        {
            "AFTERCARE_CLINIC_DIR": str(alerting_clinic),
            "AFTERCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
            "AFTERCARE_TRACKER_DB": str(tmp_path / "tracker.db"),
            "TELEGRAM_STAFF_BOT_TOKEN": STAFF_BOT_TOKEN,
            "TELEGRAM_API_BASE_URL": telegram_api.base_url[: -len("/bot")],
        }
    )
    bot.start()
    try:
        # Day 3, weeping with a yellow crust: urgent, one alert per channel within 2 seconds.
        assert "day 3" in " ".join(bot.say("my treatment was 3 days ago", "anna"))
        started = time.monotonic()
        reply = " ".join(bot.say("it's still weeping and there's yellow crust", "anna"))
        assert "alerted" in reply and "020 7946 0321" in reply
        assert wait_until(
            lambda: len(staff_alerts(telegram_api)) == 1 and len(smtp_inbox.messages) == 1,
            timeout=2.5,
        )
        assert time.monotonic() - started < 3.5  # reply + both deliveries
        (alert,) = staff_alerts(telegram_api)
        assert (
            "URGENT" in alert["params"]["text"]
            and "day 3" in alert["params"]["text"]
            and "yellow crust" in alert["params"]["text"]
        )
        assert "[URGENT]" in smtp_inbox.messages[0]["Subject"]

        # The SMTP server is down while an emergency comes in: the mail arrives once it is back.
        smtp_inbox.stop()
        emergency = bot.say("my lips are swelling and it's hard to breathe", "ben")
        assert emergency[0].splitlines()[0].startswith("CALL 999 NOW")
        assert wait_until(lambda: len(staff_alerts(telegram_api)) == 2, timeout=2.5)
        time.sleep(1.5)
        restarted = SmtpInbox(port=smtp_inbox.port).start()
        try:
            assert wait_until(lambda: len(restarted.messages) == 1, timeout=25)
            assert "[EMERGENCY]" in restarted.messages[0]["Subject"]
            time.sleep(2)
            assert (
                len(restarted.messages) == 1 and len(staff_alerts(telegram_api)) == 2
            )  # exactly once
        finally:
            restarted.stop()

        # Day 2, "no pus, just a bit pink": reassurance, and nobody is alerted.
        bot.say("I had my treatment 2 days ago", "cara")
        calm = " ".join(bot.say("no pus, just a bit pink", "cara"))
        assert "alerted" not in calm
        time.sleep(2)
        assert len(staff_alerts(telegram_api)) == 2

        # A nurse presses Acknowledge on the first alert: the client's conversation is told.
        button = alert["params"]["reply_markup"]["inline_keyboard"][0][0]
        telegram_api.push_callback(
            int(STAFF_CHAT), button["callback_data"], message_id=1, user_id=5
        )
        telegram_api.wait_for("answerCallbackQuery", timeout=15)

        def client_was_told() -> bool:
            tracker = httpx.get(
                f"http://127.0.0.1:{bot.port}/conversations/anna/tracker", timeout=10
            ).json()
            return any(
                e.get("event") == "bot" and "has seen your message" in (e.get("text") or "")
                for e in tracker["events"]
            )

        assert wait_until(client_was_told, timeout=15)
    finally:
        bot.stop()
