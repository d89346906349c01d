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

from bot.alerts.rasa_api import RasaConversations
from bot.domain.checkins import in_quiet_hours, quiet_hours_end
from bot.domain.days import now_utc
from bot.kb.model import Clinic
from bot.kb.store import ClinicStore
from bot.storage.checkin_plans import plan_all
from bot.storage.checkins import OPTED_OUT, Checkins, DueCheckin
from bot.storage.handoffs import Handoffs

log = logging.getLogger(__name__)

CHECKIN_ACTION = "action_checkin"
CHECKIN_SLOT = "checkin"
LEASE_NAME = "checkin-dispatcher"
SEND_LEASE_SECONDS = 60  # a claimed row is this dispatcher's for this long
RETRY = timedelta(minutes=2)  # after a failed send, or while a person has the chat
GIVE_UP_AFTER = 10  # failed sends before a check-in is skipped as not delivered
INTERVAL_SECONDS = 15.0


class CheckinDispatcher:
    """Plans and sends check-ins; `cycle` does one round (tests drive it with their clock)."""

    def __init__(
        self,
        sessions: sessionmaker,
        store: ClinicStore,
        conversations: RasaConversations,
        clock: Callable[[], datetime] = now_utc,
    ):
        self.checkins, self.handoffs = Checkins(sessions), Handoffs(sessions)
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
        due = await asyncio.to_thread(self.checkins.claim_due, now, SEND_LEASE_SECONDS)
        for item in due:
            try:
                sent += await self._deliver(item, clinic, now)
            except Exception:  # noqa: BLE001 - one check-in must not stop the others
                log.exception("Check-in %s failed; it will be tried again", item.id)
                await asyncio.to_thread(self.checkins.postpone, item.id, now + RETRY)
        return sent

    async def _deliver(self, due: DueCheckin, clinic: Clinic, now: datetime) -> int:
        settings, zone = clinic.checkins, clinic.settings.time_zone
        skip = self._skip_reason(due, clinic, now)
        if skip is not None:
            await asyncio.to_thread(self.checkins.skip, due.id, skip)
            log.info("Check-in %s skipped: %s", due.id, skip)
            return 0
        if in_quiet_hours(settings, now, zone):
            return await self._later(due, quiet_hours_end(settings, now, zone), "quiet hours")
        if await asyncio.to_thread(self.handoffs.owner, due.sender_id) is not None:
            return await self._later(due, now + RETRY, "a team member has the chat")
        late = now > due.due_at + timedelta(minutes=settings.on_time_minutes)
        if due.in_doubt and await self._already_in_chat(due):
            await asyncio.to_thread(self.checkins.mark_sent, due.id, now, late)
            return 0
        try:
            await self.conversations.run_action(
                due.sender_id, CHECKIN_ACTION, {CHECKIN_SLOT: {"id": due.id, "key": due.key}}
            )
        except Exception as exc:  # noqa: BLE001 - tried again until it is no longer useful
            log.warning("Check-in %s not delivered (%s)", due.id, type(exc).__name__)
            if due.attempts >= GIVE_UP_AFTER:
                await asyncio.to_thread(self.checkins.skip, due.id, "not_delivered")
                return 0
            return await self._later(due, now + RETRY, "not delivered")
        await asyncio.to_thread(self.checkins.mark_sent, due.id, now, late)
        log.info("Check-in %s sent%s", due.id, " late" if late else "")
        return 1

    def _skip_reason(self, due: DueCheckin, clinic: Clinic, now: datetime) -> str | None:
        if not clinic.checkins.enabled or clinic.checkins.get(due.key) is None:
            return "withdrawn"  # the clinic turned check-ins off, or removed this one
        if now >= due.until:
            return "late"  # the window closed while the bot was down
        if self.checkins.opted_out(due.sender_id):
            return OPTED_OUT
        return None

    async def _later(self, due: DueCheckin, when: datetime, why: str) -> int:
        if when >= due.until:
            await asyncio.to_thread(self.checkins.skip, due.id, "late")
            log.info("Check-in %s skipped: its window closes before %s end", due.id, why)
        else:
            await asyncio.to_thread(self.checkins.postpone, due.id, when)
        return 0

    async def _already_in_chat(self, due: DueCheckin) -> bool:
        """Whether a dispatcher that died mid-send had already written this check-in."""
        events = await self.conversations.events(due.sender_id)
        return any(
            e.get("event") == "bot" and (e.get("metadata") or {}).get(CHECKIN_SLOT) == due.id
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
