"""The two bots under test: the messages each is sent, and how its stack is started."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bench import baseline
from bench.common import ROOT
from bench.phases import fresh_dir
from bench.stack import Command, Stack
from bot.serve.harness import free_port

AFTERCARE = str(Path(sys.executable).with_name("aftercare"))

#: Ordinary aftercare questions (no red flags: they would create staff alerts).
OURS_SCRIPT = (
    "hi",
    "my treatment was 3 days ago",
    "can I wear makeup?",
    "is redness normal?",
    "can I go to the gym?",
    "when can I use retinol?",
    "do I need sunscreen?",
    "how should I wash my face?",
    "can I go swimming?",
    "my skin is peeling, is that ok?",
    "when should I book my next treatment?",
    "thanks",
)
OURS_LONG_OPENING = ("hi", "my treatment was 3 days ago")
OURS_LONG_REPEATED = (
    "can I wear makeup?",
    "is redness normal?",
    "can I go to the gym?",
    "do I need sunscreen?",
    "can I go swimming?",
    "my skin is peeling, is that ok?",
    "when should I book my next treatment?",
    "thanks",
)


def script_settings() -> dict[str, Any]:
    """The load scripts and long conversations of both bots, for the report's settings."""
    return {
        "ours_script": list(OURS_SCRIPT),
        "ours_long": {"opening": list(OURS_LONG_OPENING), "repeated": list(OURS_LONG_REPEATED)},
        "baseline_script": list(baseline.LOAD_SCRIPT),
        "baseline_long": {
            "opening": list(baseline.LONG_OPENING),
            "repeated": list(baseline.LONG_REPEATED),
        },
    }


def ours_stack(work: Path) -> Stack:
    """`aftercare run` on free loopback ports with the bench's model and databases."""
    rasa_port, action_port, web_port = free_port(), free_port(), free_port()
    data = fresh_dir(work / "ours")
    env = {
        "AFTERCARE_MODELS_DIR": str(work / "models"),
        "AFTERCARE_DATABASE_URL": f"sqlite:///{data / 'app.db'}",
        "AFTERCARE_TRACKER_DB": str(data / "rasa_tracker.db"),
        "RASA_TELEMETRY_ENABLED": "false",
    }
    argv = [AFTERCARE, "run", "--port", str(rasa_port), "--action-port", str(action_port)]
    argv += ["--web-port", str(web_port), "--inbox-port", str(free_port())]
    url = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"
    command = Command("aftercare-run", argv, ROOT, env, unset_prefixes=("TELEGRAM_",))
    return Stack("ours", [command], url, work / "logs", greeting=OURS_SCRIPT[0])


def baseline_stack(project: Path, work: Path) -> Stack:
    """The baseline's action server and `rasa run`, launched at the same moment."""
    rasa_port, action_port = free_port(), free_port()
    baseline.set_action_port(project, action_port)
    env = {"RASA_TELEMETRY_ENABLED": "false"}
    commands = [
        Command(
            "action-server",
            baseline.action_server_command(action_port),
            project,
            {**env, "SANIC_HOST": "127.0.0.1"},
        ),
        Command("rasa-run", baseline.rasa_command(rasa_port), project, env),
    ]
    url = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"
    return Stack("baseline", commands, url, work / "logs", greeting=baseline.LOAD_SCRIPT[0])
