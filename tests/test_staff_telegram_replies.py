"""Staff reply to an alert in the Telegram staff group, and the reply reaches the client's chat.

The real python-telegram-bot listener (`AckListener`) runs against the fake Telegram Bot API
(tests/fakes/telegram_api.py); Rasa is a small HTTP server on loopback that records what the
listener posts to its conversation API.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.alerts.acks import AckListener
from bot.alerts.channels import TelegramStaffChannel
from bot.alerts.message import AlertWords
from bot.alerts.worker import AlertWorker
from bot.settings import Settings
from bot.storage.engine import get_engine, session_factory
from bot.storage.escalations import EscalationRepository
from bot.storage.handoffs import Handoffs
from bot.storage.leases import Leases
from bot.storage.outbox import Outbox
from bot.storage.staff import AuditLog
from tests.conftest import NOW, SHIPPED_CLINIC, STAFF_BOT_TOKEN

STAFF_CHAT = -1001234
CLIENT = "telegram-555"
DANA = {"id": 77, "is_bot": False, "first_name": "Dana", "last_name": "Reyes", "username": "dr"}
REPLY = "Please send us a photo of the area, Dana here"
_message_ids = itertools.count(10_000)  # ids of the staff messages the tests push


class FakeRasa:
    """Rasa's conversation API on loopback: records each POST, answers {"messages": []} (or
    HTTP 500 while `failing`)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, object]] = []
        self.failing = False
        rasa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's hook
                length = int(self.headers.get("Content-Length") or 0)
                rasa.posts.append((self.path, json.loads(self.rfile.read(length) or b"null")))
                status = 500 if rasa.failing else 200
                body = json.dumps({"messages": []}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def staff_events(self) -> list[tuple[str, dict, list]]:
        """Each run of action_staff_event: (request path, the staff_event slot, the other
        events posted with it)."""
        runs = []
        for index, (path, body) in enumerate(self.posts):
            if "/execute" in path and body == {"name": "action_staff_event"}:
                _, events = self.posts[index - 1]
                slot = next(e["value"] for e in events if e.get("name") == "staff_event")
                runs.append((path, slot, [e for e in events if e.get("name") != "staff_event"]))
        return runs


@pytest.fixture
def rasa():
    server = FakeRasa()
    yield server
    server.stop()


@pytest.fixture
def settings(tmp_path, rasa, telegram_api) -> Settings:
    url = f"sqlite:///{tmp_path / 'aftercare.db'}"
    get_engine(url)  # the schema, migrated
    return Settings.from_env(
        {
            "AFTERCARE_CLINIC_DIR": str(SHIPPED_CLINIC),
            "AFTERCARE_DATABASE_URL": url,
            "AFTERCARE_RASA_URL": rasa.url,
            "TELEGRAM_API_BASE_URL": telegram_api.base_url,
        }
    )


@pytest.fixture
def sessions(settings):
    return session_factory(settings.database_url)


@pytest.fixture
def repo(sessions) -> EscalationRepository:
    return EscalationRepository(sessions)


@pytest.fixture
def words(clinic) -> AlertWords:
    return AlertWords(clinic)


def alert(repo, sessions, telegram_api, words, photo: bool = False) -> int:
    """Raise an escalation for CLIENT and send its alert to the staff chat (a photo alert
    too, with `photo`); its id."""
    escalation = repo.create(
        CLIENT, "urgent", "it's weeping", "oozing", 3, channels=["telegram"], now=NOW
    )
    if photo:
        repo.add_photo(
            escalation.id, b"\xff\xd8\xff", "image/jpeg", None, "telegram", ["telegram"], NOW
        )
    channel = TelegramStaffChannel(
        STAFF_BOT_TOKEN, str(STAFF_CHAT), words, telegram_api.base_url, telegram_api.base_file_url
    )
    asyncio.run(AlertWorker(Outbox(sessions), {"telegram": channel}).deliver_due())
    return escalation.id


def stored(telegram_api, escalation_id: int, photo: bool = False) -> dict:
    """The fake's current copy of the staff bot's alert for `escalation_id` (the fake has no
    public reader of its messages; Telegram puts this copy in a reply's reply_to_message)."""
    with telegram_api._cond:
        messages = copy.deepcopy(list(telegram_api._messages.values()))
    for message in messages:
        buttons = message.get("reply_markup", {}).get("inline_keyboard", [[{}]])
        if buttons[0][0].get("callback_data") == f"ack:{escalation_id}" and (
            ("photo" in message) == photo
        ):
            return message
    raise AssertionError(f"no alert for escalation {escalation_id} in the fake")


def push_reply(telegram_api, to: dict | None, text: str = REPLY, chat: int = STAFF_CHAT) -> int:
    """A staff member's text message in `chat`, as a reply to `to`; its message id."""
    message_id = next(_message_ids)
    message = {
        "message_id": message_id,
        "from": DANA,
        "chat": {"id": chat, "type": "supergroup", "title": "Staff"},
        "date": int(time.time()),
        "text": text,
    }
    if to is not None:
        message["reply_to_message"] = to
    telegram_api.push_update({"message": message})
    return message_id


async def answer_to(telegram_api, message_id: int) -> dict:
    """What the staff bot answered to the staff message `message_id`."""

    def answers(call) -> bool:
        quoted = call["params"].get("reply_parameters") or {}
        return quoted.get("message_id") == message_id

    (call,) = await telegram_api.wait_for_async("sendMessage", predicate=answers, timeout=15)
    return call["params"]


def listening(settings, repo, words, sessions, scenario: Callable[[], Awaitable[None]]) -> None:
    """Run `scenario` while the notifier's staff-bot listener polls the fake Telegram."""

    async def run() -> None:
        stop = asyncio.Event()
        acks = AckListener(settings, repo, lambda: words, stop, Leases(sessions))
        channel = TelegramStaffChannel(
            STAFF_BOT_TOKEN,
            str(STAFF_CHAT),
            words,
            settings.telegram_api_base_url,
            settings.telegram_file_base_url,
        )
        await acks.follow(channel)
        try:
            await scenario()
        finally:
            stop.set()
            await acks.close()

    asyncio.run(run())


def test_a_reply_to_an_alert_goes_to_the_clients_chat_from_that_staff_member(
    settings, repo, words, sessions, telegram_api, rasa, caplog
):
    caplog.set_level(logging.INFO)
    escalation_id = alert(repo, sessions, telegram_api, words)

    async def scenario() -> None:
        staff_message = push_reply(telegram_api, stored(telegram_api, escalation_id))
        answer = await answer_to(telegram_api, staff_message)
        assert str(answer["chat_id"]) == str(STAFF_CHAT)
        assert answer["text"] == words.say("reply_sent")

    listening(settings, repo, words, sessions, scenario)
    (joined_path, joined, joined_events), (path, reply, _) = rasa.staff_events()
    # Dana took the chat over (the bot's question, if any, closed), then her reply went out.
    assert joined == {"kind": "joined", "staff_name": "Dana", "text": ""}
    assert {"event": "active_loop", "name": None} in joined_events
    assert reply == {"kind": "reply", "staff_name": "Dana", "text": REPLY}
    assert path == f"/conversations/{CLIENT}/execute?output_channel=telegram"
    handoffs = Handoffs(sessions)
    assert handoffs.owner(CLIENT).owner_name == "Dana"
    (message,) = handoffs.messages(CLIENT)
    assert (message.kind, message.text, message.error) == ("reply", REPLY, None)
    assert message.sent_at is not None
    audit = AuditLog(sessions).recent()
    assert [(e.staff_name, e.action, e.detail) for e in reversed(audit)] == [
        ("telegram:Dana", "claim", None),
        ("telegram:Dana", "acknowledge", None),  # taking the chat acknowledges its alert
        ("telegram:Dana", "reply", "sent"),
    ]
    assert all(e.sender_id == CLIENT and e.escalation_id == escalation_id for e in audit)
    assert not any(REPLY in record.getMessage() for record in caplog.records)


def test_replies_elsewhere_or_to_other_messages_send_nothing(
    settings, repo, words, sessions, telegram_api, rasa
):
    escalation_id = alert(repo, sessions, telegram_api, words)
    the_alert = stored(telegram_api, escalation_id)
    elsewhere = {**copy.deepcopy(the_alert), "chat": {"id": -100999, "type": "supergroup"}}
    pasted = {**copy.deepcopy(the_alert), "from": DANA}  # an alert someone else posted
    bare = {k: v for k, v in the_alert.items() if k != "reply_markup"}

    async def scenario() -> None:
        ignored = [
            push_reply(telegram_api, elsewhere, chat=-100999),  # the alert, in another chat
            push_reply(telegram_api, pasted),
            push_reply(telegram_api, bare),  # a bot message without an alert's button
            push_reply(telegram_api, None),  # no reply at all
        ]
        # Updates are handled in order: once the last one is answered, the others were seen.
        last = push_reply(telegram_api, the_alert, text="Only this one")
        assert (await answer_to(telegram_api, last))["text"] == words.say("reply_sent")
        answered = [c["params"].get("reply_parameters") for c in telegram_api.calls("sendMessage")]
        assert not any(a and a.get("message_id") in ignored for a in answered)

    listening(settings, repo, words, sessions, scenario)
    assert [event["text"] for _, event, _ in rasa.staff_events()] == ["", "Only this one"]


def test_a_chat_someone_else_looks_after_gets_no_reply_and_the_group_is_told(
    settings, repo, words, sessions, telegram_api, rasa
):
    escalation_id = alert(repo, sessions, telegram_api, words)
    Handoffs(sessions).claim(CLIENT, None, "Alex")

    async def scenario() -> None:
        staff_message = push_reply(telegram_api, stored(telegram_api, escalation_id))
        answer = await answer_to(telegram_api, staff_message)
        assert answer["text"] == words.say("reply_owned", owner="Alex")

    listening(settings, repo, words, sessions, scenario)
    assert rasa.posts == []
    assert Handoffs(sessions).owner(CLIENT).owner_name == "Alex"
    assert Handoffs(sessions).messages(CLIENT) == []
    assert AuditLog(sessions).recent() == []


def test_after_acknowledge_the_button_stays_and_a_reply_still_works(
    settings, repo, words, sessions, telegram_api, rasa
):
    escalation_id = alert(repo, sessions, telegram_api, words)
    message_id = stored(telegram_api, escalation_id)["message_id"]

    async def scenario() -> None:
        telegram_api.push_callback(STAFF_CHAT, f"ack:{escalation_id}", message_id, user_id=77)
        (edit,) = await telegram_api.wait_for_async("editMessageText", timeout=15)
        button = edit["params"]["reply_markup"]["inline_keyboard"][0][0]
        assert button["callback_data"] == f"ack:{escalation_id}"
        acknowledged = stored(telegram_api, escalation_id)
        assert acknowledged["message_id"] == message_id
        assert words.say("acknowledged_by", who="Sam") in acknowledged["text"]
        # A second press only says it was done already.
        telegram_api.push_callback(STAFF_CHAT, f"ack:{escalation_id}", message_id, user_id=77)
        presses = await telegram_api.wait_for_async("answerCallbackQuery", count=2, timeout=15)
        assert presses[1]["params"]["text"] == words.say("ack_already")
        staff_message = push_reply(telegram_api, acknowledged)
        answer = await answer_to(telegram_api, staff_message)
        assert answer["text"] == words.say("reply_sent")

    listening(settings, repo, words, sessions, scenario)
    assert repo.get(escalation_id).status == "acknowledged"
    assert [event["kind"] for _, event, _ in rasa.staff_events()] == ["joined", "reply"]


def test_a_reply_to_a_photo_alert_works_and_a_failure_is_reported(
    settings, repo, words, sessions, telegram_api, rasa
):
    escalation_id = alert(repo, sessions, telegram_api, words, photo=True)
    rasa.failing = True

    async def scenario() -> None:
        staff_message = push_reply(telegram_api, stored(telegram_api, escalation_id, photo=True))
        answer = await answer_to(telegram_api, staff_message)
        assert answer["text"] == words.say("reply_failed")

    listening(settings, repo, words, sessions, scenario)
    (message,) = Handoffs(sessions).messages(CLIENT)
    assert message.sent_at is None and message.error == "not delivered"
    assert AuditLog(sessions).recent()[0].detail == "failed"


def test_no_reply_to_a_client_who_asked_to_be_forgotten(
    settings, repo, words, sessions, telegram_api, rasa
):
    escalation_id = alert(repo, sessions, telegram_api, words)
    repo.redact_conversation(CLIENT)

    async def scenario() -> None:
        staff_message = push_reply(telegram_api, stored(telegram_api, escalation_id))
        answer = await answer_to(telegram_api, staff_message)
        assert answer["text"] == words.say("reply_forgotten")

    listening(settings, repo, words, sessions, scenario)
    assert rasa.posts == []
    assert AuditLog(sessions).recent() == []
