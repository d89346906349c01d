"""Passing a conversation to the clinic team, or closing an offer to do so."""

from __future__ import annotations

from bot.domain.turn import Turn
from bot.service.answering import Answering
from bot.service.messages import OFFER, Outcome, Reply, answer_outcome


def say(turn: Turn, key: str, **values: object) -> Reply:
    """A KB phrase as a reply."""
    return Reply(key, turn.advisor.phrase(key, **values))


def screen_first(answering: Answering, turn: Turn) -> Outcome | None:
    """The red-flag reply if the message has one (it is escalated already), else None."""
    red_flag, _ = answering.screen(turn)
    if red_flag is None:
        return None
    return answer_outcome(red_flag, turn)


def request(answering: Answering, turn: Turn, offer: dict) -> Outcome:
    """The client asked for a person: record the request and say how the team will reply."""
    red_flag = screen_first(answering, turn)
    if red_flag is not None:  # already escalated and alerted
        return red_flag
    message = offer.get("message") or turn.text
    level = offer.get("level", "question")
    escalator = answering.escalator
    escalator.escalate(turn, message, level, offer.get("topic"), turn.today_day, [])
    # "Passed to the team" only when an alert can reach them; else the client is told to call.
    key = "handoff.recorded" if escalator.alerts_go_out(turn) else "handoff.recorded_unsent"
    return Outcome([say(turn, key)], {OFFER: None})


def affirm(answering: Answering, turn: Turn, offer: dict) -> Outcome:
    """ "Yes": accept the offer if there is one (screened too); else ask what else."""
    if offer:
        return request(answering, turn, offer)
    red_flag = screen_first(answering, turn)  # "yes, and now my lips are swelling"
    if red_flag is not None:
        return red_flag
    return Outcome([say(turn, "anything_else")])


def deny(answering: Answering, turn: Turn, offer: dict) -> Outcome:
    """ "No": decline the offer if there is one; a red flag in the "no" still counts."""
    red_flag = screen_first(answering, turn)
    if red_flag is not None:  # "no, but now my lips are swelling"
        return red_flag
    if offer:
        return Outcome([say(turn, "handoff.declined")], {OFFER: None})
    return Outcome([say(turn, "anything_else")])


# What a team member did in the staff inbox -> the phrase that tells the client.
STAFF_EVENT_PHRASES = {
    "joined": "handoff.staff_joined",
    "reply": "handoff.staff_reply",
    "left": "handoff.staff_left",
    "resolved": "handoff.resolved",
    "idle": "handoff.idle_back",
}


def while_owned(answering: Answering, turn: Turn) -> Outcome:
    """A message in a chat a team member owns: the bot stays quiet, but the message is
    screened all the same. A red flag is escalated (the owner and the queue see it); an
    emergency still gets its "call now" reply at once, since nobody should wait for a person
    to type, and so does a red flag staff could not be alerted to (it says to call)."""
    red_flag, _ = answering.screen(turn)
    if red_flag is not None and (red_flag.escalation == "emergency" or red_flag.alert_unsent):
        # An emergency: call now. Staff could not be alerted: the client must call them.
        outcome = answer_outcome(red_flag, turn)
        outcome.quiet = True
        return outcome
    return Outcome(quiet=True)


def staff_event(turn: Turn, event: dict) -> Reply | None:
    """The client's view of a staff inbox event (None for an unknown one)."""
    key = STAFF_EVENT_PHRASES.get(str(event.get("kind")))
    if key is None:
        return None
    name = str(event.get("staff_name") or "")
    return say(turn, key, staff_name=name, text=str(event.get("text") or ""))
