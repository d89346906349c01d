"""Escalations: a client's concern that the clinic team must follow up, stored first.

Every hand-off (a question passed to the team, a red flag) becomes a row before anything
else happens, so nothing depends on a notification having been sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, DateTime, Integer, String, Text, select
from sqlalchemy.orm import sessionmaker

from bot.days import now_utc
from bot.db import Base

STATUSES = ("open", "acknowledged", "resolved")


class EscalationRow(Base):
    """One escalation record."""

    __tablename__ = "escalations"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(128), nullable=False, index=True)
    level = Column(String(16), nullable=False)
    topic = Column(String(64), nullable=True)
    day = Column(Integer, nullable=True)
    message = Column(Text, nullable=True)
    status = Column(String(16), nullable=False, default="open")
    created_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)


@dataclass(frozen=True)
class Escalation:
    """A stored escalation."""

    id: int
    sender_id: str
    level: str
    topic: str | None
    day: int | None
    message: str | None
    status: str
    created_at: datetime


class EscalationRepository:
    """Stores and lists escalations; one session per call."""

    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def create(
        self, sender_id: str, level: str, message: str | None, topic: str | None, day: int | None
    ) -> Escalation:
        """Record an escalation for the clinic team."""
        with self._sessions.begin() as session:
            row = EscalationRow(
                sender_id=sender_id, level=level, message=message, topic=topic, day=day
            )
            session.add(row)
            session.flush()
            return _to_escalation(row)

    def list(self, status: str | None = "open") -> list[Escalation]:
        """Escalations, newest first, optionally only those with `status`."""
        with self._sessions() as session:
            query = select(EscalationRow).order_by(EscalationRow.id.desc())
            if status:
                query = query.where(EscalationRow.status == status)
            return [_to_escalation(row) for row in session.execute(query).scalars()]


def _to_escalation(row: EscalationRow) -> Escalation:
    return Escalation(
        row.id,
        row.sender_id,
        row.level,
        row.topic,
        row.day,
        row.message,
        row.status,
        row.created_at,
    )
