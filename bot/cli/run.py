"""`aftercare run`: what `make run` runs."""

from __future__ import annotations

import argparse

from bot.serve.runner import run
from bot.settings import Settings


def register(sub) -> None:
    """Add `run`."""
    command = sub.add_parser("run", help="start Rasa and the action server on localhost")
    command.add_argument("--port", type=int, default=5005, help="Rasa port (default 5005)")
    command.add_argument(
        "--action-port", type=int, default=5055, help="action server port (default 5055)"
    )
    command.add_argument(
        "--web-port",
        type=int,
        default=8080,
        help="port of the demo clinic page with the chat widget (default 8080; a free one if taken)",
    )
    command.add_argument(
        "--inbox-port",
        type=int,
        default=None,
        help="port of the staff inbox (default 8090; a free one if taken)",
    )
    command.set_defaults(func=run_command)


def run_command(settings: Settings, args: argparse.Namespace) -> int:
    """Start everything and supervise it until Ctrl-C."""
    return run(
        settings,
        rasa_port=args.port,
        action_port=args.action_port,
        web_port=args.web_port,
        inbox_port=args.inbox_port,
    )
