"""The alert worker: delivers the outbox until every row is delivered, and watches deadlines.

Runs as its own process (`aftercare notifier`, started by `aftercare run`). A failed delivery is
retried with exponential backoff (capped); a restart picks up whatever is still pending. When
the staff Telegram chat is configured, it also listens for the Acknowledge button.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from bot.alerts.channels import (
    ACK_PREFIX,
    Channel,
    ClientNoticeChannel,
    EmailChannel,
    TelegramStaffChannel,
    WebhookChannel,
)
from bot.days import now_utc
from bot.escalations import CLIENT_CHANNEL, EscalationRepository
from bot.kb.model import ClinicSettings
from bot.settings import Settings

log = logging.getLogger(__name__)
SEND_TIMEOUT = 30.0


def build_channels(settings: Settings, clinic: ClinicSettings) -> dict[str, Channel]:
    """The configured channels, with secrets from the environment (fails fast if missing)."""
    alerts = clinic.alerts
    channels: dict[str, Channel] = {CLIENT_CHANNEL: ClientNoticeChannel(settings.rasa_url)}
    if alerts.telegram_chat_id:
        token = settings.require("TELEGRAM_STAFF_BOT_TOKEN")
        channels["telegram"] = TelegramStaffChannel(
            token, alerts.telegram_chat_id, settings.env.get("TELEGRAM_API_BASE_URL")
        )
    if alerts.email:
        channels["email"] = EmailChannel(
            alerts.email,
            settings.env.get("AFTERCARE_SMTP_USERNAME"),
            settings.env.get("AFTERCARE_SMTP_PASSWORD"),
        )
    if alerts.webhook_url:
        channels["webhook"] = WebhookChannel(
            alerts.webhook_url, settings.env.get("AFTERCARE_WEBHOOK_SECRET")
        )
    return channels


class AlertWorker:
    """Drains the outbox through the channels."""

    def __init__(
        self,
        repo: EscalationRepository,
        channels: dict[str, Channel],
        backoff_base: float = 1.0,
        backoff_max: float = 300.0,
    ):
        self.repo = repo
        self.channels = channels
        self.backoff_base, self.backoff_max = backoff_base, backoff_max

    @property
    def staff_channels(self) -> list[str]:
        """Channels that reach clinic staff (re-alerts go to all of them)."""
        return [name for name in self.channels if name != CLIENT_CHANNEL]

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the next try after `attempts` failures."""
        return min(self.backoff_base * (2 ** max(attempts, 0)), self.backoff_max)

    async def deliver_due(self, now: datetime | None = None) -> int:
        """Try every due delivery once; returns how many were delivered."""
        delivered = 0
        # One row per claim: the lease only has to cover one send (SEND_TIMEOUT < lease).
        while claimed := self.repo.claim_due(now, limit=1):
            delivery = claimed[0]
            channel = self.channels.get(delivery.channel)
            moment = now or now_utc()
            if channel is None:
                self.repo.failed(
                    delivery.id,
                    f"channel '{delivery.channel}' is not configured",
                    moment + timedelta(seconds=self.backoff_max),
                )
                continue
            try:
                await asyncio.wait_for(channel.send(delivery), timeout=SEND_TIMEOUT)
            except Exception as exc:  # any failure: retry later, never drop
                delay = self.retry_delay(delivery.attempts)
                log.warning(
                    "Delivery %s of escalation %s via %s failed (attempt %s): %s; retrying in %.0fs",
                    delivery.id,
                    delivery.escalation.id,
                    delivery.channel,
                    delivery.attempts + 1,
                    exc,
                    delay,
                )
                self.repo.failed(
                    delivery.id,
                    f"{type(exc).__name__}: {exc}",
                    (now or now_utc()) + timedelta(seconds=delay),
                )
                continue
            self.repo.delivered(delivery.id)
            delivered += 1
            log.info(
                "Delivered %s of escalation %s via %s",
                delivery.purpose,
                delivery.escalation.id,
                delivery.channel,
            )
        return delivered

    def check_deadlines(self, now: datetime | None = None) -> list[int]:
        """Queue re-alerts and client fallback notices for overdue urgent escalations."""
        overdue = self.repo.realert_overdue(self.staff_channels, now)
        for escalation_id in overdue:
            log.warning("Escalation %s was not acknowledged in time: re-alerting", escalation_id)
        return overdue

    async def run(self, stop: asyncio.Event, interval: float = 0.5) -> None:
        """Deliver and check deadlines until `stop` is set."""
        while not stop.is_set():
            try:
                self.check_deadlines()
                await self.deliver_due()
            except Exception:  # the database may be briefly locked; keep going
                log.exception("Alert worker cycle failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


def acknowledge_handler(repo: EscalationRepository):
    """A python-telegram-bot handler for the Acknowledge button."""

    async def on_ack(update, context) -> None:
        query = update.callback_query
        try:
            escalation_id = int(query.data[len(ACK_PREFIX) :])
        except (TypeError, ValueError):
            await query.answer("Unknown alert")
            return
        user = query.from_user
        who = (user.full_name or user.username or str(user.id)) if user else "staff"
        if repo.acknowledge(escalation_id, f"telegram:{who}"):
            await query.answer("Acknowledged")
            if query.message is not None:
                await query.edit_message_text(f"{query.message.text}\n\nAcknowledged by {who}")
        else:
            await query.answer("Already acknowledged or resolved")

    return on_ack


async def serve(
    settings: Settings, clinic: ClinicSettings, stop: asyncio.Event, interval: float = 0.5
) -> None:
    """Run the worker (and the Telegram Acknowledge listener if configured) until `stop`."""
    from bot.db import session_factory

    repo = EscalationRepository(session_factory(settings.database_url))
    channels = build_channels(settings, clinic)
    worker = AlertWorker(repo, channels)
    log.info("Alert worker started; channels: %s", ", ".join(sorted(channels)))
    telegram = channels.get("telegram")
    if telegram is None:
        await worker.run(stop, interval)
        return
    from telegram.ext import Application, CallbackQueryHandler

    builder = Application.builder().token(telegram.bot.token)
    base = settings.env.get("TELEGRAM_API_BASE_URL")
    if base:
        builder = builder.base_url(f"{base.rstrip('/')}/bot").base_file_url(
            f"{base.rstrip('/')}/file/bot"
        )
    app = builder.build()
    app.add_handler(CallbackQueryHandler(acknowledge_handler(repo), pattern=f"^{ACK_PREFIX}"))
    # Alerts never wait for the button listener: if Telegram is unreachable at start-up, the
    # worker delivers anyway (Telegram deliveries retry) and the listener keeps trying.
    listener = asyncio.create_task(_listen_for_acks(app, stop))
    try:
        await worker.run(stop, interval)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener


async def _listen_for_acks(app, stop: asyncio.Event, retry_seconds: float = 30.0) -> None:
    """Poll the staff bot for Acknowledge presses until `stop`, retrying if Telegram is down."""
    while not stop.is_set():
        try:
            async with app:
                await app.start()
                await app.updater.start_polling(
                    poll_interval=0.2, timeout=10, allowed_updates=["callback_query"]
                )
                try:
                    await stop.wait()
                finally:
                    await app.updater.stop()
                    await app.stop()
            return
        except Exception as exc:
            log.warning(
                "Telegram Acknowledge listener could not start (%s); retrying in %.0fs",
                exc,
                retry_seconds,
            )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=retry_seconds)
