"""Actions that pass a conversation to the clinic team, or close an offer to do so."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import say, screen_first
from bot.service import get_service


class ActionRequestHuman(Action):
    """The client asked for a person: record the request and say how the team will reply."""

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        red_flag = screen_first(dispatcher, tracker)
        if red_flag is not None:  # already escalated and alerted
            return red_flag
        service = get_service()
        offer = tracker.get_slot("handoff_offer") or {}
        message = offer.get("message") or tracker.latest_message.get("text")
        service.request_handoff(
            tracker.sender_id, message, offer.get("level", "question"), offer.get("topic")
        )
        say(dispatcher, "handoff.recorded")
        return [SlotSet("handoff_offer", None)]


class ActionAffirm(Action):
    """ "Yes": accept a pending offer to pass the question on, if there is one."""

    def name(self) -> str:
        return "action_affirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if tracker.get_slot("handoff_offer"):
            return await ActionRequestHuman().run(dispatcher, tracker, domain)  # screens too
        red_flag = screen_first(dispatcher, tracker)  # "yes, and now my lips are swelling"
        if red_flag is not None:
            return red_flag
        say(dispatcher, "anything_else")
        return []


class ActionDeny(Action):
    """ "No": decline a pending offer, if there is one."""

    def name(self) -> str:
        return "action_deny"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        red_flag = screen_first(dispatcher, tracker)
        if red_flag is not None:  # "no, but now my lips are swelling"
            return red_flag
        if tracker.get_slot("handoff_offer"):
            say(dispatcher, "handoff.declined")
            return [SlotSet("handoff_offer", None)]
        say(dispatcher, "anything_else")
        return []
