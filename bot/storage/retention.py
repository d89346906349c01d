"""Retention: client data older than the clinic's windows (`privacy:` in clinic/settings.yml)
is deleted, by the notifier once a day and by `aftercare db purge`.

- A conversation with no event for `conversation_days`: Rasa's events, and in our tables what
  `/forget` deletes (treatment date, client link, inbound log; its escalations keep only
  their clinical facts).
- Photos sent with an escalation, after `photo_days`.
- An escalation's message text and client name, after `escalation_text_days`.

An escalation still open keeps everything, and so does its conversation; so does a
conversation with a message not answered yet.

Every delete runs in its own transaction; SQLite databases are checkpointed afterwards, with
`secure_delete` on, so nothing deleted lingers on disk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, inspect, or_, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from bot.kb.model import PrivacySettings
from bot.storage.forget import EVENTS_TABLE, checkpoint, forget_in_database
from bot.storage.inbound import RECEIVED, RECOVERING
from bot.storage.models import EscalationPhotoRow, EscalationRow, InboundRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purged:
    """How much each window removed."""

    conversations: int = 0
    photos: int = 0
    escalations_redacted: int = 0


def purge(
    sessions: sessionmaker, tracker: Engine | None, privacy: PrivacySettings, now: datetime
) -> Purged:
    """Apply every retention window as of `now`; `tracker` is Rasa's tracker database."""
    photos = _photos(sessions, _cutoff(now, privacy.photo_days))
    redacted = _escalation_text(sessions, _cutoff(now, privacy.escalation_text_days))
    conversations = 0
    cutoff = _cutoff(now, privacy.conversation_days)
    if tracker is not None and cutoff is not None:
        conversations = _conversations(sessions, tracker, cutoff)
    checkpoint(sessions.kw["bind"])
    purged = Purged(conversations, photos, redacted)
    if purged != Purged():
        log.info(
            "Retention: deleted %d conversation(s) and %d photo(s); redacted %d escalation(s)",
            *(conversations, photos, redacted),
        )
    return purged


def _cutoff(now: datetime, days: int | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


def _photos(sessions: sessionmaker, cutoff: datetime | None) -> int:
    """Photos older than the cutoff, except those of an escalation still open."""
    if cutoff is None:
        return 0
    closed = select(EscalationRow.id).where(EscalationRow.status != "open")
    with sessions.begin() as session:
        result = session.execute(
            delete(EscalationPhotoRow)
            .where(
                EscalationPhotoRow.created_at < cutoff, EscalationPhotoRow.escalation_id.in_(closed)
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount or 0


def _escalation_text(sessions: sessionmaker, cutoff: datetime | None) -> int:
    """The text and name of escalations older than the cutoff, except those still open."""
    if cutoff is None:
        return 0
    with sessions.begin() as session:
        result = session.execute(
            update(EscalationRow)
            .where(
                EscalationRow.created_at < cutoff,
                EscalationRow.status != "open",
                or_(EscalationRow.message.is_not(None), EscalationRow.client_name.is_not(None)),
            )
            .values(message=None, client_name=None)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount or 0


def stale_conversations(tracker: Engine, cutoff: datetime) -> list[str]:
    """Conversations whose newest event is older than `cutoff`."""
    if not inspect(tracker).has_table(EVENTS_TABLE):
        return []
    query = text(
        f"SELECT sender_id FROM {EVENTS_TABLE} GROUP BY sender_id"  # noqa: S608 - a constant
        " HAVING MAX(timestamp) < :cutoff"
    )
    with tracker.connect() as connection:
        return [row[0] for row in connection.execute(query, {"cutoff": cutoff.timestamp()})]


def _conversations(sessions: sessionmaker, tracker: Engine, cutoff: datetime) -> int:
    """Delete each stale conversation. Its events go in one statement that deletes nothing if
    any event is newer than the cutoff (a message arrived meanwhile); our tables only after
    that, and never while the conversation has an open escalation or a message not yet
    answered (the recovery path still owes it an answer)."""
    deleted = 0
    busy = _busy_conversations(sessions)
    for sender_id in stale_conversations(tracker, cutoff):
        if sender_id in busy:
            continue
        with tracker.begin() as connection:
            removed = connection.execute(
                text(
                    f"DELETE FROM {EVENTS_TABLE} WHERE sender_id = :s AND NOT EXISTS"  # noqa: S608
                    f" (SELECT 1 FROM {EVENTS_TABLE} WHERE sender_id = :s AND timestamp >= :cutoff)"
                ),
                {"s": sender_id, "cutoff": cutoff.timestamp()},
            ).rowcount
        if removed:
            forget_in_database(sessions, sender_id)
            deleted += 1
    checkpoint(tracker)
    return deleted


def _busy_conversations(sessions: sessionmaker) -> set[str]:
    """Conversations that must stay: an escalation still open, or an inbound message not done."""
    with sessions() as session:
        open_ones = session.execute(
            select(EscalationRow.sender_id).where(EscalationRow.status == "open")
        ).scalars()
        waiting = session.execute(
            select(InboundRow.sender_id).where(InboundRow.state.in_((RECEIVED, RECOVERING)))
        ).scalars()
        return set(open_ones) | set(waiting)
