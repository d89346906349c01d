"""What every action shares: read the message from the tracker, send the service's replies
under their KB keys, and turn its slots into events."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.service import Incoming, Outcome
from bot.service.messages import LAST_ANSWER, QUIET_MARKER

DATE_FORM = "treatment_date_form"
RANKED = 4  # NLU's runners-up kept (a second question of the same message may be among them)


def incoming(tracker: Tracker) -> Incoming:
    """The latest client message, as the service takes it."""
    # Not get_intent_of_latest_message(): it skips nlu_fallback and returns the runner-up,
    # which would answer a guess. A low-confidence message must get "no guidance".
    latest = tracker.latest_message
    last = tracker.get_slot(LAST_ANSWER) or {}
    intent = latest.get("intent") or {}
    return Incoming(
        sender_id=tracker.sender_id,
        intent=intent.get("name") or "nlu_fallback",
        text=latest.get("text") or "",
        message_id=latest.get("message_id"),
        context_topic=last.get("topic"),  # gives "it's getting worse" a subject
        confidence=float(intent.get("confidence") or 0.0),
        clauses=tuple(latest.get("clauses") or ()),
        ranking=tuple(
            {"intent": r.get("name"), "confidence": float(r.get("confidence") or 0.0)}
            for r in (latest.get("intent_ranking") or [])[1:RANKED]
        ),
        learned=latest.get("screening"),
    )


def send(dispatcher: CollectingDispatcher, outcome: Outcome) -> None:
    """Send the replies; each carries its KB key (and its level, for the widget's banner).
    A turn quiet on purpose (a team member has the chat) says so to the channel."""
    if outcome.quiet:
        dispatcher.utter_message(json_message=QUIET_MARKER)
    for reply in outcome.replies:
        extra = {"escalation": reply.escalation} if reply.escalation is not None else {}
        if reply.alert_unsent:
            extra["alert_unsent"] = True
        if reply.checkin is not None:
            extra["checkin"], extra["checkin_try"] = reply.checkin, reply.checkin_try
        dispatcher.utter_message(
            text=reply.text, buttons=list(reply.buttons), response_key=reply.key, **extra
        )


def emit(dispatcher: CollectingDispatcher, outcome: Outcome) -> list[dict[str, Any]]:
    """Send the replies and return the events: slots set, and the date form opened."""
    send(dispatcher, outcome)
    events: list[dict[str, Any]] = [SlotSet(k, v) for k, v in outcome.slots.items()]
    if outcome.open_date_form:
        events += [ActiveLoop(DATE_FORM), SlotSet("requested_slot", "treatment_date")]
    return events
