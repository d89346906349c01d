"""Answering one client message: screen it for red flags, then answer what was asked.

Every client message is screened, whatever NLU said; an urgent or emergency finding is
escalated (record and alerts stored before the reply) and answered first.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from bot.domain.advisor import RESPONSE_RED_FLAG, Answer
from bot.domain.intents import UNANSWERABLE_INTENTS
from bot.domain.triage import Triage, assess
from bot.domain.turn import Turn
from bot.kb.model import Lexicon, level_rank
from bot.language.screening import Screener
from bot.service.escalation import Escalator
from bot.service.messages import NeedsDate

DAY_SUMMARY = "day_summary"
SMALL_TALK = frozenset({"greet", "thanks", "goodbye"})
RESPONSE_SMALL_TALK = "small_talk"


class Screeners:
    """One screener per lexicon version (rebuilt when the clinic edits its lexicon)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._for: Lexicon | None = None
        self._screener: Screener | None = None

    def get(self, lexicon: Lexicon) -> Screener:
        """The screener for this lexicon."""
        with self._lock:
            if self._for is not lexicon:
                self._screener = Screener(lexicon)
                self._for = lexicon
            return self._screener


class Answering:
    """Screens and answers turns."""

    def __init__(self, escalator: Escalator, screeners: Screeners):
        self.escalator, self.screeners = escalator, screeners

    def screen(self, turn: Turn) -> tuple[Answer | None, Triage]:
        """Screen any client message for red flags, whatever NLU said.

        Returns the red-flag reply (urgent/emergency: the escalation is stored and staff alerts
        queued before this returns; question-level: the team is offered) or None, and the triage.
        """
        triage = self.triage(turn)
        days = turn.candidate_days
        day = triage.findings[0].answer.day if triage.findings else days[0]
        if triage.level in ("urgent", "emergency"):
            topic = triage.flagged[0].topic if triage.flagged else None
            alerted = self.escalator.escalate_safely(
                turn, triage.level, topic, day, triage.symptoms
            )
            answer = turn.advisor.red_flag_reply(
                [f.answer for f in triage.flagged],
                triage.level,
                self.escalator.next_steps(turn, triage.level, alerted),
                bool(triage.emergency),
            )
            return answer, triage
        if (
            triage.level == "question"
            and (triage.unplaced or not triage.flagged)
            and not triage.waiting_for_day
        ):
            text = turn.advisor.phrase("escalation.unplaced")
            version = turn.clinic.kb.version
            return Answer(
                RESPONSE_RED_FLAG, text, None, "question", "question", None, version, day
            ), triage
        return None, triage

    def triage(self, turn: Turn) -> Triage:
        """The level of the turn's message on each day it may be about; the safer one wins."""
        kb = turn.clinic.kb
        symptom_topics = {k for k, t in kb.topics.items() if t.type == "symptom"}
        intent_topic = turn.intent if turn.intent in symptom_topics else None
        screening = self.screeners.get(turn.clinic.lexicon).screen(
            turn.text, symptom_question=intent_topic is not None
        )
        context_topic = turn.context_topic if turn.context_topic in symptom_topics else None
        # A story may name a past day ("five days in") while today is later: between the two
        # readings, the safer (higher) level wins.
        triages = [
            assess(screening, turn.advisor, d, turn.kind, intent_topic, context_topic)
            for d in turn.candidate_days
        ]
        return max(triages, key=lambda t: level_rank(t.level))

    def respond(self, turn: Turn) -> Answer | NeedsDate:
        """Screen the message, then answer its question: what every client message gets."""
        red_flag, triage = self.screen(turn)
        if red_flag is not None:
            return red_flag
        if triage.waiting_for_day:
            return NeedsDate(turn.intent, turn.text)
        found = {f.topic for f in triage.findings}
        if triage.flagged and turn.intent not in found:
            # A symptom for the team wins over an unrelated question ("can I exfoliate, it's
            # still peeling on day 12").
            flagged = [f.answer for f in triage.flagged]
            return turn.advisor.red_flag_reply(flagged, triage.level, "", False)
        if triage.findings and (turn.intent in UNANSWERABLE_INTENTS or turn.intent in SMALL_TALK):
            return triage.findings[0].answer  # NLU was unsure, but the symptom is clear
        answer = self.answer_question(turn)
        if isinstance(answer, NeedsDate):
            return answer
        if answer.topic in triage.inactive_topics and answer.topic not in found:
            return replace(answer, escalation="none")  # "no oozing", "what if": guidance only
        if level_rank(answer.escalation) >= level_rank("urgent") and not triage.hypothetical_cue:
            # NLU recognised a red-flag symptom the lexicon did not: err to safety.
            alerted = self.escalator.escalate_safely(
                turn, answer.escalation, answer.topic, turn.asked_day, [answer.topic]
            )
            steps = self.escalator.next_steps(turn, answer.escalation, alerted)
            answer = replace(answer, reply=answer.reply + "\n" + steps)
        return answer

    @staticmethod
    def answer_question(turn: Turn) -> Answer | NeedsDate:
        """Answer a topic question (or the day summary) for the day it is about."""
        advisor, intent = turn.advisor, turn.intent
        if intent in SMALL_TALK:
            text = advisor.phrase(f"chat.{intent}")
            version = turn.clinic.kb.version
            return Answer(RESPONSE_SMALL_TALK, text, None, None, "none", None, version, None)
        if intent in UNANSWERABLE_INTENTS or (intent != DAY_SUMMARY and not advisor.knows(intent)):
            return advisor.no_guidance(intent)
        day = turn.asked_day
        if intent == DAY_SUMMARY:
            return (
                advisor.day_summary(day, turn.kind)
                if day is not None
                else NeedsDate(intent, turn.text)
            )
        if day is None and advisor.needs_day(intent):
            return NeedsDate(intent, turn.text)
        return advisor.answer(intent, day, turn.kind)
