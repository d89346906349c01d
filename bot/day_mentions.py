"""Find a day stated inside a question: "is oozing normal on day 4?", "48 hours after".

Such a day answers that one question; it never overwrites the stored treatment date.
A mention is either absolute (day N after treatment) or relative to today ("tomorrow").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.dates import _normalise
from bot.numbers import NUMBER_PATTERN, ORDINALS, to_int

_NUM = rf"(\d{{1,3}}|{NUMBER_PATTERN})"
_AFTER = r"(?:after|post|since|later|in|out|from(?! now| today)|following|of)"
_TREATMENT = r"(?:treatment|needling|microneedling|micro needling|the pen|dermapen|derma ?roller|session|procedure|facial|appointment|it done|had it)"


@dataclass(frozen=True)
class DayMention:
    """A day named in a message: absolute day N, or `offset` days from today."""

    day: int | None = None
    offset: int | None = None

    def resolve(self, today_day: int | None) -> int | None:
        """The treatment day this mention means, given today's day (if known)."""
        if self.day is not None:
            return self.day
        if self.offset is not None and today_day is not None:
            return today_day + self.offset
        return None


def find_day_mention(text: str) -> DayMention | None:
    """The day a question is about, if the client stated one."""
    t = _normalise(text)
    # How often is not when: "twice a day after treatment", "every day after".
    t = re.sub(
        rf"\b(?:(?:once|twice|times|each|per)\s+(?:a\s+)?|every\s+(?:other\s+|{_NUM}\s+)?)(?:days?|weeks?)\b",
        " ",
        t,
    )
    # "no better than day 3", "since day 2": a past day for comparison, not the day asked about.
    t = re.sub(
        rf"\b(?:since|than|as|like|from|until|till|til|before)\s+(?:on\s+)?day\s*{_NUM}\b", " ", t
    )
    match = re.search(rf"\bday\s*(?!an?\b){_NUM}\b(?!\s*(?:/|-|\.)\s*\d)", t) or re.search(
        r"\b(\d{1,2})(?:st|nd|rd|th)\s+day\b", t
    )
    if match:
        value = to_int(match.group(1))
        if value is not None:
            return DayMention(day=value)
    for word, value in ORDINALS.items():
        if re.search(rf"\b{word}\s+day\b|\bday\s+{word}\b", t):
            return DayMention(day=value)
    match = re.search(rf"\b{_NUM}\s*(hours?|h)\s*{_AFTER}\b", t) or re.search(
        rf"\b(?:after|within|first)\s+(?:the\s+first\s+)?{_NUM}\s*(hours?)\b", t
    )
    if match:
        value = to_int(match.group(1))
        if value is not None:
            return DayMention(day=value // 24)
    match = re.search(rf"\b{_NUM}\s*(?:of\s+)?(days?|weeks?)\s*{_AFTER}\b", t) or re.search(
        rf"\bafter\s+{_NUM}\s*(days?|weeks?)\b", t
    )
    if match:
        value = to_int(match.group(1))
        if value is not None:
            return DayMention(day=value * 7 if match.group(2).startswith("week") else value)
    if re.search(r"\b(the )?(day|morning|night) after\b|\bnext day\b", t) and not re.search(
        r"\btomorrow\b", t
    ):
        return DayMention(day=1)
    if re.search(
        rf"\b(same day|day of (the |my )?{_TREATMENT}|straight after|right after|immediately after|just after)\b",
        t,
    ):
        return DayMention(day=0)
    match = re.search(rf"\b{_NUM}\s*(?:of\s+)?(days?|weeks?)\s*ago\b", t)
    if match and re.search(rf"\b{_TREATMENT}\b", t):
        value = to_int(match.group(1))
        if value is not None:
            return DayMention(day=value * 7 if match.group(2).startswith("week") else value)
    if re.search(r"\b(day after tomorrow)\b", t):
        return DayMention(offset=2)
    if re.search(r"\btomorrow\b", t):
        return DayMention(offset=1)
    match = re.search(rf"\bin\s+{_NUM}\s*(days?|weeks?)\b", t) or re.search(
        rf"\b{_NUM}\s*(days?|weeks?)\s+from\s+(?:now|today)\b", t
    )
    if match:
        value = to_int(match.group(1))
        if value is not None:
            return DayMention(offset=value * 7 if match.group(2).startswith("week") else value)
    return None
