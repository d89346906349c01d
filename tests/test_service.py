"""The aftercare service: stored treatment dates, day mentions, the pending question."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from bot.domain.advisor import Answer
from bot.language.screening.learned import LearnedScreening
from bot.service import AftercareService, DateNotUnderstood, DateSaved, NeedsDate
from bot.service.messages import Incoming
from bot.storage.heartbeats import NOTIFIER
from tests.conftest import NOW, edit


def test_question_without_a_known_date_needs_the_date(service):
    outcome = service.answer_question("c1", "makeup", "can i wear makeup?", NOW)
    assert outcome == NeedsDate("makeup", "can i wear makeup?")


def test_general_question_is_answered_without_a_date(service):
    outcome = service.answer_question("c1", "results", "when will i see results", NOW)
    assert isinstance(outcome, Answer) and outcome.topic == "results"


def test_treatment_date_is_stored_and_used(service):
    saved = service.save_treatment_date("c1", "4 days ago", NOW)
    assert saved == DateSaved(date(2026, 11, 17), 4)
    answer = service.answer_question("c1", "oozing", "is oozing normal?", NOW)
    assert (answer.day, answer.escalation) == (4, "urgent")


def test_treatment_date_survives_a_restart(service, settings):
    service.save_treatment_date("c1", "yesterday", NOW)
    restarted = AftercareService(settings)
    assert restarted.current_day("c1", NOW) == 1


def test_day_in_the_question_answers_for_that_day_without_overwriting(service):
    service.save_treatment_date("c1", "1 day ago", NOW)
    answer = service.answer_question("c1", "oozing", "is oozing normal on day 4?", NOW)
    assert answer.day == 4 and answer.escalation == "urgent"
    assert service.current_day("c1", NOW) == 1


def test_day_in_the_question_works_without_a_stored_date(service):
    answer = service.answer_question("c2", "makeup", "can i wear makeup 48 hours after", NOW)
    assert (answer.day, answer.status) == (2, "not_yet")
    assert service.current_day("c2", NOW) is None


def test_tomorrow_is_relative_to_the_stored_day(service):
    service.save_treatment_date("c1", "2 days ago", NOW)
    answer = service.answer_question("c1", "makeup", "can I wear makeup tomorrow?", NOW)
    assert (answer.day, answer.status) == (3, "caution")


def test_tomorrow_without_a_stored_date_asks_for_it(service):
    assert isinstance(service.answer_question("c3", "makeup", "makeup tomorrow?", NOW), NeedsDate)


def test_day_summary_needs_and_uses_the_day(service):
    assert isinstance(
        service.answer_question("c1", "day_summary", "what can i do today", NOW), NeedsDate
    )
    service.save_treatment_date("c1", "3 days ago", NOW)
    assert (
        service.answer_question("c1", "day_summary", "what can i do today", NOW).entry
        == "summary@3"
    )


def test_out_of_scope_and_fallback_get_no_guidance(service):
    for intent in ("out_of_scope", "nlu_fallback"):
        answer = service.answer_question("c1", intent, "what's the capital of france", NOW)
        assert (answer.topic, answer.escalation) == (None, "question")


def test_future_and_unclear_dates_are_not_stored(service):
    assert service.save_treatment_date("c1", "tomorrow", NOW) == DateNotUnderstood("future")
    assert service.save_treatment_date("c1", "purple", NOW) == DateNotUnderstood("unclear")
    assert service.current_day("c1", NOW) is None


def test_yesterday_is_computed_in_the_clinic_time_zone(service):
    # 00:30 on 21 Nov in London is still 20 Nov in New York, but the clinic is in London.
    just_after_midnight = datetime(2026, 11, 21, 0, 30, tzinfo=timezone.utc)
    saved = service.save_treatment_date("c1", "yesterday", just_after_midnight)
    assert saved.treatment_date == date(2026, 11, 20)


def test_handoff_request_is_stored_with_the_day(service):
    service.save_treatment_date("c1", "2 days ago")
    record = service.request_handoff("c1", "can I get botox next week?", topic="other_treatment")
    assert (record.level, record.status, record.day, record.topic) == (
        "question",
        "open",
        2,
        "other_treatment",
    )
    assert [e.id for e in service.escalations.list()] == [record.id]


def test_red_flag_in_opening_hours_promises_a_call_within_the_response_time(service, clinic_dir):
    with_alerts(clinic_dir)
    service.heartbeats.beat(NOTIFIER, NOW - timedelta(seconds=20))  # the notifier is running
    service.save_treatment_date("c1", "3 days ago", NOW)  # Saturday 10:00, open 10-14
    answer = service.respond("c1", "oozing", "it's weeping yellow stuff", now=NOW)
    settings = service.clinic().settings
    assert answer.escalation == "urgent"
    assert answer.reply.endswith(
        service.phrase("escalation.urgent_open", response_minutes=settings.response_minutes)
    )
    (record,) = service.escalations.list()
    assert record.deadline_at == record.created_at + timedelta(
        minutes=settings.ack_deadline_minutes
    )


def test_red_flag_after_hours_says_when_the_clinic_opens_and_what_to_do_now(service, clinic_dir):
    with_alerts(clinic_dir)
    sunday = datetime(2026, 11, 22, 15, 0, tzinfo=timezone.utc)
    service.heartbeats.beat(NOTIFIER, sunday)
    service.save_treatment_date("c1", "3 days ago", sunday)
    answer = service.respond("c1", "oozing", "it's weeping yellow stuff", now=sunday)
    assert answer.reply.endswith(
        service.phrase("escalation.urgent_closed", next_opening="Monday 09:00")
    )


def test_emergency_reply_starts_with_the_emergency_number(service):
    answer = service.respond("c1", "greet", "my tongue is swelling up and i cant breathe", now=NOW)
    assert answer.escalation == "emergency"
    assert answer.reply.splitlines()[0] == service.phrase("notice.emergency")


def test_an_emergencys_other_question_follows_it_for_later_without_symptom_reassurance(service):
    service.save_treatment_date("c1", "3 days ago", NOW)
    text = "my lips are swelling up and I can't breathe properly, can I wear makeup tomorrow?"
    answer = service.respond("c1", "makeup", text, now=NOW)
    assert answer.escalation == "emergency"
    assert answer.reply.splitlines()[0] == service.phrase("notice.emergency")
    later = answer.reply.index(service.phrase("notice.after_emergency"))
    assert answer.reply.index("makeup") > later
    assert [(p["topic"], p["escalation"]) for p in answer.parts] == [
        ("swelling", "emergency"),
        ("makeup", "none"),
    ]


def test_escalation_records_what_was_detected(service):
    service.save_treatment_date("c1", "3 days ago", NOW)
    service.respond("c1", "oozing", "it's still weeping and there's yellow crust", now=NOW)
    (record,) = service.escalations.list()
    assert (record.level, record.day, record.treatment_kind) == ("urgent", 3, "medical")
    assert {"oozing", "infection_signs", "sign:pus"} <= set(record.symptoms)
    assert record.message == "it's still weeping and there's yellow crust"


def test_a_symptom_asked_about_is_answered_for_its_safest_day_not_the_storys(service):
    service.save_treatment_date("c1", "12 days ago", NOW)
    text = "the bruise I got on my chin on day 1 is still there now on day 12. No pain."
    answer = service.respond("c1", "bruising", text, now=NOW)
    assert (answer.topic, answer.escalation, answer.day) == ("bruising", "question", 12)


def test_a_past_day_in_the_story_does_not_hide_todays_red_flag(service):
    service.save_treatment_date("c1", "8 days ago", NOW)
    answer = service.respond("c1", "redness", "still red, no better than day 2", now=NOW)
    assert answer.escalation == "urgent"


def test_unplaced_symptom_goes_to_the_team(service):
    answer = service.respond("c1", "nlu_fallback", "my cheek feels numb", now=NOW)
    assert (answer.escalation, answer.reply) == ("question", service.phrase("escalation.unplaced"))


def with_alerts(clinic_dir) -> None:
    """Configure one staff channel (a webhook) in the clinic copy."""
    edit(
        clinic_dir / "settings.yml",
        "  alerts:\n",
        '  alerts:\n    webhook:\n      url: "http://127.0.0.1:9/hook"\n',
    )


def test_without_a_staff_channel_the_client_is_told_to_call_not_that_staff_were_alerted(service):
    service.save_treatment_date("c1", "3 days ago", NOW)
    answer = service.respond("c1", "oozing", "it's weeping yellow stuff", now=NOW)
    assert answer.escalation == "urgent" and answer.reply.endswith(
        service.phrase("escalation.call_us")
    )
    assert answer.alert_unsent  # the widget's banner says to call, too
    assert service.escalations.list()[0].level == "urgent"  # still recorded for the team
    # "Call us now" stands in for the urgent notice ("contact us today"): said once, not twice.
    assert service.phrase("notice.urgent") not in answer.reply
    phone = service.clinic().settings.phone
    assert answer.reply.count(phone) == 1


def test_while_the_notifier_is_silent_the_client_is_told_to_call_not_that_staff_know(
    service, clinic_dir
):
    with_alerts(clinic_dir)
    service.heartbeats.beat(NOTIFIER, NOW - timedelta(seconds=45))  # stopped 45 s ago
    service.save_treatment_date("c1", "3 days ago", NOW)
    answer = service.respond("c1", "oozing", "it's weeping yellow stuff", now=NOW)
    assert answer.escalation == "urgent"
    assert answer.reply.endswith(service.phrase("escalation.call_us"))
    emergency = service.respond("c2", "greet", "my lips are swelling and i cant breathe", now=NOW)
    assert service.phrase("escalation.emergency") not in emergency.reply
    assert len(service.escalations.list()) == 2  # both recorded, and queued for the notifier


def test_a_storage_failure_still_gives_the_red_flag_reply(service, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(service, "escalate", broken)
    answer = service.respond("c1", "greet", "my lips are swelling and i cant breathe", now=NOW)
    assert answer.escalation == "emergency" and answer.reply.startswith(
        service.phrase("notice.emergency")
    )


def test_twenty_hours_ago_at_nine_in_the_morning_was_yesterday(service):
    nine_am = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
    assert service.save_treatment_date("c1", "20 hours ago", nine_am).day == 1


def test_with_the_day_unknown_a_red_flag_urgent_on_every_day_escalates_at_once(service):
    answer = service.respond("new-client", "bleeding", "my face wont stop bleeding", now=NOW)
    assert (answer.escalation, answer.entry) == ("urgent", "bleeding@any+wont_stop")
    assert service.escalations.list()[0].level == "urgent"


def test_with_the_day_unknown_a_day_dependent_symptom_asks_for_the_date(service):
    assert isinstance(
        service.respond("new-client", "oozing", "it's oozing a bit", now=NOW), NeedsDate
    )
    assert service.escalations.list() == []


def test_handoff_request_alerts_staff_on_every_channel(service, clinic_dir):
    edit(
        clinic_dir / "settings.yml",
        "  alerts:\n",
        '  alerts:\n    webhook:\n      url: "http://127.0.0.1:9/hook"\n',
    )
    record = service.request_handoff("c1", "can I talk to someone about my next session?")
    deliveries = service.escalations.deliveries(record.id)
    assert [(d["channel"], d["purpose"], d["status"]) for d in deliveries] == [
        ("webhook", "alert", "pending")
    ]
    assert record.deadline_at is None  # a question has no acknowledgement deadline


def test_dates_in_replies_follow_the_clinics_language_file(service, clinic_dir):
    edit(
        clinic_dir / "language.yml",
        'date_format: "{weekday} {day:02d} {month} {year}"',
        'date_format: "{day}. {month_long} {year}"',
    )
    saved = service.save_treatment_date("c1", "18/11", now=NOW)
    assert saved.treatment_date == date(2026, 11, 18)
    from bot.service import Incoming

    outcome = service.date_given(Incoming("c2", "give_treatment_date", "18/11"), None, now=NOW)
    assert "18. November 2026" in outcome.replies[-1].text


def test_weekday_names_clients_write_come_from_the_language_file(service, clinic_dir):
    edit(
        clinic_dir / "language.yml",
        "forms: [tue, tues, tuesday]",
        "forms: [tue, tues, tuesday, martes]",
    )
    saved = service.save_treatment_date("c1", "el martes", now=NOW)  # Saturday 21 Nov
    assert saved.treatment_date == date(2026, 11, 17)


def test_a_product_the_question_names_picks_the_topics_variant(service):
    service.save_treatment_date("c1", "today", NOW)
    products = service.answer_question("c1", "cleansing", "can I use my CeraVe foam cleanser?", NOW)
    water = service.answer_question("c1", "cleansing", "can I rinse with water tonight?", NOW)
    assert (products.status, products.entry) == ("not_yet", "cleansing/products@0-1")
    assert (water.status, water.entry) == ("caution", "cleansing@0-1")


def test_every_activity_a_question_names_is_answered(service):
    service.save_treatment_date("c1", "4 days ago", NOW)
    answer = service.respond("c1", "heat_exposure", "can I do hot yoga tonight?", now=NOW)
    assert {p["topic"]: p["status"] for p in answer.parts} == {
        "heat_exposure": "allowed",
        "exercise": "allowed",
    }


def test_an_activity_word_in_a_question_outside_the_kb_is_not_answered(service):
    service.save_treatment_date("c1", "today", NOW)
    answer = service.respond("c1", "out_of_scope", "can I take the train to work?", now=NOW)
    assert (answer.response, answer.topic, answer.parts) == ("kb_no_guidance", None, ())


def test_a_second_question_outside_the_kb_gets_the_offer_after_the_answer(service):
    from bot.service.messages import Incoming

    service.save_treatment_date("c1", "3 days ago", NOW)
    text = "Can I go to the gym tomorrow? Also can I have a pint tonight?"
    clauses = (
        {"text": "Can I go to the gym tomorrow?", "intent": "exercise", "confidence": 0.9},
        {"text": "Also can I have a pint tonight?", "intent": "out_of_scope", "confidence": 0.9},
    )
    outcome = service.answer(Incoming("c1", "exercise", text, clauses=clauses), now=NOW)
    assert [r.key for r in outcome.replies] == ["kb_answer", "kb_no_guidance"]
    assert outcome.replies[1].buttons and outcome.replies[1].escalation == "question"
    assert outcome.slots["handoff_offer"]["message"] == text


def test_a_symptom_reported_over_is_confirmed_only_when_the_kb_expects_it_today(service):
    service.save_treatment_date("c1", "today", NOW)
    text = "the little blood dots stopped before I left the clinic. can I put makeup on tonight?"
    answer = service.respond("c1", "makeup", text, now=NOW)
    assert [(p["topic"], p["escalation"]) for p in answer.parts] == [
        ("makeup", "none"),
        ("bleeding", "none"),
    ]
    service.save_treatment_date("c2", "4 days ago", NOW)
    late = "the oozing stopped yesterday, can I put makeup on tonight?"
    answer = service.respond("c2", "makeup", late, now=NOW)
    assert (answer.topic, answer.parts, answer.escalation) == ("makeup", (), "none")


def test_a_question_the_kb_answers_inside_a_message_nlu_read_as_outside_comes_first(service):
    from bot.service.messages import Incoming

    service.save_treatment_date("c1", "3 days ago", NOW)
    text = "Can I wear makeup tomorrow? And can I have a glass of wine tonight?"
    outcome = service.answer(Incoming("c1", "out_of_scope", text), now=NOW)
    assert [r.key for r in outcome.replies] == ["kb_answer", "kb_no_guidance"]


def test_a_question_naming_a_medicine_gets_the_symptom_answer_and_the_offer(service):
    from bot.service.messages import Incoming

    service.save_treatment_date("c1", "today", NOW)
    text = "can I take ibuprofen for the soreness? it's just tender"
    outcome = service.answer(Incoming("c1", "pain", text), now=NOW)
    assert [r.key for r in outcome.replies] == ["kb_answer", "kb_no_guidance"]


def test_nlu_sure_of_a_topic_the_text_does_not_name_beside_an_outside_word_does_not_guess(
    service,
):
    from bot.service.messages import Incoming

    service.save_treatment_date("c1", "today", NOW)
    text = "ok to put my contact lenses back in tomorrow?"
    outcome = service.answer(Incoming("c1", "touching_picking", text, confidence=0.95), now=NOW)
    assert [r.key for r in outcome.replies] == ["kb_no_guidance"]


def test_a_red_flag_topic_asked_about_in_a_what_if_is_guidance_not_an_escalation(service):
    service.save_treatment_date("c1", "3 days ago", NOW)
    text = "at what temperature should I start worrying? I don't have one"
    answer = service.respond("c1", "infection_signs", text, now=NOW)
    assert (answer.topic, answer.escalation) == ("infection_signs", "none")
    assert service.escalations.list() == []


def test_an_urgent_sign_the_net_doubts_is_the_client_s_goes_to_a_person_without_an_alert(
    service,
):
    service.save_treatment_date("c1", "3 days ago", NOW)
    text = "My husband has a cold sore. Can I kiss him?"  # urgent as the lexicon reads it
    doubtful = LearnedScreening({"context:present": 0.05}, {"context:present": 0.6})
    turn = service.turn(Incoming("c1", "cold_sores", text, learned=doubtful.as_dict()), NOW)
    answer = service.answering.respond(turn)
    assert answer.escalation == "question"
    assert answer.reply.startswith(service.phrase("escalation.unsure_whose"))
    assert service.escalations.list() == []
    sure = LearnedScreening({"context:present": 0.9}, {"context:present": 0.6})
    turn = service.turn(Incoming("c1", "cold_sores", text, learned=sure.as_dict()), NOW)
    assert service.answering.respond(turn).escalation == "urgent"


def test_redness_said_to_be_no_better_on_day_5_is_urgent_but_still_pink_is_expected(service):
    service.save_treatment_date("c1", "5 days ago", NOW)
    text = "redness is the same as day 2, not improving at all"
    assert service.respond("c1", "redness", text, now=NOW).escalation == "urgent"
    still = service.respond("c1", "redness", "still a bit pink, is that ok?", now=NOW)
    assert still.escalation == "none"
