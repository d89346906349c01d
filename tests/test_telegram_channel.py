"""The Telegram channel's handlers: the real python-telegram-bot (long polling) against the fake
Bot API on loopback, with Rasa replaced by a recorder that answers through the real output
channel. The whole stack (Rasa, actions) is in test_telegram_end_to_end.py."""

from __future__ import annotations

import asyncio
import html
from datetime import date, timedelta

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text

from bot.channels.telegram import TelegramInput, sender_id_for
from bot.channels.telegram.config import TelegramConfig
from bot.storage.clients import ClientRegistry
from tests.conftest import NOW
from tests.fakes.telegram_api import FakeTelegramApi

USER = 4242
SENDER = sender_id_for(USER)


class Agent:
    """What the channel needs of Rasa's agent for /forget: its lock and tracker stores."""

    def __init__(self, tracker_store):
        self.lock_store = InMemoryLockStore()
        self.tracker_store = tracker_store


class App:
    def __init__(self, agent):
        self.ctx = type("Ctx", (), {"agent": agent})()


class Channel:
    """A started TelegramInput whose Rasa is a recorder: `reply(message)` decides the answer."""

    def __init__(self, api: FakeTelegramApi, tracker_store=None):
        self.api = api
        self.input = TelegramInput(TelegramConfig(api.token, api.base_url))
        self.received: list[UserMessage] = []
        self.reply = self.echo
        self.input.on_new_message = self._on_new_message
        self.input.sanic_app = App(Agent(tracker_store))

    async def echo(self, message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")

    async def _on_new_message(self, message: UserMessage) -> None:
        self.received.append(message)
        await self.reply(message)

    async def __aenter__(self) -> Channel:
        await self.input.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.input.stop()

    async def sent_to(self, chat_id: int, count: int, timeout: float = 10) -> list[str]:
        """The texts the bot sent to a chat (as the user sees them), once there are `count`."""
        calls = await self.api.wait_for_async(
            "sendMessage",
            count,
            timeout,
            predicate=lambda c: str(c["params"]["chat_id"]) == str(chat_id),
        )
        return [html.unescape(c["params"]["text"]) for c in calls]


@pytest.fixture
def api():
    fake = FakeTelegramApi()
    fake.start()
    yield fake
    fake.stop()


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


def private_message(api: FakeTelegramApi, user_id: int = USER, **fields) -> dict:
    chat = {"id": user_id, "type": "private", "first_name": "Sam"}
    message = {
        "message_id": 1000 + len(api.sent),
        "from": {"id": user_id, "is_bot": False, "first_name": "Sam"},
        "chat": chat,
        "date": 1_790_000_000,
        **fields,
    }
    return message


def test_text_goes_to_rasa_as_the_users_conversation_and_the_reply_comes_back(api, service):
    async def scenario():
        async with Channel(api) as channel:
            api.push_text(USER, "can I wear makeup?")
            texts = await channel.sent_to(USER, 1)
            return channel.received, texts

    received, texts = run(scenario())
    assert texts == ["echo: can I wear makeup?"]
    message = received[0]
    assert (message.sender_id, message.input_channel) == ("telegram-4242", "telegram")
    assert api.calls("sendChatAction")[0]["params"]["action"] == "typing"
    assert {c["command"] for c in api.commands} == {"help", "today", "human", "forget", "stop"}


def test_kb_text_with_html_and_markdown_characters_shows_exactly_as_written(api, service):
    tricky = "Use <b>SPF 50</b> & *don't* pick _anything_ [see] `code` <3"

    async def scenario():
        async with Channel(api) as channel:

            async def reply(message):
                await message.output_channel.send_text_message(message.sender_id, tricky)

            channel.reply = reply
            api.push_text(USER, "sunscreen?")
            return await channel.sent_to(USER, 1)

    # The fake parses HTML as Telegram does: broken markup would be a 400, not a message.
    assert run(scenario()) == [tricky]


def test_a_5000_character_reply_arrives_in_parts_within_telegram_limits(api, service):
    paragraph = "Keep your skin clean and protected from the sun while it heals. " * 8
    long_reply = "\n\n".join([paragraph.strip()] * 10)
    assert len(long_reply) > 5000

    async def scenario():
        async with Channel(api) as channel:

            async def reply(message):
                await message.output_channel.send_text_with_buttons(
                    message.sender_id, long_reply, [{"title": "Yes", "payload": "/affirm"}]
                )

            channel.reply = reply
            api.push_text(USER, "tell me everything")
            await channel.sent_to(USER, 2)
            return api.calls("sendMessage")

    calls = run(scenario())
    texts = [html.unescape(c["params"]["text"]) for c in calls]
    assert len(texts) == 2 and all(len(t) <= 4096 for t in texts)
    assert " ".join(texts).split() == long_reply.split()  # nothing lost, nothing cut mid-word
    assert texts[0].endswith(".")  # split at a sentence or paragraph
    assert "reply_markup" not in calls[0]["params"]  # the buttons go under the last part
    assert calls[1]["params"]["reply_markup"]["inline_keyboard"] == [
        [{"text": "Yes", "callback_data": "/affirm"}]
    ]


def test_a_button_press_sends_its_payload_to_rasa_and_removes_the_keyboard(api, service):
    async def scenario():
        async with Channel(api) as channel:

            async def reply(message):
                if message.text == "/affirm":
                    await channel.echo(message)
                    return
                await message.output_channel.send_text_with_buttons(
                    message.sender_id,
                    "Pass it on?",
                    [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
                )

            channel.reply = reply
            api.push_text(USER, "can I have botox?")
            await api.wait_for_async("sendMessage")
            api.push_callback(USER, "/affirm", _last_message_id(api))
            texts = await channel.sent_to(USER, 2)
            return channel.received, texts

    received, texts = run(scenario())
    assert [m.text for m in received] == ["can I have botox?", "/affirm"]
    assert texts[-1] == "echo: /affirm"
    assert api.calls("editMessageReplyMarkup")  # the keyboard is gone: one press per offer
    assert api.calls("answerCallbackQuery")


def _last_message_id(api: FakeTelegramApi) -> int:
    return max(key[1] for key in api._messages)


def test_button_data_that_is_not_a_domain_intent_reaches_rasa_only_as_words(api, service):
    async def scenario():
        async with Channel(api) as channel:
            api.push_callback(USER, "/restart", 77)
            api.push_callback(USER, "Yes, pass it on", 78)  # a payload too long: its title
            await channel.sent_to(USER, 2)
            return [m.text for m in channel.received]

    assert run(scenario()) == ["restart", "Yes, pass it on"]


def test_words_after_a_command_or_on_a_voice_note_are_read_too(api, service):
    async def scenario():
        async with Channel(api) as channel:
            api.push_text(USER, "/human I'm bleeding a lot")
            await channel.sent_to(USER, 2)
            voice = {"file_id": "v1", "file_unique_id": "v1u", "duration": 3}
            api.push_update({"message": private_message(api, voice=voice, caption="pus!")})
            await channel.sent_to(USER, 4)
            return [m.text for m in channel.received]

    assert run(scenario()) == ["I'm bleeding a lot", "/request_human", "pus!"]


def test_a_reply_telegram_refuses_ends_in_the_try_again_or_call_message(api, service):
    async def scenario():
        async with Channel(api) as channel:
            api.fail_next("sendMessage", times=1, status=400, description="Bad Request: nope")
            api.push_text(USER, "is this normal?")
            return await channel.sent_to(USER, 2)  # the refused reply, then the fallback

    assert run(scenario()) == ["echo: is this normal?", service.phrase("telegram.error")]


@pytest.mark.parametrize(
    "fields, phrase",
    [
        (
            {
                "sticker": {
                    "file_id": "s1",
                    "file_unique_id": "s1u",
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                }
            },
            "telegram.unsupported",
        ),
        ({"voice": {"file_id": "v1", "file_unique_id": "v1u", "duration": 3}}, "telegram.voice"),
        ({"location": {"latitude": 51.5, "longitude": -0.12}}, "telegram.unsupported"),
        (
            {
                "document": {
                    "file_id": "d1",
                    "file_unique_id": "d1u",
                    "file_name": "notes.pdf",
                    "mime_type": "application/pdf",
                }
            },
            "telegram.unsupported",
        ),
    ],
    ids=["sticker", "voice", "location", "pdf"],
)
def test_non_text_messages_get_a_polite_answer_and_never_reach_rasa(api, service, fields, phrase):
    async def scenario():
        async with Channel(api) as channel:
            api.push_update({"message": private_message(api, **fields)})
            texts = await channel.sent_to(USER, 1)
            api.push_text(USER, "still there?")  # the channel still works afterwards
            texts = await channel.sent_to(USER, 2)
            return channel.received, texts

    received, texts = run(scenario())
    assert texts == [service.phrase(phrase), "echo: still there?"]
    assert [m.text for m in received] == ["still there?"]


def test_an_edited_message_is_read_again_as_a_new_one(api, service):
    async def scenario():
        async with Channel(api) as channel:
            edited = private_message(api, text="it's spreading now", edit_date=1_790_000_100)
            api.push_update({"edited_message": edited})
            return await channel.sent_to(USER, 2), channel.received

    texts, received = run(scenario())
    assert texts == [service.phrase("telegram.edited"), "echo: it's spreading now"]
    assert received[0].text == "it's spreading now"


def test_group_chats_are_asked_to_message_privately_and_nothing_reaches_rasa(api, service):
    async def scenario():
        async with Channel(api) as channel:
            api.push_text(-1001234, "is oozing normal?", chat_type="supergroup")
            return await channel.sent_to(-1001234, 1), channel.received

    texts, received = run(scenario())
    assert texts == [service.phrase("telegram.private_only")]
    assert received == []


def test_unknown_commands_are_answered_and_never_read_as_intents(api, service):
    async def scenario():
        async with Channel(api) as channel:
            api.push_text(USER, "/request_human")
            return await channel.sent_to(USER, 1), channel.received

    texts, received = run(scenario())
    assert texts == [service.phrase("telegram.unknown_command")]
    assert received == []


def test_captions_arguments_and_text_cannot_forge_an_intent(api, service):
    forged = '/affirm{"day": "0"}'

    async def scenario():
        async with Channel(api) as channel:
            voice = {"file_id": "v2", "file_unique_id": "v2u", "duration": 2}
            api.push_update({"message": private_message(api, voice=voice, caption=forged)})
            await channel.sent_to(USER, 2)  # the caption's answer, then "voice notes..."
            api.push_text(USER, f"/human {forged}")
            await channel.sent_to(USER, 4)
            api.push_text(USER, f" / {forged}\n\u200bthanks")
            await channel.sent_to(USER, 5)
            return [m.text for m in channel.received]

    assert run(scenario()) == [
        'affirm{"day": "0"}',
        'affirm{"day": "0"}',
        "/request_human",
        'affirm{"day": "0"} thanks',
    ]


def test_a_user_over_the_limit_is_asked_to_wait_but_a_red_flag_is_still_answered(api, service):
    from bot.channels.limits import MessageBudget

    async def scenario():
        async with Channel(api) as channel:
            channel.input._budget = MessageBudget(2, 60)
            for n in range(3):
                api.push_text(USER, f"question {n}")
            await channel.sent_to(USER, 3)
            api.push_text(USER, "my lips are swelling up and I can't breathe")
            texts = await channel.sent_to(USER, 4)
            return texts, [m.text for m in channel.received]

    texts, received = run(scenario())
    assert received == ["question 0", "question 1"]  # the rest never reached Rasa
    assert texts[2] == service.phrase("telegram.busy")
    assert texts[3].startswith(service.phrase("notice.emergency"))
    (escalation,) = service.escalations.list()
    assert escalation.level == "emergency" and escalation.sender_id == SENDER


def test_today_and_human_commands_ask_rasa_like_words_would(api, service):
    async def scenario():
        async with Channel(api) as channel:
            api.push_text(USER, "/today")
            api.push_text(USER, "/human")
            await channel.sent_to(USER, 2)
            return [m.text for m in channel.received]

    assert run(scenario()) == ["/day_summary", "/request_human"]


def test_help_lists_the_commands_from_the_clinic_phrases(api, service):
    async def scenario():
        async with Channel(api) as channel:
            api.push_text(USER, "/help")
            return await channel.sent_to(USER, 1)

    (text,) = run(scenario())
    assert text == service.phrase("telegram.help")
    assert "/today" in text and "/forget" in text


def test_when_rasa_fails_the_client_is_told_to_try_again_or_call(api, service):
    async def scenario():
        async with Channel(api) as channel:

            async def broken(message):
                raise RuntimeError("action server down")

            channel.reply = broken
            api.push_text(USER, "my face is swelling")
            return await channel.sent_to(USER, 1)

    assert run(scenario()) == [service.phrase("telegram.error")]


def test_start_with_a_clinic_code_links_the_chat_to_the_registered_treatment(api, service):
    registry = ClientRegistry(service.sessions)
    three_days_ago = date.today() - timedelta(days=3)
    _, code = registry.add("J. Smith", three_days_ago, "deep", "face")

    async def scenario():
        async with Channel(api) as channel:
            api.push_text(USER, f"/start {code}")
            return await channel.sent_to(USER, 1), channel.received

    texts, received = run(scenario())

    assert texts == [
        service.phrase(
            "link.linked",
            treatment_date=service.clinic().language.format_date(three_days_ago),
            day=3,
        )
    ]
    assert received == []  # linked: no date question
    treatment = service.treatments.get(SENDER)
    assert (treatment.treatment_date, treatment.kind) == (three_days_ago, "deep")
    assert registry.client_for(SENDER).name == "J. Smith"


def test_start_with_a_used_code_says_so_and_falls_back_to_asking_the_date(api, service):
    registry = ClientRegistry(service.sessions)
    _, code = registry.add("J. Smith", date.today() - timedelta(days=3), "medical")
    assert registry.redeem(code, "telegram-1", "telegram").status == "linked"

    async def scenario():
        async with Channel(api) as channel:
            api.push_text(USER, f"/start {code}")
            return await channel.sent_to(USER, 2), channel.received

    texts, received = run(scenario())
    assert texts[0] == service.phrase("link.code_used")
    assert [m.text for m in received] == ["/day_summary"]  # asks the date when it isn't known
    assert service.treatments.get(SENDER) is None
    assert registry.client_for(SENDER) is None


def test_start_with_an_expired_code_says_so_and_falls_back_to_asking_the_date(api, service):
    registry = ClientRegistry(service.sessions)
    long_ago = NOW - timedelta(days=30)
    _, code = registry.add(
        "J. Smith", date(2026, 10, 20), "medical", valid_for=timedelta(days=14), now=long_ago
    )

    async def scenario():
        async with Channel(api) as channel:
            api.push_text(USER, f"/start {code}")
            return await channel.sent_to(USER, 2), channel.received

    texts, received = run(scenario())
    assert texts[0] == service.phrase("link.code_expired")
    assert [m.text for m in received] == ["/day_summary"]
    assert service.treatments.get(SENDER) is None


def test_start_without_a_code_greets_and_asks_rasa_for_the_day(api, service):
    async def scenario():
        async with Channel(api) as channel:
            api.push_text(USER, "/start")
            return await channel.sent_to(USER, 2), channel.received

    texts, received = run(scenario())
    assert texts[0] == service.phrase("chat.greet")
    assert [m.text for m in received] == ["/day_summary"]


def _photo_message(api, file_id: str, caption: str | None = None) -> dict:
    sizes = [
        {
            "file_id": f"{file_id}-small",
            "file_unique_id": f"{file_id}s",
            "width": 90,
            "height": 90,
            "file_size": 10,
        },
        {
            "file_id": file_id,
            "file_unique_id": f"{file_id}u",
            "width": 800,
            "height": 600,
            "file_size": 12,
        },
    ]
    fields = {"photo": sizes}
    if caption:
        fields["caption"] = caption
    return private_message(api, **fields)


def test_a_photo_starts_a_question_level_escalation_and_a_second_joins_it(api, service):
    api.add_file("p1", b"\xff\xd8\xff first photo", "photos/p1.jpg")
    api.add_file("p2", b"\xff\xd8\xff second photo", "photos/p2.jpg")

    async def scenario():
        async with Channel(api) as channel:
            api.push_update({"message": _photo_message(api, "p1")})
            first = await channel.sent_to(USER, 1)
            api.push_update({"message": _photo_message(api, "p2")})
            both = await channel.sent_to(USER, 2)
            return first, both, channel.received

    first, both, received = run(scenario())
    assert first == [service.phrase("telegram.photo_new")]
    assert both[1] == service.phrase("telegram.photo_added")
    assert received == []  # no caption: nothing for Rasa to read
    (escalation,) = service.escalations.list()
    assert (escalation.level, escalation.sender_id) == ("question", SENDER)
    photos = service.escalations.photos(escalation.id)
    assert [p.data for p in photos] == [b"\xff\xd8\xff first photo", b"\xff\xd8\xff second photo"]


def test_a_photo_joins_the_open_red_flag_and_its_caption_is_screened_first(api, service):
    api.add_file("p3", b"\xff\xd8\xff red streaks", "photos/p3.jpg")
    service.save_treatment_date(SENDER, "4 days ago")

    async def scenario():
        async with Channel(api) as channel:

            async def screen_like_rasa(message):  # what the actions do with a red flag
                answer = service.respond(message.sender_id, "redness", message.text)
                await message.output_channel.send_text_message(message.sender_id, answer.reply)

            channel.reply = screen_like_rasa
            api.push_update(
                {"message": _photo_message(api, "p3", "red streaks spreading from the area")}
            )
            return await channel.sent_to(USER, 2), channel.received

    texts, received = run(scenario())
    assert [m.text for m in received] == ["red streaks spreading from the area"]
    assert texts[1] == service.phrase("telegram.photo_added")
    (escalation,) = service.escalations.list()
    assert escalation.level == "urgent"
    (photo,) = service.escalations.photos(escalation.id)
    assert photo.caption == "red streaks spreading from the area"


def test_a_photo_that_cannot_be_downloaded_is_not_silently_dropped(api, service):
    async def scenario():
        async with Channel(api) as channel:
            api.push_update({"message": _photo_message(api, "never-registered")})
            return await channel.sent_to(USER, 1)

    assert run(scenario()) == [service.phrase("telegram.photo_failed")]
    assert service.escalations.list() == []


def test_forget_asks_first_and_no_keeps_everything(api, service, tmp_path):
    service.save_treatment_date(SENDER, "2 days ago")

    async def scenario():
        async with Channel(api, _tracker_store(tmp_path)) as channel:
            api.push_text(USER, "/forget")
            (confirm,) = await api.wait_for_async("sendMessage")
            buttons = confirm["params"]["reply_markup"]["inline_keyboard"]
            api.push_callback(USER, "forget:no", _last_message_id(api))
            texts = await channel.sent_to(USER, 2)
            return buttons, texts

    buttons, texts = run(scenario())
    assert [b["callback_data"] for row in buttons for b in row] == ["forget:yes", "forget:no"]
    assert texts == [
        service.phrase("telegram.forget_confirm"),
        service.phrase("telegram.forget_cancelled"),
    ]
    assert service.treatments.get(SENDER) is not None


def _tracker_store(tmp_path) -> SQLTrackerStore:
    return SQLTrackerStore(dialect="sqlite", db=str(tmp_path / "tracker.db"))


def test_forget_deletes_the_conversation_link_messages_and_photos(api, service, tmp_path):
    registry = ClientRegistry(service.sessions)
    _, code = registry.add("Jo Bloggs", date.today() - timedelta(days=4), "medical", "neck")
    registry.redeem(code, SENDER, "telegram")
    secret = "my husband says the pus smells"
    escalation = service.escalate(SENDER, secret, "urgent", "oozing", 4, ["oozing"])
    service.escalations.add_photo(escalation.id, b"JPEGDATA", "image/jpeg", "caption", "telegram")
    service.escalations.acknowledge(escalation.id, by="nurse")
    store = _tracker_store(tmp_path)
    tracker = DialogueStateTracker(SENDER, [])
    tracker.update(UserUttered(secret))
    asyncio.run(store.save(tracker))
    other = DialogueStateTracker("telegram-7", [])
    other.update(UserUttered("someone else's question"))
    asyncio.run(store.save(other))

    async def scenario():
        async with Channel(api, store) as channel:
            api.push_text(USER, "/forget")
            await api.wait_for_async("sendMessage")
            api.push_callback(USER, "forget:yes", _last_message_id(api))
            return await channel.sent_to(USER, 2)

    texts = run(scenario())
    assert texts[-1] == service.phrase("telegram.forgotten")
    # Nothing of the client is left in our database...
    engine = create_engine(service.settings.database_url)
    with engine.connect() as connection:
        dump = []
        for table in (
            "conversations",
            "clients",
            "client_links",
            "link_codes",
            "escalations",
            "escalation_photos",
            "outbox",
        ):
            dump += [str(row) for row in connection.execute(text(f"SELECT * FROM {table}"))]
    everything = "\n".join(dump)
    for trace in (SENDER, "Jo Bloggs", "neck", secret, "JPEGDATA", "caption"):
        assert trace not in everything, trace
    # ...except the escalation's clinical facts, kept without the message.
    kept = service.escalations.get(escalation.id)
    assert (kept.level, kept.symptoms, kept.day, kept.status) == (
        "urgent",
        ["oozing"],
        4,
        "acknowledged",
    )
    assert kept.message is None and kept.client_name is None
    # ...nor in Rasa's tracker store; other conversations are untouched.
    with create_engine(f"sqlite:///{tmp_path / 'tracker.db'}").connect() as connection:
        senders = [r[0] for r in connection.execute(text("SELECT DISTINCT sender_id FROM events"))]
    assert senders == ["telegram-7"]


# --- pure parts: splitting, escaping, buttons, configuration --------------------------------


def test_split_prefers_paragraphs_then_sentences_and_never_exceeds_the_limit():
    from bot.channels.telegram.format import split_text, utf16_length

    text = "First paragraph. " * 30 + "\n\n" + "Second one, longer. " * 40
    parts = split_text(text, limit=600)
    assert all(utf16_length(p) <= 600 for p in parts)
    assert parts[0] == ("First paragraph. " * 30).strip()
    assert " ".join(parts).split() == text.split()


def test_split_counts_emoji_as_telegram_does_and_cuts_a_giant_word():
    from bot.channels.telegram.format import split_text, utf16_length

    emoji = "😀" * 3000  # 6000 UTF-16 units, no spaces at all
    parts = split_text(emoji)
    assert [utf16_length(p) for p in parts] == [4096, 1904]
    assert "".join(parts) == emoji


def test_html_escaping_keeps_every_character_visible():
    from bot.channels.telegram.format import to_html
    from tests.fakes.telegram_api import parse_html

    for written in ["<b>bold?</b>", "a & b", "x < y > z", "&amp; literally", "*_[]()~`>#+-=|{}.!"]:
        assert parse_html(to_html(written)) == written


def test_button_payloads_too_long_for_telegram_fall_back_to_the_title():
    from bot.channels.telegram.format import button_rows

    rows = button_rows([{"title": "Yes", "payload": "/affirm" + "x" * 80}])
    assert rows == [[{"text": "Yes", "callback_data": "Yes"}]]


def _config(env):
    from bot.settings import Settings

    return TelegramConfig.from_settings(Settings.from_env(env))


def test_telegram_is_off_without_a_token_and_polls_without_a_public_url():
    assert _config({}) is None
    config = _config({"TELEGRAM_BOT_TOKEN": "1:abc"})
    assert (config.mode, config.api_base_url) == ("polling", "https://api.telegram.org/bot")
    local = _config(
        {"TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081"}
    )
    assert local.api_base_url == "http://127.0.0.1:8081/bot"
    assert local.file_base_url == "http://127.0.0.1:8081/file/bot"


@pytest.mark.parametrize(
    "env, problem",
    [
        (
            {"TELEGRAM_WEBHOOK_URL": "https://clinic.example/tg"},
            "TELEGRAM_WEBHOOK_SECRET is not set",
        ),
        (
            {"TELEGRAM_WEBHOOK_URL": "http://clinic.example/tg", "TELEGRAM_WEBHOOK_SECRET": "abc"},
            "https://",
        ),
        (
            {
                "TELEGRAM_WEBHOOK_URL": "https://clinic.example/tg",
                "TELEGRAM_WEBHOOK_SECRET": "has space",
            },
            "letters, digits",
        ),
        ({"TELEGRAM_API_BASE_URL": "ftp://x"}, "not an http(s) URL"),
        ({"TELEGRAM_STAFF_BOT_TOKEN": "1:abc"}, "must be two bots"),
    ],
    ids=["no-secret", "plain-http", "bad-secret", "bad-base-url", "staff-token"],
)
def test_a_half_configured_webhook_fails_fast_with_the_reason(env, problem):
    from bot.settings import SettingsError

    with pytest.raises(SettingsError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        _config({"TELEGRAM_BOT_TOKEN": "1:abc", **env})


def test_two_processes_share_one_bot_one_polls_and_the_other_takes_over_when_it_stops(
    api, service, monkeypatch
):
    """Two Rasa processes with the client bot in polling mode: Telegram refuses a second
    poller (the fake, like Telegram, ends the first long poll with 409), so only the holder of
    the bot's poller lease polls; each message is answered once; when the poller stops, the
    other process polls within the lease's renewal period and nothing is missed."""
    monkeypatch.setattr("bot.storage.leases.POLLER_SECONDS", 3.0)
    polling: list[str] = []
    together: list[list[str]] = []

    def watched(channel: Channel, name: str) -> None:
        poll = channel.input._poll

        async def tracked(application):
            polling.append(name)
            if len(polling) > 1:
                together.append(list(polling))
            try:
                await poll(application)
            finally:
                polling.remove(name)

        channel.input._poll = tracked

    async def scenario():
        first, second = Channel(api), Channel(api)
        first.input.lease_owner, second.input.lease_owner = "process-1", "process-2"
        watched(first, "first")
        watched(second, "second")
        await first.input.start()
        while polling != ["first"]:
            await asyncio.sleep(0.02)
        await second.input.start()
        for user in range(10):
            api.push_text(5000 + user, f"message {user}")
        for user in range(10):
            await first.sent_to(5000 + user, 1)
        assert polling == ["first"]
        await first.input.stop()  # the poller goes away
        for user in range(10, 15):
            api.push_text(5000 + user, f"message {user}")
        for user in range(10, 15):
            await second.sent_to(5000 + user, 1)
        await asyncio.sleep(0.5)
        await second.input.stop()
        return first.received, second.received

    by_first, by_second = run(scenario())
    assert sorted(m.text for m in by_first) == [f"message {u}" for u in range(10)]
    assert sorted(m.text for m in by_second) == sorted(f"message {u}" for u in range(10, 15))
    assert not together  # never two pollers at once
    assert len(api.calls("sendMessage")) == 15  # each message answered exactly once


# --- a chat a team member owns (the staff inbox) ----------------------------------------


def _owned_turn(api, service, reply, text: str, wait: float = 2.0) -> list[str]:
    """What the client hears when the turn ends as `reply` makes it, in an owned chat."""
    service.handoffs.claim(SENDER, None, "Sam")

    async def scenario():
        async with Channel(api) as channel:
            channel.reply = reply
            api.push_text(USER, text)
            await asyncio.sleep(wait)
            return [
                html.unescape(c["params"]["text"])
                for c in api.calls("sendMessage")
                if str(c["params"]["chat_id"]) == str(USER)
            ]

    return run(scenario())


def test_an_owned_chat_quiet_on_purpose_sends_nothing(api, service):
    from bot.service.messages import QUIET_MARKER

    async def quiet(message):
        await message.output_channel.send_custom_json(message.sender_id, QUIET_MARKER)

    assert _owned_turn(api, service, quiet, "can I wear makeup?") == []


def test_an_owned_chat_whose_action_failed_is_screened_by_the_channel(api, service):
    async def nothing(message):  # the action server was down: Rasa ends the turn, silent
        return None

    texts = _owned_turn(api, service, nothing, "my throat is closing and I can't breathe")
    number = service.clinic().settings.emergency_number
    assert texts and number in texts[0]
    assert [e.level for e in service.escalations.list()] == ["emergency"]


def test_an_owned_chat_whose_turn_crashed_gets_try_again(api, service):
    async def crash(message):  # Rasa failed: the message never reached the chat's record
        raise RuntimeError("boom")

    texts = _owned_turn(api, service, crash, "can I wear makeup?")
    assert texts == [service.phrase("telegram.error")]
