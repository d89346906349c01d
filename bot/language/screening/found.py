"""What screening finds in one message: symptom mentions read in context, and the whole."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mention:
    """One symptom word or phrase found in the message, read in its context."""

    topic: str
    text: str
    start: int
    end: int
    negated: bool = False
    resolved: bool = False
    hypothetical: bool = False
    today: bool = False  # a word of today near it in its clause ("this morning")

    @property
    def active(self) -> bool:
        """The client reports this symptom now (not denied, over or hypothetical)."""
        return not (self.negated or self.resolved or self.hypothetical)


@dataclass(frozen=True)
class Screening:
    """What the screener found in one message."""

    mentions: tuple[Mention, ...] = ()
    signs: frozenset[str] = frozenset()
    emergency: tuple[str, ...] = ()
    hypothetical_emergency: bool = False
    unplaced: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()  # conditions the clinic must check, told as the client's
    hypothetical_topics: frozenset[str] = field(default_factory=frozenset)
    inactive_topics: frozenset[str] = field(default_factory=frozenset)
    hypothetical_cue: bool = False
    figurative: bool = False  # a figure of speech in the message ("just a joke", "saw the price")
    read_away: tuple[str, ...] = ()  # emergency words read as denied, others' or fine
    sign_words: tuple[tuple[str, str], ...] = ()  # (sign, the words that showed it)
    worrying: bool = False  # a sign that on its own says something is wrong
    worrying_signs: frozenset[str] = frozenset()  # the lexicon's signs that are worrying alone
    learned: tuple[str, ...] = ()  # what only the learned net found ("symptom:oozing"...)
    inactive_signs: frozenset[str] = frozenset()  # signs found but denied or hypothetical
    denied_emergency: bool = False  # an emergency sign found but denied ("no trouble breathing")
    overruled_signs: frozenset[str] = frozenset()  # "less red than yesterday": not for the net
    recurring: bool = False  # a word says a past sign is back ("again", "same as last time")
    # The learned net reads that the message reports no symptom of the client's own, present
    # now, though the lexicon placed one ("the girl at work said her face bled for days"):
    # the bot is not sure, so a person looks instead of an urgent alert.
    unsure_whose: bool = False

    @property
    def active_topics(self) -> tuple[str, ...]:
        """Symptom topics the client reports now, in order of first mention, deduplicated."""
        seen: list[str] = []
        for mention in self.mentions:
            if mention.active and mention.topic not in seen:
                seen.append(mention.topic)
        return tuple(seen)

    @property
    def resolved_topics(self) -> tuple[str, ...]:
        """Symptom topics the client reports as over ("the bleeding stopped in minutes"), not
        denied, hypothetical or reported now."""
        active = set(self.active_topics)
        over = [
            m.topic
            for m in self.mentions
            if m.resolved and not (m.negated or m.hypothetical) and m.topic not in active
        ]
        return tuple(dict.fromkeys(over))

    @property
    def over_today(self) -> tuple[str, ...]:
        """Symptom topics told as over but as having happened today ("some bleeding this
        morning, stopped after a bit")."""
        over = set(self.resolved_topics)
        return tuple(dict.fromkeys(m.topic for m in self.mentions if m.today and m.topic in over))

    @property
    def is_emergency(self) -> bool:
        """An emergency sign is reported now."""
        return bool(self.emergency)
