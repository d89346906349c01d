"""Rasa actions: each reads the tracker, calls the service, replies by key, returns events."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import ActionAnswer, ActionAnswerPending, ActionEscalationUpdate
from actions.handoff import ActionAffirm, ActionDeny, ActionRequestHuman
from actions.treatment_date import (
    ActionAskTreatmentDate,
    ActionSetTreatmentDate,
    ValidateTreatmentDateForm,
)


def tracker(
    text: str,
    intent: str,
    slots: dict | None = None,
    sender: str = "client-1",
    message_id: str = "m1",
) -> Tracker:
    return Tracker(
        sender_id=sender,
        slots=slots or {},
        latest_message={
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "entities": [],
            "message_id": message_id,
        },
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def run(action, track: Tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, track, {}))
    return dispatcher.messages, {
        e["name"] if e["event"] == "slot" else e["event"]: e.get("value", e.get("name"))
        for e in events
    }


def keys(messages) -> list[str]:
    return [m["response_key"] for m in messages]


def test_question_without_date_opens_the_date_form_silently(service):
    messages, events = run(ActionAnswer(), tracker("can i wear makeup?", "makeup"))
    assert messages == []
    assert events["active_loop"] == "treatment_date_form"
    assert events["pending_question"] == {
        "intent": "makeup",
        "text": "can i wear makeup?",
        "message_id": "m1",
    }
    assert events["requested_slot"] == "treatment_date"


def test_date_form_does_not_take_the_question_as_the_answer(service):
    pending = {"intent": "makeup", "text": "can i wear makeup?", "message_id": "m1"}
    result = asyncio.run(
        ValidateTreatmentDateForm().validate_treatment_date(
            "can i wear makeup?",
            CollectingDispatcher(),
            tracker("can i wear makeup?", "makeup", {"pending_question": pending}),
            {},
        )
    )
    assert result == {"treatment_date": None, "date_problem": None}


def test_date_form_stores_a_natural_date_and_confirms(service):
    dispatcher = CollectingDispatcher()
    track = tracker(
        "4 days ago",
        "give_treatment_date",
        {"pending_question": {"intent": "makeup", "text": "x", "message_id": "m0"}},
    )
    result = asyncio.run(
        ValidateTreatmentDateForm().validate_treatment_date("4 days ago", dispatcher, track, {})
    )
    assert result["date_problem"] is None and result["treatment_date"]
    assert keys(dispatcher.messages) == ["date.saved"]
    assert service.current_day("client-1") == 4


def test_date_form_rejects_nonsense_and_says_why(service):
    result = asyncio.run(
        ValidateTreatmentDateForm().validate_treatment_date(
            "blue sky", CollectingDispatcher(), tracker("blue sky", "out_of_scope"), {}
        )
    )
    assert (result["treatment_date"], result["date_problem"]) == (None, "unclear")
    assert result["pending_question"]["attempts"] == 1


def test_date_question_is_reworded_after_a_problem(service):
    messages, _ = run(
        ActionAskTreatmentDate(),
        tracker("next week", "give_treatment_date", {"date_problem": "future"}),
    )
    assert keys(messages) == ["date.future"]
    messages, _ = run(ActionAskTreatmentDate(), tracker("can i swim", "swimming"))
    assert keys(messages) == ["date.ask"]


def test_pending_question_is_answered_once_the_date_is_known(service):
    service.save_treatment_date("client-1", "4 days ago")
    pending = {"intent": "oozing", "text": "is oozing normal?", "message_id": "m1"}
    messages, events = run(
        ActionAnswerPending(),
        tracker("4 days ago", "give_treatment_date", {"pending_question": pending}),
    )
    assert keys(messages) == ["red_flag"]  # the waiting question is screened like any message
    assert (
        events["last_answer"]["topic"] == "oozing"
        and events["last_answer"]["escalation"] == "urgent"
    )
    assert events["pending_question"] is None
    assert service.escalations.list()[0].message == "is oozing normal?"


def test_pending_calm_question_gets_its_answer(service):
    service.save_treatment_date("client-1", "4 days ago")
    pending = {"intent": "makeup", "text": "can i wear makeup", "message_id": "m1"}
    messages, events = run(
        ActionAnswerPending(),
        tracker("4 days ago", "give_treatment_date", {"pending_question": pending}),
    )
    assert keys(messages) == ["kb_answer"] and events["last_answer"]["entry"] == "makeup@4-6"


def test_oozing_on_day_4_escalates(service):
    service.save_treatment_date("client-1", "4 days ago")
    messages, events = run(ActionAnswer(), tracker("is oozing normal?", "oozing"))
    assert keys(messages) == ["red_flag"]
    assert (events["last_answer"]["status"], events["last_answer"]["escalation"]) == (
        "red_flag",
        "urgent",
    )
    (record,) = service.escalations.list()
    assert (record.level, record.day, record.topic, record.message) == (
        "urgent",
        4,
        "oozing",
        "is oozing normal?",
    )


def test_answer_records_entry_and_kb_version(service):
    service.save_treatment_date("client-1", "4 days ago")
    _, events = run(ActionAnswer(), tracker("can i wear makeup", "makeup"))
    assert events["last_answer"]["entry"] == "makeup@4-6"
    assert events["last_answer"]["kb_version"] == service.clinic().kb.version


def test_out_of_scope_offers_to_pass_it_on(service):
    messages, events = run(ActionAnswer(), tracker("can you book me a table", "out_of_scope"))
    assert keys(messages) == ["kb_no_guidance"]
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert events["handoff_offer"]["level"] == "question"


def test_yes_to_the_offer_records_an_escalation(service):
    offer = {
        "message": "can I get botox next week?",
        "topic": "other_treatment",
        "level": "question",
    }
    messages, events = run(
        ActionAffirm(), tracker("yes please", "affirm", {"handoff_offer": offer})
    )
    assert keys(messages) == ["handoff.recorded_unsent"]  # no alert channel
    assert events["handoff_offer"] is None
    (record,) = service.escalations.list()
    assert (record.message, record.topic, record.level) == (
        "can I get botox next week?",
        "other_treatment",
        "question",
    )


def test_no_to_the_offer_records_nothing(service):
    offer = {"message": "q", "topic": None, "level": "question"}
    messages, _ = run(ActionDeny(), tracker("no thanks", "deny", {"handoff_offer": offer}))
    assert keys(messages) == ["handoff.declined"] and service.escalations.list() == []


def test_yes_without_an_offer_just_asks_what_else(service):
    messages, _ = run(ActionAffirm(), tracker("ok", "affirm"))
    assert keys(messages) == ["anything_else"] and service.escalations.list() == []


def test_asking_for_a_person_records_an_escalation(service):
    messages, _ = run(ActionRequestHuman(), tracker("can the nurse call me", "request_human"))
    assert keys(messages) == ["handoff.recorded_unsent"]  # no alert channel
    assert service.escalations.list()[0].message == "can the nurse call me"


def test_a_person_asked_for_is_promised_only_while_alerts_reach_the_team(service, clinic_dir):
    from bot.storage.heartbeats import NOTIFIER
    from tests.test_service import with_alerts

    with_alerts(clinic_dir)
    ask = tracker("can the nurse call me", "request_human")
    messages, _ = run(ActionRequestHuman(), ask)
    assert keys(messages) == ["handoff.recorded_unsent"]  # a channel, but no notifier running
    service.heartbeats.beat(NOTIFIER)
    messages, _ = run(ActionRequestHuman(), ask)
    assert keys(messages) == ["handoff.recorded"]
    assert messages[0]["text"] == service.phrase("handoff.recorded")


def test_stated_date_is_stored_and_the_waiting_question_answered(service):
    pending = {"intent": "exercise", "text": "can i go to the gym", "message_id": "m0"}
    messages, events = run(
        ActionSetTreatmentDate(),
        tracker("had it done yesterday", "give_treatment_date", {"pending_question": pending}),
    )
    assert keys(messages) == ["date.saved", "kb_answer"]
    assert events["last_answer"]["topic"] == "exercise" and events["last_answer"]["day"] == 1


def test_stated_date_in_the_future_is_rejected(service):
    messages, events = run(
        ActionSetTreatmentDate(), tracker("my treatment is tomorrow", "give_treatment_date")
    )
    assert keys(messages) == ["date.future"] and events["date_problem"] == "future"
    assert service.current_day("client-1") is None


def test_low_confidence_message_gets_no_guidance_not_the_runner_up(service):
    service.save_treatment_date("client-1", "4 days ago")
    track = tracker("hmm so what about the thing", "nlu_fallback")
    track.latest_message["intent_ranking"] = [
        {"name": "nlu_fallback", "confidence": 0.2},
        {"name": "makeup", "confidence": 0.15},
    ]
    messages, events = run(ActionAnswer(), track)
    assert keys(messages) == ["kb_no_guidance"] and events["last_answer"]["topic"] is None


def test_emergency_inside_a_greeting_is_escalated_first(service):
    messages, events = run(
        ActionAnswer(), tracker("hi, my lips are swelling and it's hard to breathe", "greet")
    )
    assert keys(messages) == ["red_flag"]
    assert messages[0]["text"].splitlines()[0].startswith("CALL 999 NOW")
    assert service.escalations.list()[0].level == "emergency"


def test_red_flag_in_a_yes_is_escalated_not_ignored(service):
    service.save_treatment_date("client-1", "3 days ago")
    messages, _ = run(ActionAffirm(), tracker("yes and now there's pus", "affirm"))
    assert keys(messages) == ["red_flag"] and service.escalations.list()[0].level == "urgent"


def test_red_flag_in_the_date_answer_is_escalated(service):
    dispatcher = CollectingDispatcher()
    track = tracker(
        "3 days ago and now it's oozing yellow stuff",
        "give_treatment_date",
        {"pending_question": {"intent": "makeup", "text": "x", "message_id": "m0"}},
    )
    asyncio.run(
        ValidateTreatmentDateForm().validate_treatment_date(
            track.latest_message["text"], dispatcher, track, {}
        )
    )
    assert keys(dispatcher.messages) == ["red_flag", "date.saved"]
    assert service.escalations.list()[0].day == 3


def test_hypothetical_gets_guidance_without_an_alert(service):
    service.save_treatment_date("client-1", "4 days ago")
    messages, events = run(ActionAnswer(), tracker("what if it starts oozing?", "oozing"))
    assert keys(messages) == ["kb_answer"] and events["last_answer"]["escalation"] == "none"
    assert service.escalations.list() == []


def test_calm_day_2_message_alerts_no_one(service):
    service.save_treatment_date("client-1", "2 days ago")
    messages, events = run(ActionAnswer(), tracker("no pus, just a bit pink", "redness"))
    assert events["last_answer"]["escalation"] == "none" and service.escalations.list() == []


def test_escalation_update_tells_the_client(service):
    messages, events = run(
        ActionEscalationUpdate(), tracker("", "EXTERNAL", {"escalation_update": "acknowledged"})
    )
    assert keys(messages) == ["escalation.acknowledged"] and events["escalation_update"] is None


def test_a_symptom_compared_with_yesterday_does_not_move_the_treatment_date(service):
    service.save_treatment_date("client-1", "4 days ago")
    messages, _ = run(
        ActionSetTreatmentDate(), tracker("hotter today than yesterday", "give_treatment_date")
    )
    assert keys(messages) == ["red_flag"]  # worsening redness after day 3
    assert service.current_day("client-1") == 4


def test_a_date_linked_while_the_form_waits_answers_this_message_and_keeps_the_first(service):
    # The form opened on "is oozing normal?"; then the client opened the clinic's link (the
    # date is now known) and asked something else: both questions get answered.
    pending = {"intent": "oozing", "text": "is oozing normal?", "message_id": "m1"}
    service.treatments.set_date("client-1", date.today() - timedelta(days=2), source="clinic")
    dispatcher = CollectingDispatcher()
    track = tracker(
        "can I go to the gym?", "exercise", {"pending_question": pending}, message_id="m2"
    )
    result = asyncio.run(
        ValidateTreatmentDateForm().validate_treatment_date(
            "can I go to the gym?", dispatcher, track, {}
        )
    )
    assert result["treatment_date"] and result["date_problem"] is None
    assert "pending_question" not in result  # the first question is answered after the form
    assert keys(dispatcher.messages) == ["kb_answer"]
    assert result["last_answer"]["topic"] == "exercise"


def test_a_question_level_reply_during_the_date_form_keeps_its_hand_off_offer(service):
    """Issue 12: the form's reply events were dropped, so the offer ("say talk to a person")
    was forgotten and a "yes" afterwards passed nothing on."""
    dispatcher = CollectingDispatcher()
    track = tracker(
        "yesterday, and there's a hard lump on my cheek",
        "give_treatment_date",
        {"pending_question": {"intent": "makeup", "text": "x", "message_id": "m0"}},
    )
    slots = asyncio.run(
        ValidateTreatmentDateForm().validate_treatment_date(
            track.latest_message["text"], dispatcher, track, {}
        )
    )
    assert keys(dispatcher.messages) == ["red_flag", "date.saved"]
    assert slots["handoff_offer"]["level"] == "question"
    assert slots["last_answer"]["escalation"] == "question"
    assert slots["treatment_date"] and slots["date_problem"] is None

    _, events = run(
        ActionAffirm(), tracker("yes", "affirm", {"handoff_offer": slots["handoff_offer"]})
    )
    (record,) = service.escalations.list()
    assert record.level == "question" and "lump" in record.message
    assert events["handoff_offer"] is None


class _Counter:
    def __init__(self, monkeypatch, owner, name):
        self.calls = 0
        original = getattr(owner, name)

        def counted(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)


def test_one_action_call_reads_the_conversation_and_the_clinic_folder_once(service, monkeypatch):
    from bot.kb.store import ClinicStore
    from bot.storage.treatments import TreatmentRepository

    service.save_treatment_date("client-1", "4 days ago")
    service.clinic()
    reads = _Counter(monkeypatch, TreatmentRepository, "get")
    sweeps = _Counter(monkeypatch, ClinicStore, "_files_signature")

    messages, _ = run(
        ActionAnswer(), tracker("is oozing normal on day 4? it's getting worse", "oozing")
    )

    assert keys(messages) == ["red_flag"]
    assert (reads.calls, sweeps.calls) == (1, 1)


def test_a_stated_date_and_its_waiting_question_read_each_thing_once(service, monkeypatch):
    from bot.kb.store import ClinicStore
    from bot.storage.treatments import TreatmentRepository

    service.clinic()
    reads = _Counter(monkeypatch, TreatmentRepository, "get")
    sweeps = _Counter(monkeypatch, ClinicStore, "_files_signature")
    pending = {"intent": "makeup", "text": "can I wear makeup?", "message_id": "m0"}

    messages, _ = run(
        ActionSetTreatmentDate(),
        tracker("I had it done 4 days ago", "give_treatment_date", {"pending_question": pending}),
    )

    assert keys(messages) == ["date.saved", "kb_answer"]
    assert (reads.calls, sweeps.calls) == (1, 1)


def _form_reply(text: str, intent: str, pending: dict, message_id: str = "m2"):
    dispatcher = CollectingDispatcher()
    track = tracker(text, intent, {"pending_question": pending}, message_id=message_id)
    slots = asyncio.run(
        ValidateTreatmentDateForm().validate_treatment_date(text, dispatcher, track, {})
    )
    return dispatcher.messages, slots


def _pending_answer(slots: dict, pending: dict, message_id: str = "m2"):
    state = {"pending_question": slots.get("pending_question", pending), **slots}
    return run(ActionAnswerPending(), tracker("x", "x", state, message_id=message_id))


PENDING_MAKEUP = {"intent": "makeup", "text": "can I wear makeup?", "message_id": "m0"}


def test_dont_know_the_date_ends_the_form_with_every_stage_and_the_team_offered(service):
    messages, slots = _form_reply("honestly I can't remember", "deny", PENDING_MAKEUP)
    assert messages == [] and slots["treatment_date"] == "no-date"
    answered, events = _pending_answer(slots, PENDING_MAKEUP)
    assert keys(answered) == ["kb_answer"]
    text = answered[0]["text"]
    assert "Days 0-2:" in text and "Day 3:" in text and "From day 7:" in text
    assert events["handoff_offer"]["level"] == "question"


def test_asking_for_a_person_during_the_date_form_hands_off(service):
    _, slots = _form_reply("can I just talk to someone", "request_human", PENDING_MAKEUP)
    assert slots["treatment_date"] == "ask-a-person"
    answered, _ = _pending_answer(slots, PENDING_MAKEUP)
    assert keys(answered) == ["handoff.recorded_unsent"]
    (record,) = service.escalations.list()
    assert record.message == "can I wear makeup?"


def test_the_date_is_asked_at_most_twice_more(service):
    pending = dict(PENDING_MAKEUP)
    for attempt in (1, 2):
        _, slots = _form_reply("blah", "nlu_fallback", pending, message_id=f"a{attempt}")
        assert slots["treatment_date"] is None and slots["date_problem"] == "unclear"
        pending = slots["pending_question"]
    _, slots = _form_reply("blah", "nlu_fallback", pending, message_id="a3")
    assert slots["treatment_date"] == "no-date"


def test_a_symptom_told_while_the_date_is_unknown_is_assessed_when_it_comes(service):
    _, slots = _form_reply("my face is very swollen and getting worse", "swelling", PENDING_MAKEUP)
    waiting = slots["pending_question"]
    assert [(h["intent"], h["text"]) for h in waiting["held"]] == [
        ("swelling", "my face is very swollen and getting worse")
    ]
    messages, slots = _form_reply("5 days ago", "give_treatment_date", waiting, "m3")
    assert keys(messages) == ["date.saved"]
    answered, _ = _pending_answer(slots, waiting, "m3")
    assert "red_flag" in keys(answered)
    (record,) = service.escalations.list()
    assert record.level == "urgent" and record.day == 5


def test_an_infection_red_flag_is_stored_with_its_day_and_says_it(service):
    service.save_treatment_date("client-1", "4 days ago")
    messages, _ = run(ActionAnswer(), tracker("there's yellow pus on my chin", "infection_signs"))
    assert messages[0]["text"].startswith("Day 4")
    assert service.escalations.list()[0].day == 4


def test_a_condition_the_clinic_must_check_gets_its_answer_and_the_offer(service):
    service.save_treatment_date("client-1", "5 days ago")
    text = "I just found out I'm pregnant, what do I do?"
    messages, events = run(ActionAnswer(), tracker(text, "contraindications"))
    assert "during pregnancy or breastfeeding" in messages[0]["text"]  # the KB's entry
    assert service.phrase("escalation.condition") in messages[0]["text"]
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert events["handoff_offer"]["level"] == "question"
    assert service.escalations.list() == []  # offered, not alerted
    run(ActionAffirm(), tracker("yes", "affirm", {"handoff_offer": events["handoff_offer"]}))
    (record,) = service.escalations.list()
    assert (record.message, record.level) == (text, "question")


def test_a_condition_asked_about_in_general_gets_the_answer_without_the_offer(service):
    messages, events = run(
        ActionAnswer(), tracker("is needling safe during pregnancy?", "contraindications")
    )
    assert "during pregnancy or breastfeeding" in messages[0]["text"]  # the KB's entry
    assert service.phrase("escalation.condition") not in messages[0]["text"]
    assert "buttons" not in messages[0] or not messages[0]["buttons"]
    assert not events.get("handoff_offer")
