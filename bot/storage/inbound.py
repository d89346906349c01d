"""Inbound messages: recorded before a channel acknowledges them, so none is lost between the
channel and its answer.

A message is `received` (with its owner, the process answering it, and a lease that process
renews while it lives) until its turn ends (`done`, text dropped). A message whose lease ran
out belongs to a process that died: the recovery path claims it (`recovering`, one claimer
even with several processes; a claim whose claimer died runs out too) and screens it for red
flags without Rasa or the action server (`recovered`). A channel that re-sends a message
(Telegram retries an update) gets the same `external_id`: the copy is dropped while the first
is being answered, and taken over when its process died before answering it. Leases are on
the database's clock (`bot.storage.clock`): processes on several hosts agree when one ran out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from bot.domain.days import now_utc
from bot.storage.clock import db_now
from bot.storage.leases import PROCESS
from bot.storage.models import InboundRow

RECEIVED, DONE, RECOVERING, RECOVERED = "received", "done", "recovering", "recovered"
OPEN = (RECEIVED, RECOVERING)
# Rows are deleted this long after they arrived (finished ones are kept to drop re-sent
# copies); an unfinished row's text is dropped then too, whatever happened to it.
KEEP = timedelta(days=2)


@dataclass(frozen=True)
class Pending:
    """A message whose turn never finished, claimed for recovery."""

    id: int
    channel: str
    sender_id: str
    address: str | None
    text: str | None
    received_at: datetime


class InboundLog:
    """The inbound messages table; one short transaction per call. `lease`: how long a row
    stays this process's without a renewal (the recovery delay)."""

    def __init__(self, sessions: sessionmaker, lease_seconds: float = 60.0, owner: str = PROCESS):
        self._sessions, self.owner = sessions, owner
        self.lease = timedelta(seconds=lease_seconds)

    def record(
        self,
        channel: str,
        sender_id: str,
        text: str | None,
        external_id: str | None = None,
        address: str | None = None,
    ) -> int | None:
        """Record a message as received by this process; its id, or None when `external_id`
        was seen before and is still being answered or was answered."""
        row = InboundRow(
            channel=channel,
            external_id=external_id,
            sender_id=sender_id,
            address=address,
            text=text,
            state=RECEIVED,
            owner=self.owner,
        )
        try:
            with self._sessions.begin() as session:
                row.received_at = db_now(session)
                row.lease_until = row.received_at + self.lease
                session.add(row)
        except IntegrityError:
            return self._take_over(channel, external_id) if external_id else None
        return row.id

    def _take_over(self, channel: str, external_id: str) -> int | None:
        """A re-sent message whose first copy's process died before answering it: ours now."""
        with self._sessions.begin() as session:
            now = db_now(session)
            row = session.scalars(
                select(InboundRow).where(
                    InboundRow.channel == channel,
                    InboundRow.external_id == external_id,
                    InboundRow.state == RECEIVED,
                    InboundRow.lease_until < now,
                )
            ).first()
            if row is None:
                return None
            won = session.execute(
                update(InboundRow)
                .where(InboundRow.id == row.id, InboundRow.lease_until == row.lease_until)
                .values(owner=self.owner, lease_until=now + self.lease)
            ).rowcount
            return row.id if won else None

    def renew(self) -> int:
        """Extend the lease of every unfinished message of this process; how many."""
        with self._sessions.begin() as session:
            return session.execute(
                update(InboundRow)
                .where(InboundRow.owner == self.owner, InboundRow.state.in_(OPEN))
                .values(lease_until=db_now(session) + self.lease)
            ).rowcount

    def finish(self, inbound_id: int) -> bool:
        """The turn ended (answered, or told to try again): drop the text. False when the
        recovery path took the message meanwhile (then it answers it)."""
        with self._sessions.begin() as session:
            return bool(
                session.execute(
                    update(InboundRow)
                    .where(InboundRow.id == inbound_id, InboundRow.state == RECEIVED)
                    .values(state=DONE, text=None, done_at=now_utc())
                ).rowcount
            )

    def claim_stale(
        self, channel: str, limit: int = 50, now: datetime | None = None
    ) -> list[Pending]:
        """Unfinished messages of `channel` whose lease ran out, each claimed by this process
        only (a compare-and-set per row, so two processes never recover the same one)."""
        with self._sessions() as session:
            now = now or db_now(session)
            rows = session.scalars(
                select(InboundRow)
                .where(
                    InboundRow.channel == channel,
                    InboundRow.state.in_(OPEN),
                    InboundRow.lease_until <= now,
                )
                .order_by(InboundRow.id)
                .limit(limit)
            ).all()
        claimed = []
        for row in rows:
            with self._sessions.begin() as session:
                won = session.execute(
                    update(InboundRow)
                    .where(InboundRow.id == row.id, InboundRow.lease_until == row.lease_until)
                    .values(state=RECOVERING, owner=self.owner, lease_until=now + self.lease)
                ).rowcount
            if won:
                claimed.append(
                    Pending(
                        row.id, row.channel, row.sender_id, row.address, row.text, row.received_at
                    )
                )
        return claimed

    def recovered(self, inbound_id: int) -> None:
        """The recovery path has screened it: drop the text."""
        with self._sessions.begin() as session:
            session.execute(
                update(InboundRow)
                .where(InboundRow.id == inbound_id)
                .values(state=RECOVERED, text=None, done_at=now_utc())
            )

    def state_of(self, inbound_id: int) -> str | None:
        """The state of one message (None if there is no such row)."""
        with self._sessions() as session:
            row = session.get(InboundRow, inbound_id)
            return row.state if row else None

    def purge(self, now: datetime | None = None) -> int:
        """Delete every row older than KEEP, whatever its state; how many."""
        cutoff = (now or now_utc()) - KEEP
        with self._sessions.begin() as session:
            return session.execute(
                delete(InboundRow).where(InboundRow.received_at <= cutoff)
            ).rowcount

    def forget(self, sender_id: str) -> int:
        """Delete every row of a conversation (the client's "forget me")."""
        with self._sessions.begin() as session:
            return session.execute(
                delete(InboundRow).where(InboundRow.sender_id == sender_id)
            ).rowcount
