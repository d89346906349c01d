"""Escalations and their transactional outbox.

An escalation (client, treatment, day, message, level, symptoms, time, status) is stored in
the same transaction as one outbox row per alert channel, before anything is sent. A worker
(`bot.alerts.worker`) delivers the outbox rows, retrying with backoff until each is delivered
exactly once; rows survive restarts, so a crash delays an alert but never drops it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.orm import sessionmaker

from bot.days import as_utc, now_utc
from bot.db import Base

STATUSES = ("open", "acknowledged", "resolved")
CLIENT_CHANNEL = "client"  # notices back to the client (via Rasa), delivered like alerts
PHOTO_PURPOSE = "photo:"  # outbox purpose of a photo for staff: "photo:<photo id>"
FORGOTTEN = "forgotten"  # the conversation id of escalations whose client used /forget


class EscalationRow(Base):
    """One escalation record."""

    __tablename__ = "escalations"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(128), nullable=False, index=True)
    client_name = Column(String(128), nullable=True)
    treatment_date = Column(Date, nullable=True)
    treatment_kind = Column(String(32), nullable=True)
    day = Column(Integer, nullable=True)
    level = Column(String(16), nullable=False)
    topic = Column(String(64), nullable=True)
    symptoms = Column(Text, nullable=False, default="[]")
    message = Column(Text, nullable=True)
    status = Column(String(16), nullable=False, default="open", index=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)
    deadline_at = Column(DateTime(timezone=True), nullable=True)
    acknowledged_at = Column(DateTime(timezone=True), nullable=True)
    acknowledged_by = Column(String(128), nullable=True)
    resolved_at = Column(DateTime(timezone=True), nullable=True)
    realerted_at = Column(DateTime(timezone=True), nullable=True)


class EscalationPhotoRow(Base):
    """A photo a client sent, kept with their escalation for the clinic team."""

    __tablename__ = "escalation_photos"

    id = Column(Integer, primary_key=True, autoincrement=True)
    escalation_id = Column(
        Integer, ForeignKey("escalations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    content_type = Column(String(64), nullable=False)
    data = Column(LargeBinary, nullable=False)
    caption = Column(Text, nullable=True)
    source = Column(String(32), nullable=False)  # the channel it came from
    created_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)


class OutboxRow(Base):
    """One delivery to do: an escalation's alert (or re-alert, or client notice) on one channel."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("escalation_id", "channel", "purpose", name="uq_outbox_delivery"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    escalation_id = Column(
        Integer, ForeignKey("escalations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    channel = Column(String(32), nullable=False)
    purpose = Column(String(32), nullable=False)  # alert, realert, ack_notice, deadline_notice
    status = Column(String(16), nullable=False, default="pending", index=True)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)
    lease_until = Column(DateTime(timezone=True), nullable=True)
    last_error = Column(Text, nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=now_utc)
    delivered_at = Column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True)
class Escalation:
    """A stored escalation."""

    id: int
    sender_id: str
    client_name: str | None
    treatment_date: date | None
    treatment_kind: str | None
    day: int | None
    level: str
    topic: str | None
    symptoms: list[str]
    message: str | None
    status: str
    created_at: datetime
    deadline_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class Photo:
    """A photo kept with an escalation."""

    id: int
    escalation_id: int
    content_type: str
    data: bytes
    caption: str | None
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    """An outbox row claimed for delivery, with its escalation."""

    id: int
    channel: str
    purpose: str
    attempts: int
    escalation: Escalation
    photo: Photo | None = None  # for a "photo:<id>" delivery


def _queue(session, escalation_id: int, channel: str, purpose: str, now: datetime) -> None:
    """Add one delivery to the outbox, in the caller's transaction."""
    session.add(
        OutboxRow(
            escalation_id=escalation_id,
            channel=channel,
            purpose=purpose,
            next_attempt_at=now,
            created_at=now,
        )
    )


def _to_photo(r: EscalationPhotoRow) -> Photo:
    return Photo(
        r.id, r.escalation_id, r.content_type, bytes(r.data), r.caption, as_utc(r.created_at)
    )


def _to_escalation(row: EscalationRow) -> Escalation:
    return Escalation(
        row.id,
        row.sender_id,
        row.client_name,
        row.treatment_date,
        row.treatment_kind,
        row.day,
        row.level,
        row.topic,
        json.loads(row.symptoms or "[]"),
        row.message,
        row.status,
        as_utc(row.created_at),
        as_utc(row.deadline_at),
        as_utc(row.acknowledged_at),
        row.acknowledged_by,
        as_utc(row.resolved_at),
    )


class EscalationRepository:
    """Escalations and their outbox; one session (one transaction) per call."""

    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def create(
        self,
        sender_id: str,
        level: str,
        message: str | None,
        topic: str | None,
        day: int | None,
        channels: list[str] = (),
        symptoms: list[str] = (),
        treatment_date: date | None = None,
        treatment_kind: str | None = None,
        client_name: str | None = None,
        deadline_minutes: int | None = None,
        now: datetime | None = None,
    ) -> Escalation:
        """Store an escalation and its alert deliveries in one transaction."""
        now = now or now_utc()
        with self._sessions.begin() as session:
            row = EscalationRow(
                sender_id=sender_id,
                client_name=client_name,
                treatment_date=treatment_date,
                treatment_kind=treatment_kind,
                day=day,
                level=level,
                topic=topic,
                symptoms=json.dumps(list(symptoms)),
                message=message,
                created_at=now,
                deadline_at=now + timedelta(minutes=deadline_minutes) if deadline_minutes else None,
            )
            session.add(row)
            session.flush()
            for channel in channels:
                _queue(session, row.id, channel, "alert", now)
            session.flush()
            return _to_escalation(row)

    def get(self, escalation_id: int) -> Escalation | None:
        """One escalation by id."""
        with self._sessions() as session:
            row = session.get(EscalationRow, escalation_id)
            return _to_escalation(row) if row else None

    def list(self, status: str | None = "open") -> list[Escalation]:
        """Escalations, newest first, optionally only those with `status`."""
        with self._sessions() as session:
            query = select(EscalationRow).order_by(EscalationRow.id.desc())
            if status:
                query = query.where(EscalationRow.status == status)
            return [_to_escalation(row) for row in session.execute(query).scalars()]

    def deliveries(self, escalation_id: int) -> list[dict]:
        """The outbox rows of an escalation (for `escalations show`)."""
        with self._sessions() as session:
            rows = session.execute(
                select(OutboxRow)
                .where(OutboxRow.escalation_id == escalation_id)
                .order_by(OutboxRow.id)
            ).scalars()
            return [
                {
                    "channel": r.channel,
                    "purpose": r.purpose,
                    "status": r.status,
                    "attempts": r.attempts,
                    "last_error": r.last_error,
                    "delivered_at": as_utc(r.delivered_at),
                }
                for r in rows
            ]

    def acknowledge(self, escalation_id: int, by: str, now: datetime | None = None) -> bool:
        """Mark as acknowledged and queue the client's notice; False if not open."""
        now = now or now_utc()
        with self._sessions.begin() as session:
            row = session.get(EscalationRow, escalation_id)
            if row is None or row.status != "open":
                return False
            row.status, row.acknowledged_at, row.acknowledged_by = "acknowledged", now, by
            if row.sender_id != FORGOTTEN:
                _queue(session, row.id, CLIENT_CHANNEL, "ack_notice", now)
            return True

    def resolve(self, escalation_id: int, now: datetime | None = None) -> bool:
        """Mark as resolved; False if unknown or already resolved."""
        with self._sessions.begin() as session:
            row = session.get(EscalationRow, escalation_id)
            if row is None or row.status == "resolved":
                return False
            row.status, row.resolved_at = "resolved", now or now_utc()
            return True

    def realert_overdue(self, channels: list[str], now: datetime | None = None) -> list[int]:
        """Urgent or emergency escalations nobody acknowledged by their deadline: queue a
        re-alert on every channel and the client's fallback instructions (once)."""
        now = now or now_utc()
        done = []
        with self._sessions.begin() as session:
            rows = session.execute(
                select(EscalationRow).where(
                    EscalationRow.status == "open",
                    EscalationRow.deadline_at.is_not(None),
                    EscalationRow.deadline_at <= now,
                    EscalationRow.realerted_at.is_(None),
                )
            ).scalars()
            for row in rows:
                row.realerted_at = now
                for channel in channels:
                    _queue(session, row.id, channel, "realert", now)
                if row.sender_id != FORGOTTEN:
                    _queue(session, row.id, CLIENT_CHANNEL, "deadline_notice", now)
                done.append(row.id)
        return done

    def claim_due(
        self, now: datetime | None = None, lease_seconds: int = 60, limit: int = 20
    ) -> list[Delivery]:
        """Pending deliveries whose time has come, leased so no other worker sends them too."""
        now = now or now_utc()
        claimed = []
        with self._sessions.begin() as session:
            ids = (
                session.execute(
                    select(OutboxRow.id)
                    .where(
                        OutboxRow.status == "pending",
                        OutboxRow.next_attempt_at <= now,
                        or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until <= now),
                    )
                    .order_by(OutboxRow.id)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            for outbox_id in ids:
                result = session.execute(
                    update(OutboxRow)
                    .where(
                        OutboxRow.id == outbox_id,
                        or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until <= now),
                    )
                    .values(lease_until=now + timedelta(seconds=lease_seconds))
                )
                if result.rowcount == 1:
                    row = session.get(OutboxRow, outbox_id)
                    escalation = _to_escalation(session.get(EscalationRow, row.escalation_id))
                    photo = None
                    if row.purpose.startswith(PHOTO_PURPOSE):
                        photo_row = session.get(
                            EscalationPhotoRow, int(row.purpose[len(PHOTO_PURPOSE) :])
                        )
                        photo = _to_photo(photo_row) if photo_row else None
                    claimed.append(
                        Delivery(row.id, row.channel, row.purpose, row.attempts, escalation, photo)
                    )
        return claimed

    def delivered(self, outbox_id: int, now: datetime | None = None) -> None:
        """Record a successful delivery (it is never sent again)."""
        with self._sessions.begin() as session:
            row = session.get(OutboxRow, outbox_id)
            if row is None:  # cancelled while it was being sent (the client used /forget)
                return
            row.status, row.delivered_at, row.lease_until = "delivered", now or now_utc(), None
            row.attempts += 1

    def failed(self, outbox_id: int, error: str, retry_at: datetime) -> None:
        """Record a failed attempt; it is retried at `retry_at`."""
        with self._sessions.begin() as session:
            row = session.get(OutboxRow, outbox_id)
            if row is None:  # cancelled while it was being sent
                return
            row.attempts += 1
            row.last_error, row.next_attempt_at, row.lease_until = error[:2000], retry_at, None

    def open_for(self, sender_id: str) -> Escalation | None:
        """The conversation's newest escalation the clinic has not resolved yet."""
        with self._sessions() as session:
            row = session.execute(
                select(EscalationRow)
                .where(EscalationRow.sender_id == sender_id, EscalationRow.status != "resolved")
                .order_by(EscalationRow.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            return _to_escalation(row) if row else None

    def add_photo(
        self,
        escalation_id: int,
        data: bytes,
        content_type: str,
        caption: str | None,
        source: str,
        channels: list[str] = (),
        now: datetime | None = None,
    ) -> int:
        """Keep a photo with an escalation and tell staff on every channel (one transaction)."""
        now = now or now_utc()
        with self._sessions.begin() as session:
            photo = EscalationPhotoRow(
                escalation_id=escalation_id,
                content_type=content_type,
                data=data,
                caption=caption,
                source=source,
                created_at=now,
            )
            session.add(photo)
            session.flush()
            for channel in channels:
                _queue(session, escalation_id, channel, f"{PHOTO_PURPOSE}{photo.id}", now)
            return photo.id

    def photos(self, escalation_id: int) -> list[Photo]:
        """An escalation's photos, oldest first."""
        with self._sessions() as session:
            rows = session.execute(
                select(EscalationPhotoRow)
                .where(EscalationPhotoRow.escalation_id == escalation_id)
                .order_by(EscalationPhotoRow.id)
            ).scalars()
            return [_to_photo(r) for r in rows]

    def photo(self, photo_id: int) -> Photo | None:
        """One photo by id."""
        with self._sessions() as session:
            row = session.get(EscalationPhotoRow, photo_id)
            return _to_photo(row) if row else None

    def redact_conversation(self, sender_id: str) -> int:
        """After a client's /forget: keep each escalation's clinical facts (level, symptoms,
        day, treatment, times, who acknowledged) but drop the message text, name, photos and
        the link to the conversation; cancel notices still to be sent to the client."""
        with self._sessions.begin() as session:
            rows = list(
                session.execute(
                    select(EscalationRow).where(EscalationRow.sender_id == sender_id)
                ).scalars()
            )
            ids = [row.id for row in rows]
            if not ids:
                return 0
            session.execute(
                delete(EscalationPhotoRow)
                .where(EscalationPhotoRow.escalation_id.in_(ids))
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.escalation_id.in_(ids))
                .values(last_error=None)  # errors may quote the conversation's address
                .execution_options(synchronize_session=False)
            )
            session.execute(
                delete(OutboxRow)
                .where(
                    OutboxRow.escalation_id.in_(ids),
                    OutboxRow.status == "pending",
                    or_(
                        OutboxRow.channel == CLIENT_CHANNEL,
                        OutboxRow.purpose.like(f"{PHOTO_PURPOSE}%"),
                    ),
                )
                .execution_options(synchronize_session=False)
            )
            for row in rows:
                row.sender_id = FORGOTTEN
                row.client_name = None
                row.message = None
            return len(ids)

    def pending_count(self) -> int:
        """How many deliveries are still to do."""
        with self._sessions() as session:
            return len(
                session.execute(select(OutboxRow.id).where(OutboxRow.status == "pending")).all()
            )
