"""Find a day stated inside a question: "is oozing normal on day 4?", "48 hours after".

Such a day answers that one question; it never overwrites the stored treatment date.
A mention is either absolute (day N after treatment) or relative to today ("tomorrow").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bot.kb.model import Language
from bot.language.dates import DateWords, date_words

_AFTER = r"(?:after|post|since|later|in|out|from(?! now| today)|following|of)"


@dataclass(frozen=True)
class DayMention:
    """A day named in a message: absolute day N, `offset` days from today, or a weekday."""

    day: int | None = None
    offset: int | None = None
    today: int | None = None  # today's day as the message states it ("it's day 2, tomorrow?")
    weekday: int | None = None  # "can I swim on Thursday?" (Monday is 0)
    today_weekday: int | None = None  # today's weekday as the message states it

    def resolve(self, today_day: int | None, today_weekday: int | None = None) -> int | None:
        """The treatment day this mention means, given today's day and weekday (if known)."""
        if self.day is not None:
            return self.day
        base = self.today if self.today is not None else today_day
        offset = self.offset
        if self.today_weekday is not None:
            today_weekday = self.today_weekday  # "today's Tuesday": the client's clock
        if self.weekday is not None and today_weekday is not None:
            offset = (self.weekday - today_weekday) % 7
        if offset is not None and base is not None:
            return base + offset
        return None


# "it's day 2", "I'm on day 5", "today is day 3" / "day 2 today", "Day 5." opening a message:
# the client says which day today is; a question may still ask about another ("tomorrow").
_TODAY_BEFORE = re.compile(
    r"(?:\bit'?s|\bit is|\bi'?m|\bi am|\btoday is|\btoday'?s|\bwe'?re|\bshe'?s|\bhe'?s|"
    r"\bcurrently|\bnow|\bthis is)\s+(?:on\s+|at\s+|only\s+|just\s+|now\s+)*(?:the\s+)?$"
)
_TODAY_AFTER = re.compile(r"^\s*(?:today|now|here|atm|at the moment|currently)\b")
_OPENING = re.compile(r"^\W*$")  # "day N" alone between punctuation states today


def find_day_mention(text: str, language: Language) -> DayMention | None:
    """The day a question is about, if the client stated one. When the message says which
    day today is and asks about another day, the other day wins; of several days, the one in
    a question."""
    w = date_words(language)
    t = _without_frequencies(w.normalise(text), w)
    will_be = re.search(rf"\b(?:will be|'ll be|would be|'d be|be)\s+(?:on\s+)?day\s*{w.num}\b", t)
    if will_be and w.numbers.to_int(will_be.group(1)) is not None:
        return DayMention(day=w.numbers.to_int(will_be.group(1)))  # "Saturday will be day 6"
    today, rest = _stated_today(t, w)
    parts = _questions_first(rest)
    for part in parts:
        for rule in (_day_number, _hours_or_days_after, _named_day, _ahead, _weekday_asked):
            mention = rule(part, w)
            if mention is not None and mention.day is None:
                return replace(mention, today=today, today_weekday=_stated_weekday(t, w))
            if _story_day(mention, today, part is parts[-1] and len(parts) > 1):
                continue  # "Day 5. I looked awful on day 1... can I...?": day 1 is the story's
            if mention is not None:
                return mention
    return DayMention(day=today) if today is not None else None


def _story_day(mention: DayMention | None, today: int | None, outside_questions: bool) -> bool:
    """A day before the day the client says it is today, named outside the questions: a
    day of the story told, not the day asked about."""
    return (
        outside_questions
        and mention is not None
        and mention.day is not None
        and today is not None
        and mention.day < today
    )


_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_QUESTION = re.compile(
    r"\?|\b(?:can i|could i|may i|ok to|okay to|alright to|when can|is it ok|is it okay|"
    r"should i|am i ok|will i be|ok\W*$|okay\W*$|alright\W*$|yes or no|or nah|if i can|"
    r"whether i can|if i could|am i allowed|allowed to|wondering if|want to know|wanna know|"
    r"need to know|if it'?s ok|if it is ok|if it'?s okay|can (?:she|he|they|we)|"
    r"if (?:she|he|they|we) can)\b"
)


def asks(text: str) -> bool:
    """Whether a sentence or clause asks something ("?", "can I", "ok to"...)."""
    return bool(_QUESTION.search(text.lower()))


def _questions_first(t: str) -> list[str]:
    """The sentences that ask something, then the whole text."""
    sentences = [p for p in _SENTENCES.split(t) if p.strip()]
    asking = [p for p in sentences if _QUESTION.search(p)]
    return asking + [t] if len(sentences) > 1 else [t]


def _weekday_asked(t: str, w: DateWords) -> DayMention | None:
    """ "ok to do the sauna on Thursday?", "parkrun saturday?": not the treatment's weekday
    ("had it done Tuesday", "yesterday (Monday)") nor today's ("it's Thursday now")."""
    found = None
    for sentence in _SENTENCES.split(t):
        if _QUESTION.search(sentence):  # "it was very red on Sunday." is not asked about
            found = _weekday_in(sentence, w) or found
    return found


def _weekday_in(t: str, w: DateWords) -> DayMention | None:
    found = None
    for match in re.finditer(rf"\b({w.weekday})\b", t):
        before, after = t[: match.start()], t[match.end() :]
        if re.search(r"\b(?:was|were|did|went|got|had|felt|last)\b(?:\s+\S+){0,3}\s*$", before):
            continue  # "it was sore on Monday, can I..."
        if len(match.group(1)) <= 3 and not re.search(
            r"\b(?:on|this|next|by|till|until)\s*$", before
        ):
            continue  # "in the sun", "sat down": a short form only after "on", "by"...
        if re.search(
            rf"(?:done|had it|had mine|was|since|last|(?:{w.treatment})|\(|it'?s|it is|today'?s|today is)\s*(?:on\s+)?$",
            before,
        ) or re.match(r"^\s*(?:now|today|\))", after):
            continue
        found = DayMention(weekday=w.weekdays[match.group(1)])
    return found


def _stated_weekday(t: str, w: DateWords) -> int | None:
    """ "today's Tuesday", "it's Thursday now": today's weekday as the client states it."""
    match = re.search(rf"\b(?:today'?s|today is|it'?s|it is)\s+({w.weekday})\b", t) or re.search(
        rf"\b({w.weekday})\s+(?:today|now)\b", t
    )
    return w.weekdays[match.group(1)] if match else None


def _stated_today(t: str, w: DateWords) -> tuple[int | None, str]:
    """Today's day as the message states it, and the text without that statement."""
    ago = _ago_treatment(t, w)
    if ago is not None:
        return ago
    for match in re.finditer(rf"\bday\s*(?!an?\b){w.num}\b(?!\s*(?:/|-|\.)\s*\d)", t):
        before, after = t[: match.start()], t[match.end() :]
        alone = (_OPENING.match(before) or re.search(r"[^\w\s]\s*$", before)) and re.match(
            r"^\s*(?:[.,:;!?)-]|and\b|$)", after
        )
        if _TODAY_BEFORE.search(before) or _TODAY_AFTER.match(after) or alone:
            value = w.numbers.to_int(match.group(1))
            if value is not None:
                return value, before + " " + after
    return None, t


def _without_frequencies(t: str, w: DateWords) -> str:
    """How often is not when ("twice a day after treatment"), and a day compared with is not
    the day asked about ("no better than day 3", "since day 2")."""
    t = re.sub(
        rf"\b(?:(?:once|twice|times|each|per)\s+(?:a\s+)?|every\s+(?:other\s+|{w.num}\s+)?)(?:days?|weeks?)\b",
        " ",
        t,
    )
    t = re.sub(rf"\b(?:on\s+)?day\s*{w.num}\s+(?:was|were)\b", " ", t)  # a past day's story
    return re.sub(
        rf"\b(?:since|than|as|like|from|until|till|til|before)\s+(?:on\s+)?day\s*{w.num}\b", " ", t
    )


def _day_number(t: str, w: DateWords) -> DayMention | None:
    """ "day 4", "the 3rd day", "the fifth day"."""
    match = re.search(rf"\bday\s*(?!an?\b){w.num}\b(?!\s*(?:/|-|\.)\s*\d)", t) or re.search(
        r"\b(\d{1,2})(?:st|nd|rd|th)\s+day\b", t
    )
    if match:
        value = w.numbers.to_int(match.group(1))
        if value is not None:
            return DayMention(day=value)
    for word, value in w.numbers.ordinals.items():
        word = re.escape(word)
        if re.search(rf"\b{word}\s+day\b|\bday\s+{word}\b", t):
            return DayMention(day=value)
    return None


def _hours_or_days_after(t: str, w: DateWords) -> DayMention | None:
    """ "48 hours after", "within 24 hours", "3 days post", "after two weeks"."""
    match = re.search(rf"\b{w.num}\s*(hours?|h)\s*{_AFTER}\b", t) or re.search(
        rf"\b(?:after|within|first)\s+(?:the\s+first\s+)?{w.num}\s*(hours?)\b", t
    )
    if match:
        value = w.numbers.to_int(match.group(1))
        if value is not None:
            return DayMention(day=value // 24)
    match = re.search(rf"\b{w.num}\s*(?:of\s+)?(days?|weeks?)\s*{_AFTER}\b", t) or re.search(
        rf"\bafter\s+{w.num}\s*(days?|weeks?)\b", t
    )
    if match:
        value = w.numbers.to_int(match.group(1))
        if value is not None:
            return DayMention(day=value * 7 if match.group(2).startswith("week") else value)
    return None


def _named_day(t: str, w: DateWords) -> DayMention | None:
    """ "the day after" (day 1), "the same day", "straight after" (day 0)."""
    if re.search(r"\b(the )?(day|morning|night) after\b|\bnext day\b", t) and not re.search(
        r"\btomorrow\b", t
    ):
        return DayMention(day=1)
    if re.search(
        rf"\b(same day|day of (the |my )?(?:{w.treatment})|straight after|right after|immediately after|just after)\b",
        t,
    ):
        return DayMention(day=0)
    return None


def _ago_treatment(t: str, w: DateWords) -> tuple[int, str] | None:
    """ "my treatment was 3 days ago": today is day 3 (and the text without it)."""
    match = re.search(rf"\b{w.num}\s*(?:of\s+)?(days?|weeks?)\s*ago\b", t)
    if match and re.search(rf"\b(?:{w.treatment})\b", t):
        value = w.numbers.to_int(match.group(1))
        if value is not None:
            days = value * 7 if match.group(2).startswith("week") else value
            return days, t[: match.start()] + " " + t[match.end() :]
    return None


def _asks_about_today(t: str) -> bool:
    """A part of the message that asks names today and not tomorrow."""
    return any(
        asks(part) and re.search(r"\b(?:today|tonight)\b", part) and "tomorrow" not in part
        for part in re.split(r"[,;:]|\s-\s|\.\s", t)
    )


def _ahead(t: str, w: DateWords) -> DayMention | None:
    """ "tomorrow", "the day after tomorrow", "in 3 days", "a week from now"."""
    if re.search(r"\b(day after tomorrow)\b", t):
        return DayMention(offset=2)
    if re.search(r"\btomorrow\b", t):
        # "a presentation tomorrow, can I wear concealer today?" asks about today.
        return DayMention(offset=0 if _asks_about_today(t) else 1)
    match = re.search(rf"\bin\s+{w.num}\s*(days?|weeks?)\b", t) or re.search(
        rf"\b{w.num}\s*(days?|weeks?)\s+from\s+(?:now|today)\b", t
    )
    if match:
        value = w.numbers.to_int(match.group(1))
        if value is not None:
            return DayMention(offset=value * 7 if match.group(2).startswith("week") else value)
    return None
