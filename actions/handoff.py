"""Actions that pass a conversation to the clinic team, or close an offer to do so."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import emit, incoming
from bot.service import get_service
from bot.service.messages import OFFER


class ActionRequestHuman(Action):
    """The client asked for a person: record the request and say how the team will reply."""

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        offer = tracker.get_slot(OFFER)
        return emit(dispatcher, get_service().handoff_requested(incoming(tracker), offer))


class ActionAffirm(Action):
    """ "Yes": accept a pending offer to pass the question on, if there is one."""

    def name(self) -> str:
        return "action_affirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        offer = tracker.get_slot(OFFER)
        return emit(dispatcher, get_service().affirm(incoming(tracker), offer))


class ActionDeny(Action):
    """ "No": decline a pending offer, if there is one."""

    def name(self) -> str:
        return "action_deny"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        offer = tracker.get_slot(OFFER)
        return emit(dispatcher, get_service().deny(incoming(tracker), offer))
