"""`aftercare kb check`: validate the clinic folder, every problem as `file:line: what`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.domain.intents import topic_intents
from bot.kb.loader import KnowledgeBaseError, load_clinic
from bot.settings import Settings


def register(sub) -> None:
    """Add `kb check`."""
    kb = sub.add_parser("kb", help="knowledge base tools")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    check = kb_sub.add_parser(
        "check", help="validate the clinic folder (file:line for each problem)"
    )
    check.add_argument("--clinic", help="clinic folder (default: ./clinic or AFTERCARE_CLINIC_DIR)")
    check.set_defaults(func=check_command)


def check_command(settings: Settings, args: argparse.Namespace) -> int:
    """Print every problem of the clinic folder, or OK and what it holds."""
    clinic_dir = Path(args.clinic) if args.clinic else settings.clinic_dir
    topics = topic_intents(settings.domain_file)
    try:
        clinic = load_clinic(clinic_dir, topics)
    except KnowledgeBaseError as exc:
        print(f"{len(exc.errors)} problem(s) in {clinic_dir}:", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    for topic in sorted(topics - set(clinic.kb.topics)):
        print(
            f"warning: no KB entry for topic '{topic}'; clients asking about it get the 'no guidance' reply"
        )
    print(
        f"OK: knowledge base {clinic.kb.version}, {len(clinic.kb.topics)} topics, clinic '{clinic.settings.name}'"
    )
    return 0


def clinic_or_exit(settings: Settings):
    """The clinic (settings and treatment kinds), or None after printing its problems."""
    try:
        return load_clinic(settings.clinic_dir)
    except KnowledgeBaseError as exc:
        print(
            f"{len(exc.errors)} problem(s) in {settings.clinic_dir} (see `aftercare kb check`):",
            file=sys.stderr,
        )
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return None
