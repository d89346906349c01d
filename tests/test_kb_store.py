"""Hot reload: valid edits apply on the next message; invalid edits keep the last good KB."""

from __future__ import annotations

import logging
import os

import pytest

from bot.kb.loader import KnowledgeBaseError
from bot.kb.store import ClinicStore
from tests.conftest import edit


def touch_later(path):
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_valid_edit_is_used_on_the_next_call(clinic_dir, known_topics):
    store = ClinicStore(clinic_dir, known_topics)
    first = store.current()
    path = clinic_dir / "knowledge" / "activities_skincare.yml"
    edit(path, "Yes, you can wear makeup again.", "Makeup is fine from today.")
    touch_later(path)
    second = store.current()
    assert second.kb.version != first.kb.version
    assert "Makeup is fine from today." in second.kb.topic("makeup").window_on(4, "medical").answer


def test_unchanged_files_are_not_reloaded(clinic_dir, known_topics):
    store = ClinicStore(clinic_dir, known_topics)
    assert store.current() is store.current()


def test_invalid_edit_keeps_the_last_good_kb_and_logs_file_and_line(
    clinic_dir, known_topics, caplog
):
    store = ClinicStore(clinic_dir, known_topics)
    good = store.current()
    path = clinic_dir / "knowledge" / "symptoms.yml"
    edit(path, "        level: urgent\n", "        level: critical\n")
    touch_later(path)
    with caplog.at_level(logging.ERROR):
        assert store.current() is good
    assert "clinic/knowledge/symptoms.yml:" in caplog.text and "critical" in caplog.text
    assert store.last_error is not None
    edit(path, "        level: critical\n", "        level: urgent\n")
    touch_later(path)
    assert store.current() is not good and store.last_error is None


def test_invalid_kb_at_start_up_raises(clinic_dir, known_topics):
    edit(clinic_dir / "settings.yml", "Europe/London", "Mars/Olympus")
    with pytest.raises(KnowledgeBaseError, match="unknown time zone"):
        ClinicStore(clinic_dir, known_topics).current()


def test_a_new_topic_file_is_picked_up(clinic_dir, known_topics):
    store = ClinicStore(clinic_dir, known_topics)
    store.current()
    general = clinic_dir / "knowledge" / "general.yml"
    text = general.read_text()
    start = text.index("  procedure:")
    end = text.index("  home_vs_clinic:")
    general.write_text(text[:start] + text[end:])
    (clinic_dir / "knowledge" / "procedure.yml").write_text("topics:\n" + text[start:end])
    assert store.current().kb.topic("procedure").where.file == "clinic/knowledge/procedure.yml"
