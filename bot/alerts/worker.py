"""The alert worker: delivers the outbox until every row is delivered, and watches deadlines
(and, once a day, applies the clinic's retention windows: `housekeeping`).

Runs as its own process (`aftercare notifier`, started by `aftercare run`). A failed delivery is
retried with exponential backoff (capped); a restart picks up whatever is still pending. The
channels follow the clinic's `alerts:` settings: an edit applies on the next cycle, without a
restart. When the staff Telegram chat is configured, it also listens for the Acknowledge button.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime

from bot.alerts.acks import AckListener
from bot.alerts.channels import (
    Channel,
    ClientNoticeChannel,
    EmailChannel,
    TelegramStaffChannel,
    WebhookChannel,
    is_permanent,
)
from bot.alerts.checkins import LEASE_NAME, SEND_PACE_SECONDS, CheckinDispatcher
from bot.alerts.housekeeping import keep_retention
from bot.alerts.message import AlertWords
from bot.alerts.rasa_api import RasaConversations
from bot.kb.model import Clinic
from bot.kb.store import ClinicStore
from bot.settings import Settings, SettingsError
from bot.storage.engine import session_factory
from bot.storage.escalations import CLIENT_CHANNEL, EscalationRepository
from bot.storage.heartbeats import NOTIFIER, Heartbeats
from bot.storage.leases import Leases, run_while_held, stack_owner
from bot.storage.outbox import Outbox

log = logging.getLogger(__name__)
SEND_TIMEOUT = 30.0
SEND_LEASE = int(SEND_TIMEOUT) + 10  # seconds a claimed delivery is this notifier's
# A refusal (a 4xx, "chat not found") is believed after this many attempts (a proxy's brief
# 404 during a redeploy is not); then the delivery is `failed` until the settings change.
GIVE_UP_AFTER = 3
# A staff alert still undelivered after this many tries (about 30 s with the default backoff)
# also goes to the clinic's fallback channel, while its own channel keeps retrying.
FALL_BACK_AFTER = 5
# How often the worker says it is alive (bot.storage.heartbeats); the bot allows several misses.
HEARTBEAT_SECONDS = 5.0


def build_channels(settings: Settings, clinic: Clinic) -> dict[str, Channel]:
    """The configured channels, with secrets from the environment (fails fast if missing)."""
    alerts, words = clinic.settings.alerts, AlertWords(clinic)
    channels: dict[str, Channel] = {CLIENT_CHANNEL: ClientNoticeChannel(settings.rasa_url)}
    if alerts.telegram_chat_id:
        channels["telegram"] = TelegramStaffChannel(
            settings.require("TELEGRAM_STAFF_BOT_TOKEN"),
            alerts.telegram_chat_id,
            words,
            settings.telegram_api_base_url,
            settings.telegram_file_base_url,
        )
    if alerts.email:
        if settings.secret("AFTERCARE_SMTP_PASSWORD") and not alerts.email.starttls:
            raise SettingsError(
                "AFTERCARE_SMTP_PASSWORD is set but alerts.email.starttls is off: a password is"
                " never sent without TLS (turn starttls on in clinic/settings.yml)"
            )
        channels["email"] = EmailChannel(
            alerts.email,
            words,
            settings.smtp_username,
            settings.secret("AFTERCARE_SMTP_PASSWORD"),
        )
    if alerts.webhook_url:
        channels["webhook"] = WebhookChannel(
            alerts.webhook_url, words, settings.secret("AFTERCARE_WEBHOOK_SECRET")
        )
    return channels


class ChannelSet:
    """The channels of the current clinic snapshot, rebuilt when the clinic's files change.
    A change that cannot be applied (a new channel's secret is missing) is logged and the
    channels before it stay in use."""

    def __init__(self, settings: Settings, store: ClinicStore, outbox: Outbox | None = None):
        self.settings, self.store, self.outbox = settings, store, outbox
        self._clinic: Clinic | None = None
        self._channels: dict[str, Channel] = {}

    def current(self) -> dict[str, Channel]:
        """The channels to deliver with now."""
        clinic = self.store.current()
        if clinic is not self._clinic:
            try:
                channels = build_channels(self.settings, clinic)
            except SettingsError as exc:
                if self._clinic is None:
                    raise
                log.critical("The clinic's alert settings changed but cannot be used: %s", exc)
            else:
                if self._clinic is not None and set(channels) != set(self._channels):
                    log.info("Alert channels now: %s", ", ".join(sorted(channels)))
                if self._clinic is not None and self.outbox is not None:
                    # The clinic fixed its settings: alerts given up on are tried again.
                    retried = self.outbox.retry_failed()
                    if retried:
                        log.warning(
                            "Alert settings changed: retrying %d failed delivery(ies)", retried
                        )
                self._channels = channels
            self._clinic = clinic
        return self._channels

    def fallback(self) -> str | None:
        """The clinic's fallback channel, when it is in use."""
        channels = self.current()
        name = self._clinic.settings.alerts.fallback if self._clinic is not None else None
        return name if name in channels else None

    def words(self) -> AlertWords:
        """The staff phrases of the current clinic snapshot."""
        return AlertWords(self.store.current())


class AlertWorker:
    """Drains the outbox through the channels."""

    def __init__(
        self,
        outbox: Outbox,
        channels: dict[str, Channel] | Callable[[], dict[str, Channel]],
        backoff_base: float = 1.0,
        backoff_max: float = 300.0,
        fallback: Callable[[], str | None] = lambda: None,
    ):
        self.outbox = outbox
        self._channels = channels if callable(channels) else (lambda: channels)
        self.fallback = fallback  # the channel for what another could not deliver
        self.last_progress = time.monotonic()  # a cycle began or a send was tried
        self.backoff_base, self.backoff_max = backoff_base, backoff_max

    @property
    def channels(self) -> dict[str, Channel]:
        """The channels in use now."""
        return self._channels()

    @property
    def staff_channels(self) -> list[str]:
        """Channels that reach clinic staff (re-alerts go to all of them but the fallback)."""
        return [name for name in self.channels if name not in (CLIENT_CHANNEL, self.fallback())]

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the next try after `attempts` failures."""
        return min(self.backoff_base * (2 ** max(attempts, 0)), self.backoff_max)

    async def deliver_due(self, now: datetime | None = None) -> int:
        """Try every due delivery once; returns how many were delivered."""
        delivered = 0
        channels = self.channels
        # One row per claim: the lease only has to cover one send (SEND_TIMEOUT < lease), and
        # a notifier killed mid-send holds up that delivery for no longer than the lease.
        while claimed := self.outbox.claim_due(now, lease_seconds=SEND_LEASE, limit=1):
            self.last_progress = time.monotonic()
            delivery = claimed[0]
            channel = channels.get(delivery.channel)
            if channel is None:
                error = f"channel '{delivery.channel}' is not configured"
                self.outbox.failed(delivery.id, error, self.backoff_max, now)
                continue
            try:
                await asyncio.wait_for(channel.send(delivery), timeout=SEND_TIMEOUT)
            except Exception as exc:  # retry later, unless the receiver refused it for good
                if is_permanent(exc) and delivery.attempts + 1 >= GIVE_UP_AFTER:
                    self._give_up(delivery, exc, now)
                else:
                    self._retry_later(delivery, exc, now)
                continue
            self.outbox.delivered(delivery.id)
            delivered += 1
            log.info(
                "Delivered %s of escalation %s via %s",
                delivery.purpose,
                delivery.escalation.id,
                delivery.channel,
            )
        return delivered

    def _retry_later(self, delivery, exc: Exception, now: datetime | None) -> None:
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
        self.outbox.failed(delivery.id, f"{type(exc).__name__}: {exc}", delay, now)
        fallback = self.fallback()
        if delivery.attempts + 1 >= FALL_BACK_AFTER and self.outbox.fall_back(
            delivery.id, fallback, now
        ):
            log.warning(
                "Escalation %s: %s via %s is still not delivered; sending it via %s too",
                delivery.escalation.id,
                delivery.purpose,
                delivery.channel,
                fallback,
            )

    def _give_up(self, delivery, exc: Exception, now: datetime | None) -> None:
        log.critical(
            "Delivery %s of escalation %s via %s FAILED for good: %s (see aftercare escalations"
            " list; fix the channel's settings)",
            delivery.id,
            delivery.escalation.id,
            delivery.channel,
            exc,
        )
        fallback = self.fallback()
        error = f"{type(exc).__name__}: {exc}"
        if self.outbox.gave_up(delivery.id, error, fallback, now):
            log.warning(
                "Sending %s of escalation %s via the fallback channel %s instead",
                delivery.purpose,
                delivery.escalation.id,
                fallback,
            )

    def check_deadlines(self, now: datetime | None = None) -> list[int]:
        """Queue re-alerts and client fallback notices for overdue urgent escalations."""
        overdue = self.outbox.realert_overdue(self.staff_channels, now)
        for escalation_id in overdue:
            log.warning("Escalation %s was not acknowledged in time: re-alerting", escalation_id)
        return overdue

    async def run(self, stop: asyncio.Event, interval: float = 0.5, on_cycle=None) -> None:
        """Deliver and check deadlines until `stop` is set (`on_cycle` runs after each cycle)."""
        while not stop.is_set():
            self.last_progress = time.monotonic()
            try:
                self.check_deadlines()
                await self.deliver_due()
                if on_cycle is not None:
                    await on_cycle()
            except Exception:  # the database may be briefly locked; keep going
                log.exception("Alert worker cycle failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


async def serve(
    settings: Settings, store: ClinicStore, stop: asyncio.Event, interval: float = 0.5
) -> None:
    """Run the worker (and the Telegram Acknowledge listener while a staff chat is configured)
    until `stop`, with its heartbeat."""
    sessions = session_factory(settings.database_url)
    outbox = Outbox(sessions)
    channels = ChannelSet(settings, store, outbox)
    log.info("Alert worker started; channels: %s", ", ".join(sorted(channels.current())))
    worker = AlertWorker(outbox, channels.current, fallback=channels.fallback)
    acks = AckListener(
        settings, EscalationRepository(sessions), channels.words, stop, Leases(sessions)
    )

    async def follow_channels() -> None:
        await acks.follow(channels.current().get("telegram"))

    beating = asyncio.create_task(heartbeat(worker, Heartbeats(sessions), stop))
    retention = asyncio.create_task(keep_retention(settings, store, sessions, stop))
    checkins = asyncio.create_task(send_checkins(settings, store, sessions, stop))
    try:
        await worker.run(stop, interval, on_cycle=follow_channels)
    finally:
        beating.cancel()
        retention.cancel()
        checkins.cancel()
        await acks.close()


async def send_checkins(settings: Settings, store: ClinicStore, sessions, stop) -> None:
    """The check-in dispatcher, in whichever notifier holds its lease."""
    dispatcher = CheckinDispatcher(
        sessions, store, RasaConversations(settings.rasa_url), pace_seconds=SEND_PACE_SECONDS
    )
    owner = stack_owner("checkins", settings.stack)
    await run_while_held(Leases(sessions), LEASE_NAME, dispatcher.run, stop, owner=owner)


async def heartbeat(worker: AlertWorker, heartbeats: Heartbeats, stop: asyncio.Event) -> None:
    """Every HEARTBEAT_SECONDS, say the notifier is alive while its loop makes progress (a send
    may take up to SEND_TIMEOUT; a loop stuck for longer is not alive)."""
    while not stop.is_set():
        if time.monotonic() - worker.last_progress <= SEND_TIMEOUT + HEARTBEAT_SECONDS:
            try:
                await asyncio.to_thread(heartbeats.beat, NOTIFIER)
            except Exception:  # the database is briefly unavailable: the next beat will do
                log.warning("Could not record the notifier's heartbeat", exc_info=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=HEARTBEAT_SECONDS)
