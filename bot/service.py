"""The aftercare service the Rasa actions call: one method per thing a client asks for.

It ties together the live knowledge base, the stored treatment of each conversation, the
date parser and the advisor. Built once per process, lazily (`get_service`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.advisor import RESPONSE_RED_FLAG, Advisor, Answer
from bot.dates import parse_treatment_date
from bot.day_mentions import find_day_mention
from bot.days import now_utc, treatment_day
from bot.db import session_factory
from bot.escalations import Escalation, EscalationRepository
from bot.intents import UNANSWERABLE_INTENTS, topic_intents
from bot.kb.model import Clinic, level_rank
from bot.kb.store import ClinicStore
from bot.screening.screener import Screener
from bot.settings import Settings
from bot.treatments import TreatmentRepository
from bot.triage import Triage, assess

log = logging.getLogger(__name__)
DAY_SUMMARY = "day_summary"
SMALL_TALK = frozenset({"greet", "thanks", "goodbye"})
RESPONSE_SMALL_TALK = "small_talk"


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
        self._screener_lock = threading.Lock()
        self._screener_for = None
        self._screener_cache: Screener | None = None
        sessions = session_factory(settings.database_url)
        self.sessions = sessions
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

    def warm_up(self) -> None:
        """Load the KB, the screener and its word lists now, not on the first message."""
        self._screener(self.clinic()).warm_up()

    def _screener(self, clinic: Clinic) -> Screener:
        """The screener for the current lexicon (rebuilt when the clinic edits it)."""
        with self._screener_lock:
            if self._screener_for is not clinic.lexicon:
                self._screener_cache = Screener(clinic.lexicon)
                self._screener_for = clinic.lexicon
            return self._screener_cache

    def _day_and_kind(
        self, sender_id: str, text: str, now: datetime | None
    ) -> tuple[int | None, str | None]:
        treatment = self.treatments.get(sender_id)
        today_day = self.current_day(sender_id, now)
        mention = find_day_mention(text or "")
        day = mention.resolve(today_day) if mention else today_day
        return day, (treatment.kind if treatment else None)

    def _candidate_days(
        self, sender_id: str, text: str, now: datetime | None
    ) -> tuple[list[int | None], str | None]:
        """Days a message may be about: the one it states and today's (both are assessed)."""
        day, kind = self._day_and_kind(sender_id, text, now)
        today_day = self.current_day(sender_id, now)
        days = [day] if today_day is None or today_day == day else [day, today_day]
        return days, kind

    def screen_message(
        self,
        sender_id: str,
        intent: str,
        text: str,
        context_topic: str | None = None,
        now: datetime | None = None,
    ) -> tuple[Answer | None, Triage]:
        """Screen any client message for red flags, whatever NLU said.

        Returns the red-flag reply (urgent/emergency: the escalation is stored and staff alerts
        queued before this returns; question-level: the team is offered) or None, and the triage.
        """
        clinic = self.clinic()
        advisor = Advisor(clinic)
        days, kind = self._candidate_days(sender_id, text, now)
        symptom_topics = {k for k, t in clinic.kb.topics.items() if t.type == "symptom"}
        intent_topic = intent if intent in symptom_topics else None
        screening = self._screener(clinic).screen(
            text or "", symptom_question=intent_topic is not None
        )
        context_topic = context_topic if context_topic in symptom_topics else None
        # A story may name a past day ("five days in") while today is later: between the two
        # readings, the safer (higher) level wins.
        triages = [assess(screening, advisor, d, kind, intent_topic, context_topic) for d in days]
        triage = max(triages, key=lambda t: level_rank(t.level))
        day = triage.findings[0].answer.day if triage.findings else days[0]
        if triage.level in ("urgent", "emergency"):
            topic = triage.flagged[0].topic if triage.flagged else None
            alerted = self._escalate_safely(
                sender_id, text, triage.level, topic, day, triage.symptoms, now
            )
            answer = advisor.red_flag_reply(
                [f.answer for f in triage.flagged],
                triage.level,
                self._next_steps(advisor, triage.level, now, alerted),
                bool(triage.emergency),
            )
            return answer, triage
        if (
            triage.level == "question"
            and (triage.unplaced or not triage.flagged)
            and not triage.waiting_for_day
        ):
            answer = Answer(
                RESPONSE_RED_FLAG,
                advisor.phrase("escalation.unplaced"),
                None,
                "question",
                "question",
                None,
                clinic.kb.version,
                day,
            )
            return answer, triage
        return None, triage

    def respond(
        self,
        sender_id: str,
        intent: str,
        text: str,
        context_topic: str | None = None,
        now: datetime | None = None,
    ) -> Answer | NeedsDate:
        """Screen the message, then answer its question: what every client message gets."""
        red_flag, triage = self.screen_message(sender_id, intent, text, context_topic, now)
        if red_flag is not None:
            return red_flag
        if triage.waiting_for_day:
            return NeedsDate(intent, text)
        found = {f.topic for f in triage.findings}
        if triage.flagged and intent not in found:
            # A symptom for the team wins over an unrelated question ("can I exfoliate, it's
            # still peeling on day 12").
            advisor = Advisor(self.clinic())
            return advisor.red_flag_reply(
                [f.answer for f in triage.flagged], triage.level, "", False
            )
        if triage.findings and (intent in UNANSWERABLE_INTENTS or intent in SMALL_TALK):
            return triage.findings[0].answer  # NLU was unsure, but the symptom is clear
        answer = self.answer_question(sender_id, intent, text, now)
        if isinstance(answer, NeedsDate):
            return answer
        if answer.topic in triage.inactive_topics and answer.topic not in found:
            return replace(
                answer, escalation="none"
            )  # "no oozing", "what if it oozes": guidance only
        if level_rank(answer.escalation) >= level_rank("urgent") and not triage.hypothetical_cue:
            # NLU recognised a red-flag symptom the lexicon did not: err to safety.
            day, _ = self._day_and_kind(sender_id, text, now)
            alerted = self._escalate_safely(
                sender_id, text, answer.escalation, answer.topic, day, [answer.topic], now
            )
            steps = self._next_steps(Advisor(self.clinic()), answer.escalation, now, alerted)
            answer = replace(answer, reply=answer.reply + "\n" + steps)
        return answer

    def _escalate_safely(self, sender_id, message, level, topic, day, symptoms, now) -> bool:
        """Store the escalation; True if staff will be alerted. A storage failure must not cost
        the client their red-flag reply: it is logged and the client is told to call."""
        try:
            self.escalate(sender_id, message, level, topic, day, symptoms, now)
        except Exception:
            log.critical(
                "Could not store the %s escalation of %s; the client is told to call",
                level,
                sender_id,
                exc_info=True,
            )
            return False
        return bool(self.clinic().settings.alerts.names())

    def _next_steps(
        self, advisor: Advisor, level: str, now: datetime | None, alerted: bool = True
    ) -> str:
        """What happens next: who contacts the client and when, from the opening hours.
        Only says staff were alerted when an alert is really on its way."""
        if not alerted:
            return "" if level == "emergency" else advisor.phrase("escalation.call_us")
        if level == "emergency":
            return advisor.phrase("escalation.emergency")
        settings = self.clinic().settings
        local = (now or now_utc()).astimezone(ZoneInfo(settings.time_zone))
        if settings.opening_hours.is_open(local.weekday(), local.time()):
            return advisor.phrase(
                "escalation.urgent_open", response_minutes=settings.response_minutes
            )
        opening = settings.opening_hours.next_opening(local)
        when = opening.strftime("%A %H:%M") if opening else settings.opening_hours.text
        return advisor.phrase("escalation.urgent_closed", next_opening=when)

    def escalate(
        self,
        sender_id: str,
        message: str | None,
        level: str,
        topic: str | None,
        day: int | None,
        symptoms: list[str],
        now: datetime | None = None,
    ) -> Escalation:
        """Store the escalation and queue an alert on every configured channel (one transaction)."""
        from bot.clients import ClientRegistry

        settings = self.clinic().settings
        treatment = self.treatments.get(sender_id)
        client = ClientRegistry(self.sessions).client_for(sender_id)
        return self.escalations.create(
            sender_id,
            level,
            message,
            topic,
            day,
            channels=settings.alerts.names(),
            client_name=client.name if client else None,
            symptoms=symptoms,
            treatment_date=treatment.treatment_date if treatment else None,
            treatment_kind=(treatment.kind if treatment else None)
            or settings.default_treatment_kind,
            deadline_minutes=settings.ack_deadline_minutes
            if level in ("urgent", "emergency")
            else None,
            now=now,
        )

    def answer_question(
        self, sender_id: str, intent: str, text: str, now: datetime | None = None
    ) -> Answer | NeedsDate:
        """Answer a topic question (or the day summary) for the day it is about."""
        clinic = self.clinic()
        advisor = Advisor(clinic)
        if intent in SMALL_TALK:
            return Answer(
                RESPONSE_SMALL_TALK,
                advisor.phrase(f"chat.{intent}"),
                None,
                None,
                "none",
                None,
                clinic.kb.version,
                None,
            )
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
        local_now = (now or now_utc()).astimezone(ZoneInfo(settings.time_zone))
        today = local_now.date()
        parsed = parse_treatment_date(text, today, settings.date_order, local_now)
        if not parsed.ok:
            return DateNotUnderstood(parsed.problem or "unclear")
        self.treatments.set_date(sender_id, parsed.value, source="client")
        return DateSaved(parsed.value, (today - parsed.value).days)

    def add_photo(
        self,
        sender_id: str,
        data: bytes,
        content_type: str,
        caption: str | None,
        source: str,
        now: datetime | None = None,
    ) -> tuple[int, bool]:
        """Keep a client's photo with their open escalation, or start a question-level one
        for the team to look at. Returns (escalation id, whether it is new)."""
        open_one = self.escalations.open_for(sender_id)
        is_new = open_one is None
        if is_new:
            open_one = self.escalate(
                sender_id, caption, "question", None, self.current_day(sender_id, now), [], now
            )
        channels = self.clinic().settings.alerts.names()
        # A new escalation's alert already goes out; the photo follows it on every channel.
        self.escalations.add_photo(open_one.id, data, content_type, caption, source, channels, now)
        return open_one.id, is_new

    def request_handoff(
        self, sender_id: str, message: str | None, level: str = "question", topic: str | None = None
    ) -> Escalation:
        """Record that the clinic team should follow up this conversation, and alert them
        on every configured channel (like a red flag, but with no deadline)."""
        return self.escalate(sender_id, message, level, topic, self.current_day(sender_id), [])


_service: AftercareService | None = None
_service_lock = threading.Lock()


def get_service() -> AftercareService:
    """The process-wide service, built on first use from the environment's settings."""
    global _service
    with _service_lock:
        if _service is None:
            _service = AftercareService(Settings.from_env())
        return _service
