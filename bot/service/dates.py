"""Learning the client's treatment date: the date form's replies and a date given unprompted.

Every message here is screened too ("yesterday, and now there's pus"); a question that waited
for the date is answered as soon as it is known.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.domain.turn import Turn
from bot.language.dates import parse_treatment_date, says_no_date
from bot.language.screening.learned import LearnedScreening
from bot.service.answering import Answering
from bot.service.handoff import request, say, screen_first
from bot.service.messages import (
    DATE_PROBLEM,
    PENDING,
    TREATMENT_DATE,
    DateNotUnderstood,
    DateSaved,
    NeedsDate,
    Outcome,
    answer_outcome,
)
from bot.storage.treatments import TreatmentRepository

GIVE_DATE = "give_treatment_date"
HANDOFF_INTENT = "request_human"
MAX_REASKS = 2
# What ends the date form besides a date (the `treatment_date` slot's value then).
HANDOFF, NO_DATE = "ask-a-person", "no-date"
ATTEMPTS, HELD = "attempts", "held"  # in the pending question: re-asks, messages kept


class Dates:
    """The date flows of the service."""

    def __init__(
        self,
        answering: Answering,
        treatments: TreatmentRepository,
        on_date: Callable[[Turn], None] = lambda turn: None,
    ):
        self.answering, self.treatments = answering, treatments
        self.on_date = on_date  # the date is known now: its check-ins are planned

    def save(self, turn: Turn, text: str) -> tuple[DateSaved | DateNotUnderstood, Turn]:
        """Understand and store the treatment date in `text`; the turn as it is afterwards."""
        settings, local_now = turn.clinic.settings, turn.local_now
        today = local_now.date()
        parsed = parse_treatment_date(
            text, today, turn.clinic.language, settings.date_order, local_now
        )
        if not parsed.ok:
            return DateNotUnderstood(parsed.problem or "unclear"), turn
        stored = self.treatments.set_date(turn.sender_id, parsed.value, source="client")
        saved, turn = (
            DateSaved(parsed.value, (today - parsed.value).days),
            turn.with_treatment(stored),
        )
        self.on_date(turn)
        return saved, turn

    def answer_waiting(self, turn: Turn, pending: dict, date_value: str | None) -> Outcome:
        """The date form ended: answer the question that waited for it (screened again, now
        with the day), then each message held while the date was unknown. If the client could
        not say, the guidance for every stage; if they asked for a person, the hand-off."""
        if date_value == HANDOFF:
            return request(self.answering, turn, {"message": turn.text, "level": "question"})
        if date_value == NO_DATE:
            outcome = self._without_a_date(turn)
            for held in pending.get(HELD) or ():
                outcome.add(self._without_a_date(_held_turn(turn, held)))
            return outcome
        outcome = self._answered(turn)
        for held in pending.get(HELD) or ():
            outcome.add(self._answered(_held_turn(turn, held)))
        return outcome

    def _answered(self, turn: Turn) -> Outcome:
        result = self.answering.respond(turn)
        if isinstance(result, NeedsDate):  # the date was just stored; only a race gets here
            return Outcome([say(turn, "date.ask")])
        return answer_outcome(result, turn)

    def _without_a_date(self, turn: Turn) -> Outcome:
        """What does not depend on the day: red flags that hold on every day are still raised;
        else the topic's guidance for every stage, with the team offered."""
        red_flag, triage = self.answering.screen(turn)
        if red_flag is not None:
            return answer_outcome(red_flag, turn)
        topic = (
            turn.intent
            if turn.advisor.knows(turn.intent)
            else (triage.waiting_for_day or (None,))[0]
        )
        if topic is None:
            return answer_outcome(turn.advisor.no_guidance(turn.intent), turn)
        return answer_outcome(turn.advisor.timeline(topic, turn.kind), turn)

    def form_reply(self, turn: Turn, value: str, pending: dict, message_id: str | None) -> Outcome:
        """The client's reply to "when was your treatment?" (slots for the form to validate).
        Ways out: a person (the form ends in a hand-off), "don't know" or "stop" (the form ends
        with the guidance for every stage), and at most MAX_REASKS re-asks."""
        if pending.get("message_id") and pending["message_id"] == message_id:
            # The form opened on the question itself: that is not an answer; let it ask.
            return Outcome(slots={TREATMENT_DATE: None, DATE_PROBLEM: None})
        known = turn.treatment
        if known and known.treatment_date and turn.intent != GIVE_DATE:
            return self._linked_meanwhile(turn, known.treatment_date.isoformat())
        saved, turn = self.save(turn, value)
        red_flag, triage = self.answering.screen(turn)  # with the day, if this gave the date
        outcome = answer_outcome(red_flag, turn) if red_flag is not None else Outcome()
        if isinstance(saved, DateSaved):
            outcome.replies.append(_confirm(turn, saved))
            date = saved.treatment_date.isoformat()
            return outcome.add(Outcome(slots={TREATMENT_DATE: date, DATE_PROBLEM: None}))
        if turn.intent == HANDOFF_INTENT:
            return outcome.add(Outcome(slots={TREATMENT_DATE: HANDOFF, DATE_PROBLEM: None}))
        if red_flag is None and says_no_date(turn.text, turn.clinic.language):
            # ("won't stop bleeding" is a red flag, answered above, not a "stop")
            return outcome.add(Outcome(slots={TREATMENT_DATE: NO_DATE, DATE_PROBLEM: None}))
        return outcome.add(self._not_a_date(turn, saved, triage, pending, red_flag is not None))

    def _linked_meanwhile(self, turn: Turn, date: str) -> Outcome:
        """The date became known while the form waited (the client opened the clinic's link):
        this message is a question, not a date. Answer it (screened) now; the form ends and
        the question that opened it is answered next."""
        outcome = Outcome(slots={TREATMENT_DATE: date, DATE_PROBLEM: None})
        result = self.answering.respond(turn)
        if not isinstance(result, NeedsDate):
            outcome.add(answer_outcome(result, turn))
        return outcome

    @staticmethod
    def _not_a_date(turn: Turn, saved, triage, pending: dict, answered: bool) -> Outcome:
        """No date in the reply: ask again (at most MAX_REASKS times), keeping a symptom that
        needs the day to be assessed once the date comes."""
        attempts = int(pending.get(ATTEMPTS, 0)) + 1
        held = list(pending.get(HELD) or ())
        if triage.waiting_for_day and not answered:
            learned = turn.learned.as_dict() if turn.learned else None
            held.append({"intent": turn.intent, "text": turn.text, "learned": learned})
        slots = {PENDING: {**pending, ATTEMPTS: attempts, HELD: held}}
        if attempts > MAX_REASKS:
            return Outcome(slots={**slots, TREATMENT_DATE: NO_DATE, DATE_PROBLEM: None})
        return Outcome(slots={**slots, TREATMENT_DATE: None, DATE_PROBLEM: saved.problem})

    def date_given(self, turn: Turn, pending: dict | None) -> Outcome:
        """A date given unprompted: store it, then answer the question that waited, if any."""
        if turn.today_day is not None:
            # A date is known: "hotter today than yesterday" reports a symptom; it does not move
            # the treatment date. Answer the symptom for the day the client is on.
            red_flag, triage = self.answering.screen(turn)
            if red_flag is not None:
                return answer_outcome(red_flag, turn)
            if triage.findings:
                return answer_outcome(triage.findings[0].answer, turn)
        saved, turn = self.save(turn, turn.text)
        outcome = screen_first(self.answering, turn) or Outcome()
        if not isinstance(saved, DateSaved):
            outcome.replies.append(say(turn, f"date.{saved.problem}"))
            return outcome.add(Outcome(slots={DATE_PROBLEM: saved.problem}))
        outcome.replies.append(_confirm(turn, saved))
        outcome.slots[DATE_PROBLEM] = None
        if pending:
            waiting = turn.with_message(pending["intent"], pending["text"])
            outcome.slots[PENDING] = None
            result = self.answering.respond(waiting)
            if not isinstance(result, NeedsDate):
                outcome.add(answer_outcome(result, waiting))
        return outcome


def _held_turn(turn: Turn, held: dict) -> Turn:
    """The turn of a message held while the date was unknown."""
    learned = LearnedScreening.from_dict(held.get("learned"))
    return turn.with_message(held["intent"], held["text"], learned=learned)


def _confirm(turn: Turn, saved: DateSaved):
    return say(
        turn,
        "date.saved",
        treatment_date=turn.clinic.language.format_date(saved.treatment_date),
        day=saved.day,
    )
