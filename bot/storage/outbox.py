"""The outbox: deliveries of escalation alerts, re-alerts, photos and client notices.

Rows are queued in the same transaction as what they announce (`bot.storage.escalations`).
The alert worker claims due rows with a lease, so no other worker sends them too, and records
each as delivered once, or failed with a time to retry; rows survive restarts. Several workers
(one per stack) claim with `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so each takes
rows no other is taking, and compare leases with the database's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import sessionmaker

from bot.storage.clock import db_now
from bot.storage.escalations import (
    CLIENT_CHANNEL,
    FORGOTTEN,
    PHOTO_PURPOSE,
    Escalation,
    Photo,
    queue,
    to_escalation,
    to_photo,
)
from bot.storage.models import EscalationPhotoRow, EscalationRow, OutboxRow

# Most urgent first, then oldest first: a flood of lesser alerts cannot delay an emergency.
SEND_ORDER = case({"emergency": 0, "urgent": 1, "question": 2}, value=EscalationRow.level, else_=3)


@dataclass(frozen=True)
class Delivery:
    """An outbox row claimed for delivery, with its escalation."""

    id: int
    channel: str
    purpose: str
    attempts: int
    escalation: Escalation
    photo: Photo | None = None  # for a "photo:<id>" delivery


class Outbox:
    """Deliveries to do; one session (one transaction) per call."""

    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def realert_overdue(self, channels: list[str], now: datetime | None = None) -> list[int]:
        """Urgent or emergency escalations nobody acknowledged by their deadline: queue a
        re-alert on every channel and the client's fallback instructions (once)."""
        done = []
        with self._sessions.begin() as session:
            now = now or db_now(session)
            rows = session.execute(
                select(EscalationRow)
                .where(
                    EscalationRow.status == "open",
                    EscalationRow.deadline_at.is_not(None),
                    EscalationRow.deadline_at <= now,
                    EscalationRow.realerted_at.is_(None),
                )
                .with_for_update(skip_locked=True)
            ).scalars()
            for row in rows:
                row.realerted_at = now
                for channel in channels:
                    queue(session, row.id, channel, "realert", now)
                if row.sender_id != FORGOTTEN:
                    queue(session, row.id, CLIENT_CHANNEL, "deadline_notice", now)
                done.append(row.id)
        return done

    def claim_due(
        self, now: datetime | None = None, lease_seconds: int = 60, limit: int = 20
    ) -> list[Delivery]:
        """Pending deliveries whose time has come, most urgent level first, then oldest; leased
        so no other worker sends them too (on the database's clock)."""
        claimed = []
        with self._sessions.begin() as session:
            now = now or db_now(session)
            ids = (
                session.execute(
                    select(OutboxRow.id)
                    .join(EscalationRow, EscalationRow.id == OutboxRow.escalation_id)
                    .where(
                        OutboxRow.status == "pending",
                        OutboxRow.next_attempt_at <= now,
                        or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until <= now),
                    )
                    .order_by(SEND_ORDER, OutboxRow.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True, of=OutboxRow)
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
                    escalation = to_escalation(session.get(EscalationRow, row.escalation_id))
                    photo = None
                    if row.purpose.startswith(PHOTO_PURPOSE):
                        photo_row = session.get(
                            EscalationPhotoRow, int(row.purpose[len(PHOTO_PURPOSE) :])
                        )
                        photo = to_photo(photo_row) if photo_row else None
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
            row.status, row.lease_until = "delivered", None
            row.delivered_at = now or db_now(session)
            row.attempts += 1

    def failed(
        self, outbox_id: int, error: str, delay_seconds: float, now: datetime | None = None
    ) -> None:
        """Record a failed attempt; it is retried `delay_seconds` after `now` (default: the
        database's clock, what claims compare against)."""
        with self._sessions.begin() as session:
            row = session.get(OutboxRow, outbox_id)
            if row is None:  # cancelled while it was being sent
                return
            retry_at = (now or db_now(session)) + timedelta(seconds=delay_seconds)
            row.attempts += 1
            row.last_error, row.next_attempt_at, row.lease_until = error[:2000], retry_at, None

    def gave_up(
        self,
        outbox_id: int,
        error: str,
        fallback: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Record a delivery that no retry can make succeed: `failed`, shown to staff; and,
        in the same transaction, the same delivery on the `fallback` channel (once). Returns
        whether a fallback delivery was queued."""
        with self._sessions.begin() as session:
            row = session.get(OutboxRow, outbox_id)
            if row is None:  # cancelled while it was being sent
                return False
            row.attempts += 1
            row.status, row.last_error, row.lease_until = "failed", error[:2000], None
            return _queue_fallback(session, row, fallback, now or db_now(session))

    def fall_back(self, outbox_id: int, fallback: str | None, now: datetime | None = None) -> bool:
        """Send a staff delivery still undelivered on the `fallback` channel too (once), while
        its own channel keeps retrying. Returns whether it was queued."""
        with self._sessions.begin() as session:
            row = session.get(OutboxRow, outbox_id)
            return row is not None and _queue_fallback(
                session, row, fallback, now or db_now(session)
            )

    def retry_failed(self, now: datetime | None = None) -> int:
        """Put every failed delivery of a still open escalation back in the queue (the
        clinic changed its alert settings); returns how many."""
        with self._sessions.begin() as session:
            now = now or db_now(session)
            open_ids = select(EscalationRow.id).where(EscalationRow.status == "open")
            result = session.execute(
                update(OutboxRow)
                .where(OutboxRow.status == "failed", OutboxRow.escalation_id.in_(open_ids))
                .values(status="pending", next_attempt_at=now, attempts=0, lease_until=None)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount or 0

    def pending_count(self) -> int:
        """How many deliveries are still to do."""
        with self._sessions() as session:
            return len(
                session.execute(select(OutboxRow.id).where(OutboxRow.status == "pending")).all()
            )


def _queue_fallback(session, row: OutboxRow, fallback: str | None, now: datetime) -> bool:
    """Queue `row`'s delivery on the fallback channel, in the caller's transaction, unless
    there is none, it is the row's own channel or a client notice, or it is already queued."""
    if fallback in (None, row.channel, CLIENT_CHANNEL) or row.channel == CLIENT_CHANNEL:
        return False
    already = session.execute(
        select(OutboxRow.id).where(
            OutboxRow.escalation_id == row.escalation_id,
            OutboxRow.channel == fallback,
            OutboxRow.purpose == row.purpose,
        )
    ).first()
    if already is not None:
        return False
    queue(session, row.escalation_id, fallback, row.purpose, now)
    return True
