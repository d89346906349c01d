"""One settings object: every environment variable in one place, secrets never printed."""

from __future__ import annotations

import ast

import pytest

from bot.settings import PROJECT_DIR, Settings, SettingsError


def test_only_the_settings_module_reads_the_environment():
    readers = []
    for folder in ("bot", "actions"):
        for path in sorted((PROJECT_DIR / folder).rglob("*.py")):
            if path == PROJECT_DIR / "bot" / "settings.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                    readers.append(f"{path.relative_to(PROJECT_DIR)}:{node.lineno}")
    assert readers == []


def test_defaults_are_local_and_blank_variables_count_as_unset():
    settings = Settings.from_env({"AFTERCARE_DATABASE_URL": "  ", "TELEGRAM_WEBHOOK_URL": ""})
    assert settings.database_url == f"sqlite:///{PROJECT_DIR / 'var' / 'aftercare.db'}"
    assert settings.clinic_dir == PROJECT_DIR / "clinic"
    assert settings.telegram_webhook_url is None
    assert settings.telegram_api_base_url == "https://api.telegram.org/bot"


def test_the_telegram_api_address_is_normalised_once():
    for given in ("http://127.0.0.1:8081", "http://127.0.0.1:8081/", "http://127.0.0.1:8081/bot"):
        settings = Settings.from_env({"TELEGRAM_API_BASE_URL": given})
        assert settings.telegram_api_base_url == "http://127.0.0.1:8081/bot"
        assert settings.telegram_file_base_url == "http://127.0.0.1:8081/file/bot"


def test_a_missing_secret_fails_with_the_variable_named():
    settings = Settings.from_env({})
    with pytest.raises(SettingsError, match="TELEGRAM_STAFF_BOT_TOKEN is not set"):
        settings.require("TELEGRAM_STAFF_BOT_TOKEN")


def test_a_bad_database_url_is_refused():
    with pytest.raises(SettingsError, match="AFTERCARE_DATABASE_URL is not a database URL"):
        Settings.from_env({"AFTERCARE_DATABASE_URL": ":nowhere"})


def test_scale_out_urls_are_checked_and_their_passwords_kept_out_of_errors_and_logs():
    with pytest.raises(SettingsError, match="AFTERCARE_TRACKER_URL is not a database URL"):
        Settings.from_env({"AFTERCARE_TRACKER_URL": ":nowhere"})
    with pytest.raises(SettingsError, match="AFTERCARE_REDIS_URL must be redis://") as refused:
        Settings.from_env({"AFTERCARE_REDIS_URL": "http://u:hunter22@cache:6379/0"})
    assert "hunter22" not in str(refused.value)
    with pytest.raises(SettingsError, match="AFTERCARE_REDIS_URL") as no_scheme:
        Settings.from_env({"AFTERCARE_REDIS_URL": "default:s3cretpw@cache:6379/0"})
    assert "s3cretpw" not in str(no_scheme.value)
    odd = Settings.from_env({"AFTERCARE_TRACKER_URL": "rasa:pa/ss:wd@db/t"})  # no scheme
    assert "pa/ss:wd" in odd.secret_values()  # so the logs hide it if a parser prints it
    settings = Settings.from_env(
        {
            "AFTERCARE_TRACKER_URL": "postgresql://rasa:tracker-pw@db/t",
            "AFTERCARE_REDIS_URL": "redis://:redis-pw@cache:6379/0",
        }
    )
    assert {"tracker-pw", "redis-pw"} <= set(settings.secret_values())
    assert Settings.from_env({"AFTERCARE_REDIS_URL": " "}).redis_url is None


def test_secrets_never_show_in_the_settings_printout():
    secret = "123456:SECRET-token-never-printed"
    settings = Settings.from_env({"TELEGRAM_BOT_TOKEN": secret, "AFTERCARE_SMTP_PASSWORD": "pw1"})
    assert settings.secret("TELEGRAM_BOT_TOKEN") == secret
    assert secret not in repr(settings) and "pw1" not in repr(settings)
    assert secret not in str(settings)
    with_urls = Settings.from_env(
        {
            "AFTERCARE_DATABASE_URL": "postgresql+psycopg2://app:db-pw-1@db/aftercare",
            "AFTERCARE_TRACKER_URL": "postgresql://rasa:tracker-pw-2@db/t?password=q-pw-4",
            "AFTERCARE_REDIS_URL": "redis://:redis-pw-3@cache:6379/0",
        }
    )
    for shown in (repr(with_urls), str(with_urls)):
        for password in ("db-pw-1", "tracker-pw-2", "redis-pw-3", "q-pw-4"):
            assert password not in shown
        assert "app:***@db/aftercare" in shown and "redis://:***@cache:6379/0" in shown


def test_a_child_process_gets_this_environment_with_overrides():
    settings = Settings.from_env({"A": "1", "AFTERCARE_CLINIC_DIR": "/tmp/c"})
    child = settings.with_env(AFTERCARE_CLINIC_DIR="/tmp/d")
    assert child.clinic_dir.as_posix() == "/tmp/d"
    assert settings.child_env(B="2") == {"A": "1", "AFTERCARE_CLINIC_DIR": "/tmp/c", "B": "2"}
