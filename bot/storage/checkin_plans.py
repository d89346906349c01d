"""Filling the check-in due-table from what we know of a conversation's treatment: when the
date becomes known (a clinic link, a date given in chat), when a client turns check-ins back
on, and when the clinic edits its check-ins (every conversation is planned again)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.domain.checkins import plan
from bot.domain.days import local_today
from bot.kb.model import Clinic
from bot.storage.checkins import Checkins
from bot.storage.models import Conversation

log = logging.getLogger(__name__)


def plan_conversation(sessions: sessionmaker, clinic: Clinic, sender_id: str, now: datetime) -> int:
    """Plan one conversation's check-ins from its stored treatment (none while check-ins are
    off for it), and again those of the client's other chats (check-ins go to one of them);
    how many are pending in this one."""
    checkins, pending = Checkins(sessions), 0
    for chat in checkins.client_chats(sender_id):
        with sessions() as session:
            row = session.get(Conversation, chat)
            treatment = (row.treatment_date, row.treatment_kind) if row is not None else None
        if treatment is not None and treatment[0] is not None:
            planned = _plan(checkins, clinic, chat, treatment, now)
            pending += planned if chat == sender_id else 0
    return pending


def _plan(checkins: Checkins, clinic: Clinic, sender_id: str, treatment, now: datetime) -> int:
    treatment_date, kind = treatment
    if checkins.opted_out(sender_id):
        return 0
    if checkins.client_chats(sender_id)[0] != sender_id:  # the client's other chat has them
        return checkins.plan(sender_id, treatment_date, [], now)
    kind = kind if kind in clinic.kb.kinds else clinic.settings.default_treatment_kind
    planned = plan(clinic.checkins, treatment_date, kind, clinic.settings.time_zone, now)
    return checkins.plan(sender_id, treatment_date, planned, now)


def plan_all(sessions: sessionmaker, clinic: Clinic, now: datetime) -> int:
    """Plan every conversation whose treatment is recent enough to have a check-in ahead
    (after the clinic edited its check-ins, and when the dispatcher starts)."""
    last_day = max((c.day for c in clinic.checkins.items), default=-1)
    if last_day < 0:
        return 0
    oldest = local_today(clinic.settings.time_zone, now) - timedelta(days=last_day + 1)
    with sessions() as session:
        treatments = session.execute(
            select(Conversation.sender_id, Conversation.treatment_date, Conversation.treatment_kind)
            .where(Conversation.treatment_date >= oldest)
            .order_by(Conversation.sender_id)
        ).all()
    checkins, planned = Checkins(sessions), 0
    for sender_id, treatment_date, kind in treatments:
        try:
            planned += _plan(checkins, clinic, sender_id, (treatment_date, kind), now)
        except Exception:  # noqa: BLE001 - one conversation must not stop the others
            log.exception("Could not plan the check-ins of a conversation")
    return planned
