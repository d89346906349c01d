"""Answering one client message: screen it for red flags, then answer what was asked.

Every client message is screened, whatever NLU said; an urgent or emergency finding is
escalated (record and alerts stored before the reply) and answered first.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from bot.domain.advisor import RESPONSE_NO_GUIDANCE, RESPONSE_RED_FLAG, Answer, joined
from bot.domain.intents import UNANSWERABLE_INTENTS
from bot.domain.triage import Triage, assess
from bot.domain.turn import Turn
from bot.kb.model import Clinic, Lexicon, level_rank
from bot.language.clauses import clauses
from bot.language.cues import CueReader
from bot.language.day_mentions import asks
from bot.language.encoder import load_encoder
from bot.language.screening import Screener, Screening
from bot.language.screening.combine import combine, not_the_clients, recheck_without
from bot.language.screening.learned import LearnedNet, LearnedScreening
from bot.service.escalation import Escalator
from bot.service.messages import NeedsDate

DAY_SUMMARY = "day_summary"
# A topic answers only when the message names it (its cues, or screening found the symptom),
# or when NLU is at least this sure of it (measured: docs/generalisation.md).
TOPIC_SURE = 0.8
CLAUSE_SURE = 0.5  # a clause's own intent counts from this confidence
RANKED_SURE = 0.1  # a runner-up intent of the whole message counts from this confidence
MAX_ANSWERS = 3  # topics answered in one reply
SMALL_TALK = frozenset({"greet", "thanks", "goodbye"})
RESPONSE_SMALL_TALK = "small_talk"


class Screeners:
    """Both screening nets: the lexicon's screener (rebuilt when the clinic edits its lexicon)
    and the learned net (loaded once from the trained models, if there is one)."""

    def __init__(self, net_dir: Path | None = None, minilm_dir: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._for: Lexicon | None = None
        self._screener: Screener | None = None
        self._net_dir, self._minilm_dir = net_dir, minilm_dir
        self._net: LearnedNet | None = None
        self._net_loaded = False
        self._cues_for: Clinic | None = None
        self._cues: CueReader | None = None

    def get(self, lexicon: Lexicon) -> Screener:
        """The screener for this lexicon."""
        with self._lock:
            if self._for is not lexicon:
                self._screener = Screener(lexicon)
                self._for = lexicon
            return self._screener

    def cues(self, clinic: Clinic) -> CueReader:
        """What shows which topics a message names (rebuilt when the clinic edits them)."""
        with self._lock:
            if self._cues_for is not clinic:
                self._cues = CueReader(clinic.kb, clinic.lexicon)
                self._cues_for = clinic
            return self._cues

    def net(self) -> LearnedNet | None:
        """The learned net (None when none was trained, e.g. in a bare test setup)."""
        with self._lock:
            if not self._net_loaded:
                self._net = LearnedNet.load(self._net_dir) if self._net_dir else None
                self._net_loaded = True
            return self._net

    def screen(
        self,
        lexicon: Lexicon,
        text: str,
        symptom_question: bool,
        learned: LearnedScreening | None = None,
    ) -> Screening:
        """What both nets find in a message, together. `learned`: the net's reading when NLU
        already made it (it shares NLU's sentence vectors); else it is read here, if a net
        was trained."""
        screening = self.get(lexicon).screen(text, symptom_question=symptom_question)
        net = self.net()
        if learned is None and net is not None:
            learned = net.screen(load_encoder(self._minilm_dir), text)
        combined = combine(screening, learned, bare_question=_bare_question(text))
        away = not_the_clients(screening)
        if away and net is not None:
            # The net reads words, not whose they are: what only it found must still be there
            # without the clauses the lexicon read away ("lips are fine", "my friend's lips",
            # "my sister's face swelled up").
            encoder = load_encoder(self._minilm_dir)
            combined = recheck_without(combined, text, away, lambda rest: net.screen(encoder, rest))
        return combined


def _bare_question(text: str) -> bool:
    """The message is one clause that asks, with nothing else beside it."""
    return len(clauses(text)) <= 1 and asks(text)


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
        # The day the escalation is about: the flagged symptom's, else the one asked about
        # (stored on every escalation when it is known).
        flagged_days = [f.answer.day for f in triage.flagged if f.answer.day is not None]
        day = flagged_days[0] if flagged_days else turn.asked_day
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
                alerted,
            )
            return replace(answer, alert_unsent=not alerted), triage
        if (
            triage.level == "question"
            and triage.conditions
            and not (triage.unplaced or triage.unsure_whose or triage.flagged)
        ):
            return self._condition_answer(turn, day), triage
        if (
            triage.level == "question"
            and (triage.unplaced or triage.unsure_whose or not triage.flagged)
            and not triage.waiting_for_day
        ):
            key = "escalation.unsure_whose" if triage.unsure_whose else "escalation.unplaced"
            text = turn.advisor.phrase(key)
            version = turn.clinic.kb.version
            return Answer(
                RESPONSE_RED_FLAG, text, None, "question", "question", None, version, day
            ), triage
        return None, triage

    def _condition_answer(self, turn: Turn, day: int | None) -> Answer:
        """A condition the clinic must check, told as the client's ("I've just found out I'm
        pregnant"): the KB's answer for conditions, then the offer to pass it on."""
        lead = turn.advisor.phrase("escalation.condition")
        topic = turn.clinic.lexicon.condition_topic
        answer = None
        if topic and turn.advisor.knows(topic):
            answer = self.answer_question(turn.with_clause(topic, turn.text, 1.0))
        if not isinstance(answer, Answer):
            version = turn.clinic.kb.version
            return Answer(RESPONSE_RED_FLAG, lead, None, "question", "question", None, version, day)
        return replace(answer, reply=f"{answer.reply}\n{lead}", escalation="question")

    def triage(self, turn: Turn) -> Triage:
        """The level of the turn's message on each day it may be about; the safer one wins."""
        kb = turn.clinic.kb
        symptom_topics = {k for k, t in kb.topics.items() if t.type == "symptom"}
        intent_topic = turn.intent if turn.intent in symptom_topics else None
        screening = self.screeners.screen(
            turn.clinic.lexicon, turn.text, intent_topic is not None, turn.learned
        )
        context_topic = turn.context_topic if turn.context_topic in symptom_topics else None
        # A story may name a past day ("five days in") while today is later: between the two
        # readings, the safer (higher) level wins.
        triages = [
            assess(
                screening, turn.advisor, d, turn.kind, intent_topic, context_topic, turn.today_day
            )
            for d in turn.symptom_days
        ]
        return max(triages, key=lambda t: level_rank(t.level))

    def respond(self, turn: Turn) -> Answer | NeedsDate:
        """Screen the message, then answer every question in it, red flags first: what every
        client message gets. An emergency's reply is about the emergency; the message's other
        questions follow it, marked as for later."""
        red_flag, triage = self.screen(turn)
        if red_flag is not None:
            if red_flag.escalation == "emergency":
                return joined(red_flag, self._after_emergency(turn, triage, red_flag))
            others = self.other_answers(turn, triage, {red_flag.topic})
            beyond = not triage.conditions and self._asks_beyond_kb(turn)  # a condition offers
            return replace(joined(red_flag, others), beyond_kb=beyond)
        if triage.waiting_for_day:
            return NeedsDate(turn.intent, turn.text)
        answer = self._main_answer(turn, triage)
        if isinstance(answer, NeedsDate):
            return answer
        others = self.other_answers(turn, triage, {answer.topic})
        if answer.response == RESPONSE_NO_GUIDANCE and others:
            # NLU read the whole as outside the KB (or was unsure), but a part asks what the KB
            # answers: that answer first, then (outside the KB) the offer to pass the rest on.
            outside = turn.intent == "out_of_scope" and self._asks_beyond_kb(turn)
            return replace(joined(others[0], others[1:]), beyond_kb=outside)
        answer = joined(answer, others)
        return replace(answer, beyond_kb=self._asks_beyond_kb(turn))

    def _asks_beyond_kb(self, turn: Turn) -> bool:
        """Whether a question of the message is outside the KB: a clause that asks names what
        the KB does not answer ("can I take ibuprofen for it?"), or NLU reads a clause of
        several as out of scope and it names no KB topic ("... and can I have wine tonight?")."""
        cues = self.screeners.cues(turn.clinic)
        if any(asks(p) and cues.outside_in(p) for p in clauses(turn.text, min_words=1)):
            return True
        return len(clauses(turn.text)) > 1 and any(
            c["intent"] == "out_of_scope"
            and c.get("confidence", 0.0) >= CLAUSE_SURE
            and asks(c["text"])
            and not cues.topics_in(c["text"])
            for c in turn.clauses
        )

    def _after_emergency(self, turn: Turn, triage: Triage, emergency: Answer) -> list[Answer]:
        """An emergency's reply is about the emergency; the message's other questions (never a
        symptom's reassurance) follow it, marked as for later."""
        others = self.other_answers(turn, triage, {emergency.topic}, symptoms=False)
        if not others:
            return []
        lead = turn.advisor.phrase("notice.after_emergency")
        return [replace(others[0], reply=f"{lead}\n{others[0].reply}"), *others[1:]]

    def _main_answer(self, turn: Turn, triage: Triage) -> Answer | NeedsDate:
        """The answer to what NLU says the message asks, read with what screening found."""
        found = {f.topic for f in triage.findings}
        if triage.flagged and turn.intent not in found:
            # A symptom for the team wins over an unrelated question ("can I exfoliate, it's
            # still peeling on day 12"); the question is answered after it.
            flagged = [f.answer for f in triage.flagged]
            return turn.advisor.red_flag_reply(flagged, triage.level, "", False)
        if triage.findings and (turn.intent in UNANSWERABLE_INTENTS or turn.intent in SMALL_TALK):
            return triage.findings[0].answer  # NLU was unsure, but the symptom is clear
        flagged_asked = [f.answer for f in triage.flagged if f.topic == turn.intent]
        if flagged_asked:  # "the bruise from day 1 is still there on day 12": its safest day
            return flagged_asked[0]
        if not self.names_topic(turn, turn.intent, turn.text, turn.confidence, found):
            return turn.advisor.no_guidance(turn.intent)
        answer = self.answer_question(turn)
        if isinstance(answer, NeedsDate):
            return answer
        if answer.topic in triage.inactive_topics and answer.topic not in found:
            return replace(answer, escalation="none")  # "no oozing", "what if": guidance only
        if level_rank(answer.escalation) >= level_rank("urgent") and triage.hypothetical_cue:
            return replace(answer, escalation="none")  # "at what temperature should I worry?"
        if level_rank(answer.escalation) >= level_rank("urgent"):
            # NLU recognised a red-flag symptom the nets did not: err to safety.
            alerted = self.escalator.escalate_safely(
                turn, answer.escalation, answer.topic, turn.asked_day, [answer.topic]
            )
            steps = self.escalator.next_steps(turn, answer.escalation, alerted)
            # Unalerted, "call us now" stands in for the urgent notice ("contact us today").
            said = answer.body if answer.escalation == "urgent" and not alerted else answer.reply
            answer = replace(answer, reply=said + "\n" + steps, alert_unsent=not alerted)
        return answer

    def names_topic(
        self, turn: Turn, intent: str, text: str, confidence: float, found: set[str]
    ) -> bool:
        """Whether a topic may answer: NLU is very sure, screening found the symptom, or the
        text names the topic. Conversation intents always may."""
        if not turn.advisor.knows(intent) or intent in found:
            return True
        cues = self.screeners.cues(turn.clinic)
        if intent in cues.topics_in(text):
            return True
        # NLU sure of a topic the text does not name, while it names what the KB does not
        # answer ("can I pop my contacts back in?"): no guess.
        return confidence >= TOPIC_SURE and not cues.outside_in(text)

    def other_answers(
        self, turn: Turn, triage: Triage, answered: set, symptoms: bool = True
    ) -> list[Answer]:
        """Answers to the message's other questions: symptoms screening placed as expected
        (unless `symptoms` is False), and topics a clause asks about and names (at most
        MAX_ANSWERS in all)."""
        others: list[Answer] = []
        done = set(answered) | {f.topic for f in triage.flagged}
        for finding in triage.findings if symptoms else ():
            if finding.topic not in done and finding.level == "none":
                others.append(finding.answer)
                done.add(finding.topic)
        placed = len(others)  # expected symptoms: the first to leave a reply that is too long
        for clause in self._asked(turn):
            intent, text = clause["intent"], clause["text"]
            if intent in done or not turn.advisor.knows(intent):
                continue
            if turn.advisor.kb.topic(intent).type == "symptom":
                continue  # symptoms are screened: what was found is answered above
            cues = self.screeners.cues(turn.clinic)
            if intent not in cues.topics_in(text) or (
                intent != turn.intent and cues.outside_in(text)
            ):
                continue  # not named, or beside what the KB does not answer ("pop my contacts in")
            answer = self.answer_question(turn.with_clause(intent, text, clause["confidence"]))
            if isinstance(answer, Answer) and answer.topic == intent:
                others.append(answer)
                done.add(intent)
        for topic, text in self._activities_asked(turn):
            if topic not in done:
                answer = self.answer_question(turn.with_clause(topic, text, 1.0))
                if isinstance(answer, Answer) and answer.topic == topic:
                    others.append(answer)
                    done.add(topic)
        if symptoms:
            others += self._over_and_expected(turn, triage, done)
        extra = max(0, len(others) - (MAX_ANSWERS - 1))
        # Too many: what the client asked goes before reassurance about a symptom they told.
        return (others[: max(0, placed - extra)] + others[placed:])[: MAX_ANSWERS - 1]

    @staticmethod
    def _over_and_expected(turn: Turn, triage: Triage, done: set) -> list[Answer]:
        """A symptom the client reports as over ("the bleeding stopped in minutes") is
        confirmed as expected, only when the KB expects it today (never a red flag's words)."""
        day, found = turn.symptom_days[0], []
        for topic in triage.resolved_topics:
            if topic in done or not turn.advisor.knows(topic):
                continue
            if day is None and turn.advisor.needs_day(topic):
                continue
            answer = turn.advisor.answer(topic, day, turn.kind)
            if answer.escalation == "none":
                found.append(answer)
        return found

    def _activities_asked(self, turn: Turn) -> list[tuple[str, str]]:
        """(activity, clause) for each activity a clause that asks names ("can I do hot yoga?"
        asks about exercise and heat), unless NLU read that clause as outside the KB."""
        found = []
        kb, cues = turn.clinic.kb, self.screeners.cues(turn.clinic)
        parts = clauses(turn.text, min_words=1)  # "Bikram tomorrow? And can I..."
        read = {c["text"]: c for c in turn.clauses}
        for part in parts:
            nlu = (
                {"intent": turn.intent, "confidence": turn.confidence}
                if len(parts) == 1
                else read.get(part, {})
            )
            outside = nlu.get("intent") in UNANSWERABLE_INTENTS
            if not asks(part) or (outside and nlu.get("confidence", 0.0) >= TOPIC_SURE):
                continue  # NLU sure this part is outside the KB
            if cues.outside_in(part):
                continue  # "can I pop my contacts back in?": "pop" asks no picking question
            for topic in sorted(cues.topics_in(part)):
                if kb.topics[topic].type == "activity":
                    found.append((topic, part))
        return found

    @staticmethod
    def _asked(turn: Turn) -> list[dict]:
        """What each part of the message may ask: the whole (NLU's intent), each clause, and
        NLU's runners-up for the whole (a second question the clauses did not split off)."""
        whole = {"intent": turn.intent, "text": turn.text, "confidence": turn.confidence}
        clauses = [c for c in turn.clauses if c.get("confidence", 0.0) >= CLAUSE_SURE]
        ranked = [
            {"intent": r["intent"], "text": turn.text, "confidence": r["confidence"]}
            for r in turn.ranking
            if r["confidence"] >= RANKED_SURE
        ]
        return [whole, *clauses, *ranked]

    def answer_question(self, turn: Turn) -> Answer | NeedsDate:
        """Answer a topic question (or the day summary) for the day it is about, with the
        topic's variant the question names ("a foaming cleanser")."""
        advisor, intent = turn.advisor, turn.intent
        if intent in SMALL_TALK:
            text = advisor.phrase(f"chat.{intent}")
            version = turn.clinic.kb.version
            return Answer(RESPONSE_SMALL_TALK, text, None, None, "none", None, version, None)
        if intent in UNANSWERABLE_INTENTS or (intent != DAY_SUMMARY and not advisor.knows(intent)):
            return advisor.no_guidance(intent)
        day = turn.asked_day
        topic = turn.clinic.kb.topics.get(intent)
        if topic is not None and topic.type == "symptom":
            day = turn.symptom_days[0]  # a symptom is as it is today, not on a day ahead
        if intent == DAY_SUMMARY:
            return (
                advisor.day_summary(day, turn.kind)
                if day is not None
                else NeedsDate(intent, turn.text)
            )
        if day is None and advisor.needs_day(intent):
            return NeedsDate(intent, turn.text)
        variants = self.screeners.cues(turn.clinic).variants_in(intent, turn.text)
        return advisor.answer(intent, day, turn.kind, variants=variants)
