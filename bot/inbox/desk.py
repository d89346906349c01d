"""What staff do in the inbox, one unit of work each: claim, reply, note, hand back,
acknowledge, resolve, and the sweep that gives quiet hand-offs back to the bot. Every action
is written to the audit log (who, what, when; never the words)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.alerts.rasa_api import STOP_FORM, RasaConversations
from bot.kb.store import ClinicStore
from bot.storage.checkins import Checkins
from bot.storage.clients import ClientRegistry
from bot.storage.engine import session_factory
from bot.storage.escalations import FORGOTTEN, EscalationRepository
from bot.storage.handoffs import MAX_STAFF_TEXT, Handoff, Handoffs, StaffMessage, TurnStats
from bot.storage.staff import BOT, AuditLog, Staff, StaffAccounts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Done:
    """What an action did: `problem` is a code the page explains (None: all went well)."""

    problem: str | None = None


class Desk:
    """The inbox's use cases over the database and Rasa's conversation API."""

    def __init__(self, sessions, rasa: RasaConversations, store: ClinicStore):
        self.escalations = EscalationRepository(sessions)
        self.handoffs = Handoffs(sessions)
        self.audit = AuditLog(sessions)
        self.accounts = StaffAccounts(sessions)
        self.clients = ClientRegistry(sessions)
        self.checkins = Checkins(sessions)
        self.stats = TurnStats(sessions)
        self.rasa, self.store = rasa, store

    @classmethod
    def build(cls, settings, store: ClinicStore) -> Desk:
        return cls(
            session_factory(settings.database_url), RasaConversations(settings.rasa_url), store
        )

    async def _tell(
        self, sender_id: str, kind: str, name: str, text: str = "", events=None
    ) -> bool:
        return await self.rasa.staff_event(sender_id, kind, name, text, events)

    def _run(self, fn, *args):
        return asyncio.to_thread(fn, *args)

    async def claim(self, staff: Staff, sender_id: str, take_over: bool = False) -> Done:
        """Take the chat over: the bot goes quiet and the client is told who joined."""
        if sender_id == FORGOTTEN:
            return Done("forgotten")
        previous = await self._run(self.handoffs.owner, sender_id) if take_over else None
        handoff, changed = await self._run(
            self.handoffs.claim, sender_id, staff.id, staff.name, take_over
        )
        if not changed:
            return Done(None if handoff.staff_id == staff.id else "owned")
        if previous is not None:  # who had it is in the audit log
            detail = f"from {previous.owner_name}"
            await self._run(self.audit.record, staff.name, "take_over", sender_id, None, detail)
        else:
            await self._run(self.audit.record, staff.name, "claim", sender_id)
        await self._acknowledge_open(staff, sender_id)
        # Close any question the bot was in the middle of (the date form): the person asks.
        told = await self._tell(sender_id, "joined", staff.name, events=STOP_FORM)
        return Done(None if told else "not_told")

    async def _acknowledge_open(self, staff: Staff, sender_id: str) -> None:
        """A person is talking to the client: the chat's open escalations are acknowledged
        (no re-alert, no "please call" notice interrupts them)."""
        acked = await self._run(self.handoffs.acknowledge_open, sender_id, f"inbox:{staff.name}")
        for escalation_id in acked:
            await self._run(self.audit.record, staff.name, "acknowledge", sender_id, escalation_id)

    async def reply(self, staff: Staff, sender_id: str, text: str) -> Done:
        """Send a reply into the client's chat (claiming it first if nobody owns it)."""
        text = text.strip()
        if sender_id == FORGOTTEN:
            return Done("forgotten")
        if not text or len(text) > MAX_STAFF_TEXT:
            return Done("reply_length")
        owner = await self._run(self.handoffs.owner, sender_id)
        if owner is not None and owner.staff_id != staff.id:
            return Done("owned")
        if owner is None:
            done = await self.claim(staff, sender_id)
            if done.problem == "owned":
                return done
        await self._acknowledge_open(staff, sender_id)  # a red flag raised while they talked
        message = await self._run(
            self.handoffs.add_message, sender_id, staff.id, staff.name, "reply", text
        )
        sent = await self._tell(sender_id, "reply", staff.name, text)
        await self._run(self.handoffs.mark_sent, message.id, None if sent else "not delivered")
        await self._run(
            self.audit.record, staff.name, "reply", sender_id, None, "sent" if sent else "failed"
        )
        return Done(None if sent else "not_sent")

    async def note(self, staff: Staff, sender_id: str, text: str) -> Done:
        """A private note on the conversation (never shown to the client)."""
        text = text.strip()
        if not text or len(text) > MAX_STAFF_TEXT:
            return Done("reply_length")
        await self._run(self.handoffs.add_message, sender_id, staff.id, staff.name, "note", text)
        await self._run(self.audit.record, staff.name, "note", sender_id)
        return Done()

    async def hand_back(self, staff: Staff, sender_id: str) -> Done:
        """Give the chat back to the bot; the client is told."""
        released = await self._run(self.handoffs.release, sender_id)
        if released is None:
            return Done("not_owned")
        await self._run(self.audit.record, staff.name, "hand_back", sender_id)
        told = await self._tell(sender_id, "left", released.owner_name)
        return Done(None if told else "not_told")

    async def acknowledge(self, staff: Staff, escalation_id: int) -> Done:
        """Acknowledge an escalation (the client's notice goes out like from Telegram)."""
        escalation = await self._run(self.escalations.get, escalation_id)
        owner = await self._run(self.handoffs.owner, escalation.sender_id) if escalation else None
        # The "seen" notice only when nobody is talking to the client already.
        by = f"inbox:{staff.name}"
        done = await self._run(self.escalations.acknowledge, escalation_id, by, None, owner is None)
        if not done:
            return Done("not_open")
        sender = escalation.sender_id if escalation else None
        await self._run(self.audit.record, staff.name, "acknowledge", sender, escalation_id)
        return Done()

    async def resolve(self, staff: Staff, escalation_id: int) -> Done:
        """Mark an escalation resolved; the chat goes back to the bot and the client is told."""
        escalation = await self._run(self.escalations.get, escalation_id)
        if escalation is None or not await self._run(self.escalations.resolve, escalation_id):
            return Done("not_open")
        sender = escalation.sender_id
        await self._run(self.audit.record, staff.name, "resolve", sender, escalation_id)
        await self._run(self.handoffs.release, sender)
        told = await self._tell(sender, "resolved", staff.name)
        return Done(None if told else "not_told")

    async def sweep(self) -> list[Handoff]:
        """Give back every hand-off with no staff reply for the clinic's idle time."""
        minutes = self.store.current().settings.inbox.handoff_idle_minutes
        released = await self._run(self.handoffs.release_idle, minutes)
        for handoff in released:
            await self._run(self.audit.record, BOT, "idle_return", handoff.sender_id)
            await self._tell(handoff.sender_id, "idle", handoff.owner_name)
        return released

    def messages(self, sender_id: str) -> list[StaffMessage]:
        return self.handoffs.messages(sender_id)
