"""Sending to Telegram: replies (escaped, split at 4096 characters, buttons as an inline
keyboard), the "typing..." indicator, and waiting out Telegram's flood control."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from rasa.core.channels.channel import OutputChannel
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.channels.telegram.format import button_rows, split_text, to_html
from bot.service.messages import QUIET_MARKER

log = logging.getLogger(__name__)

CHANNEL_NAME = "telegram"
SENDER_PREFIX = "telegram-"


def sender_id_for(user_id: int) -> str:
    """The Rasa conversation id of a Telegram user's private chat."""
    return f"{SENDER_PREFIX}{user_id}"


def chat_id_for(sender_id: str) -> int:
    """The Telegram chat of a conversation id made by `sender_id_for`."""
    if not sender_id.startswith(SENDER_PREFIX):
        raise ValueError(f"not a Telegram conversation: {sender_id!r}")
    return int(sender_id[len(SENDER_PREFIX) :])


class TelegramOutput(OutputChannel):
    """Sends Rasa's replies to a Telegram chat: escaped HTML, split at 4096 characters,
    buttons as an inline keyboard under the last part. Counts what it sent."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.sent = 0
        self.failed = 0
        self.quiet = False  # the action was quiet on purpose (a team member has the chat)

    async def send_custom_json(self, recipient_id: str, json_message: dict, **kwargs: Any) -> None:
        """Only our quiet marker comes this way: noted, never sent."""
        if json_message == QUIET_MARKER:
            self.quiet = True

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_text(chat_id_for(recipient_id), text)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text(chat_id_for(recipient_id), text, buttons)

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text(chat_id_for(recipient_id), text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._deliver(lambda: self.bot.send_photo(chat_id_for(recipient_id), image))

    async def _deliver(self, call: Callable[[], Awaitable[Any]]) -> None:
        """Send one message. A failure is logged and counted, never raised: an exception here
        would abort Rasa's turn (later replies unsent, the turn unsaved)."""
        try:
            await retrying(call)
            self.sent += 1
        except Exception:  # noqa: BLE001
            self.failed += 1
            log.error("Could not send a Telegram message", exc_info=True)

    async def send_text(
        self, chat_id: int, text: str, buttons: list[dict[str, Any]] | None = None
    ) -> None:
        """Send one reply (several messages if it is long)."""
        parts = split_text(text) or [text]
        for index, part in enumerate(parts):
            markup = None
            if buttons and index == len(parts) - 1:
                markup = InlineKeyboardMarkup(
                    [
                        [
                            InlineKeyboardButton(b["text"], callback_data=b["callback_data"])
                            for b in row
                        ]
                        for row in button_rows(buttons)
                    ]
                )
            await self._deliver(
                lambda part=part, markup=markup: self.bot.send_message(
                    chat_id, to_html(part), parse_mode=ParseMode.HTML, reply_markup=markup
                )
            )


async def retrying(call: Callable[[], Awaitable[Any]], attempts: int = 3) -> Any:
    """Call the Bot API, waiting out flood control (429) and retrying network errors briefly."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except RetryAfter as exc:
            if attempt == attempts:
                raise
            wait = exc.retry_after
            await asyncio.sleep(
                min(wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait), 30)
            )
        except (Forbidden, BadRequest):
            raise  # blocked by the user, or a request Telegram will never accept
        except TelegramError:
            if attempt == attempts:
                raise
            await asyncio.sleep(0.5 * attempt)
    return None


@asynccontextmanager
async def typing(bot: Bot, chat_id: int):
    """Show "typing..." until the block ends (Telegram clears it after 5 s, so repeat)."""

    async def keep_typing() -> None:
        while True:
            await asyncio.sleep(4)
            with suppress(TelegramError):
                await bot.send_chat_action(chat_id, ChatAction.TYPING)

    with suppress(TelegramError):
        await bot.send_chat_action(chat_id, ChatAction.TYPING)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
