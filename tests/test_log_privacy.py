"""No bot token, secret or client text in a log line (issue 14): `bot.logs` and its hooks."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import warnings

import pytest

from bot import logs
from bot.serve.log_privacy import latest_text

# A token of Telegram's shape, made up afresh for each run (none is kept in the repository).
TOKEN = f"{secrets.randbelow(9 * 10**9) + 10**9}:AA{secrets.token_urlsafe(25)[:33]}"
SMTP_PASSWORD = "correct-horse-battery"


class Lines(logging.Handler):
    """Every formatted line a handler would write."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def redacted():
    """`logs.install` for one test, undone afterwards; yields what the root logger wrote."""
    factory, secrets, installed = logging.getLogRecordFactory(), logs._secrets, logs._installed
    levels = {name: logging.getLogger(name).level for name in logs.QUIET_LOGGERS}
    logs._installed = False
    logs.install([SMTP_PASSWORD, None, "short"])
    handler = Lines()
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        logging.setLogRecordFactory(factory)
        logging.captureWarnings(False)
        logs._secrets, logs._installed = secrets, installed
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_a_telegram_token_in_a_request_url_is_never_written(redacted):
    url = f"https://api.telegram.org/bot{TOKEN}/getUpdates"
    logging.getLogger("telegram.ext.Updater").warning("HTTP Request: POST %s failed", url)
    logging.getLogger("ours").error("bare %s", TOKEN)
    assert TOKEN not in redacted.text
    assert "bot<secret>/getUpdates" in redacted.text and "bare <secret>" in redacted.text


def test_httpx_request_lines_are_not_logged_at_info(redacted):
    logging.getLogger("httpx").info("HTTP Request: GET https://example.org/ok")
    assert "example.org" not in redacted.text


def test_a_secret_is_hidden_in_messages_and_tracebacks(redacted):
    try:
        raise RuntimeError(f"SMTP login refused for password {SMTP_PASSWORD}")
    except RuntimeError:
        logging.getLogger("bot.alerts").exception("send failed (%s)", SMTP_PASSWORD)
    assert SMTP_PASSWORD not in redacted.text
    assert redacted.text.count("<secret>") == 2 and "RuntimeError" in redacted.text


def test_short_values_are_not_treated_as_secrets(redacted):
    logging.getLogger("ours").info("a short word and more")
    assert "a short word" in redacted.text


def test_the_message_in_hand_is_hidden_with_each_of_its_lines(redacted):
    text = "my lips are swelling up fast\nand my throat feels tight today"
    with logs.hiding(text):
        logging.getLogger("rasa.core").debug("Received user message '%s'", text)
        logging.getLogger("rasa.core").warning(
            "Failed to parse line 'and my throat feels tight today'"
        )
    assert "swelling" not in redacted.text and "throat" not in redacted.text
    assert redacted.text.count("<client text>") == 2


def test_the_message_is_hidden_as_json_and_python_print_it_and_in_pieces(redacted):
    text = '/greet{"zebrafinch": "broken json'
    with logs.hiding(text):
        logging.getLogger("rasa.core").debug('{"parse_data_text": %s}', json.dumps(text))
        logging.getLogger("telegram").debug("Update(text=%r)", text)
        logging.getLogger("py.warnings").warning('Continuing without {"zebrafinch": "broken json.')
    assert "zebrafinch" not in redacted.text and "broken json" not in redacted.text


def test_the_message_is_hidden_in_coloured_console_lines(redacted):
    text = "my lips are swelling up fast"
    with logs.hiding(text):
        logging.getLogger("rasa.core").debug("text=\x1b[35m%s\x1b[0m intent=swelling", text)
    assert "swelling up" not in redacted.text and "\x1b[35m<client text>\x1b[0m" in redacted.text


def test_earlier_messages_are_hidden_while_a_message_is_handled_and_short_ones_never(redacted):
    log = logging.getLogger("rasa.core")
    logs.hide_also(["outside any message: never hidden"])
    with logs.hiding("and tomorrow?"):
        logs.hide_also(["my chin has yellow crust", "ok"])
        log.debug("slots: pending=%s; said %s; ok, define it", "my chin has yellow crust", "ok")
    log.debug("after: my chin has yellow crust; outside any message: never hidden")
    lines = redacted.lines
    assert lines[0].endswith("slots: pending=<client text>; said ok; ok, define it")
    assert lines[1].endswith("after: my chin has yellow crust; outside any message: never hidden")


def test_other_text_and_text_outside_the_block_are_kept(redacted):
    with logs.hiding("hello there, can I wear makeup"):
        logging.getLogger("ours").info("Loaded clinic knowledge base 2026-11")
    logging.getLogger("ours").info("later: hello there, can I wear makeup")
    assert "Loaded clinic knowledge base 2026-11" in redacted.text
    assert "later: hello there, can I wear makeup" in redacted.text


def test_a_warning_about_the_message_goes_through_the_same_redaction(redacted):
    with logs.hiding("/inform{broken json about my rash"), warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("Parsed '/inform{broken json about my rash' badly", UserWarning, stacklevel=1)
    assert "rash" not in redacted.text and "<client text>" in redacted.text


def test_the_hidden_text_follows_the_message_through_awaits_and_tasks_only(redacted):
    log = logging.getLogger("ours")

    async def handle(text: str, gate: asyncio.Event) -> None:
        with logs.hiding(text):
            await gate.wait()
            await asyncio.create_task(asyncio.sleep(0))
            log.info("handling %s", text)

    async def both() -> None:
        first, second = asyncio.Event(), asyncio.Event()
        tasks = [
            asyncio.create_task(handle("anna's swollen eyelids", first)),
            asyncio.create_task(handle("ben asks about retinol", second)),
        ]
        await asyncio.sleep(0)
        second.set()
        first.set()
        await asyncio.gather(*tasks)
        log.info("after: anna's swollen eyelids")

    asyncio.run(both())
    assert redacted.text.count("handling <client text>") == 2
    assert "after: anna's swollen eyelids" in redacted.text


def test_a_bad_format_string_is_still_logged(redacted):
    logging.getLogger("ours").info("two %s %s", "args-only-one")
    assert "two %s %s" in redacted.text


def test_an_action_call_hides_the_latest_client_message():
    call = {"tracker": {"latest_message": {"text": "is oozing normal on day 4"}}}
    assert latest_text(call) == "is oozing normal on day 4"
    assert latest_text({"tracker": {"latest_message": {}}}) is None
    assert latest_text({}) is None


# --- the whole stack ---------------------------------------------------------------------------

MARK = "zebrafinch"  # in every client message below, and in no file of the project


@pytest.mark.integration
def test_a_full_run_logs_no_token_secret_or_client_text(trained_model, clinic_dir, tmp_path):
    from tests.conftest import RunningBot, edit
    from tests.fakes.telegram_api import FakeTelegramApi
    from tests.test_red_flags_end_to_end import wait_until

    hook_key = "T0AAA/B0BBB/hookkey0123456789"  # a Slack-style key in the alert URL's path
    edit(
        clinic_dir / "settings.yml",
        "  alerts:\n",
        f'  alerts:\n    webhook:\n      url: "http://127.0.0.1:9/services/{hook_key}"\n',
    )
    api = FakeTelegramApi(token=TOKEN).start()
    log_file = tmp_path / "aftercare-run.log"
    env = {
        "AFTERCARE_CLINIC_DIR": str(clinic_dir),
        "AFTERCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "AFTERCARE_TRACKER_DB": str(tmp_path / "tracker.db"),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "AFTERCARE_SMTP_PASSWORD": SMTP_PASSWORD,
        "AFTERCARE_WEBHOOK_SECRET": "webhook-secret-4f9a2c",
        "LOG_LEVEL": "DEBUG",  # the most Rasa ever writes
    }
    bot = RunningBot(env, log_file=log_file)
    bot.start()
    try:
        assert wait_until(lambda: api.calls("getUpdates"), 60), "the channel never polled"
        api.push_text(4242, f"my lips are swelling up and its hard to breathe {MARK}")
        api.push_text(4242, f"and is it ok to wear makeup tomorrow {MARK} tell me")
        replies = lambda: [c for c in api.calls("sendMessage") if c["params"]["chat_id"] == 4242]  # noqa: E731
        assert wait_until(lambda: len(replies()) >= 2, 60), api.calls("sendMessage")
        assert bot.say(f"can I wear makeup on day 2 {MARK}", "rest-1")
        bot.say(f'/greet{{"{MARK}": "broken json', "rest-2")  # a forged intent Rasa warns about
        bot.say(f"I had my treatment 3 days ago and it is oozing yellow {MARK}", "rest-3")
    finally:
        bot.stop()
        api.stop()
    written = log_file.read_text(errors="replace")
    assert "Aftercare Assistant is running" in written and "rasa" in written.lower()
    assert "<client text>" in written  # Rasa wrote the messages at DEBUG, and they were hidden
    secrets = (TOKEN, TOKEN.split(":")[1], SMTP_PASSWORD, "webhook-secret-4f9a2c", hook_key, MARK)
    for secret in secrets:
        assert secret not in written, [line for line in written.splitlines() if secret in line][:5]


def test_the_key_in_a_webhook_alert_url_is_never_logged(redacted, clinic):
    from bot.alerts.channels import WebhookChannel
    from bot.alerts.message import AlertWords

    url = "https://hooks.slack.com/services/T0A1B2C3D/B0E4F5G6H/abcdefGHIJKL123456"
    WebhookChannel(url, AlertWords(clinic))
    logging.getLogger("bot.alerts.worker").warning("Delivery failed: 404 for url '%s'", url)
    assert "abcdefGHIJKL123456" not in redacted.text
    assert "hooks.slack.com<secret>" in redacted.text
