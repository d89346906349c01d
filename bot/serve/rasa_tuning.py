"""Speed fixes for Rasa 3.6, applied by `bot.serve.rasa_server` (and `LocalBot`) before Rasa runs.

Measured with py-spy (issue 6; README "Benchmarks"):

- `validate_action_result`: `RemoteAction._validate_action_result` called `jsonschema.validate`,
  which re-checks Rasa's event schema against the JSON-Schema meta-schema on every action
  call: 57% of the Rasa process's CPU under 10 concurrent conversations. The same schema and
  validator class are now checked once and reused; a bad response raises the same error.
- `action_call_payload`: every action call serialised the whole tracker (every event since the
  session began) for the action server to parse again. It now sends the tracker's state
  (slots, latest message, active loop, latest action) as before, with only the events of the
  current turn: from the latest user message on. Our actions read slots and the latest message;
  a form's `slots_to_validate` reads the trailing slot events, which are in that tail.
- Rolling sessions: Rasa re-derives the dialogue state from every event of the session on
  each prediction, so a turn's cost grew with the conversation. After
  `MAX_USER_TURNS_PER_SESSION` client messages (never inside a form), the conversation goes on
  in a new Rasa session that carries every slot's current value over. Rasa's own time-based
  expiry is unchanged (`session_config` in domain.yml; it starts empty, as configured).

`apply()` is idempotent; each fix is a small function tested in tests/test_rasa_tuning.py.
"""

from __future__ import annotations

import functools
import time
from typing import Any

# A conversation continues in a new Rasa session after this many client messages, carrying
# its slots over, so a turn's cost stops growing with the conversation's length.
MAX_USER_TURNS_PER_SESSION = 20

_APPLIED = False


@functools.lru_cache(maxsize=1)
def action_response_validator() -> Any:
    """A jsonschema validator for Rasa's action-server response format, checked once."""
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(result: dict[str, Any]) -> bool:
    """Validate an action-server response exactly as Rasa does, without re-checking the schema."""
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match

    error = best_match(action_response_validator().iter_errors(result))
    if error is None:
        return True
    if not isinstance(error, ValidationError):  # pragma: no cover - jsonschema guarantees it
        raise error
    from rasa.shared.constants import DOCS_BASE_URL

    error.message += (
        ". Failed to validate Action server response from API, make sure your response "
        "from the Action endpoint is valid. For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def current_turn_events(events: list[Any]) -> list[Any]:
    """The events from the latest user message on (all events if there is none)."""
    from rasa.shared.core.events import UserUttered

    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], UserUttered):
            return events[index:]
    return events


def action_call_payload(tracker: Any, name: str, domain_dict: dict | None) -> dict[str, Any]:
    """The JSON body for the action server: tracker state with the current turn's events."""
    import rasa
    from rasa.shared.core.trackers import EventVerbosity

    state = tracker.current_state(EventVerbosity.NONE)
    state["events"] = [event.as_dict() for event in current_turn_events(list(tracker.events))]
    payload = {
        "next_action": name,
        "sender_id": tracker.sender_id,
        "tracker": state,
        "version": rasa.__version__,
    }
    if domain_dict is not None:
        payload["domain"] = domain_dict
    return payload


def user_turns_in_session(tracker: Any) -> int:
    """How many client messages the tracker's current session holds (newest session only)."""
    from rasa.shared.core.events import Restarted, SessionStarted, UserUttered

    turns = 0
    for event in reversed(tracker.events):
        if isinstance(event, SessionStarted | Restarted):
            break
        if isinstance(event, UserUttered):
            turns += 1
    return turns


def session_rollover_due(tracker: Any, max_turns: int = MAX_USER_TURNS_PER_SESSION) -> bool:
    """True when the session is long enough to continue in a new one (never inside a form)."""
    return tracker.active_loop_name is None and user_turns_in_session(tracker) >= max_turns


def idle_too_long(tracker: Any, expiration_minutes: float, now: float | None = None) -> bool:
    """Rasa's own session expiry: the latest client message is older than the expiry time."""
    from rasa.shared.core.events import UserUttered

    last = tracker.get_last_event_for(UserUttered)
    if last is None:
        return False
    return ((time.time() if now is None else now) - last.timestamp) / 60 > expiration_minutes


def carried_slots(tracker: Any) -> list[Any]:
    """One `SlotSet` per slot whose value differs from its initial value (not every past one)."""
    from rasa.shared.core.events import SlotSet

    return [
        SlotSet(name, slot.value)
        for name, slot in tracker.slots.items()
        if slot.value != slot.initial_value
    ]


def apply() -> None:
    """Install the fixes on Rasa's classes (safe to call more than once)."""
    global _APPLIED
    if _APPLIED:
        return
    from rasa.core.actions.action import ActionSessionStart, RemoteAction
    from rasa.core.processor import MessageProcessor

    rasa_session_expired = MessageProcessor._has_session_expired
    rasa_session_start = ActionSessionStart.run

    def _session_expired(self: MessageProcessor, tracker: Any) -> bool:
        if rasa_session_expired(self, tracker):
            return True
        return self.domain.session_config.are_sessions_enabled() and session_rollover_due(tracker)

    async def _session_start(
        self: ActionSessionStart, output_channel: Any, nlg: Any, tracker: Any, domain: Any
    ) -> list[Any]:
        events = await rasa_session_start(self, output_channel, nlg, tracker, domain)
        rolled_over = session_rollover_due(tracker) and not idle_too_long(
            tracker, domain.session_config.session_expiration_time
        )
        if rolled_over and not domain.session_config.carry_over_slots:
            # A long conversation goes on in a new session: it keeps what it knew.
            events = events[:1] + carried_slots(tracker) + events[1:]
        return events

    def _validate(self: RemoteAction, result: dict[str, Any]) -> bool:
        return validate_action_result(result)

    def _call_format(self: RemoteAction, tracker: Any, domain: Any) -> dict[str, Any]:
        needs_domain = (
            not self._is_selective_domain_enabled()
            or domain.does_custom_action_explicitly_need_domain(self.name())
        )
        return action_call_payload(tracker, self.name(), domain.as_dict() if needs_domain else None)

    RemoteAction._validate_action_result = _validate
    RemoteAction._action_call_format = _call_format
    MessageProcessor._has_session_expired = _session_expired
    ActionSessionStart.run = _session_start
    _APPLIED = True
