"""Escalations and their transactional outbox.

An escalation (client, treatment, day, message, level, symptoms, time, status) is stored in
the same transaction as one outbox row per alert channel, before anything is sent. A worker
(`bot.alerts.worker`, through `bot.storage.outbox`) delivers the outbox rows, retrying with backoff until each is delivered
exactly once; rows survive restarts, so a crash delays an alert but never drops it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import aliased, sessionmaker

from bot.domain.days import as_utc, now_utc
from bot.storage.clock import db_now
from bot.storage.models import EscalationPhotoRow, EscalationRow, OutboxRow

STATUSES = ("open", "acknowledged", "resolved")
CLIENT_CHANNEL = "client"  # notices back to the client (via Rasa), delivered like alerts
PHOTO_PURPOSE = "photo:"  # outbox purpose of a photo for staff: "photo:<photo id>"
FORGOTTEN = "forgotten"  # the conversation id of escalations whose client used /forget
# A repeat joins an open escalation without an acknowledgement deadline (a hand-off, a
# question) for this long after it was raised; later it is a new one.
MERGE_MINUTES = 60
MAX_MESSAGE_CHARS = 8000  # an escalation's messages kept for staff (the latest, when repeated)


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


def queue(session, escalation_id: int, channel: str, purpose: str, now: datetime) -> None:
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


def to_photo(r: EscalationPhotoRow) -> Photo:
    return Photo(
        r.id, r.escalation_id, r.content_type, bytes(r.data), r.caption, as_utc(r.created_at)
    )


def to_escalation(row: EscalationRow) -> Escalation:
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


def _merge(
    row: EscalationRow, message: str | None, symptoms, day: int | None, topic: str | None
) -> None:
    """A repeat of an open escalation: its message added, its symptoms joined."""
    if message and message != row.message:
        joined = f"{row.message}\n{message}" if row.message else message
        row.message = joined[-MAX_MESSAGE_CHARS:]
    known = json.loads(row.symptoms or "[]")
    row.symptoms = json.dumps(known + [s for s in symptoms if s not in known])
    row.day = row.day if day is None else day
    row.topic = row.topic or topic


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
        """Store an escalation and its alert deliveries in one transaction. While the same
        conversation has a recent one open at the same level (before its acknowledgement
        deadline, or within MERGE_MINUTES when it has none), a repeat updates it (its message
        and symptoms) and alerts no one again: a flood of messages cannot bury other clients.
        An older one, or one already re-alerted, gets a new escalation with its own alerts."""
        with self._sessions.begin() as session:
            now = now or db_now(session)
            repeated = self._open_one(session, sender_id, level, now)
            if repeated is not None:
                _merge(repeated, message, symptoms, day, topic)
                session.flush()
                return to_escalation(repeated)
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
                queue(session, row.id, channel, "alert", now)
            session.flush()
            return to_escalation(row)

    @staticmethod
    def _open_one(session, sender_id: str, level: str, now: datetime) -> EscalationRow | None:
        """The conversation's recent open escalation at `level` that a repeat may join."""
        if sender_id == FORGOTTEN:
            return None
        row = session.execute(
            select(EscalationRow)
            .where(
                EscalationRow.sender_id == sender_id,
                EscalationRow.level == level,
                EscalationRow.status == "open",
                EscalationRow.realerted_at.is_(None),
            )
            .order_by(EscalationRow.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if row is None:
            return None
        until = as_utc(row.deadline_at) or as_utc(row.created_at) + timedelta(minutes=MERGE_MINUTES)
        return row if now < until else None

    def get(self, escalation_id: int) -> Escalation | None:
        """One escalation by id."""
        with self._sessions() as session:
            row = session.get(EscalationRow, escalation_id)
            return to_escalation(row) if row else None

    def list(self, status: str | None = "open") -> list[Escalation]:
        """Escalations, newest first, optionally only those with `status`."""
        with self._sessions() as session:
            query = select(EscalationRow).order_by(EscalationRow.id.desc())
            if status:
                query = query.where(EscalationRow.status == status)
            return [to_escalation(row) for row in session.execute(query).scalars()]

    def for_sender(self, sender_id: str) -> list[Escalation]:
        """A conversation's escalations, newest first."""
        with self._sessions() as session:
            query = select(EscalationRow).where(EscalationRow.sender_id == sender_id)
            rows = session.execute(query.order_by(EscalationRow.id.desc())).scalars()
            return [to_escalation(row) for row in rows]

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

    def staff_alerts_failing(self) -> bool:
        """Whether an open escalation has a staff alert given up on (a channel is broken)
        that did not reach staff another way either (the fallback channel delivered it)."""
        other = aliased(OutboxRow)
        reached_anyway = (
            select(other.id)
            .where(
                other.escalation_id == OutboxRow.escalation_id,
                other.purpose == OutboxRow.purpose,
                other.channel != OutboxRow.channel,
                other.channel != CLIENT_CHANNEL,
                other.status == "delivered",
            )
            .exists()
        )
        with self._sessions() as session:
            return (
                session.execute(
                    select(OutboxRow.id)
                    .join(EscalationRow, EscalationRow.id == OutboxRow.escalation_id)
                    .where(
                        OutboxRow.status == "failed",
                        OutboxRow.channel != CLIENT_CHANNEL,
                        EscalationRow.status == "open",
                        ~reached_anyway,
                    )
                    .limit(1)
                ).first()
                is not None
            )

    def failed_deliveries(self) -> dict[int, list[tuple[str, str]]]:
        """Escalation id -> (channel, error) of each delivery given up for good."""
        with self._sessions() as session:
            rows = session.execute(
                select(OutboxRow.escalation_id, OutboxRow.channel, OutboxRow.last_error)
                .where(OutboxRow.status == "failed")
                .order_by(OutboxRow.id)
            ).all()
        failed: dict[int, list[tuple[str, str]]] = {}
        for escalation_id, channel, error in rows:
            failed.setdefault(escalation_id, []).append((channel, error or ""))
        return failed

    def acknowledge(
        self, escalation_id: int, by: str, now: datetime | None = None, notify: bool = True
    ) -> bool:
        """Mark as acknowledged and queue the client's notice (unless a person is already
        talking to them: `notify` False); False if not open."""
        with self._sessions.begin() as session:
            now = now or db_now(session)
            row = session.get(EscalationRow, escalation_id)
            if row is None or row.status != "open":
                return False
            row.status, row.acknowledged_at, row.acknowledged_by = "acknowledged", now, by
            if notify and row.sender_id != FORGOTTEN:
                queue(session, row.id, CLIENT_CHANNEL, "ack_notice", now)
            return True

    def resolve(self, escalation_id: int, now: datetime | None = None) -> bool:
        """Mark as resolved; False if unknown or already resolved."""
        with self._sessions.begin() as session:
            row = session.get(EscalationRow, escalation_id)
            if row is None or row.status == "resolved":
                return False
            row.status, row.resolved_at = "resolved", now or now_utc()
            return True

    def open_for(self, sender_id: str) -> Escalation | None:
        """The conversation's newest escalation the clinic has not resolved yet."""
        with self._sessions() as session:
            row = session.execute(
                select(EscalationRow)
                .where(EscalationRow.sender_id == sender_id, EscalationRow.status != "resolved")
                .order_by(EscalationRow.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            return to_escalation(row) if row else None

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
        with self._sessions.begin() as session:
            now = now or db_now(session)
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
                queue(session, escalation_id, channel, f"{PHOTO_PURPOSE}{photo.id}", now)
            return photo.id

    def photos(self, escalation_id: int) -> list[Photo]:
        """An escalation's photos, oldest first."""
        with self._sessions() as session:
            rows = session.execute(
                select(EscalationPhotoRow)
                .where(EscalationPhotoRow.escalation_id == escalation_id)
                .order_by(EscalationPhotoRow.id)
            ).scalars()
            return [to_photo(r) for r in rows]

    def photo(self, photo_id: int) -> Photo | None:
        """One photo by id."""
        with self._sessions() as session:
            row = session.get(EscalationPhotoRow, photo_id)
            return to_photo(row) if row else None

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
