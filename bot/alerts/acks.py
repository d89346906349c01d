"""The staff chat's Acknowledge button, and staff replies to alerts: a python-telegram-bot
listener on the staff bot.

It runs while a staff Telegram chat is configured, and starts or stops when the clinic's
`alerts:` settings change. Alerts never wait for it: if Telegram is unreachable, the worker
delivers anyway (Telegram deliveries retry) and the listener keeps trying. A reply (Telegram's
reply-to) to an alert goes to the client's chat (`bot.alerts.staff_replies`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from bot.alerts.channels import ACK_PREFIX, TelegramStaffChannel
from bot.alerts.message import AlertWords
from bot.alerts.staff_replies import Outcome, TelegramReplies, alert_id, staff_name
from bot.settings import Settings
from bot.storage.escalations import EscalationRepository
from bot.storage.leases import Leases, run_while_held, stack_owner, telegram_poller
from bot.storage.staff import AuditLog

log = logging.getLogger(__name__)


def is_staff_chat(chat, configured: str) -> bool:
    """The chat is the configured staff chat (its id, or "@name" of a public group)."""
    if str(chat.id) == configured:
        return True
    username = getattr(chat, "username", None)
    return bool(username) and f"@{username}".lower() == configured.lower()


def acknowledge_handler(
    repo: EscalationRepository,
    words: Callable[[], AlertWords],
    staff_chat: Callable[[], str],
    audit: AuditLog | None = None,
):
    """A python-telegram-bot handler for the Acknowledge button, pressed in the staff chat
    (`staff_chat()`, read on each press: the clinic may change it). A press from anywhere
    else (the alert forwarded to another chat) acknowledges nothing."""

    async def on_ack(update, context) -> None:
        say = words().say
        query = update.callback_query
        chat = query.message.chat if query.message is not None else None
        if chat is None or not is_staff_chat(chat, str(staff_chat())):
            await query.answer(say("ack_not_here"))
            return
        try:
            escalation_id = int(query.data[len(ACK_PREFIX) :])
        except (TypeError, ValueError):
            await query.answer(say("ack_unknown"))
            return
        user = query.from_user
        who = (user.full_name or user.username or str(user.id)) if user else "staff"
        if not await asyncio.to_thread(repo.acknowledge, escalation_id, f"telegram:{who}"):
            await query.answer(say("ack_already"))
            return
        if audit is not None:
            await _audit(audit, repo, who, escalation_id)
        await query.answer(say("ack_done"))
        if query.message is not None:
            await _mark_acknowledged(query, say("acknowledged_by", who=who))

    return on_ack


async def _audit(audit: AuditLog, repo: EscalationRepository, who: str, escalation_id: int):
    """The acknowledgement in the audit log (a failure there never holds up the button)."""
    try:
        escalation = await asyncio.to_thread(repo.get, escalation_id)
        sender = escalation.sender_id if escalation else None
        record = audit.record
        await asyncio.to_thread(record, f"telegram:{who}", "acknowledge", sender, escalation_id)
    except Exception:  # noqa: BLE001 - the acknowledgement itself is stored
        log.warning("Could not write an acknowledgement to the audit log", exc_info=True)


async def _mark_acknowledged(query, done: str) -> None:
    """Add who acknowledged to the alert. The button stays: it names the escalation a staff
    reply to this alert is for (a second press answers "ack_already")."""
    from telegram.error import TelegramError  # only with a staff chat

    message, markup = query.message, query.message.reply_markup
    try:
        if message.caption is not None:  # a photo alert: its text is the caption
            await query.edit_message_caption(
                f"{message.caption}\n\n{done}"[:1024], reply_markup=markup
            )
        else:
            await query.edit_message_text(f"{message.text}\n\n{done}", reply_markup=markup)
    except TelegramError as exc:  # the acknowledgement itself is stored and confirmed
        log.warning("Could not mark the alert acknowledged in the chat (%s)", type(exc).__name__)


def staff_reply_handler(
    replies: TelegramReplies, words: Callable[[], AlertWords], staff_chat: Callable[[], str]
):
    """A python-telegram-bot handler for text messages: a reply in the staff chat
    (`staff_chat()`) to an alert of this bot goes to that client's chat, and the bot answers
    the staff member with how it went. Anything else (another chat, a reply to another
    message) is ignored."""

    async def on_reply(update, context) -> None:
        message = update.message
        replied = message.reply_to_message if message is not None else None
        if replied is None or message.from_user is None or not (message.text or "").strip():
            return
        if not is_staff_chat(message.chat, str(staff_chat())):
            return
        escalation_id = alert_id(replied)
        if escalation_id is None or replied.from_user is None:
            return
        if replied.from_user.id != context.bot.id:
            return  # a copy of an alert someone forwarded or pasted: not the bot's own
        try:
            outcome = await replies.send(escalation_id, staff_name(message.from_user), message.text)
        except Exception as exc:  # noqa: BLE001 - the database failed: say so, log the kind
            log.warning(
                "A staff reply to escalation %s failed (%s)", escalation_id, type(exc).__name__
            )
            outcome = Outcome("reply_failed")
        await message.reply_text(words().say(outcome.key, **outcome.values), do_quote=True)

    return on_reply


class AckListener:
    """Polls the staff bot for Acknowledge presses and staff replies to alerts while a staff
    chat is configured."""

    def __init__(
        self,
        settings: Settings,
        repo: EscalationRepository,
        words: Callable[[], AlertWords],
        stop: asyncio.Event,
        leases: Leases,
    ):
        self.settings, self.repo, self.words, self.stop = settings, repo, words, stop
        self.leases = leases
        self._token: str | None = None
        self._chat_id = ""
        self._task: asyncio.Task | None = None
        self._replies: TelegramReplies | None = None

    async def follow(self, channel: TelegramStaffChannel | None) -> None:
        """Listen with this channel's bot (or stop listening when there is none)."""
        token = channel.bot.token if channel is not None else None
        self._chat_id = channel.chat_id if channel is not None else ""
        if token == self._token:
            return
        await self.close()
        self._token = token
        if token is not None:
            self._task = asyncio.create_task(self._listen(token))

    async def close(self) -> None:
        """Stop listening."""
        task, self._task, self._token = self._task, None, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})  # a cancellation of the caller still propagates
            if not task.cancelled() and task.exception() is not None:
                log.warning("The Acknowledge listener had stopped: %s", task.exception())

    async def _listen(self, token: str) -> None:
        """Poll while this notifier holds the staff bot's poller lease (Telegram refuses a
        second poller of one bot: with several notifiers, one polls, another takes over when
        it dies)."""
        await run_while_held(
            self.leases,
            telegram_poller(token),
            lambda: self._poll(token),
            self.stop,
            owner=stack_owner("staff-bot", self.settings.stack),
        )

    async def _poll(self, token: str, retry_seconds: float = 30.0) -> None:
        """Poll the staff bot until cancelled (lease lost, or stop), retrying while Telegram
        cannot be reached."""
        from telegram.ext import (  # only with a staff chat
            Application,
            CallbackQueryHandler,
            MessageHandler,
            filters,
        )

        app = (
            Application.builder()
            .token(token)
            .base_url(self.settings.telegram_api_base_url)
            .base_file_url(self.settings.telegram_file_base_url)
            .build()
        )
        if self._replies is None:
            self._replies = TelegramReplies.build(self.settings)
        audit = self._replies.audit
        handler = acknowledge_handler(self.repo, self.words, lambda: self._chat_id, audit)
        app.add_handler(CallbackQueryHandler(handler, pattern=f"^{ACK_PREFIX}"))
        replying = staff_reply_handler(self._replies, self.words, lambda: self._chat_id)
        # New messages only: an edited reply is not sent again.
        only = filters.UpdateType.MESSAGE & filters.REPLY & filters.TEXT & ~filters.COMMAND
        app.add_handler(MessageHandler(only, replying))
        while True:
            try:
                await _poll_until_cancelled(app)
            except Exception as exc:  # noqa: BLE001 - Telegram unreachable: try again later
                log.warning(
                    "Telegram Acknowledge listener could not start (%s); retrying in %.0fs",
                    exc,
                    retry_seconds,
                )
                await asyncio.sleep(retry_seconds)


async def _poll_until_cancelled(app) -> None:
    """Start `app` polling and wait; whatever happens, stop and shut it down again without
    hiding a cancellation (a failed stop must not turn it into another error)."""
    await app.initialize()
    try:
        await app.start()
        await app.updater.start_polling(
            poll_interval=0.2, timeout=10, allowed_updates=["callback_query", "message"]
        )
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            if app.updater.running:
                await app.updater.stop()
        with contextlib.suppress(Exception):
            if app.running:
                await app.stop()
        with contextlib.suppress(Exception):
            await app.shutdown()
