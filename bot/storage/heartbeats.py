"""Heartbeats: a background process says it is alive; others ask before promising on its behalf.

The alert notifier beats every few seconds while its delivery loop runs. The bot tells a client
"the team has been alerted" only while that beat is fresh (`bot.service.escalation`);
otherwise it gives the clinic's phone number instead. Times are the database's clock
(`bot.storage.clock`), so a notifier and a bot on different hosts agree.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import sessionmaker

from bot.domain.days import as_utc
from bot.storage.clock import db_now
from bot.storage.models import HeartbeatRow

NOTIFIER = "notifier"


class Heartbeats:
    """Heartbeats by process name; one session (one transaction) per call."""

    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def beat(self, name: str, now: datetime | None = None) -> None:
        """Record that `name` is alive now."""
        with self._sessions.begin() as session:
            now = now or db_now(session)
            row = session.get(HeartbeatRow, name)
            if row is None:
                session.add(HeartbeatRow(name=name, beat_at=now))
            else:
                row.beat_at = now

    def clock(self) -> datetime:
        """The time now on the clock heartbeats are stamped with (the database's)."""
        with self._sessions() as session:
            return db_now(session)

    def last(self, name: str) -> datetime | None:
        """When `name` last beat, if ever."""
        with self._sessions() as session:
            row = session.get(HeartbeatRow, name)
            return as_utc(row.beat_at) if row else None

    def alive(self, name: str, max_silence_seconds: float, now: datetime | None = None) -> bool:
        """Whether `name` beat within the last `max_silence_seconds` (a beat from a clock a
        little ahead counts as now)."""
        with self._sessions() as session:
            row = session.get(HeartbeatRow, name)
            if row is None:
                return False
            now = now or db_now(session)
            return now - as_utc(row.beat_at) <= timedelta(seconds=max_silence_seconds)
