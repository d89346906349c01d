"""`aftercare run`: start everything the bot needs on localhost and say where to chat."""

from __future__ import annotations

import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx

from bot.channels.telegram.config import TelegramConfig
from bot.channels.web.format import ORIGINS_ENV
from bot.domain.intents import topic_intents
from bot.kb.store import ClinicStore
from bot.serve.demo_site import DemoSite, widget_tag
from bot.serve.harness import ActionServerProcess, HarnessError, free_port
from bot.serve.training import model_path, train
from bot.settings import Settings
from bot.storage.engine import get_engine, session_factory
from bot.storage.heartbeats import NOTIFIER, Heartbeats

NO_ALERTS_WARNING = (
    "WARNING: no staff alert channel is configured (clinic/settings.yml, alerts:). Red flags are\n"
    "recorded (aftercare escalations list) and clients are told to call the clinic, but no one\n"
    "is notified."
)


DEFAULT_INBOX_PORT = 8090  # the staff inbox (a free port instead when taken)

# `aftercare run` stops (exit 1) when a process died this many times in a row within a
# minute of its start (about 4 minutes of retrying with the backoff).
MAX_QUICK_DEATHS = 8

NOTIFIER_SILENT_WARNING = (
    "WARNING: the alert notifier has not started (no heartbeat). Red flags are recorded and\n"
    "clients are told to call the clinic until it runs; it is restarted if it stopped."
)


def _wait_http(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise HarnessError(f"process stopped before answering {url}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise HarnessError(f"{url} did not answer within {timeout:.0f}s")


def _telegram_line(telegram: TelegramConfig | None, rasa_port: int) -> str:
    """Where Telegram clients come in, for the start-up banner."""
    if telegram is None:
        return (
            "  Telegram:           off (set TELEGRAM_BOT_TOKEN to turn it on; README, Telegram)\n"
        )
    if telegram.mode == "webhook":
        return (
            f"  Telegram:           webhook {telegram.webhook_url} -> "
            f"http://127.0.0.1:{rasa_port}/webhooks/telegram/webhook\n"
        )
    return "  Telegram:           long polling (message the clinic's bot; links: aftercare clients add)\n"


def _stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Backoff:
    """Restart delays: 1 s, doubling up to 60 s while a process keeps dying within a minute
    of its last start; back to 1 s once it ran longer. `quick_deaths` counts the deaths in a
    row that came within a minute of a start."""

    first: float = 1.0
    most: float = 60.0
    stable_after: float = 60.0
    delay: float = 0.0
    quick_deaths: int = 0
    started: float = field(default_factory=time.monotonic)

    def next_delay(self, now: float | None = None) -> float:
        """How long to wait before the next start (and note that start)."""
        now = time.monotonic() if now is None else now
        if now - self.started >= self.stable_after:
            self.delay, self.quick_deaths = 0.0, 0
        else:
            self.quick_deaths += 1
        self.delay = min(self.most, self.delay * 2 if self.delay else self.first)
        self.started = now + self.delay
        return self.delay


@dataclass
class Stack:
    """The processes of one `aftercare run`."""

    settings: Settings
    rasa_port: int
    actions: ActionServerProcess
    demo: DemoSite
    telegram: TelegramConfig | None
    env: dict[str, str] = field(default_factory=dict)
    inbox_port: int = 8090
    rasa: subprocess.Popen | None = None
    notifier: subprocess.Popen | None = None
    inbox: subprocess.Popen | None = None

    @property
    def bot_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def rasa_command(self) -> list[str]:
        """Rasa's own CLI with the speed fixes of bot.serve.rasa_tuning installed."""
        return [
            sys.executable,
            "-m",
            "bot.serve.rasa_server",
            "run",
            "--model",
            str(model_path(self.settings.models_dir)),
            "--interface",
            "127.0.0.1",
            "--port",
            str(self.rasa_port),
            "--credentials",
            "credentials.yml",
            "--endpoints",
            "endpoints.yml",
            # Bound to 127.0.0.1: the alert notifier uses the API to tell clients about their
            # escalation. Put a reverse proxy with auth in front before exposing Rasa anywhere.
            "--enable-api",
        ]

    def notifier_command(self) -> list[str]:
        return [str(Path(sys.executable).with_name("aftercare")), "notifier"]

    def inbox_command(self) -> list[str]:
        aftercare = str(Path(sys.executable).with_name("aftercare"))
        return [aftercare, "inbox", "--port", str(self.inbox_port)]

    @property
    def inbox_url(self) -> str:
        return f"http://127.0.0.1:{self.inbox_port}"

    def _start_inbox(self) -> subprocess.Popen:
        env = {**self.env, "AFTERCARE_RASA_URL": self.bot_url}
        return subprocess.Popen(self.inbox_command(), cwd=self.settings.project_dir, env=env)

    def start(self) -> None:
        """Both servers start at once (Rasa needs the action server only when a message
        comes): the cold start is the slower of the two, not their sum."""
        self.actions.launch()
        self.rasa = subprocess.Popen(
            self.rasa_command(), cwd=self.settings.project_dir, env=self.env
        )
        self.actions.wait_ready(timeout=120)
        print(f"Action server: http://127.0.0.1:{self.actions.port}", flush=True)
        _wait_http(f"{self.bot_url}/", self.rasa, timeout=180)
        self.demo.start()
        self.notifier = self._start_notifier()
        self.inbox = self._start_inbox()
        self._wait_for_notifier(timeout=60)
        try:
            _wait_http(f"{self.inbox_url}/healthz", self.inbox, timeout=60)
        except HarnessError as exc:  # clients are answered all the same; it is restarted
            print(f"WARNING: the staff inbox did not start ({exc}).", file=sys.stderr)

    def _wait_for_notifier(self, timeout: float) -> None:
        """Until the notifier's first heartbeat: before it, clients would be told to call
        instead of that staff were alerted (bot.service.escalation)."""
        beats = Heartbeats(session_factory(self.settings.database_url))
        started, deadline = beats.clock() - timedelta(seconds=1), time.monotonic() + timeout
        while time.monotonic() < deadline and self.notifier.poll() is None:
            last = beats.last(NOTIFIER)
            if last is not None and last >= started:
                return
            time.sleep(0.3)
        print(NOTIFIER_SILENT_WARNING, file=sys.stderr)

    def _start_notifier(self) -> subprocess.Popen:
        env = {**self.env, "AFTERCARE_RASA_URL": self.bot_url}
        return subprocess.Popen(self.notifier_command(), cwd=self.settings.project_dir, env=env)

    def banner(self) -> str:
        """Where to chat, and where things are."""
        return (
            "\nAftercare Assistant is running.\n"
            "  Chat in a terminal:  make chat   (or .venv/bin/aftercare chat)\n"
            f"  REST channel:        POST {self.bot_url}/webhooks/rest/webhook\n"
            '                       {"sender": "client-1", "message": "can I wear makeup?"}\n'
            f"  Clinic answers:      {self.settings.clinic_dir}/knowledge/*.yml (edits apply on the next message)\n"
            "  Red flags for staff: .venv/bin/aftercare escalations list   (alerts: clinic/settings.yml)\n"
            f"  Website chat:       {self.demo.url}   (demo clinic page; open it in a browser)\n"
            f"                       widget tag for the clinic's site: {widget_tag(self.bot_url)}\n"
            f"  Staff inbox:        {self.inbox_url}   (accounts: .venv/bin/aftercare staff add NAME --role admin)\n"
            f"{_telegram_line(self.telegram, self.rasa_port)}"
            "Press Ctrl-C to stop.\n"
        )

    def supervise(self, backoff: Callable[[], Backoff] = Backoff, poll: float = 0.5) -> int:
        """Restart any process that stops (Rasa, the action server, the notifier), each on its
        own backoff; give up (exit 1) only when one keeps dying right after its starts
        MAX_QUICK_DEATHS times in a row (a missing model, a port taken: a person must look)."""
        restarts = {
            "Rasa": self._restart_rasa,
            "action server": self._restart_actions,
            "alert notifier": self._restart_notifier,
            "staff inbox": self._restart_inbox,
        }
        delays = {name: backoff() for name in restarts}
        due: dict[str, float] = {}  # name -> when to start it again
        while True:
            now = time.monotonic()
            for name, restart in restarts.items():
                if name in due:
                    if now >= due[name]:
                        del due[name]
                        restart()
                    continue
                process = self._process(name)
                if process is None or process.poll() is None:
                    continue
                delay = delays[name].next_delay(now)
                # The inbox is for staff: it failing must not stop the clients' bot.
                if delays[name].quick_deaths > MAX_QUICK_DEATHS and name != "staff inbox":
                    print(
                        f"The {name} keeps stopping right after it starts; stopping.",
                        file=sys.stderr,
                        flush=True,
                    )
                    return 1
                # Nothing is lost meanwhile: alerts wait in the database, and a channel tells
                # a client whose message cannot be answered to try again or call.
                print(
                    f"The {name} stopped (exit {process.returncode}); "
                    f"restarting it in {delay:.0f}s.",
                    file=sys.stderr,
                    flush=True,
                )
                due[name] = now + delay
            time.sleep(poll)

    def _process(self, name: str) -> subprocess.Popen | None:
        return {
            "Rasa": self.rasa,
            "action server": self.actions.process,
            "alert notifier": self.notifier,
            "staff inbox": self.inbox,
        }[name]

    def _restart_rasa(self) -> None:
        self.rasa = subprocess.Popen(
            self.rasa_command(), cwd=self.settings.project_dir, env=self.env
        )

    def _restart_actions(self) -> None:
        self.actions.launch()

    def _restart_notifier(self) -> None:
        self.notifier = self._start_notifier()

    def _restart_inbox(self) -> None:
        self.inbox = self._start_inbox()

    def stop(self) -> None:
        _stop(self.inbox)
        _stop(self.notifier)
        _stop(self.rasa, signal.SIGINT)
        self.actions.stop()
        self.demo.stop()


def prepare(
    settings: Settings,
    rasa_port: int,
    action_port: int,
    web_port: int,
    inbox_port: int | None = None,
) -> Stack:
    """Check the clinic and the Telegram settings, train if needed, and lay out the stack."""
    store = ClinicStore(settings.clinic_dir, topic_intents(settings.domain_file))
    clinic = store.current()  # a broken KB stops here, with file and line
    if not clinic.settings.alerts.names():
        print(NO_ALERTS_WARNING, file=sys.stderr)
    telegram = TelegramConfig.from_settings(settings)  # a half-set webhook stops here
    quiet = {"RASA_TELEMETRY_ENABLED": "false"}
    train(
        settings.project_dir,
        settings.models_dir,
        env=settings.child_env(**quiet),
        settings=settings,
    )
    settings.var_dir.mkdir(exist_ok=True)
    get_engine(settings.database_url)  # schema migrations once, before any child starts
    actions = ActionServerProcess(settings, port=action_port)
    bot_url = f"http://127.0.0.1:{rasa_port}"
    demo = DemoSite(lambda: store.current().settings, bot_url, port=web_port)
    # The demo page is a site of its own (another port): the widget API must allow it.
    origins = [o for o in settings.web_origins_text.split(",") if o.strip()] + list(demo.origins())
    env = settings.child_env(
        AFTERCARE_TRACKER_DB=str(settings.tracker_db),
        AFTERCARE_ACTION_URL=actions.url,
        AFTERCARE_STACK=secrets.token_hex(8),  # this run: what it restarts keeps its leases
        **{ORIGINS_ENV: ",".join(origins)},
        **quiet,
    )
    # The default port moves aside if it is taken; one asked for explicitly does not.
    inbox = _port_or_free(DEFAULT_INBOX_PORT) if inbox_port is None else inbox_port
    return Stack(settings, rasa_port, actions, demo, telegram, env, inbox)


def _port_or_free(port: int) -> int:
    """`port` if nothing listens on it, else a free one (printed in the banner)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


def run(
    settings: Settings,
    rasa_port: int = 5005,
    action_port: int = 5055,
    web_port: int = 8080,
    inbox_port: int | None = None,
) -> int:
    """Train if needed, start the action server, Rasa and the demo clinic page (with the chat
    widget), and supervise them until Ctrl-C."""
    stack = prepare(settings, rasa_port, action_port, web_port, inbox_port)

    def _terminate(signum, frame):  # SIGTERM: stop children like Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)  # even when started in the background (SIGINT ignored)
    try:
        stack.start()
        print(stack.banner(), flush=True)
        return stack.supervise()
    except KeyboardInterrupt:
        print("\nStopping...")
        return 0
    except HarnessError as exc:
        print(f"Could not start: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
