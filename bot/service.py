"""The aftercare service the Rasa actions call: one method per thing a client asks for.

It ties together the live knowledge base, the stored treatment of each conversation, the
date parser and the advisor. Built once per process, lazily (`get_service`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime

from bot.advisor import Advisor, Answer
from bot.dates import parse_treatment_date
from bot.day_mentions import find_day_mention
from bot.days import local_today, treatment_day
from bot.db import session_factory
from bot.escalations import Escalation, EscalationRepository
from bot.intents import UNANSWERABLE_INTENTS, topic_intents
from bot.kb.model import Clinic
from bot.kb.store import ClinicStore
from bot.settings import Settings
from bot.treatments import TreatmentRepository

DAY_SUMMARY = "day_summary"


@dataclass(frozen=True)
class NeedsDate:
    """The question needs the treatment date, which is not known yet."""

    intent: str
    text: str


@dataclass(frozen=True)
class DateSaved:
    """The client's treatment date was understood and stored."""

    treatment_date: date
    day: int


@dataclass(frozen=True)
class DateNotUnderstood:
    """No usable date: `problem` is unclear, future or too_old."""

    problem: str


class AftercareService:
    """Answers a conversation's questions for its treatment day."""

    def __init__(self, settings: Settings, store: ClinicStore | None = None):
        self.settings = settings
        self.store = store or ClinicStore(settings.clinic_dir, topic_intents(settings.domain_file))
        sessions = session_factory(settings.database_url)
        self.treatments = TreatmentRepository(sessions)
        self.escalations = EscalationRepository(sessions)

    def clinic(self) -> Clinic:
        """The current clinic snapshot (reloaded if its files changed)."""
        return self.store.current()

    def phrase(self, key: str, **values: object) -> str:
        """A client-facing phrase from the clinic's KB, filled in."""
        return Advisor(self.clinic()).phrase(key, **values)

    def current_day(self, sender_id: str, now: datetime | None = None) -> int | None:
        """Today's treatment day for a conversation, if its date is known."""
        treatment = self.treatments.get(sender_id)
        if treatment is None or treatment.treatment_date is None:
            return None
        return treatment_day(treatment.treatment_date, self.clinic().settings.time_zone, now)

    def answer_question(
        self, sender_id: str, intent: str, text: str, now: datetime | None = None
    ) -> Answer | NeedsDate:
        """Answer a topic question (or the day summary) for the day it is about."""
        clinic = self.clinic()
        advisor = Advisor(clinic)
        if intent in UNANSWERABLE_INTENTS or (intent != DAY_SUMMARY and not advisor.knows(intent)):
            return advisor.no_guidance(intent)
        treatment = self.treatments.get(sender_id)
        kind = treatment.kind if treatment else None
        today_day = self.current_day(sender_id, now)
        mention = find_day_mention(text or "")
        day = mention.resolve(today_day) if mention else today_day
        if intent == DAY_SUMMARY:
            return advisor.day_summary(day, kind) if day is not None else NeedsDate(intent, text)
        if day is None and advisor.needs_day(intent):
            return NeedsDate(intent, text)
        return advisor.answer(intent, day, kind)

    def save_treatment_date(
        self, sender_id: str, text: str, now: datetime | None = None
    ) -> DateSaved | DateNotUnderstood:
        """Understand and store the treatment date a client gave in `text`."""
        settings = self.clinic().settings
        today = local_today(settings.time_zone, now)
        parsed = parse_treatment_date(text, today, settings.date_order)
        if not parsed.ok:
            return DateNotUnderstood(parsed.problem or "unclear")
        self.treatments.set_date(sender_id, parsed.value, source="client")
        return DateSaved(parsed.value, (today - parsed.value).days)

    def request_handoff(
        self, sender_id: str, message: str | None, level: str = "question", topic: str | None = None
    ) -> Escalation:
        """Record that the clinic team should follow up this conversation."""
        return self.escalations.create(
            sender_id, level, message, topic, self.current_day(sender_id)
        )


_service: AftercareService | None = None
_service_lock = threading.Lock()


def get_service() -> AftercareService:
    """The process-wide service, built on first use from the environment's settings."""
    global _service
    with _service_lock:
        if _service is None:
            _service = AftercareService(Settings.from_env())
        return _service
