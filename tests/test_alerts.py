"""Staff alerts through the outbox: exactly once per channel, whatever fails, on real servers."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.alerts.acks import acknowledge_handler
from bot.alerts.channels import EmailChannel, TelegramStaffChannel, WebhookChannel
from bot.alerts.message import AlertWords
from bot.alerts.worker import GIVE_UP_AFTER, AlertWorker, ChannelSet
from bot.kb.model import EmailAlerts
from bot.serve.harness import free_port
from bot.storage.engine import session_factory
from bot.storage.escalations import EscalationRepository
from bot.storage.outbox import Outbox
from tests.conftest import NOW, STAFF_BOT_TOKEN, SmtpInbox


@pytest.fixture
def repo(settings) -> EscalationRepository:
    return EscalationRepository(session_factory(settings.database_url))


@pytest.fixture
def outbox(settings) -> Outbox:
    return Outbox(session_factory(settings.database_url))


@pytest.fixture
def words(clinic) -> AlertWords:
    return AlertWords(clinic)


def staff_chat(telegram_api, words) -> TelegramStaffChannel:
    return TelegramStaffChannel(
        STAFF_BOT_TOKEN, "-1001234", words, telegram_api.base_url, telegram_api.base_file_url
    )


class FlakyChannel:
    """A channel that fails `failures` times, then works; records what it delivered."""

    def __init__(self, name: str = "flaky", failures: int = 0):
        self.name, self.failures, self.delivered = name, failures, []

    async def send(self, delivery) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("server down")
        self.delivered.append((delivery.escalation.id, delivery.purpose))


def drain(worker: AlertWorker, start=NOW, seconds: int = 120) -> None:
    """Run the worker as the clock advances one second at a time."""
    for second in range(seconds):
        asyncio.run(worker.deliver_due(start + timedelta(seconds=second)))


def create(repo, channels, level="urgent", deadline=30):
    return repo.create(
        "client-7",
        level,
        "it's still weeping and there's yellow crust",
        "oozing",
        3,
        channels=channels,
        symptoms=["oozing", "infection_signs"],
        deadline_minutes=deadline,
        now=NOW,
    )


def test_escalation_and_its_alerts_are_stored_before_anything_is_sent(repo):
    escalation = create(repo, ["telegram", "email"])
    assert [d["status"] for d in repo.deliveries(escalation.id)] == ["pending", "pending"]
    assert repo.get(escalation.id).symptoms == ["oozing", "infection_signs"]


def test_failing_notifier_is_retried_with_backoff_and_delivers_exactly_once(repo, outbox):
    channel = FlakyChannel(failures=3)
    worker = AlertWorker(outbox, {"flaky": channel})
    escalation = create(repo, ["flaky"])
    drain(worker)
    assert channel.delivered == [(escalation.id, "alert")]
    (delivery,) = repo.deliveries(escalation.id)
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 4)
    assert (
        worker.retry_delay(0) < worker.retry_delay(1) < worker.retry_delay(2) <= worker.backoff_max
    )


def test_crash_after_storing_is_delivered_after_restart(repo, settings):
    escalation = create(repo, ["flaky"])  # the process dies here, before any send
    restarted = AlertWorker(
        Outbox(session_factory(settings.database_url)),
        {"flaky": (channel := FlakyChannel())},
    )
    drain(restarted, seconds=3)
    assert channel.delivered == [(escalation.id, "alert")]


def test_crash_during_a_send_is_retried_after_the_lease_and_not_duplicated(repo, outbox):
    escalation = create(repo, ["flaky"])
    (claimed,) = outbox.claim_due(NOW)  # a worker took it and died before recording the result
    assert outbox.claim_due(NOW + timedelta(seconds=5)) == []  # nobody else sends it meanwhile
    channel = FlakyChannel()
    drain(AlertWorker(outbox, {"flaky": channel}), start=NOW + timedelta(seconds=61), seconds=5)
    assert (
        channel.delivered == [(escalation.id, "alert")] and claimed.escalation.id == escalation.id
    )


def test_a_repeat_updates_the_open_escalation_and_alerts_no_one_again(repo):
    first = create(repo, ["telegram"])
    again = repo.create(
        "client-7", "urgent", "now it smells too", None, 4, ["telegram"], ["smell"], now=NOW
    )
    assert again.id == first.id and len(repo.list()) == 1
    assert again.message.endswith("\nnow it smells too") and again.day == 4
    assert again.symptoms == ["oozing", "infection_signs", "smell"]
    assert len(repo.deliveries(first.id)) == 1  # still the one alert


def test_a_repeat_after_the_deadline_or_a_realert_is_a_new_escalation_with_its_alert(repo):
    first = create(repo, ["telegram"], deadline=30)
    later = repo.create(
        "client-7", "urgent", "worse now", None, 4, ["telegram"], now=NOW + timedelta(minutes=31)
    )
    assert later.id != first.id and len(repo.deliveries(later.id)) == 1
    question = repo.create("client-9", "question", "botox?", None, 2, ["telegram"], now=NOW)
    again = repo.create(
        "client-9", "question", "and fillers?", None, 2, ["telegram"], now=NOW + timedelta(hours=2)
    )
    assert again.id != question.id


def test_another_level_or_an_acknowledged_one_starts_a_new_escalation(repo):
    urgent = create(repo, ["telegram"])
    emergency = create(repo, ["telegram"], level="emergency")
    assert emergency.id != urgent.id and repo.deliveries(emergency.id)
    repo.acknowledge(urgent.id, "nurse", NOW)
    later = create(repo, ["telegram"])
    assert later.id not in (urgent.id, emergency.id) and len(repo.deliveries(later.id)) == 1
    other_client = repo.create("client-8", "urgent", "pus", None, 3, ["telegram"], now=NOW)
    assert other_client.id != later.id


def test_an_emergency_is_sent_before_a_backlog_of_older_urgent_alerts(repo, outbox):
    backlog = [
        repo.create(f"client-{n}", "urgent", "pus", None, 3, ["flaky"], now=NOW) for n in range(25)
    ]
    emergency = create(repo, ["flaky"], level="emergency")
    first = outbox.claim_due(NOW, limit=20)
    assert first[0].escalation.id == emergency.id
    assert [d.escalation.id for d in first[1:]] == [e.id for e in backlog[:19]]  # then by age


def test_each_channel_gets_each_alert_once_even_if_another_fails(repo, outbox):
    good, bad = FlakyChannel("good"), FlakyChannel("bad", failures=2)
    worker = AlertWorker(outbox, {"good": good, "bad": bad})
    escalation = create(repo, ["good", "bad"])
    drain(worker, seconds=30)
    assert good.delivered == bad.delivered == [(escalation.id, "alert")]


def test_unacknowledged_urgent_alert_is_sent_again_and_the_client_told(repo, outbox):
    staff = FlakyChannel("staff")
    client = FlakyChannel("client")
    worker = AlertWorker(outbox, {"staff": staff, "client": client})
    escalation = create(repo, ["staff"], deadline=30)
    drain(worker, seconds=2)
    assert worker.check_deadlines(NOW + timedelta(minutes=29)) == []
    assert worker.check_deadlines(NOW + timedelta(minutes=31)) == [escalation.id]
    assert worker.check_deadlines(NOW + timedelta(minutes=40)) == []  # only once
    drain(worker, start=NOW + timedelta(minutes=31), seconds=2)
    assert staff.delivered == [(escalation.id, "alert"), (escalation.id, "realert")]
    assert client.delivered == [(escalation.id, "deadline_notice")]


def test_acknowledged_alert_is_not_sent_again_and_the_client_is_told(repo, outbox):
    client = FlakyChannel("client")
    worker = AlertWorker(outbox, {"staff": FlakyChannel("staff"), "client": client})
    escalation = create(repo, ["staff"], deadline=30)
    assert repo.acknowledge(escalation.id, "nurse", NOW + timedelta(minutes=5))
    assert not repo.acknowledge(escalation.id, "nurse")  # twice is refused
    assert worker.check_deadlines(NOW + timedelta(minutes=31)) == []
    drain(worker, start=NOW + timedelta(minutes=5), seconds=2)
    assert client.delivered == [(escalation.id, "ack_notice")]
    assert repo.resolve(escalation.id) and repo.get(escalation.id).status == "resolved"


def test_question_level_hand_offs_have_no_deadline(repo):
    escalation = create(repo, ["staff"], level="question", deadline=None)
    assert escalation.deadline_at is None


def test_email_alert_through_a_real_smtp_server_arrives_once_after_an_outage(repo, outbox, words):
    inbox = SmtpInbox()
    channel = EmailChannel(
        EmailAlerts(("team@clinic.example",), "bot@clinic.example", "127.0.0.1", inbox.port, False),
        words,
        timeout=2,
    )
    worker = AlertWorker(outbox, {"email": channel}, backoff_base=0.5)
    escalation = create(repo, ["email"])
    asyncio.run(worker.deliver_due(NOW))  # server down: fails, will retry
    assert repo.deliveries(escalation.id)[0]["status"] == "pending"
    inbox.start()
    try:
        drain(worker, start=NOW + timedelta(seconds=1), seconds=10)
        (mail,) = inbox.messages
        assert "[URGENT]" in mail["Subject"] and f"#{escalation.id}" in mail["Subject"]
        body = mail.get_payload()
        assert (
            "client-7" in body
            and "day 3" in body
            and "yellow crust" in body
            and "infection_signs" in body
        )
        assert "http" not in body  # no links that could leak data
    finally:
        inbox.stop()


class _Webhook(BaseHTTPRequestHandler):
    received: list = []
    fail_first = 0

    def do_POST(self):  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Webhook.fail_first > 0:
            _Webhook.fail_first -= 1
            self.send_response(503)
        else:
            _Webhook.received.append((dict(self.headers), body))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_alert_is_signed_json_and_survives_a_503(repo, outbox, words):
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Webhook.received, _Webhook.fail_first = [], 1
    try:
        worker = AlertWorker(
            outbox,
            {"webhook": WebhookChannel(f"http://127.0.0.1:{port}/hook", words, secret="s3cret")},
        )
        escalation = create(repo, ["webhook"])
        drain(worker, seconds=10)
        ((headers, body),) = _Webhook.received
        payload = json.loads(body)
        assert (payload["id"], payload["level"], payload["day"], payload["client"]) == (
            escalation.id,
            "urgent",
            3,
            "client-7",
        )
        assert payload["symptoms"] == ["oozing", "infection_signs"]
        expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert headers["X-Aftercare-Signature"] == expected
    finally:
        server.shutdown()


def test_telegram_staff_alert_has_an_acknowledge_button_that_works(
    repo, telegram_api, outbox, words
):
    channel = staff_chat(telegram_api, words)
    worker = AlertWorker(
        outbox, {"telegram": channel, "client": (client := FlakyChannel("client"))}
    )
    escalation = create(repo, ["telegram"])
    asyncio.run(worker.deliver_due(NOW))
    (sent,) = telegram_api.calls("sendMessage")
    params = sent["params"]
    assert (
        str(params["chat_id"]) == "-1001234"
        and "URGENT" in params["text"]
        and "yellow crust" in params["text"]
    )
    button = params["reply_markup"]["inline_keyboard"][0][0]
    assert button["callback_data"] == f"ack:{escalation.id}"

    async def press_the_button():
        from telegram.ext import Application, CallbackQueryHandler

        app = (
            Application.builder()
            .token(STAFF_BOT_TOKEN)
            .base_url(telegram_api.base_url)
            .base_file_url(telegram_api.base_file_url)
            .build()
        )
        handler = acknowledge_handler(repo, lambda: words, lambda: "-1001234")
        app.add_handler(CallbackQueryHandler(handler, pattern="^ack:"))
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0.05, timeout=1)
            # The alert forwarded to someone's private chat: a press there acknowledges nothing.
            telegram_api.push_callback(555, button["callback_data"], message_id=1, user_id=555)
            (refused,) = await telegram_api.wait_for_async("answerCallbackQuery", timeout=10)
            assert refused["params"]["text"] == words.say("ack_not_here")
            assert repo.get(escalation.id).status == "open"
            telegram_api.push_callback(-1001234, button["callback_data"], message_id=1, user_id=77)
            await telegram_api.wait_for_async("answerCallbackQuery", count=2, timeout=10)
            await app.updater.stop()
            await app.stop()

    asyncio.run(press_the_button())
    assert repo.get(escalation.id).status == "acknowledged"
    asyncio.run(worker.deliver_due())  # the button press was stored at the real time
    assert client.delivered == [(escalation.id, "ack_notice")]


def test_a_client_photo_reaches_the_staff_chat_as_a_photo_and_email_as_an_attachment(
    repo, telegram_api, outbox, words
):
    inbox = SmtpInbox().start()
    try:
        channels = {
            "telegram": staff_chat(telegram_api, words),
            "email": EmailChannel(
                EmailAlerts(
                    ("team@clinic.example",), "bot@clinic.example", "127.0.0.1", inbox.port, False
                ),
                words,
                timeout=2,
            ),
        }
        worker = AlertWorker(outbox, channels)
        escalation = create(repo, ["telegram", "email"])
        photo_id = repo.add_photo(
            escalation.id,
            b"\xff\xd8\xffJPEG",
            "image/jpeg",
            "the crust",
            "telegram",
            channels=["telegram", "email"],
            now=NOW,
        )
        drain(worker, seconds=3)
        (photo_call,) = telegram_api.calls("sendPhoto")
        assert photo_call["params"]["photo"]["data"] == b"\xff\xd8\xffJPEG"
        assert f"Photo #{photo_id}" in photo_call["params"]["caption"]
        assert photo_call["params"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == (
            f"ack:{escalation.id}"
        )
        photo_mail = [m for m in inbox.messages if "Photo from client" in m["Subject"]]
        (mail,) = photo_mail
        attachments = [part for part in mail.walk() if part.get_filename()]
        assert [a.get_payload(decode=True) for a in attachments] == [b"\xff\xd8\xffJPEG"]
        purposes = sorted(d["purpose"] for d in repo.deliveries(escalation.id))
        assert purposes == ["alert", "alert", f"photo:{photo_id}", f"photo:{photo_id}"]
        assert {d["status"] for d in repo.deliveries(escalation.id)} == {"delivered"}
    finally:
        inbox.stop()


def test_staff_save_a_clients_photos_with_the_cli(repo, settings, monkeypatch, tmp_path, capsys):
    from bot.cli import main

    escalation = create(repo, [])
    repo.add_photo(escalation.id, b"\xff\xd8\xffONE", "image/jpeg", "left cheek", "telegram")
    monkeypatch.setenv("AFTERCARE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("AFTERCARE_CLINIC_DIR", str(settings.clinic_dir))
    assert main(["escalations", "show", str(escalation.id)]) == 0
    assert "image/jpeg, 6 bytes" in capsys.readouterr().out
    assert main(["escalations", "photos", str(escalation.id), "--out", str(tmp_path / "out")]) == 0
    (saved,) = (tmp_path / "out").iterdir()
    assert saved.read_bytes() == b"\xff\xd8\xffONE" and saved.suffix == ".jpg"


def test_a_channel_added_under_alerts_is_used_without_a_restart(settings, clinic_dir, caplog):
    """Issue 12: the notifier read the alert channels once, so an edit needed a restart."""
    from bot.alerts.worker import ChannelSet
    from bot.kb.store import ClinicStore
    from tests.conftest import edit

    channels = ChannelSet(settings, ClinicStore(clinic_dir))
    assert set(channels.current()) == {"client"}
    edit(
        clinic_dir / "settings.yml",
        "    # webhook:\n    #   url:",
        '    webhook:\n      url: "https://hooks.clinic.example/x"\n    #   url:',
    )
    assert set(channels.current()) == {"client", "webhook"}

    edit(
        clinic_dir / "settings.yml",
        '    # telegram_staff:\n    #   chat_id: "-1001234567890"',
        '    telegram_staff:\n      chat_id: "-1001234567890"',
    )
    # No TELEGRAM_STAFF_BOT_TOKEN in these settings: the edit cannot be used, the channels
    # before it stay, and the problem is logged loudly.
    assert set(channels.current()) == {"client", "webhook"}
    assert "TELEGRAM_STAFF_BOT_TOKEN is not set" in caplog.text


def test_staff_alert_wording_comes_from_the_clinics_phrases(repo, clinic_dir, known_topics):
    from bot.alerts.message import alert_text
    from bot.kb.loader import load_clinic
    from bot.storage.outbox import Delivery
    from tests.conftest import edit

    edit(
        clinic_dir / "knowledge" / "phrases.yml",
        'level: "Level: {level}"',
        'level: "Stufe: {level}"',
    )
    words = AlertWords(load_clinic(clinic_dir, known_topics))
    escalation = create(repo, [])
    text = alert_text(Delivery(1, "email", "alert", 0, escalation), words)
    assert "Stufe: urgent" in text and "Level:" not in text


class _Refusing(BaseHTTPRequestHandler):
    """A webhook receiver that answers every alert with one status."""

    status = 404
    calls = 0

    def do_POST(self):  # noqa: N802 (http.server API)
        self.rfile.read(int(self.headers["Content-Length"]))
        _Refusing.calls += 1
        self.send_response(_Refusing.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(
    ("status", "failed"), [(404, True), (403, True), (429, False), (502, False)]
)
def test_a_refused_alert_is_failed_at_once_and_a_busy_receiver_is_retried(
    repo, outbox, words, status, failed
):
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Refusing.status, _Refusing.calls = status, 0
    try:
        worker = AlertWorker(
            outbox, {"webhook": WebhookChannel(f"http://127.0.0.1:{port}/h", words)}
        )
        escalation = create(repo, ["webhook"])
        drain(worker, seconds=10)
    finally:
        server.shutdown()
    (delivery,) = repo.deliveries(escalation.id)
    if failed:  # believed after GIVE_UP_AFTER attempts (a proxy's brief 404 is not final)
        assert delivery["status"] == "failed" and _Refusing.calls == GIVE_UP_AFTER
        assert str(status) in delivery["last_error"]
        assert repo.failed_deliveries() == {escalation.id: [("webhook", delivery["last_error"])]}
    else:
        assert delivery["status"] == "pending" and _Refusing.calls >= 3  # backing off, not given up
        assert repo.failed_deliveries() == {}


def test_smtp_errors_that_no_retry_can_fix_are_permanent():
    import smtplib

    import httpx

    from bot.alerts.channels import PermanentFailure, is_permanent

    assert is_permanent(smtplib.SMTPDataError(550, b"mailbox unavailable"))
    assert is_permanent(smtplib.SMTPAuthenticationError(535, b"bad credentials"))
    assert not is_permanent(smtplib.SMTPDataError(451, b"try again later"))
    assert not is_permanent(smtplib.SMTPServerDisconnected("gone"))
    assert not is_permanent(ConnectionRefusedError())
    assert not is_permanent(httpx.ConnectError("refused"))
    assert is_permanent(PermanentFailure("login without TLS"))


def test_a_password_is_never_sent_over_smtp_without_tls(repo, outbox, words):
    inbox = SmtpInbox().start()
    try:
        config = EmailAlerts(
            ("team@clinic.example",), "bot@clinic.example", "127.0.0.1", inbox.port, False
        )
        channel = EmailChannel(config, words, timeout=2)
        channel.username, channel.password = "bot", "correct-horse-battery"
        worker = AlertWorker(outbox, {"email": channel})
        escalation = create(repo, ["email"])
        drain(worker, seconds=6)  # refused GIVE_UP_AFTER times, then failed
    finally:
        inbox.stop()
    (delivery,) = repo.deliveries(escalation.id)
    assert delivery["status"] == "failed" and "without TLS" in delivery["last_error"]
    assert inbox.messages == []


def test_with_starttls_on_a_server_without_tls_nothing_is_sent_in_clear_text(repo, outbox, words):
    inbox = SmtpInbox().start()  # speaks no TLS: STARTTLS fails and nothing falls back
    try:
        config = EmailAlerts(
            ("team@clinic.example",), "bot@clinic.example", "127.0.0.1", inbox.port, True
        )
        worker = AlertWorker(outbox, {"email": EmailChannel(config, words, timeout=2)})
        escalation = create(repo, ["email"])
        drain(worker, seconds=3)
    finally:
        inbox.stop()
    (delivery,) = repo.deliveries(escalation.id)
    assert delivery["status"] != "delivered" and inbox.messages == []


def self_signed_context(tmp_path):
    """A TLS server context with a fresh self-signed certificate for 127.0.0.1."""
    import datetime
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


def test_starttls_refuses_a_server_certificate_nobody_vouches_for(repo, outbox, words, tmp_path):
    inbox = SmtpInbox(tls_context=self_signed_context(tmp_path)).start()
    try:
        config = EmailAlerts(
            ("team@clinic.example",), "bot@clinic.example", "127.0.0.1", inbox.port, True
        )
        channel = EmailChannel(config, words, timeout=2)
        channel.username, channel.password = "bot", "correct-horse-battery"
        worker = AlertWorker(outbox, {"email": channel})
        escalation = create(repo, ["email"])
        drain(worker, seconds=3)
    finally:
        inbox.stop()
    (delivery,) = repo.deliveries(escalation.id)
    assert delivery["status"] == "pending" and "CERTIFICATE_VERIFY_FAILED" in delivery["last_error"]
    assert inbox.messages == []  # and the password never went out


def test_fixing_the_alert_settings_sends_again_what_was_given_up_on(repo, outbox, settings):
    from bot.kb.store import ClinicStore
    from tests.conftest import edit

    escalation = create(repo, ["webhook"])
    (claimed,) = outbox.claim_due(NOW)
    outbox.gave_up(claimed.id, "PermanentFailure: webhook answered HTTP 404")
    channels = ChannelSet(settings, ClinicStore(settings.clinic_dir), outbox)
    channels.current()
    assert repo.deliveries(escalation.id)[0]["status"] == "failed"
    edit(
        settings.clinic_dir / "settings.yml",
        "  alerts:\n",
        '  alerts:\n    webhook:\n      url: "http://127.0.0.1:9/fixed-hook"\n',
    )
    assert "webhook" in channels.current()
    assert repo.deliveries(escalation.id)[0]["status"] == "pending"


def test_a_broken_staff_channel_is_not_promised_to_clients(service, clinic_dir):
    from bot.storage.heartbeats import NOTIFIER
    from bot.storage.outbox import Outbox as Deliveries
    from tests.test_service import with_alerts

    with_alerts(clinic_dir)
    service.heartbeats.beat(NOTIFIER, NOW)
    service.save_treatment_date("c1", "3 days ago", NOW)
    first = service.respond("c1", "oozing", "it's weeping yellow stuff", now=NOW)
    assert first.reply.endswith(
        service.phrase(
            "escalation.urgent_open", response_minutes=service.clinic().settings.response_minutes
        )
    )
    deliveries = Deliveries(service.sessions)
    (claimed,) = deliveries.claim_due(NOW)
    deliveries.gave_up(claimed.id, "PermanentFailure: webhook answered HTTP 404")
    service.save_treatment_date("c2", "3 days ago", NOW)
    second = service.respond("c2", "oozing", "it's weeping yellow stuff", now=NOW)
    assert second.reply.endswith(service.phrase("escalation.call_us"))
    assert not first.alert_unsent and second.alert_unsent


def test_a_refused_alert_the_fallback_delivered_still_lets_clients_be_promised(repo, outbox):
    """A channel refused an alert for good, but the fallback channel got it to staff: staff
    alerts do go out, so clients are not told the team could not be alerted."""
    escalation = create(repo, ["webhook"], level="urgent")
    (claimed,) = outbox.claim_due(NOW)
    assert outbox.gave_up(claimed.id, "PermanentFailure: HTTP 404", fallback="email", now=NOW)
    assert repo.staff_alerts_failing()  # not reached staff yet
    (fallback,) = outbox.claim_due(NOW)
    assert fallback.channel == "email"
    outbox.delivered(fallback.id, NOW)
    assert not repo.staff_alerts_failing()
    assert list(repo.failed_deliveries()) == [escalation.id]  # still shown to staff


def test_an_alert_refused_for_good_goes_once_to_the_fallback_channel(repo, outbox, words):
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Refusing.status, _Refusing.calls = 404, 0
    inbox = SmtpInbox().start()
    try:
        mail = EmailAlerts(
            ("team@clinic.example",), "bot@clinic.example", "127.0.0.1", inbox.port, False
        )
        channels = {
            "webhook": WebhookChannel(f"http://127.0.0.1:{port}/h", words),
            "email": EmailChannel(mail, words, timeout=2),
        }
        worker = AlertWorker(outbox, channels, fallback=lambda: "email")
        assert worker.staff_channels == ["webhook"]  # the fallback gets no re-alerts itself
        escalation = create(repo, ["webhook"], level="emergency")
        drain(worker, seconds=15)
        drain(worker, start=NOW + timedelta(minutes=5), seconds=5)  # and never twice
    finally:
        server.shutdown()
        inbox.stop()
    deliveries = {d["channel"]: d["status"] for d in repo.deliveries(escalation.id)}
    assert deliveries == {"webhook": "failed", "email": "delivered"}
    (message,) = inbox.messages
    assert "[EMERGENCY]" in message["Subject"] and f"#{escalation.id}" in message["Subject"]
    # The failure stays visible to staff beside the fallback that worked.
    assert list(repo.failed_deliveries()) == [escalation.id]


def test_no_fallback_for_a_fallback_or_a_client_notice(repo, outbox):
    escalation = create(repo, ["email", "client"])
    claimed = {d.channel: d for d in outbox.claim_due(NOW)}
    assert not outbox.gave_up(claimed["email"].id, "PermanentFailure: 550", fallback="email")
    assert not outbox.gave_up(claimed["client"].id, "PermanentFailure: 403", fallback="webhook")
    assert sorted(d["channel"] for d in repo.deliveries(escalation.id)) == ["client", "email"]


def test_an_alert_its_channel_keeps_failing_to_send_also_goes_to_the_fallback(repo, outbox):
    down, fallback = FlakyChannel("webhook", failures=10_000), FlakyChannel("email")
    worker = AlertWorker(
        outbox, {"webhook": down, "email": fallback}, backoff_max=2, fallback=lambda: "email"
    )
    escalation = create(repo, ["webhook"], level="emergency")
    drain(worker, seconds=20)
    deliveries = {d["channel"]: d["status"] for d in repo.deliveries(escalation.id)}
    assert deliveries == {"webhook": "pending", "email": "delivered"}  # still retried, too
    assert fallback.delivered == [(escalation.id, "alert")]  # once


def test_the_fallback_channel_is_set_in_the_clinics_settings(settings, clinic_dir):
    from bot.alerts.worker import ChannelSet
    from bot.kb.loader import KnowledgeBaseError, load_clinic
    from bot.kb.store import ClinicStore
    from tests.conftest import edit

    edit(
        clinic_dir / "settings.yml",
        "    # webhook:\n    #   url:",
        "    fallback: webhook\n    # webhook:\n    #   url:",
    )
    with pytest.raises(KnowledgeBaseError, match=r"settings.yml:\d+: alerts.fallback: 'webhook'"):
        load_clinic(clinic_dir)
    edit(
        clinic_dir / "settings.yml",
        "    fallback: webhook\n    # webhook:\n    #   url:",
        '    fallback: webhook\n    webhook:\n      url: "https://hooks.clinic.example/x"\n'
        '    email:\n      to: "team@clinic.example"\n      from: "bot@clinic.example"\n'
        '      smtp_host: "127.0.0.1"\n    #   url:',
    )
    alerts = load_clinic(clinic_dir).settings.alerts
    assert alerts.names() == ["email"] and alerts.fallback == "webhook"
    channels = ChannelSet(settings, ClinicStore(clinic_dir))
    assert set(channels.current()) == {"client", "email", "webhook"}
    assert channels.fallback() == "webhook"
