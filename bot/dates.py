"""Understand when a client's treatment was, from how clients say it.

"yesterday afternoon", "3 days ago", "48 hours ago", "last Tuesday", "18/11", "on the 2nd",
"12 November", "2026-11-18", "day 4". All relative to `today` in the clinic's time zone.
The result is a date, or the reason none could be given (unclear, in the future, too long ago).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.numbers import NUMBER_PATTERN, ORDINALS, to_int

MONTHS = {
    name: index
    for index, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
WEEKDAYS = {
    name: index
    for index, names in enumerate(
        [
            ("mon", "monday"),
            ("tue", "tues", "tuesday"),
            ("wed", "weds", "wednesday"),
            ("thu", "thur", "thurs", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        ]
    )
    for name in names
}
MAX_DAYS_AGO = 366
_NUM = rf"(\d{{1,3}}|{NUMBER_PATTERN})"
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_ORD = r"(\d{1,2})(?:st|nd|rd|th)?"


@dataclass(frozen=True)
class DateAnswer:
    """A parsed treatment date, or why there is none (`problem`: unclear/future/too_old)."""

    value: date | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Whether a usable date was found."""
        return self.value is not None


def _normalise(text: str) -> str:
    text = text.lower().replace("’", "'")
    text = re.sub(r"\b(yday|yest|ystrdy|yesterdy|yesteday|yesturday)\b", "yesterday", text)
    # "2day" is text-speak for today, unless it's a count ("2day ago", "2day after").
    text = re.sub(
        r"\btdy\b|\b2day\b(?!\s*(?:ago|back|before|after|post|since|later)\b)", "today", text
    )
    text = re.sub(r"\b(tmrw|tmr|tomoz|2moro|2morrow)\b", "tomorrow", text)
    text = re.sub(r"(?:\b|(?<=\d))hrs?\b", "hours", text)  # also "48hrs"
    text = re.sub(r"(?:\b|(?<=\d))wks?\b", "weeks", text)
    return " ".join(text.split())


def _checked(value: date, today: date) -> DateAnswer:
    if value > today:
        return DateAnswer(None, "future")
    if (today - value).days > MAX_DAYS_AGO:
        return DateAnswer(None, "too_old")
    return DateAnswer(value)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _month_day(month: int, day: int, year: int | None, today: date) -> DateAnswer | None:
    """A day and month without a year means the most recent one that is not in the future."""
    if year is not None:
        year = year + 2000 if year < 100 else year
        found = _safe_date(year, month, day)
        return _checked(found, today) if found else None
    found = _safe_date(today.year, month, day)
    if found is None or found > today:
        # "18/12" said in January means last December; within a week ahead it's a slip.
        if found is not None and (found - today).days <= 7:
            return DateAnswer(None, "future")
        found = _safe_date(today.year - 1, month, day)
        if found is None:
            return None
    return _checked(found, today)


def parse_treatment_date(
    text: str, today: date, date_order: str = "DMY", now: datetime | None = None
) -> DateAnswer:
    """Find the treatment date in a client's message. `today` is the clinic-local date;
    `now` (clinic-local time) makes "20 hours ago" at 09:00 yesterday, not today."""
    t = _normalise(text)
    if not t:
        return DateAnswer(None, "unclear")

    if re.search(
        r"\b(tomorrow|next (week|month|" + _WEEKDAY + r")|in " + _NUM + r" (days?|weeks?))\b", t
    ):
        return DateAnswer(None, "future")
    if re.search(r"\b(day before yesterday|2 days before yesterday)\b", t):
        return _checked(today - timedelta(days=2), today)
    if re.search(r"\byesterday\b|\blast night\b", t):
        return _checked(today - timedelta(days=1), today)
    # An explicit day count wins over "today" ("today is day 3", "a week ago today").
    match = re.search(rf"\bday\s*{_NUM}\b|\b(\d{{1,2}})(?:st|nd|rd|th) day\b(?! of)", t)
    if match and not re.search(r"\bday\s*\d+\s*(of|/|-)", t):
        amount = to_int(match.group(1) or match.group(2))
        if amount is not None:
            return _checked(today - timedelta(days=amount), today)
    for word, amount in ORDINALS.items():
        if re.search(rf"\b{word} day\b(?! of)", t):
            return _checked(today - timedelta(days=amount), today)
    if re.search(r"\b(a|one) week ago\b|\ba week (ago )?today\b|\blast week today\b", t):
        return _checked(today - timedelta(days=7), today)
    if re.search(r"\b(a|one) fortnight ago\b", t):
        return _checked(today - timedelta(days=14), today)
    same_day = (
        r"\b(today|tonight|this (morning|afternoon|evening)|just now|few hours ago|an hour ago)\b"
    )
    if re.search(same_day, t) and not re.search(rf"\b{_NUM}\s+(days?|weeks?)\b", t):
        return DateAnswer(today)

    match = re.search(rf"\b{_NUM}\s*(hours?|h)\s*(ago|back|since)?\b", t)
    if match and (
        match.group(3) or "ago" in t or "since" in t or "post" in t or len(t.split()) <= 4
    ):
        hours = to_int(match.group(1))
        if hours is not None:
            if now is not None:
                return _checked((now - timedelta(hours=hours)).date(), today)
            return _checked(today - timedelta(days=hours // 24), today)

    match = re.search(
        rf"\b{_NUM}\s*(?:of\s+)?(days?|d|weeks?|months?)\s*(ago|back|before|since|post|in|out)\b", t
    ) or re.search(rf"^(?:about |around |like |maybe |roughly )?{_NUM}\s*(days?|weeks?)$", t)
    if match:
        amount = to_int(match.group(1))
        unit = match.group(2)
        if amount is not None:
            if unit.startswith("month"):
                return DateAnswer(None, "unclear")
            days = amount * 7 if unit.startswith("week") else amount
            return _checked(today - timedelta(days=days), today)

    match = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", t)
    if match:
        found = _safe_date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        return _checked(found, today) if found else DateAnswer(None, "unclear")
    match = re.search(
        r"(?<!\bat )\b(\d{1,2})[/.\-](\d{1,2})(?:[/.\-](\d{2}|\d{4}))?\b(?!\s*(?:am|pm)\b)", t
    )
    if match:
        first, second = int(match.group(1)), int(match.group(2))
        year = int(match.group(3)) if match.group(3) else None
        day, month = (first, second) if date_order == "DMY" else (second, first)
        if month > 12 and day <= 12:
            day, month = month, day
        answer = _month_day(month, day, year, today)
        if answer:
            return answer
        return DateAnswer(None, "unclear")
    match = re.search(rf"\b{_ORD}\s*(?:of\s+)?({_MONTH})\b\.?(?:\s*,?\s*(\d{{4}}))?", t) or None
    if match:
        answer = _month_day(
            MONTHS[match.group(2)],
            int(match.group(1)),
            int(match.group(3)) if match.group(3) else None,
            today,
        )
        return answer or DateAnswer(None, "unclear")
    match = re.search(rf"\b({_MONTH})\.?\s+(?:the\s+)?{_ORD}\b(?:\s*,?\s*(\d{{4}}))?", t)
    if match:
        answer = _month_day(
            MONTHS[match.group(1)],
            int(match.group(2)),
            int(match.group(3)) if match.group(3) else None,
            today,
        )
        return answer or DateAnswer(None, "unclear")

    for match in re.finditer(rf"\b(last|this past|past|on|this)?\s*({_WEEKDAY})\b", t):
        if (
            match.group(2) in ("sun", "sat")
            and not match.group(1)
            and t.strip(" .!?") != match.group(2)
            and not re.match(r" (morning|afternoon|evening|night)\b", t[match.end() :])
        ):
            continue  # "in the sun", "sat with ice"; but "sat", "on sun", "sat morning" are days
        weekday = WEEKDAYS[match.group(2)]
        if re.search(r"\blast week\b", t):
            # "tuesday last week": that day of the previous Monday-to-Sunday week.
            return _checked(today - timedelta(days=today.weekday() + 7 - weekday), today)
        back = (today.weekday() - weekday) % 7
        if back == 0:
            back = 0 if match.group(1) == "this" else 7
        return _checked(today - timedelta(days=back), today)

    match = re.search(
        r"\b(?:on\s+)?the\s+(\d{1,2})(?:st|nd|rd|th)\b|\bon\s+(\d{1,2})(?:st|nd|rd|th)\b", t
    )
    if match:
        day = int(match.group(1) or match.group(2))
        found = _safe_date(today.year, today.month, day)
        if found is None or found > today:
            previous = today.replace(day=1) - timedelta(days=1)
            found = _safe_date(previous.year, previous.month, day)
        return _checked(found, today) if found else DateAnswer(None, "unclear")

    # Vaguer same-day words count only when nothing more specific was said ("just had it on monday").
    if re.search(r"\b(earlier|just had)\b", t) and not re.search(r"\b(weeks?|months?)\b", t):
        return DateAnswer(today)
    return DateAnswer(None, "unclear")
