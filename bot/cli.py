"""The `aftercare` command: check the KB, ask questions, chat, train, run."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.settings import Settings, SettingsError


def _kb_check(settings: Settings, args: argparse.Namespace) -> int:
    from bot.intents import topic_intents
    from bot.kb.loader import KnowledgeBaseError, load_clinic

    clinic_dir = Path(args.clinic) if args.clinic else settings.clinic_dir
    topics = topic_intents(settings.domain_file)
    try:
        clinic = load_clinic(clinic_dir, topics)
    except KnowledgeBaseError as exc:
        print(f"{len(exc.errors)} problem(s) in {clinic_dir}:", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    missing = sorted(topics - set(clinic.kb.topics))
    for topic in missing:
        print(
            f"warning: no KB entry for topic '{topic}'; clients asking about it get the 'no guidance' reply"
        )
    print(
        f"OK: knowledge base {clinic.kb.version}, {len(clinic.kb.topics)} topics, clinic '{clinic.settings.name}'"
    )
    return 0


def _ask(settings: Settings, args: argparse.Namespace) -> int:
    from bot.ask import run_ask

    if not args.jsonl:
        print("aftercare ask: only --jsonl input is supported", file=sys.stderr)
        return 2

    # Rasa and TensorFlow print to stdout; keep it for JSON lines only by sending fd 1 to
    # stderr and writing results to a private copy of the real stdout.
    sys.stdout.flush()
    results = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)

    def write(line: str) -> None:
        results.write(line)
        results.flush()

    try:
        return run_ask(sys.stdin, write, settings, Path(args.model) if args.model else None)
    finally:
        results.close()


def _chat(settings: Settings, args: argparse.Namespace) -> int:
    from bot.chat import chat

    return chat(settings, args.url, args.sender)


def _train(settings: Settings, args: argparse.Namespace) -> int:
    from bot.training import train

    train(settings.project_dir, settings.models_dir, force=args.force)
    return 0


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runner import run

    return run(settings, rasa_port=args.port, action_port=args.action_port)


def _repo(settings: Settings):
    from bot.db import session_factory
    from bot.escalations import EscalationRepository

    return EscalationRepository(session_factory(settings.database_url))


def _escalation_line(row) -> str:
    day = "?" if row.day is None else row.day
    return f"#{row.id:<4} {row.created_at:%Y-%m-%d %H:%M}  {row.level:<9} {row.status:<12} day {day:<3} {row.client_name or row.sender_id}: {row.message or ''}"


def _escalations_list(settings: Settings, args: argparse.Namespace) -> int:
    rows = _repo(settings).list(None if args.all else "open")
    if not rows:
        print("No escalations." if args.all else "No open escalations.")
    for row in rows:
        print(_escalation_line(row))
    return 0


def _escalations_show(settings: Settings, args: argparse.Namespace) -> int:
    repo = _repo(settings)
    row = repo.get(args.id)
    if row is None:
        print(f"No escalation #{args.id}", file=sys.stderr)
        return 1
    print(_escalation_line(row))
    print(
        f"  treatment: {row.treatment_date or 'date unknown'} ({row.treatment_kind or 'kind unknown'})"
    )
    print(f"  symptoms:  {', '.join(row.symptoms) or '-'}")
    if row.deadline_at:
        print(f"  deadline:  {row.deadline_at:%Y-%m-%d %H:%M} UTC")
    if row.acknowledged_at:
        print(f"  acknowledged {row.acknowledged_at:%Y-%m-%d %H:%M} UTC by {row.acknowledged_by}")
    if row.resolved_at:
        print(f"  resolved {row.resolved_at:%Y-%m-%d %H:%M} UTC")
    for delivery in repo.deliveries(row.id):
        when = f" at {delivery['delivered_at']:%H:%M:%S}" if delivery["delivered_at"] else ""
        error = (
            f" (last error: {delivery['last_error']})"
            if delivery["last_error"] and delivery["status"] != "delivered"
            else ""
        )
        print(
            f"  {delivery['purpose']:<16} {delivery['channel']:<9} {delivery['status']}{when}, {delivery['attempts']} attempt(s){error}"
        )
    return 0


def _escalations_ack(settings: Settings, args: argparse.Namespace) -> int:
    if _repo(settings).acknowledge(args.id, by=args.by):
        print(f"Escalation #{args.id} acknowledged; the client will be told someone has seen it.")
        return 0
    print(
        f"Escalation #{args.id} is not open (unknown, already acknowledged or resolved).",
        file=sys.stderr,
    )
    return 1


def _escalations_resolve(settings: Settings, args: argparse.Namespace) -> int:
    if _repo(settings).resolve(args.id):
        print(f"Escalation #{args.id} resolved.")
        return 0
    print(f"Escalation #{args.id} is unknown or already resolved.", file=sys.stderr)
    return 1


def _notifier(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal

    from bot.alerts.worker import serve
    from bot.service import AftercareService

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    clinic = AftercareService(settings).clinic().settings

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, clinic, stop)

    asyncio.run(main())
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="aftercare", description="Aftercare Assistant")
    sub = parser.add_subparsers(dest="command", required=True)

    kb = sub.add_parser("kb", help="knowledge base tools")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    check = kb_sub.add_parser(
        "check", help="validate the clinic folder (file:line for each problem)"
    )
    check.add_argument("--clinic", help="clinic folder (default: ./clinic or AFTERCARE_CLINIC_DIR)")
    check.set_defaults(func=_kb_check)

    ask = sub.add_parser("ask", help="answer JSON-line questions from stdin as the live bot would")
    ask.add_argument(
        "--jsonl", action="store_true", help='input lines {"text": "...", "day": 4 | null}'
    )
    ask.add_argument("--model", help="model file (default: the newest in models/)")
    ask.set_defaults(func=_ask)

    chat = sub.add_parser("chat", help="chat with the bot in this terminal")
    chat.add_argument(
        "--url", help="a running Rasa server (e.g. http://127.0.0.1:5005); default: in-process"
    )
    chat.add_argument(
        "--sender", default="terminal-user", help="conversation id (default: terminal-user)"
    )
    chat.set_defaults(func=_chat)

    train = sub.add_parser("train", help="train the model if the training data changed")
    train.add_argument("--force", action="store_true", help="train even if nothing changed")
    train.set_defaults(func=_train)

    run = sub.add_parser("run", help="start Rasa and the action server on localhost")
    run.add_argument("--port", type=int, default=5005, help="Rasa port (default 5005)")
    run.add_argument(
        "--action-port", type=int, default=5055, help="action server port (default 5055)"
    )
    run.set_defaults(func=_run)

    esc = sub.add_parser(
        "escalations", help="red flags and hand-offs the clinic team must follow up"
    )
    esc_sub = esc.add_subparsers(dest="esc_command", required=True)
    esc_list = esc_sub.add_parser("list", help="list open escalations")
    esc_list.add_argument("--all", action="store_true", help="include acknowledged and resolved")
    esc_list.set_defaults(func=_escalations_list)
    for name, func, help_text in (
        ("show", _escalations_show, "one escalation and its alert deliveries"),
        ("ack", _escalations_ack, "acknowledge (the client is told someone has seen it)"),
        ("resolve", _escalations_resolve, "mark as resolved"),
    ):
        command = esc_sub.add_parser(name, help=help_text)
        command.add_argument("id", type=int)
        if name == "ack":
            command.add_argument(
                "--by", default=os.environ.get("USER", "staff"), help="who acknowledges"
            )
        command.set_defaults(func=func)

    notifier = sub.add_parser(
        "notifier", help="deliver staff alerts and client notices (started by `run`)"
    )
    notifier.set_defaults(func=_notifier)
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
