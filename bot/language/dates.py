"""Understand when a client's treatment was, from how clients say it.

"yesterday afternoon", "3 days ago", "48 hours ago", "last Tuesday", "18/11", "on the 2nd",
"12 November", "2026-11-18", "day 4". All relative to `today` in the clinic's time zone.
The result is a date, or the reason none could be given (unclear, in the future, too long ago).
Weekday and month names, number words and shorthand come from the clinic's `language.yml`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.kb.model import Language
from bot.language.numbers import Numbers

MAX_DAYS_AGO = 366
_ORD = r"(\d{1,2})(?:st|nd|rd|th)?"
_COUNT_AFTER = r"(?:ago|back|before|after|post|since|later)"


@dataclass(frozen=True)
class DateAnswer:
    """A parsed treatment date, or why there is none (`problem`: unclear/future/too_old)."""

    value: date | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Whether a usable date was found."""
        return self.value is not None


def _alternation(words) -> str:
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


def checked(value: date, today: date) -> DateAnswer:
    """A date the client gave, unless it is in the future or too long ago."""
    if value > today:
        return DateAnswer(None, "future")
    if (today - value).days > MAX_DAYS_AGO:
        return DateAnswer(None, "too_old")
    return DateAnswer(value)


def safe_date(year: int, month: int, day: int) -> date | None:
    """The date, or None when there is no such day."""
    try:
        return date(year, month, day)
    except ValueError:
        return None


def month_day(month: int, day: int, year: int | None, today: date) -> DateAnswer | None:
    """A day and month without a year means the most recent one that is not in the future."""
    if year is not None:
        year = year + 2000 if year < 100 else year
        found = safe_date(year, month, day)
        return checked(found, today) if found else None
    found = safe_date(today.year, month, day)
    if found is None or found > today:
        # "18/12" said in January means last December; within a week ahead it's a slip.
        if found is not None and (found - today).days <= 7:
            return DateAnswer(None, "future")
        found = safe_date(today.year - 1, month, day)
        if found is None:
            return None
    return checked(found, today)


class DateWords:
    """The clinic's date words compiled once: names, numbers and shorthand as regexes."""

    def __init__(self, language: Language):
        self.language = language
        self.numbers = Numbers(language)
        self.num = rf"(\d{{1,3}}|{self.numbers.pattern})"
        self.months = {f: i for i, n in enumerate(language.months, 1) for f in n.forms}
        self.weekdays = {f: i for i, n in enumerate(language.weekdays) for f in n.forms}
        self.month = _alternation(self.months)
        self.weekday = _alternation(self.weekdays)
        self.treatment = "|".join(
            re.escape(w).replace(r"\ ", " ") for w in language.treatment_words
        )
        self._shorthand = []
        for word, forms in language.shorthand.items():
            if not forms:
                continue
            pattern = rf"\b(?:{_alternation(forms)})\b"
            if word == "today":  # "2day ago" is a count of days, not today
                pattern += rf"(?!\s*{_COUNT_AFTER}\b)"
            self._shorthand.append((re.compile(pattern), word))

    def normalise(self, text: str) -> str:
        """Lower case, curly quotes straightened, shorthand spelt out, hours/weeks unabbreviated."""
        text = text.lower().replace("’", "'")
        for pattern, word in self._shorthand:
            text = pattern.sub(word, text)
        text = re.sub(r"(?:\b|(?<=\d))hrs?\b", "hours", text)  # also "48hrs"
        text = re.sub(r"(?:\b|(?<=\d))wks?\b", "weeks", text)
        return " ".join(text.split())


_cache: dict[int, tuple[Language, DateWords]] = {}


def date_words(language: Language) -> DateWords:
    """The compiled words of a clinic language (built once per loaded language)."""
    entry = _cache.get(id(language))
    if entry is None or entry[0] is not language:
        if len(_cache) > 8:
            _cache.clear()
        entry = (language, DateWords(language))
        _cache[id(language)] = entry
    return entry[1]


def says_no_date(text: str, language: Language) -> bool:
    """Whether an answer to "when was your treatment?" means the client can't or won't say."""
    t = date_words(language).normalise(text)
    return any(re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", t) for phrase in language.no_date)


def parse_clinic_date(text: str, date_order: str) -> date:
    """A date the clinic types (YYYY-MM-DD, or DD/MM/YYYY or MM/DD/YYYY by `date_order`);
    raises ValueError with a message for the clinic."""
    text = text.strip()
    order = "MM/DD/YYYY" if date_order == "MDY" else "DD/MM/YYYY"
    try:
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
            year, month, day = (int(part) for part in text.split("-"))
            return date(year, month, day)
        match = re.fullmatch(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})", text)
        if match:
            first, second, year = (int(part) for part in match.groups())
            day, month = (second, first) if date_order == "MDY" else (first, second)
            return date(year, month, day)
    except ValueError:
        raise ValueError(f"'{text}' is not a date of the calendar") from None
    raise ValueError(f"'{text}' is not a date: write YYYY-MM-DD or {order}")


def parse_treatment_date(
    text: str, today: date, language: Language, date_order: str = "DMY", now: datetime | None = None
) -> DateAnswer:
    """Find the treatment date in a client's message. `today` is the clinic-local date;
    `now` (clinic-local time) makes "20 hours ago" at 09:00 yesterday, not today."""
    words = date_words(language)
    t = words.normalise(text)
    if not t:
        return DateAnswer(None, "unclear")
    for rule in (_relative, _counted, _numeric, _named, _weekday, _day_of_month, _vague):
        answer = rule(t, today, words, date_order, now)
        if answer is not None:
            return answer
    return DateAnswer(None, "unclear")


def _relative(t: str, today: date, w: DateWords, order: str, now: datetime | None):
    """Tomorrow (future), yesterday, day N, a week ago, today."""
    if re.search(rf"\b(tomorrow|next (week|month|{w.weekday})|in {w.num} (days?|weeks?))\b", t):
        return DateAnswer(None, "future")
    if re.search(r"\b(day before yesterday|2 days before yesterday)\b", t):
        return checked(today - timedelta(days=2), today)
    if re.search(r"\byesterday\b|\blast night\b", t):
        return checked(today - timedelta(days=1), today)
    # An explicit day count wins over "today" ("today is day 3", "a week ago today").
    match = re.search(rf"\bday\s*{w.num}\b|\b(\d{{1,2}})(?:st|nd|rd|th) day\b(?! of)", t)
    if match and not re.search(r"\bday\s*\d+\s*(of|/|-)", t):
        amount = w.numbers.to_int(match.group(1) or match.group(2))
        if amount is not None:
            return checked(today - timedelta(days=amount), today)
    for word, amount in w.numbers.ordinals.items():
        if re.search(rf"\b{re.escape(word)} day\b(?! of)", t):
            return checked(today - timedelta(days=amount), today)
    if re.search(r"\b(a|one) week ago\b|\ba week (ago )?today\b|\blast week today\b", t):
        return checked(today - timedelta(days=7), today)
    if re.search(r"\b(a|one) fortnight ago\b", t):
        return checked(today - timedelta(days=14), today)
    same_day = (
        r"\b(today|tonight|this (morning|afternoon|evening)|just now|few hours ago|an hour ago)\b"
    )
    if re.search(same_day, t) and not re.search(rf"\b{w.num}\s+(days?|weeks?)\b", t):
        return DateAnswer(today)
    return None


def _counted(t: str, today: date, w: DateWords, order: str, now: datetime | None):
    """ "48 hours ago", "3 days ago", "2 weeks back", "about 4 days"."""
    match = re.search(rf"\b{w.num}\s*(hours?|h)\s*(ago|back|since)?\b", t)
    if match and (
        match.group(3) or "ago" in t or "since" in t or "post" in t or len(t.split()) <= 4
    ):
        hours = w.numbers.to_int(match.group(1))
        if hours is not None:
            if now is not None:
                return checked((now - timedelta(hours=hours)).date(), today)
            return checked(today - timedelta(days=hours // 24), today)
    match = re.search(
        rf"\b{w.num}\s*(?:of\s+)?(days?|d|weeks?|months?)\s*(ago|back|before|since|post|in|out)\b",
        t,
    ) or re.search(rf"^(?:about |around |like |maybe |roughly )?{w.num}\s*(days?|weeks?)$", t)
    if match:
        amount = w.numbers.to_int(match.group(1))
        unit = match.group(2)
        if amount is not None:
            if unit.startswith("month"):
                return DateAnswer(None, "unclear")
            days = amount * 7 if unit.startswith("week") else amount
            return checked(today - timedelta(days=days), today)
    return None


def _numeric(t: str, today: date, w: DateWords, order: str, now: datetime | None):
    """ "2026-11-18", "18/11", "18.11.26" (day first or month first, by the clinic's order)."""
    match = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", t)
    if match:
        found = safe_date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        return checked(found, today) if found else DateAnswer(None, "unclear")
    match = re.search(
        r"(?<!\bat )\b(\d{1,2})[/.\-](\d{1,2})(?:[/.\-](\d{2}|\d{4}))?\b(?!\s*(?:am|pm)\b)", t
    )
    if not match:
        return None
    first, second = int(match.group(1)), int(match.group(2))
    year = int(match.group(3)) if match.group(3) else None
    day, month = (first, second) if order == "DMY" else (second, first)
    if month > 12 and day <= 12:
        day, month = month, day
    return month_day(month, day, year, today) or DateAnswer(None, "unclear")


def _named(t: str, today: date, w: DateWords, order: str, now: datetime | None):
    """ "12 November", "the 3rd of nov 2026", "November 12th"."""
    match = re.search(rf"\b{_ORD}\s*(?:of\s+)?({w.month})\b\.?(?:\s*,?\s*(\d{{4}}))?", t)
    if match:
        answer = month_day(
            w.months[match.group(2)],
            int(match.group(1)),
            int(match.group(3)) if match.group(3) else None,
            today,
        )
        return answer or DateAnswer(None, "unclear")
    match = re.search(rf"\b({w.month})\.?\s+(?:the\s+)?{_ORD}\b(?:\s*,?\s*(\d{{4}}))?", t)
    if match:
        answer = month_day(
            w.months[match.group(1)],
            int(match.group(2)),
            int(match.group(3)) if match.group(3) else None,
            today,
        )
        return answer or DateAnswer(None, "unclear")
    return None


def _weekday(t: str, today: date, w: DateWords, order: str, now: datetime | None):
    """ "last Tuesday", "on sat", "tuesday last week"."""
    for match in re.finditer(rf"\b(last|this past|past|on|this)?\s*({w.weekday})\b", t):
        if (
            match.group(2) in ("sun", "sat")
            and not match.group(1)
            and t.strip(" .!?") != match.group(2)
            and not re.match(r" (morning|afternoon|evening|night)\b", t[match.end() :])
        ):
            continue  # "in the sun", "sat with ice"; but "sat", "on sun", "sat morning" are days
        weekday = w.weekdays[match.group(2)]
        if re.search(r"\blast week\b", t):
            # "tuesday last week": that day of the previous Monday-to-Sunday week.
            return checked(today - timedelta(days=today.weekday() + 7 - weekday), today)
        back = (today.weekday() - weekday) % 7
        if back == 0:
            back = 0 if match.group(1) == "this" else 7
        return checked(today - timedelta(days=back), today)
    return None


def _day_of_month(t: str, today: date, w: DateWords, order: str, now: datetime | None):
    """ "on the 2nd": this month's, or last month's if that is still to come."""
    match = re.search(
        r"\b(?:on\s+)?the\s+(\d{1,2})(?:st|nd|rd|th)\b|\bon\s+(\d{1,2})(?:st|nd|rd|th)\b", t
    )
    if not match:
        return None
    day = int(match.group(1) or match.group(2))
    found = safe_date(today.year, today.month, day)
    if found is None or found > today:
        previous = today.replace(day=1) - timedelta(days=1)
        found = safe_date(previous.year, previous.month, day)
    return checked(found, today) if found else DateAnswer(None, "unclear")


def _vague(t: str, today: date, w: DateWords, order: str, now: datetime | None):
    """Vaguer same-day words count only when nothing more specific was said."""
    if re.search(r"\b(earlier|just had)\b", t) and not re.search(r"\b(weeks?|months?)\b", t):
        return DateAnswer(today)
    return None
