"""`aftercare run` restarts whatever stops: the action server, Rasa, the notifier (issue 14)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from bot.serve.runner import Backoff


def test_restart_delays_double_while_a_process_keeps_dying_and_reset_once_it_runs():
    backoff = Backoff(started=0.0)
    delays = [backoff.next_delay(now) for now in (1, 3, 8, 17)]
    assert delays == [1, 2, 4, 8] and backoff.quick_deaths == 4
    assert backoff.next_delay(now=17 + 8 + 61) == 1  # ran for over a minute: fresh start
    assert backoff.quick_deaths == 0
    many = Backoff(started=0.0)
    assert max(many.next_delay(now=float(n)) for n in range(12)) == many.most


def test_a_process_that_keeps_dying_at_start_stops_the_run_for_a_person_to_look():
    import subprocess
    import sys

    from bot.serve import runner

    dying = [sys.executable, "-c", "raise SystemExit(3)"]
    stack = runner.Stack.__new__(runner.Stack)  # just the processes `supervise` watches
    stack.rasa = subprocess.Popen(dying)
    stack.notifier = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stack.actions = type("Actions", (), {"process": stack.notifier})()
    starts = []
    stack._restart_rasa = lambda: starts.append(setattr(stack, "rasa", subprocess.Popen(dying)))
    try:
        code = stack.supervise(lambda: Backoff(first=0.01, most=0.02), poll=0.01)
    finally:
        stack.notifier.kill()
    assert code == 1 and len(starts) == runner.MAX_QUICK_DEATHS  # tried, then gave up


def pid_of(parent: int, *words: str) -> int:
    """The pid of the one child of `parent` whose command line holds every word."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        line = " ".join(a.decode(errors="replace") for a in argv)
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and all(w in line for w in words):
            found.append(int(entry.name))
    assert len(found) == 1, found
    return found[0]


def answers(bot, text: str, sender: str) -> bool:
    try:
        return any(bot.say(text, sender))
    except httpx.HTTPError:
        return False


def answered_within(bot, seconds: float, sender: str) -> float:
    """Seconds until the bot answers a question again (fails after `seconds`)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if answers(bot, "can I wear makeup?", sender):
            return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError(f"no answer within {seconds:.0f}s")


@pytest.mark.integration
def test_a_killed_action_server_and_a_killed_rasa_come_back_by_themselves(
    trained_model, clinic_dir, tmp_path
):
    from tests.conftest import RunningBot

    log_file = tmp_path / "run.log"
    bot = RunningBot(
        {
            "AFTERCARE_CLINIC_DIR": str(clinic_dir),
            "AFTERCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
            "AFTERCARE_TRACKER_DB": str(tmp_path / "tracker.db"),
        },
        log_file=log_file,
    )
    bot.start()
    run = bot.process.pid
    try:
        assert answers(bot, "my treatment was 2 days ago", "s1")
        os.kill(pid_of(run, "bot.serve.action_server"), signal.SIGKILL)
        assert answered_within(bot, 60, "s1") < 15  # issue 14: answers again within 15 s
        os.kill(pid_of(run, "bot.serve.rasa_server"), signal.SIGKILL)
        assert answered_within(bot, 90, "s2") < 15
        notifier = pid_of(run, "notifier")
        os.kill(notifier, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while "alert notifier stopped" not in log_file.read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)
        assert pid_of(run, "notifier") != notifier  # a new one
        assert bot.process.poll() is None  # `aftercare run` itself never stopped
    finally:
        bot.stop()
    written = log_file.read_text()
    for name in ("action server", "Rasa", "alert notifier"):
        assert f"The {name} stopped (exit -9); restarting it in 1s." in written


class _HangingHook:
    """The clinic's webhook: notes each alert as it arrives; the first takes `seconds` to
    answer (the notifier is mid-delivery meanwhile), later ones are answered at once."""

    def __init__(self, seconds: float) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from bot.serve.harness import free_port

        arrived = self.arrived = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                arrived.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                if len(arrived) == 1:
                    time.sleep(seconds)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.integration
def test_a_notifier_killed_mid_delivery_is_replaced_and_the_alert_still_arrives(
    trained_model, clinic_dir, tmp_path
):
    """kill -9 of the notifier while the webhook is receiving an alert: `aftercare run` starts
    a new one, which sends the alert again once the dead one's claim ran out (at least once:
    receivers tell a repeat by the alert's `id` and `purpose`); the escalation ends delivered."""
    import sqlite3

    from bot.alerts.worker import SEND_LEASE
    from tests.conftest import RunningBot, edit

    hook = _HangingHook(seconds=8)  # less than the webhook's own timeout
    edit(
        clinic_dir / "settings.yml",
        '    # webhook:\n    #   url: "https://hooks.slack.com/services/..."',
        f'    webhook:\n      url: "{hook.url}"',
    )
    log_file = tmp_path / "run.log"
    bot = RunningBot(
        {
            "AFTERCARE_CLINIC_DIR": str(clinic_dir),
            "AFTERCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
            "AFTERCARE_TRACKER_DB": str(tmp_path / "tracker.db"),
        },
        log_file=log_file,
    )
    bot.start()
    run = bot.process.pid

    def outbox() -> list[tuple]:
        with sqlite3.connect(tmp_path / "app.db") as db:
            return db.execute("SELECT channel, purpose, status FROM outbox").fetchall()

    try:
        assert bot.say("it's day 3 and there is yellow pus and I feel feverish", "s1")
        deadline = time.monotonic() + 30
        while not hook.arrived and time.monotonic() < deadline:
            time.sleep(0.2)
        assert hook.arrived, "the alert never reached the webhook"
        notifier = pid_of(run, "notifier")
        os.kill(notifier, signal.SIGKILL)  # mid-delivery: the webhook has not answered yet
        killed_at = time.monotonic()
        deadline = killed_at + SEND_LEASE + 60
        while len(hook.arrived) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(hook.arrived) == 2, "the new notifier never sent the alert again"
        assert time.monotonic() - killed_at >= SEND_LEASE - 5  # not before the claim ran out
        assert pid_of(run, "notifier") != notifier
        assert answers(bot, "can I wear makeup?", "s2")  # the bot answered throughout
        deadline = time.monotonic() + 40
        while ("webhook", "alert", "delivered") not in outbox() and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        bot.stop()
        hook.server.shutdown()
    first, again = hook.arrived
    assert (first["id"], first["purpose"]) == (again["id"], again["purpose"])
    assert first["level"] == "urgent"
    assert ("webhook", "alert", "delivered") in outbox()
