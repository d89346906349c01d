"""Actions that answer aftercare questions for the client's treatment day."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import context_topic, say, send_answer
from bot.service import NeedsDate, get_service

DATE_FORM = "treatment_date_form"


class ActionAnswer(Action):
    """Screen the message for red flags, then answer what was asked (a topic, the day summary,
    small talk, or no guidance).

    If it needs the treatment date and none is known, ask for it (opening the date form) and
    keep the question to answer as soon as the date is given.
    """

    def name(self) -> str:
        return "action_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        # Not get_intent_of_latest_message(): it skips nlu_fallback and returns the runner-up,
        # which would answer a guess. A low-confidence message must get "no guidance".
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "nlu_fallback"
        text = tracker.latest_message.get("text") or ""
        outcome = get_service().respond(tracker.sender_id, intent, text, context_topic(tracker))
        if isinstance(outcome, NeedsDate):
            # Open the date form; it asks (once) and keeps this question for afterwards.
            pending = {
                "intent": outcome.intent,
                "text": outcome.text,
                "message_id": tracker.latest_message.get("message_id"),
            }
            return [
                SlotSet("pending_question", pending),
                ActiveLoop(DATE_FORM),
                SlotSet("requested_slot", "treatment_date"),
            ]
        return send_answer(dispatcher, outcome, text)


class ActionAnswerPending(Action):
    """After the treatment date is known, answer the question that was waiting for it."""

    def name(self) -> str:
        return "action_answer_pending"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [
            SlotSet("pending_question", None),
            SlotSet("treatment_date", None),
        ]
        pending = tracker.get_slot("pending_question")
        if not pending:
            return events
        # Screened like any message: the waiting question may itself be a red flag.
        outcome = get_service().respond(
            tracker.sender_id, pending["intent"], pending["text"], context_topic(tracker)
        )
        if isinstance(outcome, NeedsDate):  # the date was just stored; only a race gets here
            say(dispatcher, "date.ask")
            return events
        return events + send_answer(dispatcher, outcome, pending["text"])


class ActionEscalationUpdate(Action):
    """Tell the client what happened to their escalation (run by the alert worker via Rasa)."""

    def name(self) -> str:
        return "action_escalation_update"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        update = tracker.get_slot("escalation_update")
        if update in ("acknowledged", "deadline_passed"):
            say(dispatcher, f"escalation.{update}")
        return [SlotSet("escalation_update", None)]
