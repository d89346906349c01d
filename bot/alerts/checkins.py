"""The check-in dispatcher: sends each due check-in once, through the client's own channel.

One dispatcher runs at a time (a database lease, `run_while_held`: on PostgreSQL with several
processes too), inside the notifier process; each row is also claimed by a compare-and-set,
so even two dispatchers would not send one twice. A check-in is written into the conversation
by Rasa (`action_checkin`): Telegram gets it pushed, the widget shows it at the next visit, and
the tracker records what the bot asked. A restart loses none: what was due while the bot was
down is sent late while its window is open, else skipped and recorded; one whose sender died
mid-send is looked up in the conversation before it is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import sessionmaker

from bot.alerts.channels import is_permanent
from bot.alerts.rasa_api import NotDelivered, RasaConversations
from bot.domain.checkins import in_quiet_hours, opens_at, quiet_hours_end
from bot.domain.days import now_utc
from bot.kb.model import Clinic
from bot.kb.store import ClinicStore
from bot.storage.checkin_plans import plan_all
from bot.storage.checkins import LATE, OPTED_OUT, Checkins, DueCheckin
from bot.storage.handoffs import Handoffs

log = logging.getLogger(__name__)

CHECKIN_ACTION = "action_checkin"
CHECKIN_SLOT = "checkin"
LEASE_NAME = "checkin-dispatcher"
# A claimed row is this dispatcher's for this long: more than a send can take (four calls
# to Rasa of up to 15 s each), so no other dispatcher takes it over mid-send.
SEND_LEASE_SECONDS = 120
SEND_PACE_SECONDS = 1.0  # the notifier's dispatcher sends at most one check-in a second
CLAIM_BATCHES = 25  # claims of up to 20 rows per cycle: a backlog drains in one cycle
RETRY = timedelta(minutes=2)  # after a failed send, or while a person has the chat
# Sends Rasa refused (a 4xx) before a check-in is skipped as not delivered; other failures
# (Rasa restarting, a network error) are retried until the window closes.
GIVE_UP_AFTER = 10
NOT_DELIVERED = "not_delivered"
INTERVAL_SECONDS = 15.0


class CheckinDispatcher:
    """Plans and sends check-ins; `cycle` does one round (tests drive it with their clock)."""

    def __init__(
        self,
        sessions: sessionmaker,
        store: ClinicStore,
        conversations: RasaConversations,
        clock: Callable[[], datetime] = now_utc,
        pace_seconds: float = 0.0,
    ):
        self.checkins, self.handoffs = Checkins(sessions), Handoffs(sessions)
        # A pause after each send: a backlog (the bot was down at a window's start) drains
        # gently instead of competing with clients' messages for Rasa.
        self.pace_seconds = pace_seconds
        self.sessions, self.store, self.conversations = sessions, store, conversations
        self.clock = clock
        self._planned_for: Clinic | None = None

    async def cycle(self) -> int:
        """Plan again if the clinic's files changed, record unanswered check-ins, and send
        what is due; how many were sent."""
        clinic, now = self.store.current(), self.clock()
        if clinic is not self._planned_for:
            planned = await asyncio.to_thread(plan_all, self.sessions, clinic, now)
            log.info("Check-ins planned: %d pending", planned)
            self._planned_for = clinic
        hours = clinic.checkins.answer_hours
        await asyncio.to_thread(self.checkins.close_unanswered, now, hours)
        sent = 0
        for batch in range(CLAIM_BATCHES):  # what is postponed or claimed is not claimed again
            now = self.clock() if batch else now  # a paced batch takes a while
            due = await asyncio.to_thread(self.checkins.claim_due, now, SEND_LEASE_SECONDS)
            if not due:
                break
            for item in due:
                try:
                    delivered = await self._deliver(item, clinic, now)
                    sent += delivered
                    if delivered and self.pace_seconds:
                        await asyncio.sleep(self.pace_seconds)
                except Exception:  # noqa: BLE001 - one check-in must not stop the others
                    log.exception("Check-in %s failed; it will be tried again", item.id)
                    await asyncio.to_thread(self.checkins.postpone, item.id, now + RETRY)
        return sent

    async def _deliver(self, due: DueCheckin, clinic: Clinic, now: datetime) -> int:
        settings, zone = clinic.checkins, clinic.settings.time_zone
        item = settings.get(due.key)
        meant = opens_at(settings, item, due.treatment_date, zone) if item else due.due_at
        late = now > meant + timedelta(minutes=settings.on_time_minutes)
        # The last try may have written it into the chat (a dispatcher that died mid-send, an
        # answer that never came back; not one Rasa said it could not deliver, whose message
        # is in the conversation but never reached the client). None: could not be read.
        unsure = due.in_doubt or (due.attempts > 1 and not due.undelivered)
        seen = await self._already_in_chat(due) if unsure else False
        if seen:
            await asyncio.to_thread(self.checkins.mark_sent, due.id, now, late)
            return 0
        skip = await asyncio.to_thread(self._skip_reason, due, clinic, now)
        if skip is not None:
            await asyncio.to_thread(self.checkins.skip, due.id, skip)
            log.info("Check-in %s skipped: %s", due.id, skip)
            return 0
        if in_quiet_hours(settings, now, zone):
            end = quiet_hours_end(settings, now, zone)
            return await self._later(due, end, "sent after quiet hours", tried=False)
        if await asyncio.to_thread(self.handoffs.owner, due.sender_id) is not None:
            return await self._later(due, now + RETRY, "sent after the team member", tried=False)
        if seen is None:  # never written twice: wait until the conversation can be read
            return await self._later(
                due, now + RETRY, "checked in the conversation", NOT_DELIVERED, tried=False
            )
        slot = {"id": due.id, "key": due.key, "try": due.attempts}
        try:
            await self.conversations.run_action(due.sender_id, CHECKIN_ACTION, {CHECKIN_SLOT: slot})
        except Exception as exc:  # noqa: BLE001 - tried again until it is no longer useful
            log.warning("Check-in %s not delivered (%s)", due.id, type(exc).__name__)
            if due.attempts >= GIVE_UP_AFTER and is_permanent(exc):
                await asyncio.to_thread(self.checkins.skip, due.id, NOT_DELIVERED)
                return 0
            undelivered = isinstance(exc, NotDelivered)
            return await self._later(
                due, now + RETRY, "sent again", NOT_DELIVERED, undelivered=undelivered
            )
        await asyncio.to_thread(self.checkins.mark_sent, due.id, now, late)
        log.info("Check-in %s sent%s", due.id, " late" if late else "")
        return 1

    def _skip_reason(self, due: DueCheckin, clinic: Clinic, now: datetime) -> str | None:
        if not clinic.checkins.enabled or clinic.checkins.get(due.key) is None:
            return "withdrawn"  # the clinic turned check-ins off, or removed this one
        if now >= due.until:
            return LATE  # the window closed while the bot was down
        if self.checkins.opted_out(due.sender_id):
            return OPTED_OUT
        return None

    async def _later(
        self, due: DueCheckin, when: datetime, why: str, reason=LATE, **postpone
    ) -> int:
        """Try again at `when`, or skip it (`reason`) if its window closes before then."""
        if when >= due.until:
            await asyncio.to_thread(self.checkins.skip, due.id, reason)
            log.info("Check-in %s skipped: its window closes before it can be %s", due.id, why)
        else:
            await asyncio.to_thread(self.checkins.postpone, due.id, when, **postpone)
        return 0

    async def _already_in_chat(self, due: DueCheckin) -> bool | None:
        """Whether an earlier try already wrote this check-in (None: Rasa did not say)."""
        try:
            events = await self.conversations.events(due.sender_id)
        except Exception as exc:  # noqa: BLE001 - Rasa is away: asked again at the next try
            log.warning(
                "Check-in %s: could not read the conversation (%s)", due.id, type(exc).__name__
            )
            return None
        last_try = due.attempts - 1
        return any(
            e.get("event") == "bot"
            and (e.get("metadata") or {}).get(CHECKIN_SLOT) == due.id
            and (e.get("metadata") or {}).get("checkin_try") == last_try
            for e in events
        )

    async def run(self, stop: asyncio.Event | None = None, interval=INTERVAL_SECONDS) -> None:
        """Cycle until cancelled (or `stop`)."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.cycle()
            except Exception:  # noqa: BLE001 - the database may be briefly away
                log.exception("Check-in cycle failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
