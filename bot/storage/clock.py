"""The database's clock: what leases and heartbeats shared by several hosts compare against.

Several processes on several hosts claim work and renew leases in one database. Each host's
own clock may be off by seconds or more, so a lease written by one host and read by another
would run out early or late. PostgreSQL's `now()` is one clock for all of them. An SQLite
database lives on one host and is used by that host's processes only: its clock is the host's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain.days import as_utc, now_utc


def db_now(session: Session) -> datetime:
    """The current time on the database's clock, aware UTC (on PostgreSQL the start of the
    session's transaction, so one transaction sees one time)."""
    if session.get_bind().dialect.name == "postgresql":
        return as_utc(session.scalar(select(func.now())))
    return now_utc()
