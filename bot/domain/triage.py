"""Triage: combine what the screener found with the client's day and the KB into a level.

Err to safety: the highest level of any finding wins; an emergency sign wins over everything;
a symptom word the KB cannot place, or a worrying sign with no symptom to attach it to, goes
to the clinic team (`question`) rather than being answered by a fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.advisor import Advisor, Answer
from bot.kb.model import level_rank
from bot.language.screening import Screening

DAYS_CHECKED = 61  # with the day unknown, a symptom urgent on all of days 0-60 is urgent now


@dataclass(frozen=True)
class Finding:
    """One reported symptom and what the KB says about it today."""

    topic: str
    answer: Answer

    @property
    def level(self) -> str:
        """The escalation level of this finding."""
        return self.answer.escalation


@dataclass(frozen=True)
class Triage:
    """The outcome of screening one message."""

    level: str
    findings: tuple[Finding, ...] = ()
    emergency: tuple[str, ...] = ()
    unplaced: tuple[str, ...] = ()
    signs: frozenset[str] = frozenset()
    waiting_for_day: tuple[str, ...] = ()
    hypothetical_topics: frozenset[str] = frozenset()
    inactive_topics: frozenset[str] = frozenset()
    hypothetical_cue: bool = False
    resolved_topics: tuple[str, ...] = ()  # symptoms the client reports as over
    unsure_whose: bool = False  # an urgent reading the learned net doubts: a person looks
    conditions: tuple[str, ...] = ()  # conditions the clinic must check ("I'm pregnant")

    @property
    def symptoms(self) -> list[str]:
        """What was detected, for the escalation record and the staff alert."""
        found = [f.topic for f in self.findings] + list(self.waiting_for_day)
        found += [f"sign:{s}" for s in sorted(self.signs)] + [
            f"emergency:{e}" for e in self.emergency
        ]
        found += [f"condition:{c}" for c in self.conditions]
        return list(dict.fromkeys(found + [f"unplaced:{u}" for u in self.unplaced]))  # no repeats

    @property
    def flagged(self) -> tuple[Finding, ...]:
        """Findings that need the clinic (question or higher), most severe first."""
        return tuple(
            sorted(
                (f for f in self.findings if f.level != "none"), key=lambda f: -level_rank(f.level)
            )
        )


def _finding(
    topic: str, signs: frozenset[str], advisor: Advisor, day: int | None, kind: str | None
) -> Finding | None:
    """What the KB says about one reported symptom on `day`; None: the day must be asked.

    Day unknown: a symptom urgent on every day ("won't stop bleeding") is urgent now; otherwise
    the date is asked before deciding."""
    if day is not None or not advisor.needs_day(topic):
        return Finding(topic, advisor.answer(topic, day, kind, signs))
    every_day = [advisor.answer(topic, d, kind, signs) for d in range(0, DAYS_CHECKED)]
    floor = min(every_day, key=lambda a: level_rank(a.escalation))
    if level_rank(floor.escalation) >= level_rank("urgent"):
        return Finding(topic, advisor.answer(topic, None, kind, signs, any_day=True))
    return None


def _over_today(
    screening: Screening, advisor: Advisor, today: int | None, kind: str | None
) -> list[Finding]:
    """Symptoms told as over that happened today and that the KB does not expect today."""
    found = []
    for topic in screening.over_today:
        finding = (
            _finding(topic, frozenset(), advisor, today, kind) if advisor.knows(topic) else None
        )
        if finding is not None and level_rank(finding.level) >= level_rank("urgent"):
            found.append(finding)
    return found


def assess(
    screening: Screening,
    advisor: Advisor,
    day: int | None,
    kind: str | None,
    intent_topic: str | None = None,
    context_topic: str | None = None,
    today: int | None = None,
) -> Triage:
    """Level of one screened message on treatment day `day` (None: unknown).

    `intent_topic` is the symptom topic NLU recognised (if any); `context_topic` the symptom the
    conversation was last about. Either receives signs that came without a symptom word.
    `today`: today's treatment day, for a symptom told as over that happened today.
    """
    topics = list(screening.active_topics)
    # "it's getting worse", "it hasn't improved" (but not a bare "still") say something is wrong.
    worrying = screening.worrying
    if not topics and worrying:
        fallback = intent_topic or context_topic
        if fallback:
            topics = [fallback]
    findings, waiting = [], []
    for topic in topics:
        if advisor.knows(topic):
            finding = _finding(topic, screening.signs, advisor, day, kind)
            if finding is None:
                waiting.append(topic)
            else:
                findings.append(finding)
    findings += _over_today(screening, advisor, day if today is None else today, kind)
    levels = [f.level for f in findings] + (["emergency"] if screening.is_emergency else [])
    if screening.unplaced or screening.conditions or (not topics and worrying):
        levels.append("question")
    if worrying and findings and all(f.level == "none" for f in findings):
        # A sign of trouble the KB has no red flag for on this symptom ("the bruise is
        # spreading"): the bot cannot place it as expected, so a person looks.
        levels.append("question")
    level = max(levels, key=level_rank) if levels else "none"
    unsure = screening.unsure_whose and level == "urgent"
    if unsure:
        # Not sure the symptom is the client's and present now: the team is offered, no alert.
        level, findings = "question", [f for f in findings if f.level == "none"]
    return Triage(
        level=level,
        findings=tuple(findings),
        emergency=screening.emergency,
        unplaced=screening.unplaced,
        signs=screening.signs,
        waiting_for_day=tuple(waiting),
        hypothetical_topics=screening.hypothetical_topics - set(screening.active_topics),
        inactive_topics=screening.inactive_topics - set(screening.active_topics),
        hypothetical_cue=screening.hypothetical_cue,
        resolved_topics=screening.resolved_topics,
        unsure_whose=unsure,
        conditions=screening.conditions,
    )
