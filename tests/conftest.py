"""Shared fixtures: a copy of the clinic folder to edit, a database per test, services."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from bot import cli
from bot.domain.advisor import Advisor
from bot.domain.days import local_today
from bot.domain.intents import topic_intents
from bot.kb.loader import load_clinic
from bot.kb.store import ClinicStore
from bot.serve.harness import free_port
from bot.serve.training import model_path, train
from bot.settings import PROJECT_DIR, Settings
from bot.storage.engine import session_factory

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


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A fresh database: SQLite (embedded default) and PostgreSQL (the same code, by URL).

    The PostgreSQL server is a throwaway one on 127.0.0.1 that `make test` starts
    (scripts/postgres.sh); without it these cases are skipped.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'aftercare.db'}"
    url = os.environ.get("AFTERCARE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server (make test starts one: scripts/postgres.sh)")
    from bot.storage.engine import get_engine
    from bot.storage.models import Base

    engine = get_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    return url


@pytest.fixture
def settings(database_url, clinic_dir) -> Settings:
    """Settings pointing at the clinic copy and a fresh database."""
    return Settings.from_env(
        {"AFTERCARE_CLINIC_DIR": str(clinic_dir), "AFTERCARE_DATABASE_URL": database_url}
    )


@pytest.fixture
def service(settings, monkeypatch):
    """The aftercare service on the test settings, installed as the process-wide one."""
    import bot.service.core

    svc = bot.service.core.AftercareService(settings)
    monkeypatch.setattr(bot.service.core, "_service", svc)
    return svc


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace text in a clinic file, failing loudly if `old` is not there."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


class SmtpInbox:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives; can be stopped."""

    def __init__(self, port: int | None = None, tls_context=None):
        from bot.serve.harness import free_port

        self.port = port or free_port()
        self.messages: list = []
        self._controller = None
        self.tls_context = tls_context  # offers STARTTLS with this context when set

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        from email import message_from_bytes

        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def start(self) -> SmtpInbox:
        from aiosmtpd.controller import Controller

        self._controller = Controller(
            self, hostname="127.0.0.1", port=self.port, tls_context=self.tls_context
        )
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


AFTERCARE = str(Path(sys.executable).with_name("aftercare"))


def register_client(env: dict[str, str], days_ago: int, kind: str = "medical") -> dict:
    """`aftercare clients add`, as the clinic runs it at checkout."""
    treatment = local_today("Europe/London") - timedelta(days=days_ago)
    result = subprocess.run(
        [
            AFTERCARE,
            "clients",
            "add",
            "--name",
            "Sam Client",
            "--date",
            treatment.isoformat(),
            "--kind",
            kind,
            "--area",
            "face",
            "--json",
        ],
        cwd=PROJECT_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class RunningBot:
    """`aftercare run` on free loopback ports, talking over the REST channel."""

    def __init__(self, env: dict[str, str], log_file: Path | None = None):
        self.port, self.action_port, self.web_port = free_port(), free_port(), free_port()
        self.inbox_port = free_port()
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen | None = None
        self.log_file = log_file  # everything every process prints, when set (else a pipe)

    def start(self) -> None:
        """Start the bot; on a port another process took meanwhile, once more on new ports."""
        for attempt in range(3):
            seen = self._start_once()
            if not seen:
                return
            if "address already in use" not in "".join(seen) or attempt == 2:
                raise AssertionError("bot did not start:\n" + "".join(seen[-40:]))
            self.port, self.action_port, self.web_port = free_port(), free_port(), free_port()
            self.inbox_port = free_port()

    def _start_once(self) -> list[str]:
        """Start `aftercare run`; [] once it is running, else the last lines it printed."""
        if self.log_file is not None:
            return self._start_logging_to_file()
        self.process = subprocess.Popen(
            [
                AFTERCARE,
                "run",
                "--port",
                str(self.port),
                "--action-port",
                str(self.action_port),
                "--web-port",
                str(self.web_port),
                "--inbox-port",
                str(self.inbox_port),
            ],
            cwd=PROJECT_DIR,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 240
        seen = []
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            seen.append(line)
            if "Aftercare Assistant is running" in line:
                # Keep reading what it prints: a full pipe would stop the bot mid-test.
                threading.Thread(target=self.process.stdout.read, daemon=True).start()
                return []
            if not line and self.process.poll() is not None:
                break
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        return seen or ["(no output)"]

    def command(self) -> list[str]:
        """`aftercare run` on this bot's ports."""
        ports = (
            "--port",
            self.port,
            "--action-port",
            self.action_port,
            "--web-port",
            self.web_port,
            "--inbox-port",
            self.inbox_port,
        )
        return [AFTERCARE, "run", *map(str, ports)]

    def _start_logging_to_file(self) -> list[str]:
        """Like `_start_once`, with every line going to `log_file` (read, never a full pipe)."""
        with open(self.log_file, "a") as out:  # noqa: PTH123 - the child keeps its own copy
            self.process = subprocess.Popen(
                self.command(), cwd=PROJECT_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            written = self.log_file.read_text(errors="replace")
            if "Aftercare Assistant is running" in written:
                return []
            if self.process.poll() is not None:
                return written.splitlines(keepends=True)[-40:] or ["(no output)"]
            time.sleep(0.3)
        self.process.kill()
        self.process.wait(timeout=30)
        return self.log_file.read_text(errors="replace").splitlines(keepends=True)[-40:]

    def say(self, text: str, sender: str = "client-42") -> list[str]:
        response = httpx.post(
            f"http://127.0.0.1:{self.port}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=60,
        )
        response.raise_for_status()
        return [m.get("text", "") for m in response.json()]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The project's model, trained first if the training data changed."""
    models = PROJECT_DIR / "models"
    train(PROJECT_DIR, models)
    return model_path(models)


# --- browser tests ----------------------------------------------------------------------------

CHROMIUM = os.environ.get("AFTERCARE_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = PROJECT_DIR / "results" / "web"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (so fixtures can tell a failure)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def pytest_collection_modifyitems(session, config, items):
    """Modules with browser tests run last, each whole (its module fixtures start once):
    Playwright's sync API keeps an event loop running in the main thread from its first use
    to the end of the session, and asyncio.run() refuses to start inside it (every later test
    that runs a coroutine would fail)."""
    browser = {item.path for item in items if "chromium" in getattr(item, "fixturenames", ())}
    items.sort(key=lambda item: item.path in browser)


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium driven by Playwright from PyPI (no browser download)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/browser.sh` (make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


class Screens:
    """Numbered screenshots of one test's steps in results/web/ (and one on failure)."""

    def __init__(self, page, name: str):
        self.page, self.name, self.count = page, name, 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shot(self, step: str) -> Path:
        self.count += 1
        path = SCREENSHOTS / f"{self.name}-{self.count:02d}-{step}.png"
        self.page.screenshot(path=path, full_page=False)
        return path


@pytest.fixture
def browser_page(chromium, request):
    """A fresh browser profile (no stored chat) and its page, with step screenshots."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    screens = Screens(page, request.node.name)
    page.screens = screens
    page.errors = errors
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        screens.shot("FAILED")
    context.close()


# --- shared by the check-in and client tests ---------------------------------------------


@pytest.fixture
def run_cli(tmp_path, clinic_dir, database_url, monkeypatch, capsys):
    """`aftercare ...` in-process on the test clinic and database; returns (code, out, err)."""
    monkeypatch.setenv("AFTERCARE_HOME", str(tmp_path))
    monkeypatch.setenv("AFTERCARE_DATABASE_URL", database_url)
    monkeypatch.setenv("AFTERCARE_CLINIC_DIR", str(clinic_dir))
    for name in ("TELEGRAM_BOT_USERNAME", "TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def fake_rasa():
    """The fake of Rasa's HTTP API (tests/fakes/rasa_api.py), started on loopback."""
    from tests.fakes.rasa_api import FakeRasaApi

    fake = FakeRasaApi().start()
    yield fake
    fake.stop()


@pytest.fixture
def sessions(database_url):
    return session_factory(database_url)


@pytest.fixture(scope="session")
def shipped_store(known_topics) -> ClinicStore:
    """The shipped clinic, loaded once (loading takes most of a second; nothing edits it)."""
    return ClinicStore(SHIPPED_CLINIC, known_topics)


@pytest.fixture
def store(request, shipped_store, known_topics) -> ClinicStore:
    """The clinic the dispatcher reads: the test's own copy when it uses one (`clinic_dir`,
    to edit it), else the shipped clinic."""
    if "clinic_dir" in request.fixturenames:
        return ClinicStore(request.getfixturevalue("clinic_dir"), known_topics)
    return shipped_store
