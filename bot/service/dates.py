"""Learning the client's treatment date: the date form's replies and a date given unprompted.

Every message here is screened too ("yesterday, and now there's pus"); a question that waited
for the date is answered as soon as it is known.
"""

from __future__ import annotations

from bot.domain.turn import Turn
from bot.language.dates import parse_treatment_date
from bot.service.answering import Answering
from bot.service.handoff import say, screen_first
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


class Dates:
    """The date flows of the service."""

    def __init__(self, answering: Answering, treatments: TreatmentRepository):
        self.answering, self.treatments = answering, treatments

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
        saved = DateSaved(parsed.value, (today - parsed.value).days)
        return saved, turn.with_treatment(stored)

    def answer_waiting(self, turn: Turn) -> Outcome:
        """The question that waited for the date, answered (and screened) now."""
        result = self.answering.respond(turn)
        if isinstance(result, NeedsDate):  # the date was just stored; only a race gets here
            return Outcome([say(turn, "date.ask")])
        return answer_outcome(result, turn)

    def form_reply(self, turn: Turn, value: str, pending: dict, message_id: str | None) -> Outcome:
        """The client's reply to "when was your treatment?" (slots for the form to validate)."""
        if pending.get("message_id") and pending["message_id"] == message_id:
            # The form opened on the question itself: that is not an answer; let it ask.
            return Outcome(slots={TREATMENT_DATE: None, DATE_PROBLEM: None})
        known = turn.treatment
        if known and known.treatment_date and turn.intent != GIVE_DATE:
            # The date became known while the form waited (the client opened the clinic's
            # link): this message is a question, not a date. Answer it (screened) now; the form
            # ends and the question that opened it is answered next.
            outcome = Outcome(
                slots={TREATMENT_DATE: known.treatment_date.isoformat(), DATE_PROBLEM: None}
            )
            result = self.answering.respond(turn)
            if not isinstance(result, NeedsDate):
                outcome.add(answer_outcome(result, turn))
            return outcome
        saved, turn = self.save(turn, value)
        outcome = screen_first(self.answering, turn) or Outcome()
        if isinstance(saved, DateSaved):
            outcome.replies.append(_confirm(turn, saved))
            return outcome.add(
                Outcome(
                    slots={TREATMENT_DATE: saved.treatment_date.isoformat(), DATE_PROBLEM: None}
                )
            )
        return outcome.add(Outcome(slots={TREATMENT_DATE: None, DATE_PROBLEM: saved.problem}))

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


def _confirm(turn: Turn, saved: DateSaved):
    return say(
        turn,
        "date.saved",
        treatment_date=turn.clinic.language.format_date(saved.treatment_date),
        day=saved.day,
    )
