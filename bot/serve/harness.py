"""Run the trained model with the real action server, in-process, for `ask` and `chat`.

The action server is started as a child process (the same `bot.serve.action_server` the live bot
uses) and the Rasa agent is loaded in this process, so answers come from the same model and
the same action code as in production.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bot.serve import log_privacy, rasa_tuning
from bot.settings import Settings, quiet_rasa


class HarnessError(RuntimeError):
    """The model or the action server could not be started."""


EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral_start() -> int:
    """The first port the kernel hands to outgoing connections (32768 when unknown)."""
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free TCP port on loopback, below the kernel's ephemeral range.

    A port from `bind(0)` comes from the ephemeral range, so between picking it and the server
    binding it any outgoing connection on the machine may take it ("address already in use").
    Ports below that range are only ever taken by listeners.
    """
    low, high = 20000, _ephemeral_start()
    for _ in range(200):
        port = random.randrange(low, high) if high > low + 100 else 0
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise HarnessError("no free loopback port")


def latest_model(models_dir: Path) -> Path:
    """The newest trained model, or a clear error telling how to train one."""
    models = sorted(Path(models_dir).glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise HarnessError(f"no trained model in {models_dir}; run `make train` first")
    return models[-1]


class ActionServerProcess:
    """The action server as a child process on a free loopback port."""

    def __init__(
        self,
        settings: Settings,
        env: dict[str, str] | None = None,
        port: int | None = None,
        log_file: Path | None = None,
    ):
        """`log_file`: where its logs go (default: this process's stderr). Never a pipe that
        nobody reads: a full pipe would block the server."""
        self.settings = settings
        self.port = port or free_port()
        self.env = settings.child_env(**(env or {}))
        self.log_file = log_file
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The webhook URL Rasa calls."""
        return f"http://127.0.0.1:{self.port}/webhook"

    def start(self, timeout: float = 60) -> None:
        """Start and wait until /health answers."""
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting (`wait_ready` waits)."""
        log = open(self.log_file, "ab") if self.log_file else None  # noqa: SIM115 (kept by the child)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.serve.action_server", "--port", str(self.port)],
            cwd=self.settings.project_dir,
            env=self.env,
            stdout=log or subprocess.DEVNULL,
            stderr=log,
        )
        if log:
            log.close()

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until /health answers; stop it and raise if it dies or takes too long."""
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (
                    Path(self.log_file).read_text(errors="replace")[-4000:]
                    if self.log_file
                    else "(see the log above)"
                )
                raise HarnessError(f"the action server stopped:\n{tail}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise HarnessError("the action server did not start in time")

    def stop(self) -> None:
        """Stop the child process."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


class LocalBot:
    """The trained Rasa agent plus a real action server; one conversation per sender id."""

    def __init__(
        self, settings: Settings, model: Path | None = None, env: dict[str, str] | None = None
    ):
        self.settings = settings
        self.model = model or latest_model(settings.models_dir)
        log_dir = Path(tempfile.mkdtemp(prefix="aftercare-actions-"))
        self.actions = ActionServerProcess(settings, env, log_file=log_dir / "action_server.log")
        self.agent: Any = None

    def start(self) -> None:
        """Start the action server and load the model."""
        quiet_rasa()
        self.actions.start()
        from rasa.core.agent import Agent  # heavy: TensorFlow

        rasa_tuning.apply()  # the same Rasa behaviour as `aftercare run` (bot.serve.rasa_server)
        log_privacy.install(self.settings)
        log_privacy.hide_in_rasa()
        from rasa.utils.common import configure_logging_and_warnings
        from rasa.utils.endpoints import EndpointConfig
        from rasa.utils.log_utils import configure_structlog

        level = logging.getLevelName(self.settings.log_level.upper())
        configure_logging_and_warnings(level)
        configure_structlog(level)

        self.agent = Agent.load(str(self.model), action_endpoint=EndpointConfig(self.actions.url))

    def stop(self) -> None:
        """Stop the action server."""
        self.actions.stop()

    async def send(self, sender_id: str, text: str) -> list[dict[str, Any]]:
        """Send one client message; returns the bot's messages."""
        return await self.agent.handle_text(text, sender_id=sender_id) or []

    async def turn_info(self, sender_id: str) -> dict[str, Any]:
        """What NLU understood of the last message and what was answered."""
        tracker = await self.agent.tracker_store.retrieve(sender_id)
        intent = tracker.latest_message.intent if tracker else {}
        keys: list[str | None] = []
        answer = None
        for event in reversed(tracker.events if tracker else []):
            kind = getattr(event, "type_name", "")
            if kind == "user":
                break
            if kind == "bot":
                meta = event.metadata or {}
                keys.append(meta.get("response_key") or meta.get("utter_action"))
            elif kind == "slot" and event.key == "last_answer" and answer is None:
                answer = event.value
        return {
            "intent": intent.get("name"),
            "confidence": round(float(intent.get("confidence") or 0.0), 4),
            "answer": answer,
            "response_keys": list(reversed(keys)),
        }


_loop: asyncio.AbstractEventLoop | None = None


def run_async(coro):
    """Run a coroutine on this process's CLI event loop (kept across calls for the agent)."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
        asyncio.set_event_loop(_loop)
    return _loop.run_until_complete(coro)
