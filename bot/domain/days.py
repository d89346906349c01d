"""Day arithmetic: day 0 is the treatment day, day 1 the next calendar day, in the clinic's zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo


def now_utc() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(timezone.utc)


def local_today(time_zone: str, now: datetime | None = None) -> date:
    """Today's calendar date in the clinic's time zone."""
    moment = now or now_utc()
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(ZoneInfo(time_zone)).date()


def treatment_day(treatment_date: date, time_zone: str, now: datetime | None = None) -> int:
    """Which day after treatment it is now (0 = treatment day; negative = before)."""
    return (local_today(time_zone, now) - treatment_date).days


def date_for_day(day: int, time_zone: str, now: datetime | None = None) -> date:
    """The treatment date that makes today day `day`."""
    return local_today(time_zone, now) - timedelta(days=day)


def as_utc(moment: datetime | None) -> datetime | None:
    """A stored time as aware UTC: SQLite returns naive datetimes (stored as UTC), PostgreSQL
    returns the session's zone."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
