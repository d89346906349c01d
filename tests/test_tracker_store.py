"""bot.storage.tracker_store: a conversation comes from memory only while the database agrees."""

from __future__ import annotations

import asyncio
import os
import uuid
from urllib.parse import urlsplit

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.storage.engine import session_factory
from bot.storage.forget import forget_conversation
from bot.storage.tracker_store import CachedSQLTrackerStore
from tests.conftest import DOMAIN


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(DOMAIN))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_kwargs(request, tmp_path) -> dict:
    """Keyword arguments for a SQL tracker store: SQLite file, or the test PostgreSQL."""
    if request.param == "sqlite":
        return {"dialect": "sqlite", "db": str(tmp_path / "tracker.db")}
    url = os.environ.get("AFTERCARE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server (make test starts one: scripts/postgres.sh)")
    parts = urlsplit(url)
    return {
        "dialect": "postgresql",
        "host": parts.hostname,
        "port": parts.port,
        "db": parts.path.lstrip("/"),
        "username": parts.username,
        "password": parts.password,
    }


def run(coro):
    return asyncio.run(coro)


def _new_conversation(domain: Domain) -> DialogueStateTracker:
    sender = f"client-{uuid.uuid4().hex[:8]}"
    events = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
    ]
    return DialogueStateTracker.from_events(sender, events, slots=domain.slots)


def _turn(tracker: DialogueStateTracker, text: str) -> None:
    tracker.update(UserUttered(text, {"name": "makeup", "confidence": 0.9}))
    tracker.update(ActionExecuted("action_answer"))
    tracker.update(BotUttered(f"answer to {text}"))
    tracker.update(ActionExecuted("action_listen"))


def _texts(tracker: DialogueStateTracker | None) -> list[str]:
    return [e.text for e in (tracker.events if tracker else []) if isinstance(e, UserUttered)]


def test_a_saved_conversation_is_served_from_memory_next_turn(domain, store_kwargs):
    store = CachedSQLTrackerStore(domain, **store_kwargs)
    tracker = _new_conversation(domain)
    run(store.save(tracker))  # loaded: action_session_start precedes the session's start
    loaded = run(store.retrieve(tracker.sender_id))
    misses = store.misses
    for text in ("can I wear makeup?", "is redness normal?", "can I swim?"):
        current = run(store.retrieve(tracker.sender_id))
        assert current is loaded
        _turn(current, text)
        run(store.save(current))

    again = run(store.retrieve(tracker.sender_id))

    assert again is loaded and store.misses == misses and store.hits >= 4
    fresh = run(SQLTrackerStore(domain, **store_kwargs).retrieve(tracker.sender_id))
    assert [e.as_dict() for e in fresh.events] == [e.as_dict() for e in again.events]
    assert _texts(fresh) == ["can I wear makeup?", "is redness normal?", "can I swim?"]


def test_a_conversation_changed_by_another_process_is_read_again(domain, store_kwargs):
    ours = CachedSQLTrackerStore(domain, **store_kwargs)
    tracker = _new_conversation(domain)
    run(ours.save(tracker))
    cached = run(ours.retrieve(tracker.sender_id))
    assert run(ours.retrieve(tracker.sender_id)) is cached

    theirs = SQLTrackerStore(domain, **store_kwargs)
    other = run(theirs.retrieve(tracker.sender_id))
    _turn(other, "written elsewhere")
    run(theirs.save(other))

    seen = run(ours.retrieve(tracker.sender_id))
    assert seen is not cached
    assert _texts(seen) == ["written elsewhere"]


def test_a_turn_that_crashed_before_saving_is_not_served(domain, store_kwargs):
    store = CachedSQLTrackerStore(domain, **store_kwargs)
    tracker = _new_conversation(domain)
    run(store.save(tracker))
    loaded = run(store.retrieve(tracker.sender_id))
    loaded.update(UserUttered("never saved", {"name": "makeup", "confidence": 0.9}))

    again = run(store.retrieve(tracker.sender_id))

    assert again is not loaded and _texts(again) == []


def test_a_forgotten_conversation_is_gone_from_memory_too(domain, store_kwargs, tmp_path):
    store = CachedSQLTrackerStore(domain, **store_kwargs)
    tracker = _new_conversation(domain)
    run(store.save(tracker))
    loaded = run(store.retrieve(tracker.sender_id))
    _turn(loaded, "my name is Sam")
    run(store.save(loaded))

    sessions = session_factory(f"sqlite:///{tmp_path / 'aftercare.db'}")
    run(forget_conversation(tracker.sender_id, store, sessions))

    assert run(store.retrieve(tracker.sender_id)) is None


def test_a_new_session_is_read_from_its_start_like_rasas_store(domain, store_kwargs):
    store = CachedSQLTrackerStore(domain, **store_kwargs)
    tracker = _new_conversation(domain)
    run(store.save(tracker))
    loaded = run(store.retrieve(tracker.sender_id))
    _turn(loaded, "old session")
    loaded.update(ActionExecuted("action_session_start"))
    loaded.update(SessionStarted())
    loaded.update(ActionExecuted("action_listen"))
    _turn(loaded, "new session")
    run(store.save(loaded))

    ours = run(store.retrieve(tracker.sender_id))
    rasas = run(SQLTrackerStore(domain, **store_kwargs).retrieve(tracker.sender_id))

    assert _texts(ours) == _texts(rasas) == ["new session"]
    assert [e.as_dict() for e in ours.events] == [e.as_dict() for e in rasas.events]


def test_memory_holds_at_most_cache_size_conversations(domain, store_kwargs):
    store = CachedSQLTrackerStore(domain, cache_size=2, **store_kwargs)
    senders = []
    for _ in range(3):
        tracker = _new_conversation(domain)
        run(store.save(tracker))
        run(store.retrieve(tracker.sender_id))
        senders.append(tracker.sender_id)
    assert len(store._cache) == 2
    assert senders[0] not in store._cache
    assert run(store.retrieve(senders[0])) is not None  # still in the database


def test_recent_events_read_only_what_came_after_the_cursor_with_the_same_ids(domain, store_kwargs):
    """The widget's history poll: only the events after its cursor are read, at most a limit,
    and numbered as in the whole conversation (message ids `e<index>` are a contract)."""
    from bot.channels.web.format import history_messages

    store = CachedSQLTrackerStore(domain, **store_kwargs)
    tracker = _new_conversation(domain)
    for turn in range(30):
        _turn(tracker, f"question {turn}")
    run(store.save(tracker))
    full = run(store.retrieve_full_tracker(tracker.sender_id))
    every = [e.as_dict() for e in full.events]
    cursor = every[-9]["timestamp"]  # the last two turns are new to the widget

    first, recent = store.recent_events(tracker.sender_id, cursor, limit=1000)

    assert recent == [e for e in every if e["timestamp"] > cursor]
    assert len(recent) == 8 and first == len(every) - 8
    expected = history_messages(every, after=cursor)
    assert history_messages(recent, after=cursor, first=first) == expected
    assert [m["text"] for m in expected] == [
        "question 28",
        "answer to question 28",
        "question 29",
        "answer to question 29",
    ]
    first, newest = store.recent_events(tracker.sender_id, 0.0, limit=5)
    assert newest == every[-5:] and first == len(every) - 5
    assert store.recent_events(tracker.sender_id, every[-1]["timestamp"], 100) == (0, [])
    assert store.recent_events("nobody", 0.0, 100) == (0, [])


def test_recent_events_keep_their_ids_when_stamps_are_out_of_order(domain, store_kwargs):
    """Two Rasa hosts whose clocks differ answer one chat: a later event can carry an earlier
    stamp. What comes back is still a run of consecutive events, numbered as in the whole
    conversation, and what is new is everything stamped after the cursor."""
    from bot.channels.web.format import history_messages

    store = CachedSQLTrackerStore(domain, **store_kwargs)
    tracker = _new_conversation(domain)
    for turn in range(3):
        _turn(tracker, f"question {turn}")
    run(store.save(tracker))
    cursor = tracker.events[-1].timestamp
    late = UserUttered("from the host behind", {"name": "makeup", "confidence": 0.9})
    late.timestamp = cursor - 30  # written later, stamped earlier
    tracker.update(late)
    _turn(tracker, "question 3")
    run(store.save(tracker))
    every = [e.as_dict() for e in run(store.retrieve_full_tracker(tracker.sender_id)).events]

    first, recent = store.recent_events(tracker.sender_id, cursor, limit=1000)

    assert recent == every[first:]
    assert history_messages(recent, after=cursor, first=first) == history_messages(
        every, after=cursor
    )


def test_the_widget_finds_recent_events_through_rasas_wrappers(domain, store_kwargs):
    from rasa.core.tracker_store import AwaitableTrackerStore, FailSafeTrackerStore

    from bot.storage.forget import unwrap

    store = CachedSQLTrackerStore(domain, **store_kwargs)
    wrapped = FailSafeTrackerStore(AwaitableTrackerStore(store))
    assert unwrap(wrapped) is store and hasattr(unwrap(wrapped), "recent_events")
