"""The fake Bot API server, driven by the real python-telegram-bot (no internet involved)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes.telegram_api import BOT_USERNAME, FakeTelegramApi


@pytest.fixture
def api() -> Iterator[FakeTelegramApi]:
    """A running fake server, stopped after the test."""
    server = FakeTelegramApi().start()
    try:
        yield server
    finally:
        server.stop()


def make_bot(api: FakeTelegramApi, token: str | None = None) -> Bot:
    """A real ``telegram.Bot`` pointed at the fake."""
    return Bot(
        token or api.token,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
    )


def make_application(api: FakeTelegramApi) -> Application:
    """A real ``Application`` pointed at the fake."""
    return (
        Application.builder()
        .token(api.token)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .build()
    )


def run_polling(application: Application, scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``scenario`` while ``application`` polls the fake, always stopping it cleanly."""

    async def main() -> Any:
        async with application:
            await application.start()
            await application.updater.start_polling(poll_interval=0.05, timeout=1)
            try:
                return await scenario()
            finally:
                await application.updater.stop()
                await application.stop()

    return asyncio.run(main())


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    """One row of inline buttons from (label, callback_data) pairs."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in buttons]])


# ----------------------------------------------------------------- (a) plain Bot calls


def test_get_me_returns_the_fake_bot_user(api: FakeTelegramApi) -> None:
    async def scenario() -> Any:
        async with make_bot(api) as bot:
            return await bot.get_me()

    me = asyncio.run(scenario())

    assert me.is_bot
    assert me.username == BOT_USERNAME
    assert me.id == api.bot_user["id"]
    assert me.first_name


def test_send_message_with_inline_keyboard_is_recorded(api: FakeTelegramApi) -> None:
    async def scenario() -> Any:
        async with make_bot(api) as bot:
            first = await bot.send_message(
                42, "Which day?", reply_markup=keyboard(("Day 1", "day:1"), ("Day 2", "day:2"))
            )
            second = await bot.send_message(-100777, "Group note")
            return first, second

    first, second = asyncio.run(scenario())

    assert first.chat.id == 42 and first.chat.type == "private"
    assert first.text == "Which day?"
    assert first.from_user.username == BOT_USERNAME
    assert first.reply_markup.inline_keyboard[0][1].callback_data == "day:2"
    assert second.message_id == first.message_id + 1
    assert second.chat.id == -100777 and second.chat.type == "supergroup"

    (call, _) = api.wait_for("sendMessage", count=2)
    assert call["params"]["chat_id"] == 42
    assert call["params"]["text"] == "Which day?"
    buttons = call["params"]["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == ["day:1", "day:2"]


def test_send_chat_action_and_photo_upload_round_trip(api: FakeTelegramApi) -> None:
    api.add_file("kb-doc", b"aftercare sheet", "documents/sheet.txt")

    async def scenario() -> tuple[Any, bytes, bytes]:
        async with make_bot(api) as bot:
            assert await bot.send_chat_action(42, "typing") is True
            photo = await bot.send_photo(42, b"\x89PNG fake bytes", caption="Day 3")
            uploaded = await (await bot.get_file(photo.photo[-1].file_id)).download_as_bytearray()
            sheet = await (await bot.get_file("kb-doc")).download_as_bytearray()
            return photo, bytes(uploaded), bytes(sheet)

    photo, uploaded, sheet = asyncio.run(scenario())

    assert photo.caption == "Day 3" and photo.chat.id == 42
    assert uploaded == b"\x89PNG fake bytes"
    assert sheet == b"aftercare sheet"
    (upload,) = api.wait_for("sendPhoto")
    assert upload["params"]["photo"]["data"] == b"\x89PNG fake bytes"
    assert api.wait_for("sendChatAction")[0]["params"]["action"] == "typing"


# ----------------------------------------------------------------- (b) polling Application


def test_application_polling_replies_to_command_and_text(api: FakeTelegramApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(f"Welcome! args={context.args}")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(f"You said: {update.message.text}")

    application = make_application(api)
    application.add_handler(CommandHandler("start", start))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))

    async def scenario() -> list[dict[str, Any]]:
        api.push_text(101, "/start abc")
        api.push_text(202, "is swelling normal?")
        return await api.wait_for_async("sendMessage", count=2)

    replies = run_polling(application, scenario)

    by_chat = {call["params"]["chat_id"]: call["params"]["text"] for call in replies}
    assert by_chat == {101: "Welcome! args=['abc']", 202: "You said: is swelling normal?"}
    methods = [call["method"] for call in api.sent]
    assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert methods[-1] == "getUpdates"  # PTB confirms the last offset while stopping
    assert api.pending_updates == 0


# ----------------------------------------------------------------- (c) callback queries


def test_callback_query_is_answered_and_message_edited(api: FakeTelegramApi) -> None:
    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer("Noted")
        await query.edit_message_text(f"You chose {query.data}")

    application = make_application(api)
    application.add_handler(CallbackQueryHandler(on_button))

    async def scenario() -> tuple[Any, dict[str, Any]]:
        prompt = await application.bot.send_message(
            7, "Pick a day", reply_markup=keyboard(("3", "day:3"))
        )
        pushed = api.push_callback(7, "day:3", prompt.message_id)
        await api.wait_for_async("editMessageText")
        return prompt, pushed

    prompt, pushed = run_polling(application, scenario)

    (answer,) = api.wait_for("answerCallbackQuery")
    assert answer["params"]["callback_query_id"] == pushed["callback_query"]["id"]
    assert answer["params"]["text"] == "Noted"
    (edit,) = api.wait_for("editMessageText")
    assert edit["params"]["chat_id"] == 7
    assert edit["params"]["message_id"] == prompt.message_id
    assert edit["params"]["text"] == "You chose day:3"


# ----------------------------------------------------------------- (d) injected failures


def test_fail_next_makes_one_send_fail_then_recovers(api: FakeTelegramApi) -> None:
    api.fail_next("sendMessage", status=500)

    async def scenario() -> tuple[TelegramError, Any]:
        async with make_bot(api) as bot:
            with pytest.raises(TelegramError) as failed:
                await bot.send_message(42, "first try")
            return failed.value, await bot.send_message(42, "second try")

    error, message = asyncio.run(scenario())

    assert isinstance(error, NetworkError)
    assert message.text == "second try"
    assert [c["params"]["text"] for c in api.calls("sendMessage")] == ["first try", "second try"]


def test_fail_next_429_and_400_map_to_ptb_errors(api: FakeTelegramApi) -> None:
    api.fail_next("sendMessage", status=429)
    api.fail_next("sendMessage", status=400)

    async def scenario() -> None:
        async with make_bot(api) as bot:
            with pytest.raises(RetryAfter):
                await bot.send_message(42, "flood")
            with pytest.raises(BadRequest):
                await bot.send_message(42, "bad")
            await bot.send_message(42, "fine")

    asyncio.run(scenario())
    assert len(api.calls("sendMessage")) == 3


# ----------------------------------------------------------------- (e) tokens and unknown methods


def test_wrong_token_is_rejected(api: FakeTelegramApi) -> None:
    async def scenario() -> None:
        bot = make_bot(api, token="987654:not-the-right-token")
        with pytest.raises(InvalidToken):
            await bot.get_me()
        await bot.shutdown()

    asyncio.run(scenario())
    assert api.sent == []


def test_unknown_method_answers_404(api: FakeTelegramApi) -> None:
    async def scenario() -> None:
        async with make_bot(api) as bot:
            with pytest.raises(EndPointNotFound):
                await bot.do_api_request("sendHologram", api_kwargs={"chat_id": 1})

    asyncio.run(scenario())
    assert api.calls("sendHologram")[0]["params"] == {"chat_id": 1}

    response = httpx.post(f"{api.base_url}{api.token}/sendSticker", json={"chat_id": 1})
    assert response.status_code == 404
    assert response.json() == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found: method sendSticker",
    }


# ----------------------------------------------------------------- raw protocol details


def test_json_bodies_are_accepted_and_reply_markup_strings_parsed(api: FakeTelegramApi) -> None:
    url = f"{api.base_url}{api.token}/sendMessage"
    markup = '{"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}'

    response = httpx.post(url, json={"chat_id": 5, "text": "123", "reply_markup": markup})

    result = response.json()["result"]
    assert result["chat"] == {"id": 5, "type": "private", "first_name": "Sam"}
    assert result["text"] == "123"
    assert result["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "ok"
    assert api.calls("sendMessage")[0]["params"]["reply_markup"]["inline_keyboard"][0][0] == {
        "text": "OK",
        "callback_data": "ok",
    }


def test_get_updates_long_polls_until_an_update_arrives(api: FakeTelegramApi) -> None:
    url = f"{api.base_url}{api.token}/getUpdates"
    first = api.push_text(9, "hello")

    assert httpx.post(url, data={"offset": "0"}).json()["result"][0]["message"]["text"] == "hello"
    # offset past the first update confirms it; the poll then waits for the next push.
    timer = threading.Timer(0.2, api.push_text, args=(9, "later"))
    timer.start()
    started = time.monotonic()
    try:
        body = httpx.post(
            url, data={"offset": str(first["update_id"] + 1), "timeout": "3"}, timeout=5
        ).json()
    finally:
        timer.join()
    assert time.monotonic() - started < 2
    assert [u["message"]["text"] for u in body["result"]] == ["later"]
    assert body["result"][0]["update_id"] == first["update_id"] + 1

    started = time.monotonic()
    empty = httpx.post(url, data={"offset": "99", "timeout": "0.3"}, timeout=5).json()
    assert empty == {"ok": True, "result": []}
    assert 0.25 <= time.monotonic() - started < 2


def test_webhook_state_round_trips_and_blocks_polling(api: FakeTelegramApi) -> None:
    async def scenario() -> tuple[str, str]:
        async with make_bot(api) as bot:
            await bot.set_webhook("https://example.invalid/hook", secret_token="s3cret")
            info = await bot.get_webhook_info()
            with pytest.raises(Conflict):
                await bot.get_updates()
            await bot.delete_webhook()
            cleared = await bot.get_webhook_info()
            return info.url, cleared.url

    assert asyncio.run(scenario()) == ("https://example.invalid/hook", "")


def test_wait_for_timeout_reports_what_arrived(api: FakeTelegramApi) -> None:
    httpx.post(f"{api.base_url}{api.token}/sendMessage", data={"chat_id": "3", "text": "hi"})

    with pytest.raises(AssertionError, match=r"expected 2 sendMessage.*\"text\": \"hi\""):
        api.wait_for("sendMessage", count=2, timeout=0.2)
