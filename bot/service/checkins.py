"""Check-ins from the conversation's side: the words `action_checkin` sends, what a quick
reply or a typed answer does, and a client turning check-ins off and on.

A quick reply is acted on by its meaning: "All good" is thanked, "A bit worried" is asked what
worries them, "Something's wrong" alerts the team (the clinic's `wrong_level`) and asks what is
happening. Any message soon after a check-in counts as its answer; whether one of them led to
an escalation is recorded for the staff overview.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import sessionmaker

from bot.domain.checkins import checkin_text, quick_replies
from bot.domain.days import now_utc
from bot.domain.turn import Turn
from bot.kb.model import Clinic, level_rank
from bot.service.escalation import Escalator
from bot.service.messages import CHECKIN, Outcome, Reply
from bot.storage.checkin_plans import plan_conversation
from bot.storage.checkins import OPTED_OUT, Checkins, conversation_subject
from bot.storage.clients import ClientRegistry

log = logging.getLogger(__name__)
ANSWER_INTENT_PREFIX = "checkin_"  # checkin_fine, checkin_worried, checkin_wrong


class CheckinDesk:
    """The service's check-in use cases."""

    def __init__(self, sessions: sessionmaker, clients: ClientRegistry, escalator: Escalator):
        self.sessions, self.clients, self.escalator = sessions, clients, escalator
        self.checkins = Checkins(sessions)

    def plan(self, clinic: Clinic, sender_id: str, now: datetime | None = None) -> None:
        """Plan the conversation's check-ins now that its treatment is known (a failure is
        logged: it must never cost the client their answer)."""
        try:
            plan_conversation(self.sessions, clinic, sender_id, now or now_utc())
        except Exception:  # noqa: BLE001
            log.exception("Could not plan a conversation's check-ins")

    def message(self, turn: Turn, checkin: dict | None) -> Outcome:
        """The check-in the dispatcher asked for, in the clinic's current words, with its
        quick replies (nothing if the clinic removed it meanwhile)."""
        outcome = Outcome(slots={CHECKIN: None})
        settings = turn.clinic.checkins
        item = settings.get(str((checkin or {}).get("key")))
        if item is None or turn.treatment is None:
            return outcome
        client = self.clients.client_for(turn.sender_id)
        text = checkin_text(
            turn.clinic,
            item,
            client.name if client else None,
            turn.treatment.treatment_date,
            turn.kind,
        )
        buttons = tuple(
            {"title": title, "payload": f"/{ANSWER_INTENT_PREFIX}{meaning}"}
            for meaning, title in quick_replies(settings, item)
        )
        outcome.replies.append(
            Reply(
                f"checkin.{item.key}",
                text,
                buttons,
                checkin=checkin["id"],
                checkin_try=checkin.get("try"),
            )
        )
        return outcome

    def answer(self, turn: Turn, meaning: str) -> Outcome:
        """A quick reply under a check-in."""
        settings, values = turn.clinic.checkins, turn.clinic.settings.placeholders()
        escalated = False
        key = meaning
        if meaning == "wrong":
            title = settings.titles.get("wrong", meaning)
            level = settings.wrong_level
            alerted = self.escalator.escalate_safely(
                turn.with_message(turn.intent, title), level, None, turn.today_day, []
            )
            key = "wrong" if alerted else "wrong_unsent"
            escalated = level_rank(level) >= level_rank("urgent")
        elif meaning not in settings.replies:
            return Outcome()
        self._record(turn, meaning, escalated)
        text = settings.replies[key].format(**values)
        return Outcome([Reply(f"checkin.answer_{key}", text)])

    def note(self, turn: Turn, outcome: Outcome) -> None:
        """A message soon after a check-in is its answer (typed); a red flag in it is noted."""
        if not turn.clinic.checkins.enabled or turn.treatment is None:
            return  # none was sent: no read on the chat's hot path
        urgent = level_rank("urgent")
        escalated = any(level_rank(r.escalation or "none") >= urgent for r in outcome.replies)
        self._record(turn, "text", escalated)

    def _record(self, turn: Turn, answer: str, escalated: bool) -> None:
        now = turn.stored_now or now_utc()
        try:
            open_id = self.checkins.open_for(turn.sender_id, now, turn.clinic.checkins.answer_hours)
            if open_id is not None:
                self.checkins.record_answer(open_id, answer, escalated, now)
        except Exception:  # noqa: BLE001 - a statistic must never cost a client their answer
            log.warning("Could not record a check-in answer", exc_info=True)

    def stop(self, sender_id: str) -> bool:
        """The client turned check-ins off in this chat; False if they already were."""
        changed = self.checkins.opt_out(conversation_subject(sender_id), "client")
        self.checkins.cancel([sender_id], OPTED_OUT)
        return changed

    def start(self, clinic: Clinic, sender_id: str) -> bool:
        """The client turned check-ins back on; False if they were not off (or the database
        failed: logged, so a /start that links the chat still does)."""
        try:
            changed = self.checkins.opt_in(conversation_subject(sender_id))
        except Exception:  # noqa: BLE001
            log.exception("Could not turn a chat's check-ins back on")
            return False
        if changed:
            self.plan(clinic, sender_id)
        return changed

    def enabled(self, sender_id: str) -> bool:
        """Whether check-ins are on for this chat (neither the client nor the clinic
        turned them off)."""
        return self.checkins.opted_out(sender_id) is None
