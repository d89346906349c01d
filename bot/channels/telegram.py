"""Telegram for clients: a Rasa input channel built on python-telegram-bot.

Two ways in, one set of handlers:
- **webhook** (production): Telegram POSTs updates to `/webhooks/telegram/webhook`; a request
  without the secret token set with `setWebhook` gets 403 and reaches nothing.
- **long polling** (no public HTTPS address): the channel asks the Bot API for updates itself.

Each private chat is one conversation (`telegram-<user id>`); group chats are told to message
the bot privately. Commands (/start with a clinic link code, /help, /today, /human, /forget) and
non-text messages are handled here; every text goes to Rasa, whose replies go back through
`TelegramOutput` (escaped, split, with buttons as inline keyboards). Every client-facing text
comes from the clinic's phrases (`telegram.*` in `clinic/knowledge/phrases.yml`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.telegram_config import TelegramConfig
from bot.channels.telegram_format import button_rows, is_intent_payload, split_text, to_html
from bot.intents import button_intents
from bot.settings import Settings

log = logging.getLogger(__name__)

CHANNEL_NAME = "telegram"
SENDER_PREFIX = "telegram-"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_FORGET_YES, _FORGET_NO = "forget:yes", "forget:no"
# Telegram commands → what Rasa is asked (an intent payload).
_COMMAND_INTENTS = {"today": "/day_summary", "human": "/request_human"}
MAX_PHOTO_BYTES = 10 * 1024 * 1024
# The update types the channel handles; Telegram sends no others (e.g. business messages).
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


def sender_id_for(user_id: int) -> str:
    """The Rasa conversation id of a Telegram user's private chat."""
    return f"{SENDER_PREFIX}{user_id}"


def chat_id_for(sender_id: str) -> int:
    """The Telegram chat of a conversation id made by `sender_id_for`."""
    if not sender_id.startswith(SENDER_PREFIX):
        raise ValueError(f"not a Telegram conversation: {sender_id!r}")
    return int(sender_id[len(SENDER_PREFIX) :])


def _phrase(key: str, **values: object) -> str:
    from bot.service import get_service

    return get_service().phrase(key, **values)


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
            await _retrying(call)
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


async def _retrying(call: Callable[[], Awaitable[Any]], attempts: int = 3) -> Any:
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


class _PerUserOrder(BaseUpdateProcessor):
    """Updates of different users run concurrently; one user's updates run in order."""

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int | None, asyncio.Lock] = {}
        self._users: dict[int | None, int] = {}

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        # The user's turn first, then a slot: one user's backlog never holds every slot.
        user = getattr(getattr(update, "effective_user", None), "id", None)
        lock = self._locks.setdefault(user, asyncio.Lock())
        self._users[user] = self._users.get(user, 0) + 1
        try:
            async with lock:
                await super().process_update(update, coroutine)
        finally:
            self._users[user] -= 1
            if not self._users[user]:
                del self._users[user], self._locks[user]

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await coroutine

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


class TelegramInput(InputChannel):
    """The Telegram channel for clients (`bot.channels.telegram.TelegramInput` in credentials.yml).

    Off (only the health route answers) unless `TELEGRAM_BOT_TOKEN` is set."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramInput:
        """Secrets come from the environment, never from credentials.yml."""
        return cls(TelegramConfig.from_settings(Settings.from_env()))

    def __init__(self, config: TelegramConfig | None) -> None:
        self.config = config
        self.application: Application | None = None
        self.on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None
        self.sanic_app: Any = None
        self._starter: asyncio.Task | None = None

    # --- Rasa's channel interface -------------------------------------------------------

    def get_output_channel(self) -> OutputChannel | None:
        """Used by Rasa's API (`output_channel=latest`): escalation notices reach Telegram."""
        if self.application is None:
            return None
        return TelegramOutput(self.application.bot)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        self.on_new_message = on_new_message
        hook = Blueprint("telegram_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            running = self.application is not None and self.application.running
            return response.json(
                {
                    "status": "ok" if running or self.config is None else "starting",
                    "enabled": self.config is not None,
                    "mode": self.config.mode if self.config else None,
                }
            )

        @hook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if self.config is None or self.config.mode != "webhook":
                return response.json({"error": "the Telegram webhook is not enabled"}, status=404)
            given = request.headers.get(SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), (self.config.webhook_secret or "").encode()):
                log.warning("Rejected a Telegram webhook call with a missing or wrong secret token")
                return response.json({"error": "forbidden"}, status=403)
            if self.application is None or not self.application.running:
                return response.json({"error": "not ready"}, status=503)  # Telegram retries
            try:
                body = request.json
                update = Update.de_json(body, self.application.bot)
            except Exception:  # noqa: BLE001 - anything unparsable is the sender's problem
                update = None
            if update is None or not isinstance(body, dict) or "update_id" not in body:
                return response.json({"error": "not a Telegram update"}, status=400)
            await self.application.update_queue.put(update)
            return response.json({"ok": True})

        @hook.listener("after_server_start")
        async def start(app: Any, loop: Any) -> None:
            self.sanic_app = app
            if self.config is not None:
                self._starter = asyncio.create_task(self._start_with_retry())

        @hook.listener("before_server_stop")
        async def stop(app: Any, loop: Any) -> None:
            await self.stop()

        return hook

    # --- lifecycle ------------------------------------------------------------------------

    def build_application(self) -> Application:
        """The python-telegram-bot application with every handler (one place for the wiring)."""
        assert self.config is not None
        builder = (
            Application.builder()
            .token(self.config.token)
            .base_url(self.config.api_base_url)
            .base_file_url(self.config.file_base_url)
            .concurrent_updates(_PerUserOrder())
            .connection_pool_size(32)
            .pool_timeout(30)
        )
        if self.config.mode == "webhook":
            builder = builder.updater(None)
        application = builder.build()
        private = filters.ChatType.PRIVATE
        new = filters.UpdateType.MESSAGE
        application.add_handler(CommandHandler("start", self.on_start, filters=private & new))
        application.add_handler(CommandHandler("help", self.on_help, filters=private & new))
        for command in _COMMAND_INTENTS:
            application.add_handler(
                CommandHandler(command, self.on_intent_command, filters=private & new)
            )
        application.add_handler(CommandHandler("forget", self.on_forget, filters=private & new))
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_handler(
            MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, self.on_edited)
        )
        application.add_handler(
            MessageHandler(private & new & (filters.PHOTO | filters.Document.IMAGE), self.on_photo)
        )
        application.add_handler(
            MessageHandler(private & new & filters.COMMAND, self.on_unknown_command)
        )
        application.add_handler(MessageHandler(private & new & filters.TEXT, self.on_text))
        application.add_handler(
            MessageHandler(
                private & new & (filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE), self.on_voice
            )
        )
        application.add_handler(MessageHandler(private & new, self.on_unsupported))
        # The bot asks Telegram only for these (ALLOWED_UPDATES); anything else is not sent.
        application.add_handler(
            MessageHandler(
                filters.ChatType.GROUPS & new & (filters.TEXT | filters.COMMAND), self.on_group
            )
        )
        application.add_error_handler(self.on_error)
        return application

    async def start(self) -> None:
        """Start handling updates: polling, or register the webhook with its secret."""
        assert self.config is not None
        application = self.build_application()
        await application.initialize()
        try:
            await self._run(application)
        except BaseException:
            self.application = None
            with suppress(Exception):
                if application.running:
                    await application.stop()
            with suppress(Exception):
                await application.shutdown()
            raise
        self.application = application
        log.info(
            "Telegram channel running in %s mode as @%s", self.config.mode, application.bot.username
        )

    async def _run(self, application: Application) -> None:
        try:
            await application.bot.set_my_commands(
                [
                    BotCommand(name, _phrase(f"telegram.command_{name}"))
                    for name in ("help", "today", "human", "forget")
                ]
            )
        except TelegramError:
            log.warning("Could not set the Telegram command menu", exc_info=True)
        await application.start()
        if self.config.mode == "webhook":
            self.application = application  # ready before Telegram is told where to push
            await application.bot.set_webhook(
                self.config.webhook_url,
                secret_token=self.config.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
        else:
            await application.updater.start_polling(
                allowed_updates=ALLOWED_UPDATES, bootstrap_retries=-1
            )

    async def _start_with_retry(self) -> None:
        """Start, retrying while the Bot API cannot be reached (the bot keeps serving REST)."""
        delay = 2.0
        while True:
            try:
                await self.start()
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - log and retry: an offline start must not kill Rasa
                log.error(
                    "Could not start the Telegram channel; retrying in %.0fs", delay, exc_info=True
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)

    async def stop(self) -> None:
        """Stop polling and the application (the webhook stays registered with Telegram)."""
        if self._starter is not None and not self._starter.done():
            self._starter.cancel()
            with suppress(BaseException):
                await self._starter
        application, self.application = self.application, None
        if application is None:
            return
        with suppress(Exception):
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
        with suppress(Exception):
            await application.stop()
        with suppress(Exception):
            await application.shutdown()

    # --- handlers ---------------------------------------------------------------------------

    async def say(
        self, bot: Bot, chat_id: int, key: str, buttons: list | None = None, **values: object
    ) -> None:
        """Send a clinic phrase to a chat."""
        await TelegramOutput(bot).send_text(chat_id, _phrase(key, **values), buttons)

    async def to_rasa(self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
        """Hand a client's text to Rasa, with a typing indicator; if nothing comes back
        (an action failed), tell the client to try again or call."""
        chat_id = update.effective_chat.id
        output = TelegramOutput(context.bot)
        message = update.effective_message
        metadata = {
            "telegram": {
                "chat_id": chat_id,
                "message_id": message.message_id if message else None,
                "update_id": update.update_id,
            }
        }
        async with _typing(context.bot, chat_id):
            try:
                await self.on_new_message(
                    UserMessage(
                        text,
                        output,
                        sender_id_for(update.effective_user.id),
                        input_channel=CHANNEL_NAME,
                        metadata=metadata,
                    )
                )
            except Exception:  # noqa: BLE001 - the client must hear something
                log.exception("Rasa failed on a Telegram message from %s", update.effective_user.id)
        if output.sent == 0 or output.failed:
            await self.say(context.bot, chat_id, "telegram.error")

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.to_rasa(update, context, update.effective_message.text)

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/start <code>` links the chat to the treatment the clinic registered."""
        from bot.clients import ClientRegistry
        from bot.days import format_date
        from bot.service import get_service

        chat_id = update.effective_chat.id
        sender = sender_id_for(update.effective_user.id)
        code = context.args[0] if context.args else None
        if code:
            service = get_service()
            registry = ClientRegistry(service.sessions)
            result = await asyncio.to_thread(registry.redeem, code, sender, CHANNEL_NAME)
            if result.status == "linked":
                day = await asyncio.to_thread(service.current_day, sender)
                await self.say(
                    context.bot,
                    chat_id,
                    "link.linked",
                    treatment_date=format_date(result.client.treatment_date),
                    day=day,
                )
                return
            await self.say(context.bot, chat_id, f"link.code_{result.status}")
        else:
            await self.say(context.bot, chat_id, "chat.greet")
        # No usable code: the day summary asks the treatment date first if it isn't known.
        await self.to_rasa(update, context, "/day_summary")

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.say(context.bot, update.effective_chat.id, "telegram.help")

    async def on_intent_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/today and /human: the same as asking in words."""
        command = update.effective_message.text.split()[0].lstrip("/").split("@")[0].lower()
        if context.args:  # "/human I'm bleeding a lot": the words are read (screened) too
            await self.to_rasa(update, context, " ".join(context.args))
        await self.to_rasa(update, context, _COMMAND_INTENTS[command])

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
                {"title": _phrase("telegram.forget_yes"), "payload": _FORGET_YES},
                {"title": _phrase("telegram.forget_no"), "payload": _FORGET_NO},
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
        elif is_intent_payload(data) and data[1:] in button_intents():
            await self.to_rasa(update, context, data)
        elif data.lstrip("/").strip():
            # A long payload sent as its title, or something else: read it as words.
            await self.to_rasa(update, context, data.lstrip("/"))

    async def forget(self, user_id: int) -> None:
        """Delete the user's conversation (tracker), treatment link, messages and photos."""
        from bot.forget import forget_conversation

        sender = sender_id_for(user_id)
        agent = getattr(getattr(self.sanic_app, "ctx", None), "agent", None)
        if agent is None:
            raise RuntimeError("Rasa's agent is not loaded; cannot forget a conversation yet")
        async with agent.lock_store.lock(sender):
            await forget_conversation(sender, agent.tracker_store)

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
        from bot.service import get_service

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
        service = get_service()
        _, is_new = await asyncio.to_thread(
            service.add_photo, sender, data, content_type, caption or None, CHANNEL_NAME
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


@asynccontextmanager
async def _typing(bot: Bot, chat_id: int):
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
