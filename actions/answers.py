"""Actions that answer aftercare questions for the client's treatment day."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import emit, incoming
from bot.service import get_service
from bot.service.messages import ESCALATION_UPDATE, OFFER, PENDING, STAFF_EVENT, TREATMENT_DATE


class ActionAnswer(Action):
    """Screen the message for red flags, then answer what was asked (a topic, the day summary,
    small talk, or no guidance). If it needs the treatment date and none is known, the date
    form opens and keeps the question to answer as soon as the date is given."""

    def name(self) -> str:
        return "action_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return emit(dispatcher, get_service().answer(incoming(tracker)))


class ActionAnswerPending(Action):
    """After the treatment date is known, answer the question that was waiting for it."""

    def name(self) -> str:
        return "action_answer_pending"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        pending, offer = tracker.get_slot(PENDING), tracker.get_slot(OFFER)
        date_value = tracker.get_slot(TREATMENT_DATE)
        outcome = get_service().answer_pending(incoming(tracker), pending, offer, date_value)
        return emit(dispatcher, outcome)


class ActionEscalationUpdate(Action):
    """Tell the client what happened to their escalation (run by the alert worker via Rasa)."""

    def name(self) -> str:
        return "action_escalation_update"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        update = tracker.get_slot(ESCALATION_UPDATE)
        return emit(dispatcher, get_service().escalation_update(update))


class ActionStaffEvent(Action):
    """Say in the client's chat what a team member did in the staff inbox: joined, replied,
    handed back, resolved (run through Rasa's API by the inbox)."""

    def name(self) -> str:
        return "action_staff_event"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        event = tracker.get_slot(STAFF_EVENT)
        return emit(dispatcher, get_service().staff_event(tracker.sender_id, event))
