"""Actions that learn the client's treatment date: the date form and a stated date."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import context_topic, say, screen_first, send_answer
from bot.days import format_date
from bot.service import DateSaved, NeedsDate, get_service


def _confirm(dispatcher: CollectingDispatcher, saved: DateSaved) -> None:
    say(
        dispatcher,
        "date.saved",
        treatment_date=format_date(saved.treatment_date),
        day=saved.day,
    )


class ValidateTreatmentDateForm(FormValidationAction):
    """Parse the client's answer to "when was your treatment?" and store it."""

    def name(self) -> str:
        return "validate_treatment_date_form"

    async def validate_treatment_date(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        pending = tracker.get_slot("pending_question") or {}
        if pending.get("message_id") and pending["message_id"] == tracker.latest_message.get(
            "message_id"
        ):
            # The form opened on the question itself: that is not an answer; let it ask.
            return {"treatment_date": None, "date_problem": None}
        service = get_service()
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "nlu_fallback"
        known = service.treatments.get(tracker.sender_id)
        if known and known.treatment_date and intent != "give_treatment_date":
            # The date became known while the form waited (the client opened the clinic's
            # link): this message is a question, not a date. Answer it (screened) now; the form
            # ends and the question that opened it is answered next.
            text = tracker.latest_message.get("text") or ""
            slots: dict[str, Any] = {
                "treatment_date": known.treatment_date.isoformat(),
                "date_problem": None,
            }
            outcome = service.respond(tracker.sender_id, intent, text, context_topic(tracker))
            if not isinstance(outcome, NeedsDate):
                for event in send_answer(dispatcher, outcome, text):
                    slots[event["name"]] = event["value"]
            return slots
        outcome = service.save_treatment_date(tracker.sender_id, str(slot_value or ""))
        screen_first(dispatcher, tracker)  # "yesterday, and now there's pus" is still screened
        if isinstance(outcome, DateSaved):
            _confirm(dispatcher, outcome)
            return {"treatment_date": outcome.treatment_date.isoformat(), "date_problem": None}
        return {"treatment_date": None, "date_problem": outcome.problem}


class ActionAskTreatmentDate(Action):
    """Ask for the treatment date, saying what was wrong with the last answer if anything."""

    def name(self) -> str:
        return "action_ask_treatment_date"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        problem = tracker.get_slot("date_problem")
        say(dispatcher, f"date.{problem}" if problem else "date.ask")
        return []


class ActionSetTreatmentDate(Action):
    """The client told us their treatment date unprompted: store it, then answer what waits."""

    def name(self) -> str:
        return "action_set_treatment_date"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        service = get_service()
        text = tracker.latest_message.get("text") or ""
        if service.current_day(tracker.sender_id) is not None:
            # A date is known: "hotter today than yesterday" reports a symptom; it does not move
            # the treatment date. Answer the symptom for the day the client is on.
            red_flag, triage = service.screen_message(
                tracker.sender_id, "give_treatment_date", text, context_topic(tracker)
            )
            if red_flag is not None:
                return send_answer(dispatcher, red_flag, text)
            if triage.findings:
                return send_answer(dispatcher, triage.findings[0].answer, text)
        outcome = service.save_treatment_date(tracker.sender_id, text)
        red_flag_events = screen_first(dispatcher, tracker) or []
        if not isinstance(outcome, DateSaved):
            say(dispatcher, f"date.{outcome.problem}")
            return [*red_flag_events, SlotSet("date_problem", outcome.problem)]
        _confirm(dispatcher, outcome)
        events: list[dict[str, Any]] = [*red_flag_events, SlotSet("date_problem", None)]
        pending = tracker.get_slot("pending_question")
        if pending:
            answer = service.respond(
                tracker.sender_id, pending["intent"], pending["text"], context_topic(tracker)
            )
            events.append(SlotSet("pending_question", None))
            if not isinstance(answer, NeedsDate):
                events += send_answer(dispatcher, answer, pending["text"])
        return events
