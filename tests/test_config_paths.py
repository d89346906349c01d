"""The class paths Rasa reads from our YAML (credentials.yml, endpoints.yml, config.yml) are
importable: Rasa falls back silently to an in-memory tracker store when its class is missing."""

from __future__ import annotations

import yaml
from rasa.shared.utils.common import class_from_module_path

from bot.settings import PROJECT_DIR


def _yaml(name: str) -> dict:
    return yaml.safe_load((PROJECT_DIR / name).read_text(encoding="utf-8"))


def test_every_channel_in_credentials_is_one_of_ours_and_loads():
    channels = [name for name in _yaml("credentials.yml") if "." in name]
    assert channels == [
        "bot.channels.telegram.TelegramInput",
        "bot.channels.web.WebInput",
        "bot.channels.control.ControlInput",
    ]
    names = [class_from_module_path(path).name() for path in channels]
    assert names == ["telegram", "web", "control"]


def test_the_lock_store_in_endpoints_is_ours():
    from bot.storage.lock_store import AftercareLockStore

    path = _yaml("endpoints.yml")["lock_store"]["type"]
    assert class_from_module_path(path) is AftercareLockStore


def test_the_tracker_store_in_endpoints_is_our_cached_sql_store():
    from bot.storage.tracker_store import CachedSQLTrackerStore

    path = _yaml("endpoints.yml")["tracker_store"]["type"]
    assert class_from_module_path(path) is CachedSQLTrackerStore


def test_our_nlu_component_in_config_loads():
    from bot.nlu.classifier import SentenceEmbeddingClassifier

    ours = [c["name"] for c in _yaml("config.yml")["pipeline"] if "." in c["name"]]
    assert [class_from_module_path(p) for p in ours] == [SentenceEmbeddingClassifier]
