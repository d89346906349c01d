"""When each check-in is due for one treatment, in the clinic's local time (daylight saving
included), quiet hours, and the words a check-in is sent with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.domain.advisor import Advisor
from bot.kb.checkins import Checkin, CheckinSettings
from bot.kb.model import Clinic


@dataclass(frozen=True)
class Planned:
    """One check-in due for a treatment: from `due_at` until `until` (UTC)."""

    key: str
    day: int
    due_at: datetime
    until: datetime


def local_moment(day: date, clock: time, time_zone: str) -> datetime:
    """`clock` on `day` in the clinic's time zone, in UTC. A time the clocks skip (spring
    forward) is read with the offset before the change, i.e. just after the gap; a time that
    happens twice (fall back) is its first occurrence."""
    return datetime.combine(day, clock, tzinfo=ZoneInfo(time_zone)).astimezone(timezone.utc)


def in_quiet_hours(settings: CheckinSettings, moment: datetime, time_zone: str) -> bool:
    """Whether `moment` falls in the clinic's quiet hours (which may span midnight)."""
    start, end = settings.quiet_start, settings.quiet_end
    if start is None or end is None or start == end:
        return False
    local = moment.astimezone(ZoneInfo(time_zone)).time()
    return start <= local < end if start < end else (local >= start or local < end)


def quiet_hours_end(settings: CheckinSettings, moment: datetime, time_zone: str) -> datetime:
    """The first moment after `moment` outside the quiet hours (`moment` itself if outside)."""
    if not in_quiet_hours(settings, moment, time_zone):
        return moment
    local_day = moment.astimezone(ZoneInfo(time_zone)).date()
    for offset in (0, 1):
        end = local_moment(local_day + timedelta(days=offset), settings.quiet_end, time_zone)
        if end > moment:
            return end
    return moment  # not reached: quiet hours end within a day


def opens_at(
    settings: CheckinSettings, item: Checkin, treatment_date: date, time_zone: str
) -> datetime:
    """When a check-in is meant to go out (UTC): the start of its window, or the end of the
    quiet hours it starts in."""
    start = local_moment(treatment_date + timedelta(days=item.day), item.start, time_zone)
    return quiet_hours_end(settings, start, time_zone)


def plan(
    settings: CheckinSettings,
    treatment_date: date,
    kind: str,
    time_zone: str,
    now: datetime,
) -> list[Planned]:
    """The check-ins a treatment of `kind` on `treatment_date` gets that are still useful at
    `now`: each due at the start of its window (or when quiet hours end, inside the window)."""
    if not settings.enabled:
        return []
    planned = []
    for item in settings.items:
        if not item.applies_to(kind):
            continue
        until = local_moment(treatment_date + timedelta(days=item.day), item.end, time_zone)
        due = opens_at(settings, item, treatment_date, time_zone)
        if due < until and until > now:
            planned.append(Planned(item.key, item.day, due, until))
    return planned


def checkin_text(
    clinic: Clinic, item: Checkin, name: str | None, treatment_date: date, kind: str | None
) -> str:
    """The check-in's words for one client."""
    settings = clinic.checkins
    changes = Advisor(clinic).newly_allowed(item.day, kind)
    if len(changes) > 1:
        listed = settings.separator.join(changes[:-1]) + f" {settings.and_word} {changes[-1]}"
    else:
        listed = "".join(changes)
    first_name = (name or "").split()[0] if (name or "").strip() else settings.unnamed
    return item.text.format(
        **clinic.settings.placeholders(),
        name=first_name,
        day=item.day,
        treatment_date=clinic.language.format_date(treatment_date),
        changes_today=listed,
    )


def quick_replies(settings: CheckinSettings, item: Checkin) -> list[tuple[str, str]]:
    """(meaning, title) of the buttons under a check-in, in order."""
    return [(m, settings.titles[m]) for m in item.quick_replies if m in settings.titles]
