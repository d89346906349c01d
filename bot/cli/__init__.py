"""The `aftercare` command: one module per command group, as the README's command table."""

from __future__ import annotations

import argparse
import importlib
import sys

from bot import logs
from bot.settings import Settings, SettingsError
from bot.storage.schema import SchemaError

# Command group -> its module (each adds its commands with `register`).
GROUPS = {
    "kb": "bot.cli.kb",
    "ask": "bot.cli.ask",
    "chat": "bot.cli.chat",
    "train": "bot.cli.train",
    "run": "bot.cli.run",
    "escalations": "bot.cli.escalations",
    "notifier": "bot.cli.notifier",
    "clients": "bot.cli.clients",
    "db": "bot.cli.db",
    "staff": "bot.cli.staff",
    "inbox": "bot.cli.inbox",
    "checkins": "bot.cli.checkins",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command-line interface. With `command`, only that group is loaded: each group
    imports what it needs, and `aftercare run` should not wait for the others' imports."""
    parser = argparse.ArgumentParser(prog="aftercare", description="Aftercare Assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in GROUPS.items():
        if command in (None, name):
            importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `aftercare` console script."""
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv and argv[0] in GROUPS else None
    args = build_parser(command).parse_args(argv)
    try:
        settings = Settings.from_env()
        logs.install(settings.secret_values())  # no token, secret or client text in a log line
        return args.func(settings, args)
    except (SettingsError, SchemaError) as exc:
        print(f"aftercare: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
