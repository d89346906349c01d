"""What the Telegram channel does with each kind of update: text, commands, buttons, photos,
edits, voice notes and other media. Every client-facing text comes from the clinic's phrases
(`telegram.*` in `clinic/knowledge/phrases.yml`); every text goes to Rasa, screened there."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from rasa.core.channels.channel import UserMessage
from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import logs
from bot.channels.cleaning import clean_text
from bot.channels.limits import MessageBudget
from bot.channels.recovery import Rescue, within_delay
from bot.channels.telegram.format import is_intent_payload
from bot.channels.telegram.inbound import RecordingQueue
from bot.channels.telegram.output import CHANNEL_NAME, TelegramOutput, sender_id_for, typing
from bot.domain.intents import button_intents
from bot.service import AftercareService, get_service
from bot.storage.forget import forget_conversation

log = logging.getLogger(__name__)

_FORGET_YES, _FORGET_NO = "forget:yes", "forget:no"
# Telegram commands → what Rasa is asked (an intent payload).
COMMAND_INTENTS = {"today": "/day_summary", "human": "/request_human"}
MAX_PHOTO_BYTES = 10 * 1024 * 1024


class Handlers:
    """The python-telegram-bot handlers of the clients' channel (mixed into `TelegramInput`,
    which provides `on_new_message` and Rasa's app)."""

    on_new_message: Callable[[UserMessage], Awaitable[Any]] | None
    sanic_app: Any

    @staticmethod
    def service() -> AftercareService:
        """The aftercare service of this process."""
        return get_service()

    @property
    def budget(self) -> MessageBudget:
        """Messages per Telegram user (the widget's limit per chat)."""
        if getattr(self, "_budget", None) is None:
            self._budget = MessageBudget(name="telegram-user")
        return self._budget

    async def say(
        self, bot: Bot, chat_id: int, key: str, buttons: list | None = None, **values: object
    ) -> None:
        """Send a clinic phrase to a chat."""
        await TelegramOutput(bot).send_text(chat_id, self.service().phrase(key, **values), buttons)

    async def to_rasa(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, intent: bool = False
    ) -> None:
        """Hand a client's text to Rasa, with a typing indicator; if nothing comes back
        (an action failed), tell the client to try again or call. Text is cleaned as the
        widget's is (no forged "/intent"); `intent` marks one of our own payloads."""
        text = text if intent else clean_text(text)
        if not text:
            return
        chat_id = update.effective_chat.id
        if not await self.budget.allow(str(update.effective_user.id)):
            await self.busy_but_screened(update, context, text)
            return
        output = TelegramOutput(context.bot)
        sent = update.effective_message
        metadata = {
            "telegram": {
                "chat_id": chat_id,
                "message_id": sent.message_id if sent else None,
                "update_id": update.update_id,
            }
        }
        message = UserMessage(
            text,
            output,
            sender_id_for(update.effective_user.id),
            input_channel=CHANNEL_NAME,
            metadata=metadata,
        )
        finished = False
        async with typing(context.bot, chat_id):
            with logs.hiding(text):  # a failure's log line must not carry the client's words
                try:
                    finished = await within_delay(self.on_new_message(message), self.service())
                except Exception:  # noqa: BLE001 - the client must hear something
                    log.exception(
                        "Rasa failed on a Telegram message from %s", update.effective_user.id
                    )
        if finished and output.quiet and not output.failed:
            return  # a team member has the chat: screened by the action, quiet on purpose
        if not finished or output.sent == 0 or output.failed:
            words = None if intent else text
            await self.after_failed_turn(context, chat_id, update, words, stored=finished)

    async def after_failed_turn(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        chat_id: int,
        update: Update,
        text: str | None,
        stored: bool = False,
    ) -> None:
        """The turn gave nothing (the action server is down, Rasa failed): a red flag is still
        screened here and gets its reply, the emergency number first; anything else gets
        "something went wrong, try again". Nothing when the recovery path already answered
        it (the turn hung past the recovery delay)."""
        queue = context.application.update_queue
        if isinstance(queue, RecordingQueue) and await queue.was_recovered(update):
            return
        bot = context.bot
        sender = sender_id_for(update.effective_user.id)
        rescue = Rescue(self.service)
        replies = await rescue.red_flag_replies(sender, text)
        if not replies:
            # A message the turn kept (`stored`), in a chat a team member owns: they see it,
            # and it was screened here; no reply is expected. Anything else: "try again".
            if not (stored and await rescue.quiet_on_purpose(sender)):
                await self.say(bot, chat_id, "telegram.error")
            return
        output = TelegramOutput(bot)
        for reply in replies:
            await output.send_text(chat_id, reply.text)

    async def busy_but_screened(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str
    ) -> None:
        """A user over the limit is asked to slow down; a red flag in the message still gets
        its reply (the emergency number first) and its escalation."""
        chat_id = update.effective_chat.id
        sender = sender_id_for(update.effective_user.id)
        outcome = await self.budget.screen_over_limit(
            str(update.effective_user.id),
            text,
            lambda words: self.service().screen_unanswered(sender, words),
        )
        if outcome is None:
            await self.say(context.bot, chat_id, "telegram.busy")
            return
        output = TelegramOutput(context.bot)
        for reply in outcome.replies:
            await output.send_text(chat_id, reply.text)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.to_rasa(update, context, update.effective_message.text)

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/start <code>` links the chat to the treatment the clinic registered."""
        chat_id = update.effective_chat.id
        sender = sender_id_for(update.effective_user.id)
        code = context.args[0] if context.args else None
        output = TelegramOutput(context.bot)
        desk = self.service().checkin_desk
        if await asyncio.to_thread(desk.start, self.service().clinic(), sender) and (
            self.service().clinic().checkins.enabled
            and await asyncio.to_thread(desk.enabled, sender)  # the clinic's "off" still holds
        ):
            await self.say(context.bot, chat_id, "telegram.checkins_started")
        if code:
            linked = await asyncio.to_thread(self.service().link_chat, sender, code, CHANNEL_NAME)
            await output.send_text(chat_id, linked.reply.text)
            if linked.linked:
                return
        else:
            await output.send_text(chat_id, self.service().greeting().text)
        # No usable code: the day summary asks the treatment date first if it isn't known.
        await self.to_rasa(update, context, "/day_summary", intent=True)

    async def on_stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/stop`: no more check-in messages in this chat (questions are still answered)."""
        sender = sender_id_for(update.effective_user.id)
        stopped = await asyncio.to_thread(self.service().checkin_desk.stop, sender)
        key = "telegram.checkins_stopped" if stopped else "telegram.checkins_already_stopped"
        await self.say(context.bot, update.effective_chat.id, key)

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.say(context.bot, update.effective_chat.id, "telegram.help")

    async def on_intent_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/today and /human: the same as asking in words."""
        command = update.effective_message.text.split()[0].lstrip("/").split("@")[0].lower()
        if context.args:  # "/human I'm bleeding a lot": the words are read (screened) too
            await self.to_rasa(update, context, " ".join(context.args))
        await self.to_rasa(update, context, COMMAND_INTENTS[command], intent=True)

    async def on_unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Never passed on as a command (Rasa would read "/anything" as an intent); words after
        # it are read like any message.
        words = update.effective_message.text.lstrip("/").strip()
        if len(words.split()) > 1:
            await self.to_rasa(update, context, words)
            return
        await self.say(context.bot, update.effective_chat.id, "telegram.unknown_command")

    async def on_forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Ask before deleting anything."""
        await self.say(
            context.bot,
            update.effective_chat.id,
            "telegram.forget_confirm",
            buttons=[
                {"title": self.service().phrase("telegram.forget_yes"), "payload": _FORGET_YES},
                {"title": self.service().phrase("telegram.forget_no"), "payload": _FORGET_NO},
            ],
        )

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An inline-keyboard press: forget confirmation, or a Rasa button's payload."""
        query = update.callback_query
        with suppress(TelegramError):
            await query.answer()
        if query.message is not None:  # one press per keyboard
            with suppress(TelegramError):
                await query.edit_message_reply_markup(reply_markup=None)
        chat = update.effective_chat
        if chat is None or chat.type != "private":
            return
        data = query.data or ""
        if data == _FORGET_YES:
            await self.forget(update.effective_user.id)
            await self.say(context.bot, chat.id, "telegram.forgotten")
        elif data == _FORGET_NO:
            await self.say(context.bot, chat.id, "telegram.forget_cancelled")
        elif is_intent_payload(data) and data[1:] in button_intents(
            self.service().settings.domain_file
        ):
            await self.to_rasa(update, context, data, intent=True)
        elif data.lstrip("/").strip():
            # A long payload sent as its title, or something else: read it as words.
            await self.to_rasa(update, context, data)

    async def forget(self, user_id: int) -> None:
        """Delete the user's conversation (tracker), treatment link, messages and photos."""
        sender = sender_id_for(user_id)
        agent = getattr(getattr(self.sanic_app, "ctx", None), "agent", None)
        if agent is None:
            raise RuntimeError("Rasa's agent is not loaded; cannot forget a conversation yet")
        async with agent.lock_store.lock(sender):
            await forget_conversation(sender, agent.tracker_store, self.service().sessions)

    async def on_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An edited message is read again as a new one (an edit may add a red flag)."""
        message = update.edited_message
        text = (message.text or message.caption or "").strip() if message else ""
        if not text or text.startswith("/"):
            return
        await self.say(context.bot, update.effective_chat.id, "telegram.edited")
        await self.to_rasa(update, context, text)

    async def on_photo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Store the photo with the client's open escalation, or start a question-level one.
        A caption is read first, like any message (it may be a red flag)."""
        message = update.effective_message
        chat_id = update.effective_chat.id
        sender = sender_id_for(update.effective_user.id)
        caption = (message.caption or "").strip()
        if caption:
            await self.to_rasa(update, context, caption)
        if message.photo:
            media, content_type = message.photo[-1], "image/jpeg"  # the largest size
        else:
            media, content_type = message.document, message.document.mime_type or "image/jpeg"
        try:
            if media.file_size and media.file_size > MAX_PHOTO_BYTES:
                raise ValueError(f"photo of {media.file_size} bytes is over the limit")
            file = await media.get_file()
            data = bytes(await file.download_as_bytearray())
        except Exception:  # noqa: BLE001 - tell the client rather than fail silently
            log.warning("Could not download a photo from %s", sender, exc_info=True)
            await self.say(context.bot, chat_id, "telegram.photo_failed")
            return
        _, is_new = await asyncio.to_thread(
            self.service().add_photo, sender, data, content_type, caption or None, CHANNEL_NAME
        )
        await self.say(
            context.bot, chat_id, "telegram.photo_new" if is_new else "telegram.photo_added"
        )

    async def on_voice(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._read_caption(update, context)
        await self.say(context.bot, update.effective_chat.id, "telegram.voice")

    async def _read_caption(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A caption on any media is a message too (it may report a red flag)."""
        caption = (getattr(update.effective_message, "caption", None) or "").strip()
        if caption:
            await self.to_rasa(update, context, caption)

    async def on_unsupported(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or (message.text is None and not _has_content(message)):
            return  # service messages (pinned, joined...) need no answer
        await self._read_caption(update, context)
        await self.say(context.bot, update.effective_chat.id, "telegram.unsupported")

    async def on_group(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.say(context.bot, update.effective_chat.id, "telegram.private_only")

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A handler failed: log it, and tell a private chat to try again or call."""
        log.error("Telegram update failed", exc_info=context.error)
        chat = getattr(update, "effective_chat", None)
        if chat is not None and chat.type == "private":
            with suppress(Exception):
                await self.say(context.bot, chat.id, "telegram.error")


def _has_content(message: Any) -> bool:
    return any(
        getattr(message, name, None)
        for name in (
            "sticker",
            "document",
            "location",
            "venue",
            "contact",
            "video",
            "animation",
            "poll",
            "dice",
            "game",
        )
    )
