"""Telegram updates recorded before they are acknowledged, and sent to the recovery path when
their process dies before answering them (`bot.channels.recovery`).

python-telegram-bot puts every update it receives on the application's update queue: from
the webhook route before it answers Telegram 200, and from long polling before it asks for
the next batch (which acknowledges this one). `RecordingQueue.put` records the update first
(and drops one whose `update_id` is being or was answered: Telegram re-sends a webhook update
it got no 200 for), so an update Telegram counts as delivered is in the database. If the
database cannot be reached, the update is queued all the same (answered, just not
recoverable): recording must never stop Telegram's updates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from telegram import Update

from bot import logs
from bot.channels.cleaning import clean_text
from bot.channels.telegram.output import sender_id_for
from bot.storage.inbound import RECOVERED, RECOVERING, InboundLog

log = logging.getLogger(__name__)

RECORD_TRIES = 3
NO_WORDS = frozenset({"start"})  # commands whose argument is no client text (a link code)


def words_of(update: Update) -> str | None:
    """What the client wrote in an update (text, caption, edit or button), cleaned; a command's
    name is dropped and its arguments kept ("/human I'm bleeding" → "I'm bleeding")."""
    message = update.effective_message
    raw = None
    if message is not None:
        raw = message.text or message.caption
    if raw is None and update.callback_query is not None:
        raw = update.callback_query.data
    if not raw:
        return None
    if raw.lstrip().startswith("/"):
        command, _, raw = raw.lstrip()[1:].partition(" ")
        if command.split("@")[0].lower() in NO_WORDS:
            return None
    return clean_text(raw) or None


def _private_chat(update: Update) -> int | None:
    chat = update.effective_chat
    return chat.id if chat is not None and chat.type == "private" else None


class RecordingQueue(asyncio.Queue):
    """The application's update queue: each private chat's update is recorded before it is
    queued; a repeated `update_id` is dropped."""

    def __init__(self, inbound: Callable[[], InboundLog]) -> None:
        super().__init__()
        self._inbound = inbound
        self.recorded: dict[int, int] = {}  # update_id -> inbound id, until handled

    async def put(self, item: Any) -> None:
        if isinstance(item, Update) and item.effective_user is not None:
            chat_id = _private_chat(item)
            if chat_id is not None:
                recorded = await self._record(item, chat_id)
                if recorded is False:
                    log.warning("Dropped Telegram update %s: received before", item.update_id)
                    return
        await super().put(item)

    async def _record(self, update: Update, chat_id: int) -> bool | None:
        """True once recorded, False for a repeat, None when the database failed."""
        words = words_of(update)
        for attempt in range(RECORD_TRIES):
            try:
                with logs.hiding(words or ""):
                    inbound_id = await asyncio.to_thread(
                        self._inbound().record,
                        "telegram",
                        sender_id_for(update.effective_user.id),
                        words,
                        str(update.update_id),
                        str(chat_id),
                    )
            except Exception:  # noqa: BLE001 - never stop the updates: answer unrecorded
                log.exception("Could not record Telegram update %s", update.update_id)
                await asyncio.sleep(0.5 * 2**attempt)
                continue
            if inbound_id is None:
                return False
            self.recorded[update.update_id] = inbound_id
            return True
        return None

    async def was_recovered(self, update: object) -> bool:
        """Whether the recovery path claimed this update while its turn ran."""
        inbound_id = self.recorded.get(getattr(update, "update_id", None))
        if inbound_id is None:
            return False
        state = await asyncio.to_thread(self._inbound().state_of, inbound_id)
        return state in (RECOVERING, RECOVERED)

    async def handled(self, update: object) -> None:
        """The update's turn ended (however it ended): its record is done."""
        update_id = getattr(update, "update_id", None)
        inbound_id = self.recorded.pop(update_id, None) if update_id is not None else None
        if inbound_id is not None:
            await asyncio.to_thread(self._inbound().finish, inbound_id)

    def forget(self, update: object) -> None:
        """The update's turn was cancelled (shutting down): its record stays for recovery."""
        self.recorded.pop(getattr(update, "update_id", None), None)
