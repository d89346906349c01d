"""What goes into the service and what comes out: a client message in, replies and the
conversation's memory (Rasa slots) out. Replies carry their KB key, never a guess at wording."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.domain.advisor import RESPONSE_NO_GUIDANCE, Answer
from bot.domain.turn import Turn
from bot.kb.model import level_rank

# The conversation's memory (Rasa slots of domain.yml).
PENDING = "pending_question"
OFFER = "handoff_offer"
LAST_ANSWER = "last_answer"
DATE_PROBLEM = "date_problem"
TREATMENT_DATE = "treatment_date"
ESCALATION_UPDATE = "escalation_update"
STAFF_EVENT = "staff_event"
CHECKIN = "checkin"  # the check-in the dispatcher asks `action_checkin` to send
# The custom message an action sends when it is quiet on purpose (a team member has the chat):
# channels drop it, and know the message was screened (not that the action failed).
QUIET_MARKER = {"aftercare": "quiet"}


@dataclass(frozen=True)
class Incoming:
    """One client message as an action sees it."""

    sender_id: str
    intent: str
    text: str
    message_id: str | None = None
    context_topic: str | None = None  # what the conversation was last answered about
    confidence: float = 1.0  # NLU's confidence in `intent`
    clauses: tuple[dict, ...] = ()  # each clause's own best intent (NLU), when several
    ranking: tuple[dict, ...] = ()  # NLU's next most likely intents for the whole message
    learned: dict | None = None  # what the learned screening net read (NLU's parse data)


@dataclass(frozen=True)
class Reply:
    """One message to send: its text and the KB key it comes from."""

    key: str
    text: str
    buttons: tuple[dict[str, str], ...] = ()
    escalation: str | None = None  # travels with the message: the widget's banner
    alert_unsent: bool = False  # staff could not be alerted: the banner says to call
    checkin: int | None = None  # a check-in's id: recorded with the message in the tracker
    checkin_try: int | None = None  # which try of the dispatcher wrote it


@dataclass
class Outcome:
    """What a client message led to: replies, slots to set, and whether to open the date form."""

    replies: list[Reply] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    open_date_form: bool = False
    quiet: bool = False  # a team member has the chat: screened, and quiet on purpose

    def add(self, other: Outcome) -> Outcome:
        """This outcome followed by another. An offer to pass something on that this turn
        made stays, unless the other outcome makes a new one."""
        kept = self.slots.get(OFFER)
        self.replies.extend(other.replies)
        self.slots.update(other.slots)
        if kept and OFFER in other.slots and other.slots[OFFER] is None:
            self.slots[OFFER] = kept
        self.open_date_form = self.open_date_form or other.open_date_form
        self.quiet = self.quiet or other.quiet
        return self


@dataclass(frozen=True)
class NeedsDate:
    """The question needs the treatment date, which is not known yet."""

    intent: str
    text: str


@dataclass(frozen=True)
class DateSaved:
    """The client's treatment date was understood and stored."""

    treatment_date: date
    day: int


@dataclass(frozen=True)
class DateNotUnderstood:
    """No usable date: `problem` is unclear, future or too_old."""

    problem: str


def offer_buttons(turn: Turn) -> tuple[dict[str, str], ...]:
    """The Yes / No buttons under an offer to pass a question on."""
    return (
        {"title": turn.advisor.phrase("handoff.offer_yes"), "payload": "/affirm"},
        {"title": turn.advisor.phrase("handoff.offer_no"), "payload": "/deny"},
    )


def answer_outcome(answer: Answer, turn: Turn) -> Outcome:
    """An answer as a reply, remembered (topic, level, entry, KB version) in the conversation.
    A question-level answer keeps the offer to pass the turn's question on (with Yes/No buttons
    after the no-guidance reply and after a condition the clinic must check)."""
    condition = answer.escalation == "question" and (
        answer.topic is not None and answer.topic == turn.clinic.lexicon.condition_topic
    )
    buttons = offer_buttons(turn) if answer.response == RESPONSE_NO_GUIDANCE or condition else ()
    replies = [
        Reply(answer.response, answer.reply, buttons, answer.escalation, answer.alert_unsent)
    ]
    alerted = level_rank(answer.escalation) >= level_rank("urgent")
    if answer.beyond_kb and answer.response != RESPONSE_NO_GUIDANCE:
        # "can I wear makeup tomorrow, and can I have wine?": the KB answers the first; the
        # second gets the honest no-guidance reply and the offer to pass it on (after a red
        # flag the team is already asked: no offer, the client asks them about it too).
        if alerted:
            text = turn.advisor.phrase("no_guidance_alerted")
            replies.append(Reply(RESPONSE_NO_GUIDANCE, text, (), "question"))
        else:
            text = turn.advisor.phrase("no_guidance")
            replies.append(Reply(RESPONSE_NO_GUIDANCE, text, offer_buttons(turn), "question"))
    offer = None
    if answer.escalation == "question" or (answer.beyond_kb and not alerted):
        offer = {
            "message": turn.text,
            "topic": answer.topic,
            "level": answer.escalation,
            "message_id": turn.message_id,
        }
    return Outcome(replies, {LAST_ANSWER: answer.as_record(), OFFER: offer})
