"""The clinic's proactive check-ins (`clinic/checkins.yml`): what the bot writes to a client
on the days that matter, when, and the quick replies under it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

# What a quick reply means (the clinic words its title; the bot acts on the meaning).
ANSWER_MEANINGS = ("fine", "worried", "wrong")


@dataclass(frozen=True)
class Checkin:
    """One check-in: sent on treatment day `day` between `start` and `end` (the clinic's local
    time; after `end` it is no longer useful and is skipped), to the treatment kinds listed
    (empty: every kind)."""

    key: str
    day: int
    start: time
    end: time
    text: str
    kinds: frozenset[str] = frozenset()
    quick_replies: tuple[str, ...] = ()  # meanings, in the order shown

    def applies_to(self, kind: str) -> bool:
        """Whether clients of this treatment kind get it."""
        return not self.kinds or kind in self.kinds


@dataclass(frozen=True)
class CheckinSettings:
    """Every check-in, with the rules they share: quiet hours (nothing is sent between
    `quiet_start` and `quiet_end`, local time), how long an answer is waited for, how late a
    send still counts as on time, and the words of the quick replies and of the bot's replies
    to them."""

    enabled: bool = False
    items: tuple[Checkin, ...] = ()
    quiet_start: time | None = None
    quiet_end: time | None = None
    answer_hours: int = 24
    on_time_minutes: int = 15
    wrong_level: str = "urgent"
    unnamed: str = ""
    and_word: str = "and"
    separator: str = ", "
    titles: dict[str, str] = field(default_factory=dict)  # meaning -> button title
    replies: dict[str, str] = field(default_factory=dict)  # meaning -> the bot's reply

    def get(self, key: str) -> Checkin | None:
        """The check-in with this key, if the clinic still has it."""
        return next((c for c in self.items if c.key == key), None)
