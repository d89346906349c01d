"""Hand-offs: conversations a person has taken over, and the replies and private notes staff
wrote in them. While a conversation is handed off the bot stays silent in it (it still screens
every message, `bot.service.handoff`). Times are the database's clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from bot.domain.days import as_utc
from bot.storage.clock import db_now
from bot.storage.models import (
    AuditRow,
    Conversation,
    EscalationRow,
    HandoffRow,
    StaffMessageRow,
    TurnStatRow,
)

MAX_STAFF_TEXT = 4000  # characters of one staff reply or note (a Telegram message holds 4096)
FORGOTTEN = "forgotten"  # what the audit log keeps of a conversation after /forget


@dataclass(frozen=True)
class Handoff:
    """Who owns a conversation, since when, and when staff were last active in it."""

    sender_id: str
    staff_id: int | None
    owner_name: str
    claimed_at: datetime
    active_at: datetime


@dataclass(frozen=True)
class StaffMessage:
    """A staff reply or private note."""

    id: int
    sender_id: str
    staff_name: str
    kind: str  # reply | note
    text: str
    created_at: datetime
    sent_at: datetime | None
    error: str | None


def _handoff(row: HandoffRow) -> Handoff:
    return Handoff(
        row.sender_id, row.staff_id, row.owner_name, as_utc(row.claimed_at), as_utc(row.active_at)
    )


def _message(row: StaffMessageRow) -> StaffMessage:
    return StaffMessage(
        row.id,
        row.sender_id,
        row.staff_name,
        row.kind,
        row.text,
        as_utc(row.created_at),
        as_utc(row.sent_at) if row.sent_at else None,
        row.error,
    )


class Handoffs:
    """Hand-off state and staff messages; one transaction per call."""

    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def owner(self, sender_id: str) -> Handoff | None:
        with self._sessions() as session:
            row = session.get(HandoffRow, sender_id)
            return _handoff(row) if row else None

    def all(self) -> dict[str, Handoff]:
        with self._sessions() as session:
            return {r.sender_id: _handoff(r) for r in session.scalars(select(HandoffRow))}

    def claim(
        self, sender_id: str, staff_id: int | None, owner_name: str, take_over: bool = False
    ) -> tuple[Handoff, bool]:
        """Make `owner_name` the owner. Returns the hand-off and whether it changed: a chat
        someone else owns stays theirs unless `take_over`."""
        with self._sessions.begin() as session:
            now = db_now(session)
            row = session.get(HandoffRow, sender_id, with_for_update=True)
            if row is not None:
                if row.owner_name == owner_name and row.staff_id == staff_id:
                    return _handoff(row), False
                if not take_over:
                    return _handoff(row), False
                row.staff_id, row.owner_name = staff_id, owner_name
                row.claimed_at = row.active_at = now
                return _handoff(row), True
            row = HandoffRow(
                sender_id=sender_id,
                staff_id=staff_id,
                owner_name=owner_name,
                claimed_at=now,
                active_at=now,
            )
            session.add(row)
            try:
                session.flush()
                return _handoff(row), True
            except IntegrityError:  # someone claimed it at the same moment: theirs
                session.rollback()
        owner = self.owner(sender_id)
        if owner is None:  # and gave it back already: try again
            return self.claim(sender_id, staff_id, owner_name, take_over)
        return owner, False

    def acknowledge_open(self, sender_id: str, by: str) -> list[int]:
        """A person has the chat: its open escalations are acknowledged by them (no "seen"
        notice: they were told who joined), so no re-alert or "please call" notice follows."""
        with self._sessions.begin() as session:
            now = db_now(session)
            rows = session.scalars(
                select(EscalationRow)
                .where(EscalationRow.sender_id == sender_id, EscalationRow.status == "open")
                .with_for_update()
            ).all()
            for row in rows:
                row.status, row.acknowledged_at, row.acknowledged_by = "acknowledged", now, by
            return [row.id for row in rows]

    def release(self, sender_id: str) -> Handoff | None:
        """Give the conversation back to the bot; the hand-off it had, if any."""
        with self._sessions.begin() as session:
            row = session.get(HandoffRow, sender_id, with_for_update=True)
            if row is None:
                return None
            handoff = _handoff(row)
            session.delete(row)
            return handoff

    def release_idle(self, minutes: float) -> list[Handoff]:
        """Give back every conversation with no staff activity for `minutes`."""
        with self._sessions.begin() as session:
            before = db_now(session) - timedelta(minutes=minutes)
            rows = session.scalars(
                select(HandoffRow).where(HandoffRow.active_at < before).with_for_update()
            ).all()
            released = [_handoff(r) for r in rows]
            for row in rows:
                session.delete(row)
            return released

    def release_if_idle(self, sender_id: str, minutes: float) -> bool:
        """Give the conversation back if its hand-off had no staff activity for `minutes`
        (database time); whether it did. A reply that just arrived keeps it."""
        with self._sessions.begin() as session:
            before = db_now(session) - timedelta(minutes=minutes)
            gone = session.execute(
                delete(HandoffRow).where(
                    HandoffRow.sender_id == sender_id, HandoffRow.active_at < before
                )
            ).rowcount
            return bool(gone)

    def treatment(self, sender_id: str) -> tuple[date | None, str | None]:
        """The treatment date and kind a conversation told the bot (for the staff view)."""
        with self._sessions() as session:
            row = session.get(Conversation, sender_id)
            return (row.treatment_date, row.treatment_kind) if row else (None, None)

    # --- staff messages --------------------------------------------------------------------

    def add_message(
        self, sender_id: str, staff_id: int | None, staff_name: str, kind: str, text: str
    ) -> StaffMessage:
        """Store a reply (before it is sent) or a note; a reply keeps the hand-off active."""
        with self._sessions.begin() as session:
            now = db_now(session)
            row = StaffMessageRow(
                sender_id=sender_id,
                staff_id=staff_id,
                staff_name=staff_name,
                kind=kind,
                text=text[:MAX_STAFF_TEXT],
                created_at=now,
            )
            session.add(row)
            if kind == "reply":
                session.execute(
                    update(HandoffRow)
                    .where(HandoffRow.sender_id == sender_id)
                    .values(active_at=now)
                )
            session.flush()
            return _message(row)

    def mark_sent(self, message_id: int, error: str | None = None) -> None:
        """Record that a reply reached the client's chat (or why it did not)."""
        with self._sessions.begin() as session:
            row = session.get(StaffMessageRow, message_id)
            if row is not None:
                row.sent_at = None if error else db_now(session)
                row.error = error[:255] if error else None

    def messages(self, sender_id: str) -> list[StaffMessage]:
        with self._sessions() as session:
            query = select(StaffMessageRow).where(StaffMessageRow.sender_id == sender_id)
            return [_message(r) for r in session.scalars(query.order_by(StaffMessageRow.id))]

    def forget(self, sender_id: str) -> int:
        """/forget: the hand-off, replies and notes go; the audit log keeps who did what and
        when, under no conversation id. Returns the staff messages deleted."""
        with self._sessions.begin() as session:
            session.execute(delete(HandoffRow).where(HandoffRow.sender_id == sender_id))
            gone = session.execute(
                delete(StaffMessageRow).where(StaffMessageRow.sender_id == sender_id)
            ).rowcount
            session.execute(
                update(AuditRow).where(AuditRow.sender_id == sender_id).values(sender_id=FORGOTTEN)
            )
            return gone or 0


class TurnStats:
    """Anonymous counts for the overview: one row per answered client message."""

    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def record(self, topic: str | None, outcome: str, at: datetime | None = None) -> None:
        with self._sessions.begin() as session:
            session.add(TurnStatRow(at=at or db_now(session), topic=topic, outcome=outcome))

    def since(self, days: int) -> list[tuple[datetime, str | None, str]]:
        with self._sessions() as session:
            start = db_now(session) - timedelta(days=days)
            rows = session.execute(
                select(TurnStatRow.at, TurnStatRow.topic, TurnStatRow.outcome).where(
                    TurnStatRow.at >= start
                )
            )
            return [(as_utc(at), topic, outcome) for at, topic, outcome in rows]
