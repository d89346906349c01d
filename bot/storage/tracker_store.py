"""Rasa's SQL tracker store, with the trackers of recent conversations kept in memory.

Rasa's `SQLTrackerStore` rebuilds a conversation from the database on every message: it reads
every event of the session and deserialises each one. Measured at turn 200 of one conversation,
that was 64% of the Rasa process's time (issue 6), and it grows with every turn.

`CachedSQLTrackerStore` keeps the last `cache_size` trackers it loaded or saved. Before it
hands one out, one cheap query checks that the database still holds exactly what the cached
tracker was built from (the number of the conversation's events and the highest event id), so
a conversation changed or deleted by anyone else (`aftercare forget`, another Rasa process,
PostgreSQL replication) is read again. A tracker that was changed in memory but never saved
(a turn that crashed) no longer matches and is read again too. The database stays the one
source of truth; the cache only skips re-reading what is already known.

Used through endpoints.yml: `tracker_store: type: bot.storage.tracker_store.CachedSQLTrackerStore`
with the same keys as Rasa's `SQL` store, plus an optional `cache_size`. With
`AFTERCARE_TRACKER_URL` set (any SQLAlchemy URL, e.g. PostgreSQL) that database is used
instead of endpoints.yml's SQLite file: what several Rasa processes share.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from bot import logs
from bot.settings import Settings
from bot.storage.engine import secure_delete

logger = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 1000


def url_parts(url: str) -> dict[str, Any]:
    """An SQLAlchemy URL as the keys of Rasa's SQL tracker store."""
    parsed = make_url(url)
    return {
        "dialect": parsed.drivername,
        "host": parsed.host,
        "port": parsed.port,
        "db": parsed.database,
        "username": parsed.username,
        "password": parsed.password,
        "query": dict(parsed.query) or None,
    }


@dataclass(frozen=True)
class StoredState:
    """What the database holds for one conversation: how many events, and the newest id."""

    events: int
    last_id: int | None


@dataclass
class _Entry:
    tracker: DialogueStateTracker
    stored: StoredState
    length: int  # len(tracker.events) when it matched the database


class CachedSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` that skips rebuilding a conversation it already holds in memory."""

    def __init__(self, *args: Any, cache_size: int = DEFAULT_CACHE_SIZE, **kwargs: Any) -> None:
        url = Settings.from_env().tracker_url
        if url is not None:  # the scale-out profile: one server database for every Rasa
            kwargs.update(url_parts(url))
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":  # what /forget deletes is overwritten on disk
            event.listen(self.engine, "connect", secure_delete)
            self.engine.dispose()  # connections made before the listener are not reused
        self.cache_size = max(0, int(cache_size))
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._stored_length: dict[str, int] = {}
        self.hits = 0
        self.misses = 0

    def stored_state(self, sender_id: str) -> StoredState:
        """Count and newest id of the conversation's events in the database (all sessions)."""
        with self.session_scope() as session:
            return self._stored_state(session, sender_id)

    def _stored_state(self, session: Any, sender_id: str) -> StoredState:
        event = self.SQLEvent
        query = select(func.count(event.id), func.max(event.id)).where(event.sender_id == sender_id)
        count, last_id = session.execute(query).one()
        return StoredState(events=int(count), last_id=last_id)

    def recent_events(self, sender_id: str, after: float, limit: int) -> tuple[int, list[dict]]:
        """The conversation's events from the first one stamped after `after` (Unix seconds)
        on, at most the last `limit`, as dicts, oldest first; and the index of the first in
        the whole conversation (all sessions, in id order: what `retrieve_full_tracker` would
        list). A run of consecutive events, so indexes hold even when stamps are out of order
        (hosts whose clocks differ); callers filter by time. Reads only those rows: a widget
        polling a long chat costs what is new, not the whole conversation."""
        event = self.SQLEvent
        with self.session_scope() as session:
            first_new = session.scalar(
                select(func.min(event.id)).where(
                    event.sender_id == sender_id, event.timestamp > after
                )
            )
            if first_new is None:
                return 0, []
            rows = session.execute(
                select(event.id, event.data)
                .where(event.sender_id == sender_id, event.id >= first_new)
                .order_by(event.id.desc())
                .limit(limit)
            ).all()
            before = session.scalar(
                select(func.count(event.id)).where(
                    event.sender_id == sender_id, event.id < rows[-1].id
                )
            )
        return int(before), [json.loads(row.data) for row in reversed(rows)]

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The conversation's current session: from memory if the database is unchanged.
        Its earlier client messages are hidden from the logs while this message is handled
        (Rasa's DEBUG lines print slots and states that hold them)."""
        tracker = await self._cached_retrieve(sender_id)
        if tracker is not None:
            logs.hide_also(e.text for e in tracker.events if isinstance(e, UserUttered))
        return tracker

    async def _cached_retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        entry = self._cache.get(sender_id)
        if entry is not None:
            if (
                len(entry.tracker.events) == entry.length
                and self.stored_state(sender_id) == entry.stored
            ):
                self._cache.move_to_end(sender_id)
                self.hits += 1
                return entry.tracker
            del self._cache[sender_id]
        self.misses += 1
        stored = self.stored_state(sender_id)
        tracker = await super().retrieve(sender_id)
        if tracker is not None and self.stored_state(sender_id) == stored:
            self._remember(sender_id, tracker, stored)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Save the new events; remember the tracker if it is exactly the stored session."""
        sender_id = tracker.sender_id
        entry = self._cache.pop(sender_id, None)
        if (
            entry is not None
            and len(tracker.events) >= entry.length
            and self.stored_state(sender_id) == entry.stored
        ):
            # The first `entry.length` events are stored and nobody else wrote since: only
            # the rest is new (Rasa would count the session's rows to find that out).
            self._stored_length[sender_id] = entry.length
        try:
            await super().save(tracker)
        finally:
            self._stored_length.pop(sender_id, None)
        if entry is not None:
            new_events = list(tracker.events)[entry.length :]
            # A new session began in memory: a fresh read starts at it, while this tracker
            # still holds the old session. Read it again next time.
            if not any(isinstance(event, SessionStarted) for event in new_events):
                self._remember(sender_id, tracker, self.stored_state(sender_id))
            return
        with self.session_scope() as session:  # a new conversation: is it all one session?
            stored = self._stored_state(session, sender_id)
            in_session = self._event_query(
                session, sender_id, fetch_events_from_all_sessions=False
            ).count()
        if in_session == len(tracker.events):
            self._remember(sender_id, tracker, stored)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """The events not stored yet (Rasa's count query, unless `save` already knows)."""
        known = self._stored_length.get(tracker.sender_id)
        if known is None:
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, known, len(tracker.events))

    def forget(self, sender_id: str) -> None:
        """Drop a conversation from memory (the next retrieve reads the database)."""
        self._cache.pop(sender_id, None)

    def _remember(self, sender_id: str, tracker: DialogueStateTracker, stored: StoredState) -> None:
        if self.cache_size == 0:
            return
        self._cache[sender_id] = _Entry(tracker=tracker, stored=stored, length=len(tracker.events))
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
