"""Which treatment each conversation belongs to: the date and kind, stored in the database."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.domain.turn import Treatment
from bot.storage.models import Conversation


class TreatmentRepository:
    """Reads and writes conversations' treatments; one session per call."""

    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def get(self, sender_id: str) -> Treatment | None:
        """The stored treatment of a conversation, if any."""
        with self._sessions() as session:
            row = session.execute(
                select(Conversation).where(Conversation.sender_id == sender_id)
            ).scalar_one_or_none()
            if row is None:
                return None
            return Treatment(row.sender_id, row.treatment_date, row.treatment_kind)

    def set_date(
        self, sender_id: str, treatment_date: date, source: str = "client", kind: str | None = None
    ) -> Treatment:
        """Store (or replace) a conversation's treatment date."""
        with self._sessions.begin() as session:
            row = session.get(Conversation, sender_id)
            if row is None:
                row = Conversation(sender_id=sender_id)
                session.add(row)
            row.treatment_date = treatment_date
            row.date_source = source
            if kind is not None:
                row.treatment_kind = kind
            return Treatment(sender_id, treatment_date, row.treatment_kind)

    def forget(self, sender_id: str) -> bool:
        """Delete a conversation's treatment link; True if there was one."""
        with self._sessions.begin() as session:
            row = session.get(Conversation, sender_id)
            if row is None:
                return False
            session.delete(row)
            return True
