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
