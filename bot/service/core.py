"""The aftercare service the Rasa actions and channels call: one method per thing a client
message can lead to. Each builds one `Turn` (one read of the conversation's treatment, one
look at the clinic folder) and passes it down."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.domain.advisor import RESPONSE_NO_GUIDANCE, Answer
from bot.domain.days import now_utc
from bot.domain.intents import topic_intents
from bot.domain.turn import Turn
from bot.kb.model import Clinic
from bot.kb.store import ClinicStore
from bot.language.screening.learned import LearnedScreening, net_dir
from bot.service import handoff
from bot.service.answering import Answering, Screeners
from bot.service.checkins import ANSWER_INTENT_PREFIX, CheckinDesk
from bot.service.dates import GIVE_DATE, Dates
from bot.service.escalation import Escalator
from bot.service.messages import (
    ESCALATION_UPDATE,
    LAST_ANSWER,
    OFFER,
    PENDING,
    STAFF_EVENT,
    TREATMENT_DATE,
    DateNotUnderstood,
    DateSaved,
    Incoming,
    NeedsDate,
    Outcome,
    Reply,
    answer_outcome,
)
from bot.settings import Settings
from bot.storage.clients import ClientRegistry
from bot.storage.engine import session_factory
from bot.storage.escalations import Escalation, EscalationRepository
from bot.storage.handoffs import Handoffs, TurnStats
from bot.storage.heartbeats import Heartbeats
from bot.storage.staff import BOT, AuditLog
from bot.storage.treatments import TreatmentRepository

ESCALATION_UPDATES = ("acknowledged", "deadline_passed")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkOutcome:
    """What opening a clinic link did: the reply, and whether the chat is now linked."""

    reply: Reply
    linked: bool


class AftercareService:
    """Answers a conversation's messages for its treatment day."""

    def __init__(self, settings: Settings, store: ClinicStore | None = None):
        self.settings = settings
        self.store = store or ClinicStore(settings.clinic_dir, topic_intents(settings.domain_file))
        self.sessions = session_factory(settings.database_url)
        self.treatments = TreatmentRepository(self.sessions)
        self.escalations = EscalationRepository(self.sessions)
        self.clients = ClientRegistry(self.sessions)
        self.screeners = Screeners(net_dir(settings.models_dir), settings.minilm_dir)
        self.heartbeats = Heartbeats(self.sessions)
        self.escalator = Escalator(self.escalations, self.clients, self.heartbeats)
        self.answering = Answering(self.escalator, self.screeners)
        self.checkin_desk = CheckinDesk(self.sessions, self.clients, self.escalator)
        self.dates = Dates(
            self.answering,
            self.treatments,
            lambda turn: self.checkin_desk.plan(turn.clinic, turn.sender_id, turn.now),
        )
        self.handoffs = Handoffs(self.sessions)
        self.stats = TurnStats(self.sessions)
        self.audit = AuditLog(self.sessions)

    # --- snapshots ------------------------------------------------------------------------

    def clinic(self) -> Clinic:
        """The current clinic snapshot (reloaded if its files changed)."""
        return self.store.current()

    def phrase(self, key: str, **values: Any) -> str:
        """A client-facing phrase of the current clinic, filled in."""
        clinic = self.clinic()
        return clinic.kb.phrase(key).format(**clinic.settings.placeholders(), **values)

    def turn(self, msg: Incoming, now: datetime | None = None) -> Turn:
        """The turn of a message: the treatment read once, the clinic looked at once."""
        turn = Turn.build(
            msg.sender_id,
            msg.intent,
            msg.text,
            self.clinic(),
            self.treatments.get(msg.sender_id),
            now or now_utc(),
            msg.context_topic,
            msg.message_id,
            msg.confidence,
            msg.clauses,
            msg.ranking,
            LearnedScreening.from_dict(msg.learned),
        )
        return replace(turn, clock_given=True) if now is not None else turn

    def warm_up(self) -> None:
        """Load the KB, the screener and its word lists now, not on the first message."""
        self.screeners.get(self.clinic().lexicon).warm_up()

    # --- what actions call --------------------------------------------------------------

    def answer(self, msg: Incoming, now: datetime | None = None) -> Outcome:
        """Screen the message and answer it; if it needs the treatment date and none is known,
        open the date form and keep the question for when the date is given."""
        turn = self.turn(msg, now)
        return self._noted(turn, self.unless_owned(turn, lambda: self._answer(turn, msg)))

    def _noted(self, turn: Turn, outcome: Outcome) -> Outcome:
        """The outcome, noted as the answer to a check-in sent shortly before, if any."""
        self.checkin_desk.note(turn, outcome)
        return outcome

    def _answer(self, turn: Turn, msg: Incoming) -> Outcome:
        result = self.answering.respond(turn)
        if isinstance(result, NeedsDate):
            pending = {"intent": result.intent, "text": result.text, "message_id": msg.message_id}
            if msg.learned:
                pending["learned"] = msg.learned  # the net's reading, for when the date comes
            return Outcome(slots={PENDING: pending}, open_date_form=True)
        outcome = answer_outcome(result, turn)
        self._count(outcome)
        return outcome

    def _count(self, outcome: Outcome) -> None:
        """One anonymous line for the staff overview: the topic and how it was answered."""
        keys = {r.key for r in outcome.replies}
        if any(r.escalation in ("urgent", "emergency") for r in outcome.replies):
            kind = "red_flag"
        elif RESPONSE_NO_GUIDANCE in keys:
            kind = "no_guidance"
        else:
            kind = "answered"
        topic = (outcome.slots.get(LAST_ANSWER) or {}).get("topic")
        try:
            self.stats.record(topic, kind)
        except Exception:  # noqa: BLE001 - a statistic must never cost a client their answer
            log.warning("Could not count an answer for the overview", exc_info=True)

    def unless_owned(self, turn: Turn, answer: Callable[[], Outcome]) -> Outcome:
        """`answer()`, unless a team member owns the chat: then the bot stays quiet (the
        message is still screened). A hand-off with no staff reply for the clinic's idle time
        goes back to the bot first, and the client is told."""
        owner = self.handoffs.owner(turn.sender_id)
        if owner is None:
            return answer()
        idle = turn.clinic.settings.inbox.handoff_idle_minutes
        if not self.handoffs.release_if_idle(turn.sender_id, idle):
            if self.handoffs.owner(turn.sender_id) is None:  # the idle sweep just gave it back
                return answer()
            return handoff.while_owned(self.answering, turn)
        self.audit.record(BOT, "idle_return", turn.sender_id)
        return Outcome([handoff.say(turn, "handoff.idle_back")]).add(answer())

    def screen_unanswered(self, sender_id: str, text: str, now=None) -> Outcome | None:
        """A message the bot will not answer (the client is over a rate limit, or its turn
        gave nothing), screened all the same: its red-flag reply, escalated like any (a repeat
        joins the open escalation), or None when it holds no red flag. In a chat a team
        member owns, only what `handoff.while_owned` would say (an emergency, or a red flag
        staff could not be alerted to)."""
        turn = self.turn(Incoming(sender_id, "nlu_fallback", text), now)
        if self.handoffs.owner(sender_id) is not None:
            outcome = handoff.while_owned(self.answering, turn)
            return outcome if outcome.replies else None
        return handoff.screen_first(self.answering, turn)

    def answer_pending(
        self,
        msg: Incoming,
        pending: dict | None,
        offer: dict | None = None,
        date_value: str | None = None,
        now=None,
    ) -> Outcome:
        """The date form ended (`date_value`: the date, or how else it ended): answer the
        question that waited, and what was held meanwhile. An offer to pass something on that
        this same message made (the date form's reply) stays."""
        outcome = Outcome(slots={PENDING: None, TREATMENT_DATE: None})
        if offer and offer.get("message_id") == msg.message_id:
            outcome.slots[OFFER] = offer
        if not pending:
            return outcome
        learned = LearnedScreening.from_dict(pending.get("learned"))
        turn = self.turn(msg, now).with_message(pending["intent"], pending["text"], learned=learned)
        return outcome.add(
            self.unless_owned(turn, lambda: self.dates.answer_waiting(turn, pending, date_value))
        )

    def date_form_reply(self, msg: Incoming, value: str, pending: dict | None, now=None) -> Outcome:
        """The client's reply while the bot waits for the treatment date (the date form)."""
        turn = self.turn(msg, now)
        return self.unless_owned(
            turn, lambda: self.dates.form_reply(turn, value, pending or {}, msg.message_id)
        )

    def date_given(self, msg: Incoming, pending: dict | None, now=None) -> Outcome:
        """The client told the treatment date unprompted ("I had it done on Tuesday")."""
        turn = self.turn(msg, now)
        return self.unless_owned(turn, lambda: self.dates.date_given(turn, pending))

    def ask_date(self, msg: Incoming, problem: str | None) -> Outcome:
        """Ask for the treatment date, saying what was wrong with the last answer if anything."""
        if self.handoffs.owner(msg.sender_id) is not None:
            return Outcome()  # a team member has the chat: they ask what they need
        key = f"date.{problem}" if problem else "date.ask"
        return Outcome([Reply(key, self.phrase(key))])

    def handoff_requested(self, msg: Incoming, offer: dict | None, now=None) -> Outcome:
        """The client asked for a person: screen, record the request, say how the team replies."""
        turn = self.turn(msg, now)
        return self._noted(
            turn,
            self.unless_owned(turn, lambda: handoff.request(self.answering, turn, offer or {})),
        )

    def affirm(self, msg: Incoming, offer: dict | None, now=None) -> Outcome:
        """ "Yes": accept a pending offer to pass the question on, if there is one."""
        turn = self.turn(msg, now)
        return self._noted(
            turn, self.unless_owned(turn, lambda: handoff.affirm(self.answering, turn, offer or {}))
        )

    def deny(self, msg: Incoming, offer: dict | None, now=None) -> Outcome:
        """ "No": decline a pending offer, if there is one."""
        turn = self.turn(msg, now)
        return self._noted(
            turn, self.unless_owned(turn, lambda: handoff.deny(self.answering, turn, offer or {}))
        )

    def escalation_update(self, update: str | None) -> Outcome:
        """Tell the client what happened to their escalation (seen by staff, deadline passed)."""
        outcome = Outcome(slots={ESCALATION_UPDATE: None})
        if update in ESCALATION_UPDATES:
            key = f"escalation.{update}"
            outcome.replies.append(Reply(key, self.phrase(key)))
        return outcome

    def handed_off(self, sender_id: str) -> bool:
        """Whether a team member has this chat (the bot is quiet in it on purpose): owned,
        and not idle past the clinic's hand-off time (then the bot answers again)."""
        owner = self.handoffs.owner(sender_id)
        if owner is None:
            return False
        idle = timedelta(minutes=self.clinic().settings.inbox.handoff_idle_minutes)
        return owner.active_at >= self.heartbeats.clock() - idle

    def staff_event(self, sender_id: str, event: dict | None) -> Outcome:
        """Tell the client what a team member did in the staff inbox (joined, replied, handed
        back, resolved)."""
        outcome = Outcome(slots={STAFF_EVENT: None})
        if isinstance(event, dict):
            turn = self.turn(Incoming(sender_id, "", ""))
            reply = handoff.staff_event(turn, event)
            if reply is not None:
                outcome.replies.append(reply)
        return outcome

    # --- check-ins (bot.service.checkins) ------------------------------------------------

    def checkin_message(self, sender_id: str, checkin: dict | None, now=None) -> Outcome:
        """The check-in the dispatcher asked `action_checkin` to send."""
        return self.checkin_desk.message(self.turn(Incoming(sender_id, "", ""), now), checkin)

    def checkin_answer(self, msg: Incoming, now=None) -> Outcome:
        """A check-in's quick reply (`checkin_fine`, `checkin_worried`, `checkin_wrong`):
        only its button's exact payload; typed words NLU put here are an ordinary message,
        answered (and screened) as one the bot cannot place."""
        if msg.text.strip() != f"/{msg.intent}":
            return self.answer(replace(msg, intent="nlu_fallback", confidence=0.0), now)
        turn = self.turn(msg, now)
        meaning = msg.intent.removeprefix(ANSWER_INTENT_PREFIX)
        return self.unless_owned(turn, lambda: self.checkin_desk.answer(turn, meaning))

    # --- one thing at a time (the CLI, tests, the staff side) -----------------------------

    def respond(
        self, sender_id: str, intent: str, text: str, context_topic=None, now=None
    ) -> Answer | NeedsDate:
        """Screen a message and answer it (what `answer` does, without the conversation's
        memory)."""
        return self.answering.respond(
            self.turn(Incoming(sender_id, intent, text, None, context_topic), now)
        )

    def answer_question(
        self, sender_id: str, intent: str, text: str, now=None
    ) -> Answer | NeedsDate:
        """Answer a topic question for the day it is about, without screening."""
        return self.answering.answer_question(self.turn(Incoming(sender_id, intent, text), now))

    def save_treatment_date(
        self, sender_id: str, text: str, now=None
    ) -> DateSaved | DateNotUnderstood:
        """Understand and store the treatment date a client gave in `text`."""
        saved, _ = self.dates.save(self.turn(Incoming(sender_id, GIVE_DATE, text), now), text)
        return saved

    def current_day(self, sender_id: str, now=None) -> int | None:
        """Today's treatment day for a conversation, if its date is known."""
        return self.turn(Incoming(sender_id, "", ""), now).today_day

    def escalate(
        self, sender_id: str, message, level: str, topic, day, symptoms: list[str], now=None
    ) -> Escalation:
        """Store an escalation and queue its alerts on every configured channel."""
        turn = self.turn(Incoming(sender_id, "", message or ""), now)
        return self.escalator.escalate(turn, message, level, topic, day, symptoms)

    def request_handoff(
        self, sender_id: str, message: str | None, level: str = "question", topic=None
    ) -> Escalation:
        """Record that the clinic team should follow up this conversation, and alert them."""
        turn = self.turn(Incoming(sender_id, "", message or ""))
        return self.escalator.escalate(turn, message, level, topic, turn.today_day, [])

    # --- what channels call -------------------------------------------------------------

    def greeting(self) -> Reply:
        """How a new chat is greeted."""
        return Reply("chat.greet", self.phrase("chat.greet"))

    def link_chat(self, sender_id: str, code: str, channel: str, now=None) -> LinkOutcome:
        """Link a chat to the treatment a clinic link code was issued for, and greet it with
        the treatment's date and day; an unusable code is explained (the chat then goes on
        without a date, so the channel asks for it)."""
        result = self.clients.redeem(code, sender_id, channel, now=now)
        turn = self.turn(Incoming(sender_id, "link", ""), now)
        if not result.linked:
            key = f"link.code_{result.status}"
            return LinkOutcome(Reply(key, turn.advisor.phrase(key)), linked=False)
        self.checkin_desk.plan(turn.clinic, sender_id, turn.now)
        treatment_date = turn.clinic.language.format_date(result.client.treatment_date)
        text = turn.advisor.phrase("link.linked", treatment_date=treatment_date, day=turn.today_day)
        return LinkOutcome(Reply("link.linked", text), linked=True)

    def add_photo(
        self,
        sender_id: str,
        data: bytes,
        content_type: str,
        caption: str | None,
        source: str,
        now: datetime | None = None,
    ) -> tuple[int, bool]:
        """Keep a client's photo with their open escalation, or start a question-level one
        for the team to look at. Returns (escalation id, whether it is new)."""
        turn = self.turn(Incoming(sender_id, "photo", caption or ""), now)
        open_one = self.escalations.open_for(sender_id)
        is_new = open_one is None
        if is_new:
            open_one = self.escalator.escalate(turn, caption, "question", None, turn.today_day, [])
        channels = turn.clinic.settings.alerts.names()
        # A new escalation's alert already goes out; the photo follows it on every channel.
        self.escalations.add_photo(
            open_one.id, data, content_type, caption, source, channels, turn.stored_now
        )
        return open_one.id, is_new


_service: AftercareService | None = None
_service_lock = threading.Lock()


def get_service() -> AftercareService:
    """The process-wide service, built on first use from the environment's settings."""
    global _service
    with _service_lock:
        if _service is None:
            _service = AftercareService(Settings.from_env())
        return _service
