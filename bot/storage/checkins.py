"""The check-in due-table: what is planned for each conversation, claimed by one dispatcher at
a time (a compare-and-set per row, so two dispatchers never both send one), sent or skipped,
and answered; and who turned check-ins off.

A row is `pending` until its time, `sending` while a dispatcher holds it (a lease: one that
died mid-send leaves it "in doubt", which the next dispatcher settles from the conversation),
then `sent` or `skipped` (with the reason). Nothing here holds the words of a check-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from bot.domain.checkins import Planned
from bot.domain.days import as_utc, now_utc
from bot.storage.models import CheckinOptOutRow, CheckinRow, ClientLinkRow

PENDING, SENDING, SENT, SKIPPED = "pending", "sending", "sent", "skipped"
OPTED_OUT = "opted_out"
UNDELIVERED = "undelivered"  # a pending check-in's last try: written, not delivered  # the reason a check-in was skipped after /stop or the clinic's off
LATE = "late"  # ... because its window closed before it could be sent (the bot was down)
NO_ANSWER = "none"


@dataclass(frozen=True)
class DueCheckin:
    """A check-in claimed for sending; `in_doubt`: an earlier dispatcher died while sending it."""

    id: int
    sender_id: str
    key: str
    treatment_date: date
    day: int
    due_at: datetime
    until: datetime
    attempts: int  # sends tried, this one included
    in_doubt: bool = False
    undelivered: bool = False  # the last try reached Rasa, which could not deliver it


@dataclass(frozen=True)
class CheckinView:
    """One row of `aftercare checkins list` and of the staff inbox."""

    id: int
    sender_id: str
    key: str
    day: int
    due_at: datetime
    until: datetime
    status: str
    reason: str | None
    sent_at: datetime | None
    late: bool
    answer: str | None
    escalated: bool


def conversation_subject(sender_id: str) -> str:
    """Who an opt-out is about: one conversation (the client turned them off)."""
    return f"conversation:{sender_id}"


def client_subject(client_id: int) -> str:
    """Who an opt-out is about: a registered client, in every chat (the clinic's off)."""
    return f"client:{client_id}"


def _view(row: CheckinRow) -> CheckinView:
    return CheckinView(
        row.id,
        row.sender_id,
        row.key,
        row.day,
        as_utc(row.due_at),
        as_utc(row.until),
        row.status,
        row.reason,
        as_utc(row.sent_at),
        bool(row.late),
        row.answer,
        bool(row.escalated),
    )


class Checkins:
    """The due-table and the opt-outs; one short transaction per call."""

    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    # --- planning ------------------------------------------------------------------------

    def plan(self, sender_id: str, treatment_date: date, planned: list[Planned], now=None) -> int:
        """Make the conversation's pending check-ins those of `planned` for `treatment_date`:
        new ones added, changed times updated, ones for another date (the date changed) or
        no longer planned dropped, except one whose window closed while nothing sent it,
        which is skipped as late (recorded); sent and skipped ones kept, and one skipped
        because of an opt-out planned again if it still is. Returns how many are pending."""
        now = now or now_utc()
        wanted = {p.key: p for p in planned}
        with self._sessions.begin() as session:
            rows = session.execute(
                select(CheckinRow).where(CheckinRow.sender_id == sender_id)
            ).scalars()
            have = set()
            for row in rows:
                same = row.treatment_date == treatment_date
                if same:
                    have.add(row.key)
                item = wanted.get(row.key) if same else None
                reopen = row.status == SKIPPED and row.reason == OPTED_OUT
                if item is not None and (row.status == PENDING or reopen):
                    row.status, row.reason = PENDING, None
                    row.due_at, row.until, row.day = item.due_at, item.until, item.day
                elif row.status == PENDING and same and as_utc(row.until) <= now:
                    row.status, row.reason = SKIPPED, LATE
                elif row.status == PENDING:
                    session.delete(row)
            for item in planned:
                if item.key not in have and item.until > now:
                    session.add(
                        CheckinRow(
                            sender_id=sender_id,
                            key=item.key,
                            treatment_date=treatment_date,
                            day=item.day,
                            due_at=item.due_at,
                            until=item.until,
                            status=PENDING,
                            attempts=0,
                            late=False,
                            escalated=False,
                            created_at=now,
                        )
                    )
            session.flush()
            return session.scalar(
                select(func.count(CheckinRow.id)).where(
                    CheckinRow.sender_id == sender_id, CheckinRow.status == PENDING
                )
            )

    def cancel(self, sender_ids: list[str], reason: str, now=None) -> int:
        """Skip the pending check-ins of these conversations (recorded, with the reason)."""
        if not sender_ids:
            return 0
        with self._sessions.begin() as session:
            return session.execute(
                update(CheckinRow)
                .where(CheckinRow.sender_id.in_(sender_ids), CheckinRow.status == PENDING)
                .values(status=SKIPPED, reason=reason)
                .execution_options(synchronize_session=False)
            ).rowcount

    # --- consent -------------------------------------------------------------------------

    def opt_out(self, subject: str, by: str, now=None) -> bool:
        """Turn check-ins off for a subject; False if they already were."""
        try:
            with self._sessions.begin() as session:
                if session.get(CheckinOptOutRow, subject) is not None:
                    return False
                session.add(CheckinOptOutRow(subject=subject, by=by, at=now or now_utc()))
            return True
        except IntegrityError:  # turned off at the same moment elsewhere
            return False

    def opt_in(self, subject: str) -> bool:
        """Turn check-ins back on for a subject; False if they were not off."""
        with self._sessions.begin() as session:
            return bool(
                session.execute(
                    delete(CheckinOptOutRow).where(CheckinOptOutRow.subject == subject)
                ).rowcount
            )

    def opted_out(self, sender_id: str) -> str | None:
        """Who turned this conversation's check-ins off (client or clinic), or None."""
        with self._sessions() as session:
            client_id = session.scalar(
                select(ClientLinkRow.client_id).where(ClientLinkRow.conversation_id == sender_id)
            )
            subjects = [conversation_subject(sender_id)]
            if client_id is not None:
                subjects.append(client_subject(client_id))
            found = set(
                session.scalars(
                    select(CheckinOptOutRow.by).where(CheckinOptOutRow.subject.in_(subjects))
                )
            )
            # The clinic's "off" first: a client's /start does not undo it.
            return next((by for by in ("clinic", "client") if by in found), None)

    def client_chats(self, sender_id: str) -> list[str]:
        """The chats of the client this conversation is linked to, the one their check-ins
        go to first (their newest Telegram chat, else their newest chat); just this one when
        it is not linked. A client with two chats gets each check-in once."""
        with self._sessions() as session:
            client_id = session.scalar(
                select(ClientLinkRow.client_id).where(ClientLinkRow.conversation_id == sender_id)
            )
            if client_id is None:
                return [sender_id]
            links = session.execute(
                select(ClientLinkRow.conversation_id, ClientLinkRow.channel)
                .where(ClientLinkRow.client_id == client_id)
                .order_by(ClientLinkRow.linked_at.desc(), ClientLinkRow.conversation_id)
            ).all()
        return [link[0] for link in sorted(links, key=lambda link: link[1] != "telegram")]

    # --- sending -------------------------------------------------------------------------

    def claim_due(self, now: datetime, lease_seconds: float, limit: int = 20) -> list[DueCheckin]:
        """Claim up to `limit` check-ins whose time came: pending ones, and ones a dispatcher
        was sending when its lease ran out (in doubt). Each is claimed by a compare-and-set,
        so a row claimed elsewhere at the same moment is left out."""
        lease = now + timedelta(seconds=lease_seconds)
        with self._sessions.begin() as session:
            candidates = session.execute(
                select(CheckinRow)
                .where(
                    or_(
                        (CheckinRow.status == PENDING) & (CheckinRow.due_at <= now),
                        (CheckinRow.status == SENDING) & (CheckinRow.lease_until <= now),
                    )
                )
                .order_by(CheckinRow.due_at, CheckinRow.id)
                .limit(limit)
            ).scalars()
            seen = [(row.id, row.status) for row in candidates]
        claimed = []
        for row_id, status in seen:
            with self._sessions.begin() as session:
                taken = session.execute(
                    update(CheckinRow)
                    .where(
                        CheckinRow.id == row_id,
                        CheckinRow.status == status,
                        CheckinRow.lease_until <= now
                        if status == SENDING
                        else CheckinRow.due_at <= now,
                    )
                    .values(status=SENDING, lease_until=lease, attempts=CheckinRow.attempts + 1)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if taken:
                    row = session.get(CheckinRow, row_id)
                    claimed.append(
                        DueCheckin(
                            row.id,
                            row.sender_id,
                            row.key,
                            row.treatment_date,
                            row.day,
                            as_utc(row.due_at),
                            as_utc(row.until),
                            row.attempts,
                            in_doubt=status == SENDING,
                            undelivered=row.reason == UNDELIVERED,
                        )
                    )
        return claimed

    def _finish(self, row_id: int, **values) -> bool:
        with self._sessions.begin() as session:
            return bool(
                session.execute(
                    update(CheckinRow)
                    .where(CheckinRow.id == row_id, CheckinRow.status == SENDING)
                    .values(lease_until=None, **values)
                    .execution_options(synchronize_session=False)
                ).rowcount
            )

    def mark_sent(self, row_id: int, now: datetime, late: bool) -> bool:
        """The check-in reached the conversation."""
        return self._finish(row_id, status=SENT, sent_at=now, late=late)

    def skip(self, row_id: int, reason: str) -> bool:
        """The check-in will not be sent (no longer useful, opted out, not deliverable)."""
        return self._finish(row_id, status=SKIPPED, reason=reason)

    def postpone(
        self, row_id: int, due_at: datetime, tried: bool = True, undelivered: bool = False
    ) -> bool:
        """Back to pending, due again at `due_at`: after a failed send (`undelivered`: Rasa
        wrote it into the conversation but could not deliver it), or without a try (quiet
        hours, a person has the chat: `tried` False, so it does not count as one)."""
        values: dict = {"status": PENDING, "due_at": due_at}
        if tried:
            values["reason"] = UNDELIVERED if undelivered else None
        else:
            values["attempts"] = CheckinRow.attempts - 1
        return self._finish(row_id, **values)

    # --- answers -------------------------------------------------------------------------

    def open_for(self, sender_id: str, now: datetime, answer_hours: int) -> int | None:
        """The conversation's latest check-in sent within the answer time, if any."""
        since = now - timedelta(hours=answer_hours)
        with self._sessions() as session:
            return session.scalar(
                select(CheckinRow.id)
                .where(
                    CheckinRow.sender_id == sender_id,
                    CheckinRow.status == SENT,
                    CheckinRow.sent_at >= since,
                    or_(CheckinRow.answer.is_(None), CheckinRow.answer != NO_ANSWER),
                )
                .order_by(CheckinRow.sent_at.desc())
                .limit(1)
            )

    def record_answer(self, row_id: int, answer: str, escalated: bool, now: datetime) -> None:
        """Note the client's answer (the first one counts) and whether it led to an
        escalation (any message within the answer time may)."""
        with self._sessions.begin() as session:
            row = session.get(CheckinRow, row_id)
            if row is None:
                return
            if row.answer is None:
                row.answer, row.answered_at = answer, now
            row.escalated = bool(row.escalated) or escalated

    def close_unanswered(self, now: datetime, answer_hours: int) -> int:
        """Record check-ins nobody answered within the answer time as unanswered."""
        with self._sessions.begin() as session:
            return session.execute(
                update(CheckinRow)
                .where(
                    CheckinRow.status == SENT,
                    CheckinRow.answer.is_(None),
                    CheckinRow.sent_at < now - timedelta(hours=answer_hours),
                )
                .values(answer=NO_ANSWER)
                .execution_options(synchronize_session=False)
            ).rowcount

    # --- reading -------------------------------------------------------------------------

    def listing(self, which: str | None = None, sender_id: str | None = None, limit: int = 500):
        """Check-ins: `due` (pending or being sent, soonest first), `sent` (newest first), or
        every one (by due time); optionally of one conversation."""
        query = select(CheckinRow)
        if sender_id is not None:
            query = query.where(CheckinRow.sender_id == sender_id)
        if which == "due":
            query = query.where(CheckinRow.status.in_((PENDING, SENDING))).order_by(
                CheckinRow.due_at, CheckinRow.id
            )
        elif which == "sent":
            query = query.where(CheckinRow.status == SENT).order_by(CheckinRow.sent_at.desc())
        else:
            query = query.order_by(CheckinRow.due_at, CheckinRow.id)
        with self._sessions() as session:
            return [_view(row) for row in session.execute(query.limit(limit)).scalars()]

    def shares(self, since: datetime) -> tuple[int, int, int]:
        """(sent, answered, led to an escalation) of the check-ins sent since `since`."""
        with self._sessions() as session:
            rows = session.execute(
                select(CheckinRow.answer, CheckinRow.escalated).where(
                    CheckinRow.status == SENT, CheckinRow.sent_at >= since
                )
            ).all()
        answered = sum(1 for answer, _ in rows if answer not in (None, NO_ANSWER))
        return len(rows), answered, sum(1 for _, escalated in rows if escalated)

    def forget(self, sender_id: str) -> int:
        """Delete every check-in of a conversation and its opt-out ("forget me")."""
        with self._sessions.begin() as session:
            session.execute(
                delete(CheckinOptOutRow).where(
                    CheckinOptOutRow.subject == conversation_subject(sender_id)
                )
            )
            return session.execute(
                delete(CheckinRow).where(CheckinRow.sender_id == sender_id)
            ).rowcount
