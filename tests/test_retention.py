"""Retention: what is older than the clinic's privacy windows is deleted (daily by the notifier,
now by `aftercare db purge`), on Rasa's real SQL tracker store and our tables."""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import event

from bot.kb.model import PrivacySettings
from bot.settings import PROJECT_DIR
from bot.storage.engine import secure_delete, session_factory, tracker_engine
from bot.storage.escalations import EscalationRepository
from bot.storage.retention import Purged, purge, stale_conversations
from bot.storage.tracker_store import CachedSQLTrackerStore
from bot.storage.treatments import TreatmentRepository
from tests.conftest import AFTERCARE

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
WINDOWS = PrivacySettings(conversation_days=365, photo_days=90, escalation_text_days=365)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def tracker_db(tmp_path):
    return tmp_path / "tracker.db"


@pytest.fixture
def store(tracker_db) -> CachedSQLTrackerStore:
    return CachedSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tracker_db))


def chat(store: CachedSQLTrackerStore, sender: str, last_message: datetime) -> None:
    """A conversation whose newest event is at `last_message`."""
    at = last_message.timestamp()
    events = [
        UserUttered("my name is Pat Private", timestamp=at - 60),
        BotUttered("Hi", timestamp=at),
    ]
    asyncio.run(store.save(DialogueStateTracker.from_events(sender, events)))


def test_a_chat_silent_longer_than_its_window_is_deleted_everywhere_and_a_recent_one_kept(
    settings, store, tracker_db
):
    sessions = session_factory(settings.database_url)
    escalations, treatments = EscalationRepository(sessions), TreatmentRepository(sessions)
    chat(store, "old-chat", days_ago(400))
    chat(store, "recent-chat", days_ago(10))
    for sender in ("old-chat", "recent-chat"):
        treatments.set_date(sender, days_ago(420).date(), "medical")
    old = escalations.create(
        "old-chat",
        "urgent",
        "pus on my chin, Pat",
        "infection_signs",
        3,
        symptoms=["infection_signs"],
        client_name="Pat",
        now=days_ago(360),
    )
    escalations.resolve(old.id, now=days_ago(359))
    asyncio.run(store.retrieve("old-chat"))  # Rasa holds it in its cache
    tracker = tracker_engine(tracker_db)
    assert stale_conversations(tracker, days_ago(365)) == ["old-chat"]

    purged = purge(sessions, tracker, WINDOWS, NOW)

    assert purged == Purged(conversations=1, photos=0, escalations_redacted=0)
    assert asyncio.run(store.retrieve("old-chat")) is None  # the cache sees it is gone
    assert asyncio.run(store.retrieve("recent-chat")) is not None
    assert treatments.get("old-chat") is None and treatments.get("recent-chat") is not None
    kept = escalations.get(old.id)
    assert kept.message is None and kept.level == "urgent" and kept.symptoms == ["infection_signs"]
    assert purge(sessions, tracker, WINDOWS, NOW) == Purged()  # nothing twice


def test_photos_and_escalation_text_go_after_their_own_windows(settings):
    sessions = session_factory(settings.database_url)
    escalations = EscalationRepository(sessions)
    recent = escalations.create(
        "c1",
        "urgent",
        "hot red cheek",
        "redness",
        4,
        symptoms=["redness"],
        client_name="Sam",
        now=days_ago(100),
    )
    photo = escalations.add_photo(
        recent.id, b"\xff\xd8jpeg", "image/jpeg", None, "web", now=days_ago(100)
    )
    escalations.acknowledge(recent.id, "nurse", now=days_ago(99))
    old = escalations.create(
        "c2",
        "emergency",
        "lips swelling",
        None,
        1,
        symptoms=["swelling"],
        client_name="Lee",
        now=days_ago(366),
    )

    escalations.resolve(old.id, now=days_ago(365))
    purged = purge(sessions, None, WINDOWS, NOW)

    assert purged == Purged(conversations=0, photos=1, escalations_redacted=1)
    assert escalations.photo(photo) is None
    assert escalations.get(recent.id).message == "hot red cheek"  # 100 < 365 days
    redacted = escalations.get(old.id)
    assert (redacted.message, redacted.client_name) == (None, None)
    assert (redacted.level, redacted.day, redacted.symptoms) == ("emergency", 1, ["swelling"])


def test_a_window_set_to_null_keeps_that_data(settings, store, tracker_db):
    sessions = session_factory(settings.database_url)
    chat(store, "old-chat", days_ago(4000))
    EscalationRepository(sessions).create("c", "urgent", "pus", None, 3, now=days_ago(4000))
    keep_all = PrivacySettings(None, None, None)
    assert purge(sessions, tracker_engine(tracker_db), keep_all, NOW) == Purged()
    assert asyncio.run(store.retrieve("old-chat")) is not None


def test_both_databases_overwrite_deleted_rows_on_disk(store, tracker_db):
    # Debian's SQLite already defaults to secure_delete; other builds do not, so each engine
    # sets it on every connection it opens.
    chat(store, "c", days_ago(1))
    for engine in (tracker_engine(tracker_db), store.engine):
        assert event.contains(engine, "connect", secure_delete)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1


def test_aftercare_db_purge_applies_the_clinics_windows_now(
    tmp_path, clinic_dir, store, tracker_db
):
    chat(store, "chat-from-long-ago", datetime.now(timezone.utc) - timedelta(days=400))
    env = {
        "AFTERCARE_CLINIC_DIR": str(clinic_dir),
        "AFTERCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "AFTERCARE_TRACKER_DB": str(tracker_db),
        "PATH": "/usr/bin:/bin",
    }
    run = subprocess.run(
        [AFTERCARE, "db", "purge"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("deleted 1 conversation(s) and 0 photo(s)")
    assert asyncio.run(store.retrieve("chat-from-long-ago")) is None


def test_the_windows_are_read_from_the_clinic_settings_and_checked(clinic_dir):
    from bot.kb.loader import KnowledgeBaseError, load_clinic
    from tests.conftest import edit

    assert load_clinic(clinic_dir).settings.privacy == WINDOWS
    assert PrivacySettings().keeps_everything()  # nothing is deleted the clinic did not ask for
    edit(clinic_dir / "settings.yml", "    photo_days: 90", "    photo_days: null")
    assert load_clinic(clinic_dir).settings.privacy == replace(WINDOWS, photo_days=None)
    edit(clinic_dir / "settings.yml", "    photo_days: null", "    photo_days: 0")
    with pytest.raises(KnowledgeBaseError, match=r"settings.yml:\d+: .*photo_days"):
        load_clinic(clinic_dir)


def test_an_open_escalation_keeps_its_text_photos_and_conversation(settings, store, tracker_db):
    sessions = session_factory(settings.database_url)
    escalations = EscalationRepository(sessions)
    chat(store, "still-open", days_ago(400))
    still = escalations.create("still-open", "urgent", "pus", None, 3, now=days_ago(400))
    photo = escalations.add_photo(still.id, b"jpeg", "image/jpeg", None, "web", now=days_ago(400))
    assert purge(sessions, tracker_engine(tracker_db), WINDOWS, NOW) == Purged()
    assert escalations.get(still.id).message == "pus" and escalations.photo(photo) is not None
    assert asyncio.run(store.retrieve("still-open")) is not None


def test_a_message_not_answered_yet_keeps_its_conversation(settings, store, tracker_db):
    from bot.storage.inbound import InboundLog

    sessions = session_factory(settings.database_url)
    chat(store, "returning", days_ago(400))
    InboundLog(sessions).record("web", "returning", "my lips are swelling", None, "127.0.0.1")
    assert purge(sessions, tracker_engine(tracker_db), WINDOWS, NOW).conversations == 0
    assert asyncio.run(store.retrieve("returning")) is not None


def test_a_message_that_arrives_during_the_purge_keeps_its_conversation(
    settings, store, tracker_db, monkeypatch
):
    """The check finds the chat stale; a message lands before the delete: nothing goes."""
    import bot.storage.retention as retention

    sessions = session_factory(settings.database_url)
    chat(store, "returning", days_ago(400))
    found = retention.stale_conversations

    def stale_then_a_message(tracker, cutoff):
        stale = found(tracker, cutoff)
        tracker = asyncio.run(store.retrieve("returning"))  # the client writes again just now
        tracker.update(UserUttered("hello again", timestamp=NOW.timestamp()))
        asyncio.run(store.save(tracker))
        return stale

    monkeypatch.setattr(retention, "stale_conversations", stale_then_a_message)
    assert purge(sessions, tracker_engine(tracker_db), WINDOWS, NOW).conversations == 0
    events = asyncio.run(store.retrieve_full_tracker("returning")).events
    said = [e.text for e in events if isinstance(e, UserUttered)]
    assert said == ["my name is Pat Private", "hello again"]
