"""Sending replies: every text comes from the clinic's KB and goes out under its key."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.advisor import RESPONSE_NO_GUIDANCE, Answer
from bot.service import get_service


def say(dispatcher: CollectingDispatcher, key: str, **values: Any) -> None:
    """Send the KB phrase `key` (its key travels with the message as `response_key`)."""
    dispatcher.utter_message(text=get_service().phrase(key, **values), response_key=key)


def context_topic(tracker: Tracker) -> str | None:
    """The topic the conversation was last answered about (gives "it's getting worse" a subject)."""
    last = tracker.get_slot("last_answer") or {}
    return last.get("topic")


def send_answer(
    dispatcher: CollectingDispatcher, answer: Answer, question: str | None
) -> list[dict[str, Any]]:
    """Send an answer; record it (topic, level, entry, KB version) in the conversation."""
    buttons = []
    if answer.response == RESPONSE_NO_GUIDANCE:
        service = get_service()
        buttons = [
            {"title": service.phrase("handoff.offer_yes"), "payload": "/affirm"},
            {"title": service.phrase("handoff.offer_no"), "payload": "/deny"},
        ]
    # The level travels with the message (tracker metadata): the web widget shows a banner for
    # urgent and emergency replies, also when the chat is reloaded.
    dispatcher.utter_message(
        text=answer.reply,
        buttons=buttons,
        response_key=answer.response,
        escalation=answer.escalation,
    )
    offer = None
    if answer.escalation == "question":
        offer = {"message": question, "topic": answer.topic, "level": answer.escalation}
    return [SlotSet("last_answer", answer.as_record()), SlotSet("handoff_offer", offer)]


def screen_first(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]] | None:
    """Screen the latest message for red flags; if it has one, reply and return the events."""
    intent = (tracker.latest_message.get("intent") or {}).get("name") or "nlu_fallback"
    text = tracker.latest_message.get("text") or ""
    red_flag, _ = get_service().screen_message(
        tracker.sender_id, intent, text, context_topic(tracker)
    )
    if red_flag is None:
        return None
    return send_answer(dispatcher, red_flag, text)
