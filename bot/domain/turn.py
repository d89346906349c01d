"""One client message and everything it is answered from, read once and passed down.

A `Turn` holds the message, the conversation's treatment (one database read), a clinic
snapshot (one look at the clinic folder), today's treatment day, the day the message names,
and the advisor on that snapshot. Every rule of the turn uses these, never reading again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.domain.advisor import Advisor
from bot.domain.days import treatment_day
from bot.kb.model import Clinic
from bot.language.day_mentions import DayMention, find_day_mention
from bot.language.screening.learned import LearnedScreening


@dataclass(frozen=True)
class Treatment:
    """A conversation's treatment as far as it is known."""

    sender_id: str
    treatment_date: date | None
    kind: str | None


@dataclass(frozen=True)
class Turn:
    """Everything one client message is answered from."""

    sender_id: str
    intent: str
    text: str
    clinic: Clinic
    advisor: Advisor
    treatment: Treatment | None
    now: datetime
    today_day: int | None
    mention: DayMention | None
    context_topic: str | None = None
    message_id: str | None = None  # the channel's id of the message this turn answers
    confidence: float = 1.0  # NLU's confidence in `intent`
    clauses: tuple[dict, ...] = ()  # each clause's text, best intent and confidence (NLU)
    ranking: tuple[dict, ...] = ()  # NLU's intents for the whole message, most likely first
    learned: LearnedScreening | None = None  # the learned net's reading, when NLU gave it
    clock_given: bool = False  # `now` was given (a test's clock), not read from this host

    @property
    def stored_now(self) -> datetime | None:
        """The time to store records at: the given clock, or None for the database's clock
        (what leases, deadlines and heartbeats shared by several hosts compare against)."""
        return self.now if self.clock_given else None

    @classmethod
    def build(
        cls,
        sender_id: str,
        intent: str,
        text: str,
        clinic: Clinic,
        treatment: Treatment | None,
        now: datetime,
        context_topic: str | None = None,
        message_id: str | None = None,
        confidence: float = 1.0,
        clauses: tuple[dict, ...] = (),
        ranking: tuple[dict, ...] = (),
        learned: LearnedScreening | None = None,
    ) -> Turn:
        """A turn on one clinic snapshot and one read of the treatment."""
        return cls(
            sender_id,
            intent,
            text or "",
            clinic,
            Advisor(clinic),
            treatment,
            now,
            _today_day(treatment, clinic, now),
            find_day_mention(text or "", clinic.language),
            context_topic,
            message_id,
            confidence,
            clauses,
            ranking,
            learned,
        )

    @property
    def kind(self) -> str | None:
        """The treatment kind, if known."""
        return self.treatment.kind if self.treatment else None

    @property
    def asked_day(self) -> int | None:
        """The day the message is about: the one it names, else today's."""
        if self.mention is None:
            return self.today_day
        return self.mention.resolve(self.today_day, self.local_now.weekday())

    @property
    def candidate_days(self) -> list[int | None]:
        """Days a message may be about: the one it names and today's (both are assessed)."""
        day = self.asked_day
        return [day] if self.today_day is None or self.today_day == day else [day, self.today_day]

    @property
    def symptom_days(self) -> list[int | None]:
        """Days a symptom in the message is assessed on: a symptom is reported as it is now,
        so a day asked about ahead in relative words ("can I surf tomorrow?", "on Thursday")
        is read as today (the stated one, else the stored one). A day named by number ("is
        oozing normal on day 4?") is asked about as such."""
        m, today = self.mention, self.today_day
        if m is None or m.day is not None or not (m.weekday is not None or (m.offset or 0) > 0):
            return self.candidate_days
        return list(dict.fromkeys(d for d in (m.today, today) if d is not None)) or [today]

    @property
    def local_now(self) -> datetime:
        """Now in the clinic's time zone."""
        return self.now.astimezone(ZoneInfo(self.clinic.settings.time_zone))

    def with_treatment(self, treatment: Treatment) -> Turn:
        """The same turn once the treatment became known (no second read)."""
        return replace(
            self, treatment=treatment, today_day=_today_day(treatment, self.clinic, self.now)
        )

    def with_message(
        self,
        intent: str,
        text: str,
        confidence: float = 1.0,
        learned: LearnedScreening | None = None,
    ) -> Turn:
        """The same conversation and moment, about another message (a question that waited,
        with the learned net's reading of it if it was kept)."""
        mention = find_day_mention(text or "", self.clinic.language)
        return replace(
            self,
            intent=intent,
            text=text or "",
            mention=mention,
            confidence=confidence,
            clauses=(),
            ranking=(),
            learned=learned,
        )

    def with_clause(self, intent: str, text: str, confidence: float) -> Turn:
        """One clause of this turn's message: its own day mention, else the message's."""
        mention = find_day_mention(text, self.clinic.language) or self.mention
        return replace(
            self,
            intent=intent,
            text=text,
            mention=mention,
            confidence=confidence,
            clauses=(),
            ranking=(),
        )


def _today_day(treatment: Treatment | None, clinic: Clinic, now: datetime) -> int | None:
    if treatment is None or treatment.treatment_date is None:
        return None
    return treatment_day(treatment.treatment_date, clinic.settings.time_zone, now)
