"""bot.serve.rasa_tuning: Rasa's behaviour kept, its per-message costs removed (issue 6)."""

from __future__ import annotations

import asyncio
import time

import jsonschema
import pytest
from rasa.core.actions.action import ActionSessionStart, RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk import Tracker

from bot.serve import rasa_tuning
from tests.conftest import PROJECT_DIR


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_DIR / "domain.yml"))


@pytest.fixture(scope="module", autouse=True)
def tuned():
    rasa_tuning.apply()


def _turn(text: str, intent: str, at: float) -> list:
    return [
        UserUttered(text, {"name": intent, "confidence": 0.9}, timestamp=at),
        ActionExecuted("action_answer", timestamp=at + 0.1),
        BotUttered("an answer", timestamp=at + 0.2),
        SlotSet("last_answer", {"topic": intent}, timestamp=at + 0.2),
        ActionExecuted("action_listen", timestamp=at + 0.3),
    ]


def _conversation(domain: Domain, turns: int, start: float | None = None) -> DialogueStateTracker:
    at = time.time() - 60 if start is None else start
    events = [
        ActionExecuted("action_session_start", timestamp=at),
        SessionStarted(timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
    ]
    for i in range(turns):
        events += _turn(f"question {i}", "redness" if i % 2 else "makeup", at + 1 + i)
    return DialogueStateTracker.from_events("client-1", events, slots=domain.slots)


VALID_RESPONSE = {
    "events": [{"event": "slot", "name": "last_answer", "value": {"topic": "makeup"}}],
    "responses": [{"response": "utter_greet"}],
}
INVALID_RESPONSES = [
    {"events": [{"event": "slot"}]},  # a slot event without a name
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": [1, 2]},
]


def test_action_results_are_validated_like_rasa_does():
    schema = RemoteAction.action_response_format_spec()
    assert rasa_tuning.validate_action_result(VALID_RESPONSE) is True
    jsonschema.validate(VALID_RESPONSE, schema)  # Rasa's own way agrees
    for response in INVALID_RESPONSES:
        with pytest.raises(jsonschema.ValidationError) as ours:
            rasa_tuning.validate_action_result(response)
        with pytest.raises(jsonschema.ValidationError) as rasas:
            jsonschema.validate(response, schema)
        assert ours.value.message.startswith(rasas.value.message)
        assert "Failed to validate Action server response" in ours.value.message


def test_remote_action_never_rechecks_the_schema(monkeypatch):
    def recheck(*args, **kwargs):
        raise AssertionError("jsonschema.validate re-checks the schema on every call")

    monkeypatch.setattr(jsonschema, "validate", recheck)  # what Rasa's own method calls
    action = RemoteAction("action_answer", EndpointConfig("http://127.0.0.1:1/webhook"))
    assert action._validate_action_result(VALID_RESPONSE) is True
    with pytest.raises(jsonschema.ValidationError):
        action._validate_action_result(INVALID_RESPONSES[0])


def test_action_server_gets_slots_and_latest_message_but_only_this_turns_events(domain):
    tracker = _conversation(domain, turns=30)
    tracker.update(UserUttered("can I wear makeup?", {"name": "makeup", "confidence": 0.8}))
    tracker.update(SlotSet("pending_question", {"intent": "makeup"}))
    action = RemoteAction("action_answer", EndpointConfig("http://127.0.0.1:1/webhook"))

    payload = action._action_call_format(tracker, domain)

    state = payload["tracker"]
    assert [e["event"] for e in state["events"]] == ["user", "slot"]
    assert state["latest_message"]["text"] == "can I wear makeup?"
    assert state["slots"]["last_answer"] == {"topic": "redness"}
    assert state["slots"]["pending_question"] == {"intent": "makeup"}
    assert payload["next_action"] == "action_answer" and payload["sender_id"] == "client-1"
    sdk_tracker = Tracker.from_dict(state)
    assert sdk_tracker.get_slot("last_answer") == {"topic": "redness"}
    assert sdk_tracker.latest_message["intent"]["name"] == "makeup"


def test_domain_goes_only_to_the_form_validation_action(domain):
    endpoint = EndpointConfig("http://127.0.0.1:1/webhook", enable_selective_domain=True)
    tracker = _conversation(domain, turns=1)
    answer = RemoteAction("action_answer", endpoint)._action_call_format(tracker, domain)
    validate = RemoteAction("validate_treatment_date_form", endpoint)._action_call_format(
        tracker, domain
    )
    assert "domain" not in answer
    assert "treatment_date_form" in validate["domain"]["forms"]


def test_form_validation_still_sees_the_slots_just_extracted(domain):
    tracker = _conversation(domain, turns=3)
    tracker.update(UserUttered("3 days ago", {"name": "give_treatment_date", "confidence": 1}))
    tracker.update(ActiveLoop("treatment_date_form"))
    tracker.update(SlotSet("treatment_date", "3 days ago"))
    state = rasa_tuning.action_call_payload(tracker, "validate_treatment_date_form", None)
    assert Tracker.from_dict(state["tracker"]).slots_to_validate() == {
        "treatment_date": "3 days ago"
    }


def test_user_turns_are_counted_in_the_newest_session_only(domain):
    tracker = _conversation(domain, turns=5)
    assert rasa_tuning.user_turns_in_session(tracker) == 5
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("hi", {"name": "greet", "confidence": 1}))
    assert rasa_tuning.user_turns_in_session(tracker) == 1


def test_a_long_conversation_rolls_over_but_never_inside_a_form(domain):
    limit = rasa_tuning.MAX_USER_TURNS_PER_SESSION
    assert not rasa_tuning.session_rollover_due(_conversation(domain, turns=limit - 1))
    long = _conversation(domain, turns=limit)
    assert rasa_tuning.session_rollover_due(long)
    long.update(ActiveLoop("treatment_date_form"))
    assert not rasa_tuning.session_rollover_due(long)


def _session_start_events(domain: Domain, tracker: DialogueStateTracker) -> list:
    return asyncio.run(ActionSessionStart().run(None, None, tracker, domain))


def test_a_rolled_over_session_keeps_what_the_conversation_knew(domain):
    tracker = _conversation(domain, turns=rasa_tuning.MAX_USER_TURNS_PER_SESSION)
    events = _session_start_events(domain, tracker)
    assert isinstance(events[0], SessionStarted)
    assert events[-1] == ActionExecuted("action_listen")
    carried = [(e.key, e.value) for e in events if isinstance(e, SlotSet)]
    assert carried == [("last_answer", {"topic": "redness"})]  # current values, once each


def test_slots_carried_over_do_not_pile_up_session_after_session(domain):
    tracker = _conversation(domain, turns=rasa_tuning.MAX_USER_TURNS_PER_SESSION)
    for _ in range(5):
        for event in _session_start_events(domain, tracker):
            tracker.update(event)
        for i in range(rasa_tuning.MAX_USER_TURNS_PER_SESSION):
            for event in _turn(f"more {i}", "makeup", time.time()):
                tracker.update(event)
    events = _session_start_events(domain, tracker)
    assert sum(isinstance(e, SlotSet) for e in events) == 1
    assert tracker.get_slot("last_answer") == {"topic": "makeup"}


def test_a_session_that_expired_by_time_starts_empty_as_configured(domain):
    assert domain.session_config.carry_over_slots is False
    hours_ago = time.time() - 5 * 3600
    tracker = _conversation(domain, turns=rasa_tuning.MAX_USER_TURNS_PER_SESSION, start=hours_ago)
    events = _session_start_events(domain, tracker)
    assert [type(e) for e in events] == [SessionStarted, ActionExecuted]
    short = _conversation(domain, turns=2, start=hours_ago)
    assert [type(e) for e in _session_start_events(domain, short)] == [
        SessionStarted,
        ActionExecuted,
    ]


def test_rasa_starts_a_new_session_for_a_long_conversation_not_a_short_one(domain):
    from rasa.core.processor import MessageProcessor

    processor = MessageProcessor.__new__(MessageProcessor)
    processor.domain = domain
    assert not processor._has_session_expired(_conversation(domain, turns=3))
    limit = rasa_tuning.MAX_USER_TURNS_PER_SESSION
    assert processor._has_session_expired(_conversation(domain, turns=limit))
    old = _conversation(domain, turns=1, start=time.time() - 5 * 3600)
    assert processor._has_session_expired(old)  # Rasa's own expiry still applies
