"""A client's "forget me": delete their conversation, treatment link, messages (also any
still waiting in the inbound log) and photos.

What stays: each escalation's clinical facts (level, symptoms, day, treatment date and kind,
times, who acknowledged), which the clinic must keep to show how red flags were handled,
with no message text, name, photos or link back to the conversation.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, inspect, text
from sqlalchemy.orm import sessionmaker

from bot.storage.checkins import Checkins
from bot.storage.clients import ClientRegistry
from bot.storage.escalations import EscalationRepository
from bot.storage.handoffs import Handoffs
from bot.storage.inbound import InboundLog
from bot.storage.treatments import TreatmentRepository
from bot.storage.web_chats import SignedChats

log = logging.getLogger(__name__)
EVENTS_TABLE = "events"  # Rasa's SQL tracker store


@dataclass(frozen=True)
class Forgotten:
    """What was deleted."""

    escalations_redacted: int
    client_unlinked: int | None
    treatment_deleted: bool
    tracker_deleted: bool


def forget_in_database(sessions: sessionmaker, sender_id: str) -> tuple[int, int | None, bool]:
    """Our database's part: escalations redacted, then the client link, then the treatment."""
    redacted = EscalationRepository(sessions).redact_conversation(sender_id)
    client = ClientRegistry(sessions).forget_conversation(sender_id)
    treatment = TreatmentRepository(sessions).forget(sender_id)
    InboundLog(sessions).forget(sender_id)
    SignedChats(sessions).forget(sender_id)
    Handoffs(sessions).forget(sender_id)
    Checkins(sessions).forget(sender_id)  # scheduled check-ins too: none goes out after this
    checkpoint(sessions.kw["bind"])
    return redacted, client, treatment


def checkpoint(engine: Any) -> None:
    """SQLite: copy the write-ahead log into the database file and empty it, so deleted
    rows do not linger in the `-wal` file (pooled connections keep it from being removed)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def unwrap(tracker_store: Any) -> Any:
    """Rasa wraps the configured store (fail-safe, awaitable); find the real one."""
    seen: set[int] = set()
    while hasattr(tracker_store, "_tracker_store") and id(tracker_store) not in seen:
        seen.add(id(tracker_store))
        tracker_store = tracker_store._tracker_store
    return tracker_store


def delete_tracker(tracker_store: Any, sender_id: str) -> bool:
    """Delete every stored event of a conversation from Rasa's tracker store.

    Rasa 3.6's tracker stores have no delete: this supports the SQL store (what
    `endpoints.yml` configures, any SQLAlchemy database) and the in-memory one."""
    from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore

    store = unwrap(tracker_store)
    if hasattr(store, "forget"):  # our cached SQL store: drop its in-memory copy too
        store.forget(sender_id)
    if isinstance(store, SQLTrackerStore):
        with store.session_scope() as session:
            result = session.execute(
                delete(store.SQLEvent).where(store.SQLEvent.sender_id == sender_id)
            )
            session.commit()
        checkpoint(store.engine)
        return result.rowcount > 0
    if isinstance(store, InMemoryTrackerStore):
        return store.store.pop(sender_id, None) is not None
    raise NotImplementedError(f"cannot delete conversations from {type(store).__name__}")


def delete_stored_events(tracker: Any, sender_id: str) -> int:
    """Delete a conversation's events straight from Rasa's SQL tracker database (an engine);
    only while no Rasa process runs, which could write back a tracker it holds."""
    if not inspect(tracker).has_table(EVENTS_TABLE):
        return 0
    with tracker.begin() as connection:
        removed = connection.execute(
            text(f"DELETE FROM {EVENTS_TABLE} WHERE sender_id = :s"),  # noqa: S608 - a constant
            {"s": sender_id},
        ).rowcount
    checkpoint(tracker)
    return removed


async def forget_conversation(
    sender_id: str, tracker_store: Any, sessions: sessionmaker
) -> Forgotten:
    """Forget one conversation everywhere we store it (call holding Rasa's conversation lock)."""
    redacted, client, treatment = await asyncio.to_thread(forget_in_database, sessions, sender_id)
    tracker = await asyncio.to_thread(delete_tracker, tracker_store, sender_id)
    # No conversation id in the log: the point is to keep nothing that leads back to them.
    log.info(
        "Forgot a conversation: %d escalation(s) redacted, client link %s, tracker %s",
        redacted,
        client,
        "deleted" if tracker else "empty",
    )
    return Forgotten(redacted, client, treatment, tracker)
