"""Check-ins from the conversation's side: the words a check-in is sent with, what its quick
replies and a typed answer do, planning when the treatment becomes known, and /stop and
/start on Telegram."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from bot.service.messages import CHECKIN, Incoming
from bot.storage.checkins import Checkins, conversation_subject
from bot.storage.clients import ClientRegistry
from tests.fakes.telegram_api import FakeTelegramApi
from tests.test_handoff import alerts_on
from tests.test_telegram_channel import SENDER as TELEGRAM_SENDER
from tests.test_telegram_channel import USER, Channel, run

# A Monday morning in London (winter time): treatment day 0 is this date.
NOW = datetime(2026, 11, 16, 9, 30, tzinfo=timezone.utc)
TODAY = date(2026, 11, 16)


def treated(service, sender: str, days_ago: int) -> None:
    """The client tells the bot their treatment date (which plans their check-ins)."""
    service.save_treatment_date(sender, f"{days_ago} days ago", now=NOW)


def sent_now(service, sender: str, key: str, at: datetime) -> int:
    """The dispatcher's part: claim the check-in and record it sent at `at`."""
    checkins = Checkins(service.sessions)
    claimed = [d for d in checkins.claim_due(at, 60) if d.sender_id == sender and d.key == key]
    assert claimed, f"{key} was not due at {at}"
    checkins.mark_sent(claimed[0].id, at, late=False)
    return claimed[0].id


def rows(service, sender: str) -> dict[str, object]:
    return {v.key: v for v in Checkins(service.sessions).listing(sender_id=sender)}


def test_a_date_given_in_chat_plans_the_check_ins_still_ahead(service):
    treated(service, "c1", 2)  # day 2: day 0 and day 1 are past, day 3, 7 and 28 ahead
    planned = rows(service, "c1")
    assert set(planned) == {"day3_morning", "day7", "day28_book_next"}
    assert all(v.status == "pending" for v in planned.values())
    assert planned["day3_morning"].due_at == datetime(2026, 11, 17, 9, 0, tzinfo=timezone.utc)
    # A corrected date re-plans: the old date's pending check-ins go.
    treated(service, "c1", 0)
    assert set(rows(service, "c1")) == {
        "day0_evening",
        "day1_morning",
        "day3_morning",
        "day7",
        "day28_book_next",
    }
    assert {v.due_at.date() for v in rows(service, "c1").values()} >= {TODAY}


def test_opening_the_clinic_link_plans_the_registered_treatments_check_ins(service):
    registry = ClientRegistry(service.sessions)
    _, code = registry.add("Ann Lee", TODAY, "medical", now=NOW)
    service.link_chat("telegram-7", code, "telegram", now=NOW)
    assert len(rows(service, "telegram-7")) == 5


def test_a_check_in_is_sent_in_the_clinics_words_with_its_quick_replies(service):
    registry = ClientRegistry(service.sessions)
    _, code = registry.add("Ann Lee", TODAY - timedelta(days=3), "medical", now=NOW)
    service.link_chat("c2", code, "web", now=NOW)
    row_id = rows(service, "c2")["day7"].id
    outcome = service.checkin_message("c2", {"id": row_id, "key": "day7"}, now=NOW)
    (reply,) = outcome.replies
    assert reply.key == "checkin.day7" and reply.checkin == row_id
    assert reply.text.startswith("Hi Ann, one week since your treatment.")
    # {changes_today}: what the knowledge base allows from day 7 and not on day 6.
    assert "retinol" in reply.text and "scrubs" in reply.text and "makeup" not in reply.text
    assert [(b["title"], b["payload"]) for b in reply.buttons] == [
        ("All good 👍", "/checkin_fine"),
        ("A bit worried", "/checkin_worried"),
        ("Something's wrong", "/checkin_wrong"),
    ]
    assert outcome.slots == {CHECKIN: None}
    # One the clinic removed meanwhile is not sent.
    assert service.checkin_message("c2", {"id": row_id, "key": "gone"}, now=NOW).replies == []


def test_all_good_is_thanked_and_recorded_without_alerting_anyone(service):
    treated(service, "c3", 0)
    at = datetime(2026, 11, 16, 18, 5, tzinfo=timezone.utc)
    sent_now(service, "c3", "day0_evening", at)
    outcome = service.checkin_answer(Incoming("c3", "checkin_fine", "/checkin_fine"), now=at)
    assert outcome.replies[0].text == service.clinic().checkins.replies["fine"]
    assert service.escalations.list() == []
    row = rows(service, "c3")["day0_evening"]
    assert (row.answer, row.escalated) == ("fine", False)


def test_a_bit_worried_asks_what_and_the_answer_is_screened_like_any_message(service, clinic_dir):
    alerts_on(service, clinic_dir)
    treated(service, "c4", 0)
    at = datetime(2026, 11, 16, 18, 0, tzinfo=timezone.utc)
    sent_now(service, "c4", "day0_evening", at)
    later = at + timedelta(minutes=20)
    worried = service.checkin_answer(
        Incoming("c4", "checkin_worried", "/checkin_worried"), now=later
    )
    assert "What's worrying you?" in worried.replies[0].text
    assert service.escalations.list() == []
    text = "there's yellow pus coming out of a spot on my cheek and it smells"
    outcome = service.answer(Incoming("c4", "infection_signs", text), now=later)
    assert outcome.replies[0].escalation == "urgent"
    (record,) = service.escalations.list()
    assert record.level == "urgent"
    row = rows(service, "c4")["day0_evening"]
    assert (row.answer, row.escalated) == ("worried", True)


def test_somethings_wrong_alerts_the_team_and_asks_what_is_happening(service, clinic_dir):
    alerts_on(service, clinic_dir)
    treated(service, "c5", 0)
    at = datetime(2026, 11, 16, 18, 1, tzinfo=timezone.utc)
    sent_now(service, "c5", "day0_evening", at)
    outcome = service.checkin_answer(Incoming("c5", "checkin_wrong", "/checkin_wrong"), now=at)
    assert "Please tell me what's happening" in outcome.replies[0].text
    (record,) = service.escalations.list()
    assert (record.level, record.message, record.day) == ("urgent", "Something's wrong", 0)
    row = rows(service, "c5")["day0_evening"]
    assert (row.answer, row.escalated) == ("wrong", True)


def test_somethings_wrong_when_staff_cannot_be_alerted_says_to_call(service):
    treated(service, "c6", 0)  # no alert channel configured
    at = datetime(2026, 11, 16, 18, 1, tzinfo=timezone.utc)
    sent_now(service, "c6", "day0_evening", at)
    outcome = service.checkin_answer(Incoming("c6", "checkin_wrong", "/checkin_wrong"), now=at)
    assert outcome.replies[0].key == "checkin.answer_wrong_unsent"
    assert service.clinic().settings.phone in outcome.replies[0].text


def test_a_typed_answer_counts_and_a_late_message_does_not(service):
    treated(service, "c7", 0)
    at = datetime(2026, 11, 16, 18, 0, tzinfo=timezone.utc)
    sent_now(service, "c7", "day0_evening", at)
    service.answer(Incoming("c7", "makeup", "all fine! can I wear makeup?"), now=at)
    assert rows(service, "c7")["day0_evening"].answer == "text"
    sent_now(service, "c7", "day1_morning", datetime(2026, 11, 17, 9, 0, tzinfo=timezone.utc))
    late = datetime(2026, 11, 18, 10, 0, tzinfo=timezone.utc)  # after the 24 h answer time
    service.answer(Incoming("c7", "makeup", "can I wear makeup?"), now=late)
    assert rows(service, "c7")["day1_morning"].answer is None
    assert Checkins(service.sessions).close_unanswered(late, 24) == 1
    assert rows(service, "c7")["day1_morning"].answer == "none"  # recorded, never escalated
    assert service.escalations.list() == []


@pytest.fixture
def api():
    fake = FakeTelegramApi()
    fake.start()
    yield fake
    fake.stop()


def test_stop_turns_check_ins_off_and_start_turns_them_back_on(api, service):
    service.save_treatment_date(TELEGRAM_SENDER, "yesterday")  # /start plans on the real clock

    async def scenario():
        async with Channel(api) as channel:
            api.push_text(USER, "/stop")
            await channel.sent_to(USER, 1)
            api.push_text(USER, "/stop")
            await channel.sent_to(USER, 2)
            stopped = {v.status for v in rows(service, TELEGRAM_SENDER).values()}
            api.push_text(USER, "/start")
            return await channel.sent_to(USER, 4), stopped

    texts, stopped = run(scenario())
    assert texts[0] == service.phrase("telegram.checkins_stopped")
    assert texts[1] == service.phrase("telegram.checkins_already_stopped")
    assert stopped == {"skipped"}
    assert texts[2] == service.phrase("telegram.checkins_started")
    assert texts[3] == service.phrase("chat.greet")
    checkins = Checkins(service.sessions)
    assert checkins.opted_out(TELEGRAM_SENDER) is None
    assert checkins.opt_out(conversation_subject(TELEGRAM_SENDER), "client")  # was back on
    pending = [v for v in rows(service, TELEGRAM_SENDER).values() if v.status == "pending"]
    assert {v.key for v in pending} >= {"day3_morning", "day7", "day28_book_next"}


def test_typed_words_classified_as_a_quick_reply_are_answered_as_an_ordinary_message(
    service, clinic_dir
):
    """Only a button's exact payload is a quick reply: words NLU put there are screened and
    answered like any message (here a red flag), never taken for "all good"."""
    alerts_on(service, clinic_dir)
    treated(service, "c8", 0)
    at = datetime(2026, 11, 16, 18, 0, tzinfo=timezone.utc)
    sent_now(service, "c8", "day0_evening", at)
    text = "checkin fine but there's yellow pus coming out of a spot on my cheek"
    outcome = service.checkin_answer(Incoming("c8", "checkin_fine", text), now=at)
    assert outcome.replies[0].escalation == "urgent"
    assert outcome.replies[0].text != service.clinic().checkins.replies["fine"]
    assert rows(service, "c8")["day0_evening"].answer == "text"
