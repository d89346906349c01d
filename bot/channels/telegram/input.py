"""Telegram for clients: a Rasa input channel built on python-telegram-bot.

Two ways in, one set of handlers (`handlers.py`):
- **webhook** (production): Telegram POSTs updates to `/webhooks/telegram/webhook`; a request
  without the secret token set with `setWebhook` gets 403 and reaches nothing.
- **long polling** (no public HTTPS address): the channel asks the Bot API for updates itself;
  with several Rasa processes, only the one holding the bot's poller lease polls
  (`bot.storage.leases`), and another takes over within 30 s when it dies.

Each private chat is one conversation (`telegram-<user id>`); group chats are told to message
the bot privately. Replies go back through `TelegramOutput` (`output.py`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.channels.recovery import Recovery, inbound_log
from bot.channels.telegram.config import TelegramConfig
from bot.channels.telegram.handlers import COMMAND_INTENTS, Handlers
from bot.channels.telegram.inbound import RecordingQueue
from bot.channels.telegram.output import CHANNEL_NAME, TelegramOutput
from bot.kb.loader import phrase_keys
from bot.service import Reply
from bot.settings import Settings
from bot.storage.inbound import Pending
from bot.storage.leases import Leases, run_while_held, stack_owner, telegram_poller

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# The update types the channel handles; Telegram sends no others (e.g. business messages).
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
# The command menu: every `telegram.command_<name>` phrase of the clinic.
COMMANDS = [
    key[len("command_") :] for key in phrase_keys("telegram.") if key.startswith("command_")
]


class _PerUserOrder(BaseUpdateProcessor):
    """Updates of different users run concurrently; one user's updates run in order. When an
    update's handling ends, its inbound record is done (unless it was cancelled)."""

    def __init__(self, queue: RecordingQueue, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._queue = queue
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
        except asyncio.CancelledError:
            self._queue.forget(update)  # shutting down mid-turn: left for the recovery path
            raise
        else:
            with suppress(Exception):
                await self._queue.handled(update)
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


class TelegramInput(Handlers, InputChannel):
    """The Telegram channel for clients (`bot.channels.telegram.TelegramInput` in credentials.yml).

    Off (only the health route answers) unless `TELEGRAM_BOT_TOKEN` is set."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramInput:
        """Secrets come from the environment, never from credentials.yml."""
        # The settings alone: the service (database, clinic) is built on the first update.
        return cls(TelegramConfig.from_settings(Settings.from_env()))

    def __init__(self, config: TelegramConfig | None) -> None:
        self.config = config
        self.application: Application | None = None
        self.on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None
        self.sanic_app: Any = None
        self._starter: asyncio.Task | None = None
        self._recovery: asyncio.Task | None = None
        self._poller: asyncio.Task | None = None
        self._stopping = asyncio.Event()
        # Polls while it holds the bot's lease (None: this stack's Telegram role).
        self.lease_owner: str | None = None

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
        queue = RecordingQueue(lambda: inbound_log(self.service()))
        builder = (
            Application.builder()
            .token(self.config.token)
            .base_url(self.config.api_base_url)
            .base_file_url(self.config.file_base_url)
            .update_queue(queue)
            .concurrent_updates(_PerUserOrder(queue))
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
        for command in COMMAND_INTENTS:
            application.add_handler(
                CommandHandler(command, self.on_intent_command, filters=private & new)
            )
        application.add_handler(CommandHandler("forget", self.on_forget, filters=private & new))
        application.add_handler(CommandHandler("stop", self.on_stop, filters=private & new))
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
        self._stopping = asyncio.Event()  # a channel stopped before may start again
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
        recovery = Recovery(
            CHANNEL_NAME, self.service, self._deliver_recovered, "telegram.recovered"
        )
        self._recovery = asyncio.create_task(recovery.run())
        log.info(
            "Telegram channel running in %s mode as @%s", self.config.mode, application.bot.username
        )

    async def _deliver_recovered(self, pending: Pending, replies: list[Reply]) -> None:
        """A recovered message's replies, to the chat it came from."""
        if self.application is None or pending.address is None:
            raise RuntimeError("the Telegram channel is not running")
        output = TelegramOutput(self.application.bot)
        for reply in replies:
            await output.send_text(int(pending.address), reply.text)

    async def _run(self, application: Application) -> None:
        try:
            await application.bot.set_my_commands(
                [
                    BotCommand(name, self.service().phrase(f"telegram.command_{name}"))
                    for name in COMMANDS
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
        else:  # every process can send; one at a time polls (Telegram refuses a second)
            self._poller = asyncio.create_task(
                run_while_held(
                    Leases(self.service().sessions),
                    telegram_poller(self.config.token),
                    lambda: self._poll(application),
                    self._stopping,
                    owner=self.lease_owner
                    or stack_owner("telegram", self.service().settings.stack),
                )
            )

    async def _poll(self, application: Application) -> None:
        """Poll the Bot API for updates until cancelled (this process holds the lease); a
        cancellation while polling starts leaves the updater stopped too."""
        try:
            await application.updater.start_polling(
                allowed_updates=ALLOWED_UPDATES, bootstrap_retries=-1
            )
            await asyncio.Event().wait()
        finally:
            with suppress(Exception):
                if application.updater.running:
                    await application.updater.stop()

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
        self._stopping.set()
        for task in (self._starter, self._recovery, self._poller):
            if task is not None and not task.done():
                task.cancel()
                with suppress(BaseException):
                    await task
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
