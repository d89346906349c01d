"""The benchmark's baseline: Rasa's own `rasa init` bot plus ONE custom action, built at bench time.

`build(target, action_port)` copies the starter project that ships inside the installed Rasa
package (`rasa/cli/initial_project`: moodbot data, the default DIET + TED config, left as it is),
then adds `action_hello_world` (it answers greetings with the `utter_greet` response) in place
of `utter_greet` in the stories, lists it in the domain and points endpoints.yml at its action
server. The tracker store stays the default in-memory one: this is the bare Rasa bot.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import yaml

#: The custom action every greeting goes through.
ACTION_NAME = "action_hello_world"

#: actions/actions.py of the baseline (rasa_sdk only, like a `rasa init` user would write).
ACTIONS_PY = '''"""The baseline's one custom action: answers a greeting with the utter_greet response."""

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher


class ActionHelloWorld(Action):
    def name(self) -> Text:
        return "action_hello_world"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_greet")
        return []
'''

#: Moodbot sentences (from its own NLU data); half of the turns are greetings, which go through
#: the custom action. Every turn gets a non-empty reply (checked by the bench: errors = 0).
LOAD_SCRIPT = (
    "hello",
    "I am feeling great",
    "hi",
    "I am sad",
    "hey there",
    "yes",
)
#: The long conversation: this opening, then REPEATED in a cycle.
LONG_OPENING = ("hello",)
LONG_REPEATED = ("I am feeling great", "hi", "I am sad", "hey there", "yes", "good morning")


def initial_project() -> Path:
    """The `rasa init` starter project inside the installed Rasa package."""
    import rasa.cli

    return Path(rasa.cli.__file__).parent / "initial_project"


def replace_action(steps: list[dict], old: str, new: str) -> int:
    """Replace `- action: old` by `- action: new` in a story's or rule's steps; how many."""
    count = 0
    for step in steps:
        if step.get("action") == old:
            step["action"] = new
            count += 1
    return count


def _rewrite_steps(path: Path, section: str) -> int:
    data = yaml.safe_load(path.read_text())
    count = sum(
        replace_action(item.get("steps") or [], "utter_greet", ACTION_NAME)
        for item in data.get(section) or []
    )
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return count


def build(target: Path, action_port: int) -> Path:
    """Create the baseline project in `target` (replacing it); returns `target`.

    Only what the brief allows changes: the custom action (code, domain, stories/rules) and the
    action endpoint. config.yml (the default pipeline and policies) is copied unchanged.
    """
    target = Path(target)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(
        initial_project(), target, ignore=shutil.ignore_patterns("__pycache__", "tests")
    )
    (target / "actions" / "actions.py").write_text(ACTIONS_PY)

    replaced = _rewrite_steps(target / "data" / "stories.yml", "stories")
    replaced += _rewrite_steps(target / "data" / "rules.yml", "rules")
    if not replaced:
        raise RuntimeError(
            "the rasa init stories no longer use utter_greet; update bench/baseline.py"
        )

    domain = yaml.safe_load((target / "domain.yml").read_text())
    domain["actions"] = [ACTION_NAME]
    (target / "domain.yml").write_text(yaml.safe_dump(domain, sort_keys=False, allow_unicode=True))

    set_action_port(target, action_port)
    credentials = yaml.safe_load((target / "credentials.yml").read_text()) or {}
    if "rest" not in credentials:
        raise RuntimeError("the rasa init credentials.yml no longer enables the REST channel")
    return target


def set_action_port(project: Path, port: int) -> None:
    """Point the project's endpoints.yml at an action server on 127.0.0.1:`port`."""
    endpoints = {"action_endpoint": {"url": action_url(port)}}
    (Path(project) / "endpoints.yml").write_text(yaml.safe_dump(endpoints, sort_keys=False))


def action_url(port: int) -> str:
    """The webhook Rasa calls for the custom action."""
    return f"http://127.0.0.1:{port}/webhook"


def rasa_bin() -> str:
    """The `rasa` script of this virtualenv."""
    return str(Path(sys.executable).with_name("rasa"))


def train_command() -> list[str]:
    """`rasa train` for the baseline (run from its directory; model in its models/)."""
    return [rasa_bin(), "train", "--fixed-model-name", "baseline", "--out", "models"]


def action_server_command(port: int) -> list[str]:
    """The baseline's action server (rasa_sdk), run from its directory."""
    return [rasa_bin(), "run", "actions", "--actions", "actions", "--port", str(port)]


def rasa_command(port: int) -> list[str]:
    """The baseline's Rasa server with the REST channel on loopback, run from its directory."""
    return [
        rasa_bin(),
        "run",
        "--model",
        "models/baseline.tar.gz",
        "--interface",
        "127.0.0.1",
        "--port",
        str(port),
        "--endpoints",
        "endpoints.yml",
        "--credentials",
        "credentials.yml",
    ]
