"""Escalating a conversation to the clinic team: the record, its alerts, and what the client
is told happens next."""

from __future__ import annotations

import logging

from bot.domain.turn import Turn
from bot.storage.clients import ClientRegistry
from bot.storage.escalations import Escalation, EscalationRepository
from bot.storage.heartbeats import NOTIFIER, Heartbeats

log = logging.getLogger(__name__)
ALERTED_LEVELS = ("urgent", "emergency")
# The notifier beats every 5 s (bot.alerts.worker); this long without a beat, it is not
# running and the client is not told that staff were alerted.
NOTIFIER_MAX_SILENCE_SECONDS = 30.0


class Escalator:
    """Stores escalations (and their alerts, in one transaction) for the service."""

    def __init__(
        self, escalations: EscalationRepository, clients: ClientRegistry, heartbeats: Heartbeats
    ):
        self.escalations, self.clients, self.heartbeats = escalations, clients, heartbeats

    def alerts_go_out(self, turn: Turn) -> bool:
        """Whether an alert stored now reaches staff soon: a channel is configured, the
        notifier that sends it has shown signs of life recently, and no staff alert of an open
        escalation was refused for good (a broken channel is not promised)."""
        if not turn.clinic.settings.alerts.names():
            return False
        alive = self.heartbeats.alive(NOTIFIER, NOTIFIER_MAX_SILENCE_SECONDS, turn.stored_now)
        return alive and not self.escalations.staff_alerts_failing()

    def escalate(
        self,
        turn: Turn,
        message: str | None,
        level: str,
        topic: str | None,
        day: int | None,
        symptoms: list[str],
    ) -> Escalation:
        """Store the escalation and queue an alert on every configured channel."""
        settings = turn.clinic.settings
        treatment = turn.treatment
        client = self.clients.client_for(turn.sender_id)
        return self.escalations.create(
            turn.sender_id,
            level,
            message,
            topic,
            day,
            channels=settings.alerts.names(),
            client_name=client.name if client else None,
            symptoms=symptoms,
            treatment_date=treatment.treatment_date if treatment else None,
            treatment_kind=turn.kind or settings.default_treatment_kind,
            deadline_minutes=settings.ack_deadline_minutes if level in ALERTED_LEVELS else None,
            now=turn.stored_now,
        )

    def escalate_safely(
        self, turn: Turn, level: str, topic: str | None, day: int | None, symptoms: list[str]
    ) -> bool:
        """Store the escalation of the turn's message; True if staff will be alerted (a
        channel is configured and the notifier is alive). A storage failure must not cost the
        client their red-flag reply: it is logged and the client is told to call."""
        try:
            self.escalate(turn, turn.text, level, topic, day, symptoms)
        except Exception:
            log.critical(
                "Could not store the %s escalation of %s; the client is told to call",
                level,
                turn.sender_id,
                exc_info=True,
            )
            return False
        try:
            return self.alerts_go_out(turn)
        except Exception:  # the database just failed us: promise nothing
            log.error("Could not read the notifier's heartbeat", exc_info=True)
            return False

    @staticmethod
    def next_steps(turn: Turn, level: str, alerted: bool = True) -> str:
        """What happens next: who contacts the client and when, from the opening hours.
        Only says staff were alerted when an alert is really on its way."""
        advisor, settings = turn.advisor, turn.clinic.settings
        if not alerted:
            return "" if level == "emergency" else advisor.phrase("escalation.call_us")
        if level == "emergency":
            return advisor.phrase("escalation.emergency")
        local = turn.local_now
        if settings.opening_hours.is_open(local.weekday(), local.time()):
            return advisor.phrase(
                "escalation.urgent_open", response_minutes=settings.response_minutes
            )
        opening = settings.opening_hours.next_opening(local)
        when = turn.clinic.language.format_time(opening) if opening else settings.opening_hours.text
        return advisor.phrase("escalation.urgent_closed", next_opening=when)
