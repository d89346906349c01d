"""Staff replies from the Telegram staff chat: a reply (Telegram's reply-to) to an alert of the
staff bot goes into that client's chat, the way a reply written in the staff inbox does.

The alert's escalation id is read from its Acknowledge button (`ack:<id>`), which stays on the
message after a press. The person replying takes the chat over (the bot goes quiet in it) unless
someone else already has it. Every step is in the audit log as `telegram:<name>`, never the
words; logs name the escalation and the kind of failure only.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bot.alerts.channels import ACK_PREFIX
from bot.alerts.rasa_api import STOP_FORM, RasaConversations
from bot.settings import Settings
from bot.storage.engine import session_factory
from bot.storage.escalations import FORGOTTEN, EscalationRepository
from bot.storage.handoffs import MAX_STAFF_TEXT, Handoffs
from bot.storage.staff import AuditLog

log = logging.getLogger(__name__)
AUDIT_PREFIX = "telegram:"
MAX_NAME = 64 - len(AUDIT_PREFIX)  # the audit log and hand-offs keep 64 characters of a name


@dataclass(frozen=True)
class Outcome:
    """What became of a reply: the `staff.<key>` phrase that tells the group, and its values."""

    key: str
    values: dict[str, object] = field(default_factory=dict)


def alert_id(message) -> int | None:
    """The escalation id on a staff-bot message's Acknowledge button, if it has one."""
    markup = getattr(message, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", None) or ():
        for button in row:
            data = getattr(button, "callback_data", None)
            if isinstance(data, str) and data.startswith(ACK_PREFIX):
                try:
                    return int(data[len(ACK_PREFIX) :])
                except ValueError:
                    return None
    return None


def staff_name(user) -> str:
    """What the client and the audit log call a Telegram user: their first name, else their
    full name, user name or id."""
    name = (user.first_name or "").strip() or user.full_name or user.username or str(user.id)
    return name.strip()[:MAX_NAME]


class TelegramReplies:
    """Sends a staff member's Telegram reply into a client's chat (hand-off, store, Rasa,
    audit), like the staff inbox's reply."""

    def __init__(self, sessions, rasa: RasaConversations):
        self.escalations = EscalationRepository(sessions)
        self.handoffs = Handoffs(sessions)
        self.audit = AuditLog(sessions)
        self.rasa = rasa

    @classmethod
    def build(cls, settings: Settings) -> TelegramReplies:
        """On the settings' database and Rasa."""
        return cls(session_factory(settings.database_url), RasaConversations(settings.rasa_url))

    async def send(self, escalation_id: int, name: str, text: str) -> Outcome:
        """Send `text` from `name` to the client of escalation `escalation_id`."""
        text = text.strip()
        if len(text) > MAX_STAFF_TEXT:
            return Outcome("reply_too_long", {"max_chars": MAX_STAFF_TEXT})
        escalation = await asyncio.to_thread(self.escalations.get, escalation_id)
        if escalation is None:
            return Outcome("reply_unknown")
        sender = escalation.sender_id
        if sender == FORGOTTEN:
            return Outcome("reply_forgotten")
        who = AUDIT_PREFIX + name
        owner = await self._take(sender, name, who, escalation_id)
        if owner is not None:
            return Outcome("reply_owned", {"owner": owner})
        message = await asyncio.to_thread(
            self.handoffs.add_message, sender, None, name, "reply", text
        )
        sent = await self._tell(sender, escalation_id, "reply", name, text)
        await asyncio.to_thread(
            self.handoffs.mark_sent, message.id, None if sent else "not delivered"
        )
        await asyncio.to_thread(
            self.audit.record, who, "reply", sender, escalation_id, "sent" if sent else "failed"
        )
        return Outcome("reply_sent" if sent else "reply_failed")

    async def _take(self, sender: str, name: str, who: str, escalation_id: int) -> str | None:
        """Make the chat this person's (the client is told they joined) unless somebody else
        has it: then that owner's name."""
        owner = await asyncio.to_thread(self.handoffs.owner, sender)
        if owner is None:
            owner, changed = await asyncio.to_thread(self.handoffs.claim, sender, None, name)
            if changed:
                await asyncio.to_thread(self.audit.record, who, "claim", sender, escalation_id)
                await self._tell(sender, escalation_id, "joined", name, events=STOP_FORM)
        if owner.owner_name != name:
            return owner.owner_name
        # A person is talking to the client: no re-alert or "please call" notice follows.
        acked = await asyncio.to_thread(self.handoffs.acknowledge_open, sender, who)
        for acked_id in acked:
            await asyncio.to_thread(self.audit.record, who, "acknowledge", sender, acked_id)
        return None

    async def _tell(
        self, sender: str, escalation_id: int, kind: str, name: str, text: str = "", events=None
    ) -> bool:
        return await self.rasa.staff_event(sender, kind, name, text, events)
