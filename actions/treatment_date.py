"""Actions that learn the client's treatment date: the date form and a stated date."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import emit, incoming, send
from bot.service import get_service
from bot.service.messages import DATE_PROBLEM, PENDING


class ValidateTreatmentDateForm(FormValidationAction):
    """Parse the client's answer to "when was your treatment?" and store it."""

    def name(self) -> str:
        return "validate_treatment_date_form"

    async def validate_treatment_date(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        pending = tracker.get_slot(PENDING)
        outcome = get_service().date_form_reply(incoming(tracker), str(slot_value or ""), pending)
        send(dispatcher, outcome)
        return outcome.slots  # every slot the reply sets, the hand-off offer included


class ActionAskTreatmentDate(Action):
    """Ask for the treatment date, saying what was wrong with the last answer if anything."""

    def name(self) -> str:
        return "action_ask_treatment_date"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        problem = tracker.get_slot(DATE_PROBLEM)
        return emit(dispatcher, get_service().ask_date(incoming(tracker), problem))


class ActionSetTreatmentDate(Action):
    """The client told us their treatment date unprompted: store it, then answer what waits."""

    def name(self) -> str:
        return "action_set_treatment_date"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        pending = tracker.get_slot(PENDING)
        return emit(dispatcher, get_service().date_given(incoming(tracker), pending))
