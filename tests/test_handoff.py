"""While a team member owns a chat the bot stays quiet, but still screens every message; a
hand-off nobody replies in goes back to the bot. Plus the client's view of staff events."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import update

from bot.service.messages import Incoming
from bot.storage.heartbeats import NOTIFIER
from bot.storage.models import HandoffRow
from tests.test_service import with_alerts

NOW = datetime.now(timezone.utc)


def claim(service, sender="c1", name="Sam"):
    service.handoffs.claim(sender, None, name)


def test_the_bot_is_quiet_in_a_chat_a_person_owns(service):
    claim(service)
    for intent, text in [("makeup", "can I wear makeup?"), ("greet", "hello"), ("affirm", "yes")]:
        outcome = service.answer(Incoming("c1", intent, text), now=NOW)
        assert outcome.replies == [] and not outcome.open_date_form
        assert outcome.quiet  # the channel is told: screened, quiet on purpose
    assert (
        service.handoff_requested(Incoming("c1", "request_human", "a person"), None).replies == []
    )
    assert service.ask_date(Incoming("c1", "", ""), None).replies == []
    assert service.escalations.list() == []  # nothing asked of the team by a plain question


def alerts_on(service, clinic_dir) -> None:
    """A staff alert channel and a running notifier: alerts go out."""
    with_alerts(clinic_dir)
    service.heartbeats.beat(NOTIFIER)


def test_a_red_flag_in_an_owned_chat_is_escalated_and_the_client_is_not_answered(
    service, clinic_dir
):
    alerts_on(service, clinic_dir)
    claim(service)
    text = "there's yellow pus coming out of a spot on my cheek and it smells"
    outcome = service.answer(Incoming("c1", "infection", text), now=NOW)
    assert outcome.replies == []
    (record,) = service.escalations.list()
    assert record.sender_id == "c1" and record.level == "urgent"


def test_a_red_flag_staff_cannot_be_alerted_to_gets_its_call_us_reply_even_when_owned(service):
    claim(service)  # no alert channel: nobody would hear of it
    text = "there's yellow pus coming out of a spot on my cheek and it smells"
    outcome = service.answer(Incoming("c1", "infection", text), now=NOW)
    phone = service.clinic().settings.phone
    assert outcome.replies and outcome.replies[0].alert_unsent
    assert phone in " ".join(r.text for r in outcome.replies)


def test_a_failed_turn_in_an_owned_chat_is_screened_by_the_channels_rescue(service, clinic_dir):
    alerts_on(service, clinic_dir)
    claim(service)
    quiet = service.screen_unanswered("c1", "can I wear makeup?")
    assert quiet is None and service.escalations.list() == []
    urgent = service.screen_unanswered("c1", "yellow pus is oozing from my cheek and it smells")
    assert urgent is None and [e.level for e in service.escalations.list()] == ["urgent"]
    emergency = service.screen_unanswered("c1", "my throat is closing and I can't breathe")
    number = service.clinic().settings.emergency_number
    assert emergency is not None and number in emergency.replies[0].text


def test_an_emergency_in_an_owned_chat_still_gets_call_now_at_once(service):
    claim(service)
    outcome = service.answer(
        Incoming("c1", "breathing", "I can't breathe and my throat is closing"), now=NOW
    )
    number = service.clinic().settings.emergency_number
    assert outcome.replies and number in outcome.replies[0].text
    assert [e.level for e in service.escalations.list()] == ["emergency"]


def test_a_quiet_hand_off_goes_back_to_the_bot_with_a_notice(service):
    claim(service)
    idle = service.clinic().settings.inbox.handoff_idle_minutes
    with service.sessions.begin() as session:
        session.execute(
            update(HandoffRow).values(
                active_at=datetime.now(timezone.utc) - timedelta(minutes=idle + 1)
            )
        )
    outcome = service.answer(Incoming("c1", "results", "when will I see results?"), now=NOW)
    assert [r.key for r in outcome.replies][0] == "handoff.idle_back"
    assert len(outcome.replies) >= 2  # and the question is answered
    assert service.handoffs.owner("c1") is None


def test_staff_events_are_told_to_the_client_in_the_clinics_words(service):
    reply = service.staff_event("c1", {"kind": "reply", "staff_name": "Sam", "text": "<b>hi</b>"})
    assert reply.replies[0].key == "handoff.staff_reply"
    assert "Sam" in reply.replies[0].text and "<b>hi</b>" in reply.replies[0].text
    assert reply.slots == {"staff_event": None}
    joined = service.staff_event("c1", {"kind": "joined", "staff_name": "Sam"})
    assert joined.replies[0].text == service.phrase("handoff.staff_joined", staff_name="Sam")
    assert service.staff_event("c1", {"kind": "bogus"}).replies == []
    assert service.staff_event("c1", None).replies == []


def test_answered_questions_are_counted_for_the_overview_without_who_asked(service):
    service.answer(Incoming("c2", "results", "when will I see results?"), now=NOW)
    service.answer(Incoming("c2", "out_of_scope", "can I dye my hair?"), now=NOW)
    rows = service.stats.since(1)
    assert sorted(outcome for _, _, outcome in rows) == ["answered", "no_guidance"]


def test_an_unowned_chat_is_answered_and_not_marked_quiet(service):
    outcome = service.answer(Incoming("c9", "results", "when will I see results?"), now=NOW)
    assert outcome.replies and not outcome.quiet
    assert not service.handed_off("c9")
