"""Shared fixtures: a copy of the clinic folder to edit, a database per test, services."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.advisor import Advisor
from bot.intents import topic_intents
from bot.kb.loader import load_clinic
from bot.settings import PROJECT_DIR, Settings

SHIPPED_CLINIC = PROJECT_DIR / "clinic"
DOMAIN = PROJECT_DIR / "domain.yml"
PROTOCOL = PROJECT_DIR.parent / "shared" / "aftercare-protocol.md"
# Saturday 21 November 2026, 10:00 in London.
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def known_topics() -> set[str]:
    """Topic intents declared in domain.yml."""
    return topic_intents(DOMAIN)


@pytest.fixture(scope="session")
def clinic(known_topics):
    """The shipped clinic folder, loaded and validated."""
    return load_clinic(SHIPPED_CLINIC, known_topics)


@pytest.fixture(scope="session")
def advisor(clinic) -> Advisor:
    """An advisor on the shipped knowledge base."""
    return Advisor(clinic)


@pytest.fixture
def clinic_dir(tmp_path) -> Path:
    """A private copy of the shipped clinic folder, safe to edit."""
    target = tmp_path / "clinic"
    shutil.copytree(SHIPPED_CLINIC, target)
    return target


@pytest.fixture
def settings(tmp_path, clinic_dir) -> Settings:
    """Settings pointing at the clinic copy and a fresh SQLite database."""
    return Settings.from_env(
        {
            "AFTERCARE_CLINIC_DIR": str(clinic_dir),
            "AFTERCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'aftercare.db'}",
        }
    )


@pytest.fixture
def service(settings, monkeypatch):
    """The aftercare service on the test settings, installed as the process-wide one."""
    import bot.service

    svc = bot.service.AftercareService(settings)
    monkeypatch.setattr(bot.service, "_service", svc)
    return svc


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace text in a clinic file, failing loudly if `old` is not there."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


class SmtpInbox:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives; can be stopped."""

    def __init__(self, port: int | None = None):
        from bot.harness import free_port

        self.port = port or free_port()
        self.messages: list = []
        self._controller = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        from email import message_from_bytes

        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def start(self) -> "SmtpInbox":
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_inbox():
    """An SMTP server on a free loopback port."""
    inbox = SmtpInbox().start()
    yield inbox
    inbox.stop()


@pytest.fixture
def telegram_api():
    """The fake Telegram Bot API on loopback (driven by the real python-telegram-bot)."""
    from tests.fakes.telegram_api import FakeTelegramApi

    api = FakeTelegramApi(token=STAFF_BOT_TOKEN)
    api.start()
    yield api
    api.stop()


STAFF_BOT_TOKEN = "123456:TEST-staff-token-not-real"
