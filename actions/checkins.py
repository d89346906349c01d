"""Actions of the proactive check-ins: send one (run through Rasa's API by the dispatcher),
and act on its quick replies."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import emit, incoming
from bot.service import get_service
from bot.service.messages import CHECKIN


class ActionCheckin(Action):
    """Write the check-in named by the `checkin` slot into the client's chat."""

    def name(self) -> str:
        return "action_checkin"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        checkin = tracker.get_slot(CHECKIN)
        return emit(dispatcher, get_service().checkin_message(tracker.sender_id, checkin))


class ActionCheckinAnswer(Action):
    """A check-in's quick reply: all good, a bit worried, something's wrong."""

    def name(self) -> str:
        return "action_checkin_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return emit(dispatcher, get_service().checkin_answer(incoming(tracker)))
