"""The `aftercare` command: one module per command group, as the README's command table."""

from __future__ import annotations

import argparse
import sys

from bot.cli import ask, chat, clients, escalations, kb, notifier, run, train
from bot.settings import Settings, SettingsError

GROUPS = (kb, ask, chat, train, run, escalations, notifier, clients)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface: each group adds its commands."""
    parser = argparse.ArgumentParser(prog="aftercare", description="Aftercare Assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `aftercare` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return args.func(settings, args)
    except SettingsError as exc:
        print(f"aftercare: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
