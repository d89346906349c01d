"""The `aftercare` command: check the KB, ask questions, chat, train, run, manage clients."""

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

    return run(settings, rasa_port=args.port, action_port=args.action_port, web_port=args.web_port)


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
    for photo in repo.photos(row.id):
        caption = f": {photo.caption}" if photo.caption else ""
        print(
            f"  photo #{photo.id} {photo.content_type}, {len(photo.data)} bytes, {photo.created_at:%Y-%m-%d %H:%M} UTC{caption}"
        )
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


def _escalations_photos(settings: Settings, args: argparse.Namespace) -> int:
    repo = _repo(settings)
    if repo.get(args.id) is None:
        print(f"No escalation #{args.id}", file=sys.stderr)
        return 1
    photos = repo.photos(args.id)
    if not photos:
        print(f"Escalation #{args.id} has no photos.")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extensions = {
        "image/jpeg": "jpg",
        "image/png": "png",
        "image/webp": "webp",
        "image/heic": "heic",
    }
    for photo in photos:
        path = (
            out
            / f"escalation-{args.id}-photo-{photo.id}.{extensions.get(photo.content_type, 'bin')}"
        )
        path.write_bytes(photo.data)
        print(path)
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


def _clinic_or_exit(settings: Settings):
    """The clinic (settings and treatment kinds), or None after printing its problems."""
    from bot.kb.loader import KnowledgeBaseError, load_clinic

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


def _registry(settings: Settings):
    from bot.clients import ClientRegistry
    from bot.db import session_factory

    return ClientRegistry(session_factory(settings.database_url))


def _parse_clinic_date(text: str, date_order: str):
    """A date written as YYYY-MM-DD, or numerically in the clinic's order (DD/MM/YYYY or
    MM/DD/YYYY); raises ValueError with a message for the clinic."""
    import re
    from datetime import date

    text = text.strip()
    order = "MM/DD/YYYY" if date_order == "MDY" else "DD/MM/YYYY"
    try:
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
            year, month, day = (int(part) for part in text.split("-"))
            return date(year, month, day)
        match = re.fullmatch(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})", text)
        if match:
            first, second, year = (int(part) for part in match.groups())
            day, month = (second, first) if date_order == "MDY" else (first, second)
            return date(year, month, day)
    except ValueError:
        raise ValueError(f"'{text}' is not a date of the calendar") from None
    raise ValueError(f"'{text}' is not a date: write YYYY-MM-DD or {order}")


def _valid_days(args: argparse.Namespace, clinic) -> int | None:
    days = clinic.settings.telegram.link_valid_days if args.valid_days is None else args.valid_days
    if days < 1:
        print("aftercare: --valid-days must be 1 or more", file=sys.stderr)
        return None
    return days


def _issue_link(
    settings: Settings, args: argparse.Namespace, clinic, username: str, client, code, now, days
) -> int:
    """Write the QR code and print (or --json) what the clinic hands the client."""
    import json
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from bot.clients import deep_link, write_qr_png

    link = deep_link(username, code)
    expires = now + timedelta(days=days)
    qr_path = (
        Path(args.qr).resolve()
        if args.qr
        else settings.project_dir / "var" / "links" / f"client-{client.id}.png"
    )
    write_qr_png(link, qr_path)
    if args.json:
        print(
            json.dumps(
                {
                    "id": client.id,
                    "name": client.name,
                    "treatment_date": client.treatment_date.isoformat(),
                    "kind": client.kind,
                    "area": client.area,
                    "code": code,
                    "link": link,
                    "qr_path": str(qr_path),
                    "expires_at": expires.isoformat(),
                }
            )
        )
        return 0
    local = expires.astimezone(ZoneInfo(clinic.settings.time_zone))
    print(f"Client #{client.id}: {client.name}")
    print(
        f"  treatment: {client.treatment_date:%Y-%m-%d} ({client.kind}"
        + (f", {client.area})" if client.area else ")")
    )
    print(f"  link:      {link}")
    print(
        f"  valid:     once, until {expires:%Y-%m-%d %H:%M} UTC ({local:%Y-%m-%d %H:%M %Z} clinic time)"
    )
    print(f"  QR code:   {qr_path}")
    return 0


def _clients_add(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timedelta

    from bot.clients import bot_username
    from bot.dates import MAX_DAYS_AGO
    from bot.days import local_today, now_utc

    clinic = _clinic_or_exit(settings)
    if clinic is None:
        return 1
    problems = []
    name = (args.name or "").strip()
    if not name:
        problems.append("--name must not be empty (the client's name or initials)")
    elif len(name) > 128:
        problems.append("--name is too long (at most 128 characters)")
    area = (args.area or "").strip() or None
    if area and len(area) > 64:
        problems.append("--area is too long (at most 64 characters)")
    kind = args.kind or clinic.settings.default_treatment_kind
    if kind not in clinic.kb.kinds:
        problems.append(
            f"unknown treatment kind '{kind}'; the clinic's kinds: {', '.join(clinic.kb.kinds)}"
        )
    now = now_utc()
    today = local_today(clinic.settings.time_zone, now)
    try:
        treatment_date = _parse_clinic_date(args.date, clinic.settings.date_order)
    except ValueError as exc:
        problems.append(f"--date: {exc}")
    else:
        if treatment_date > today:
            problems.append(
                f"--date {treatment_date:%Y-%m-%d} is in the future (today is {today:%Y-%m-%d} at the clinic); register a treatment once it is done"
            )
        elif (today - treatment_date).days > MAX_DAYS_AGO:
            problems.append(f"--date {treatment_date:%Y-%m-%d} is more than a year ago")
    days = clinic.settings.telegram.link_valid_days if args.valid_days is None else args.valid_days
    if days < 1:
        problems.append("--valid-days must be 1 or more")
    if problems:
        for problem in problems:
            print(f"aftercare: {problem}", file=sys.stderr)
        return 2
    username = bot_username(settings, clinic)
    client, code = _registry(settings).add(
        name, treatment_date, kind, area, valid_for=timedelta(days=days), now=now
    )
    return _issue_link(settings, args, clinic, username, client, code, now, days)


def _clients_link(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timedelta

    from bot.clients import bot_username
    from bot.days import now_utc

    clinic = _clinic_or_exit(settings)
    if clinic is None:
        return 1
    days = _valid_days(args, clinic)
    if days is None:
        return 2
    registry = _registry(settings)
    client = registry.get(args.id)
    if client is None:
        print(f"aftercare: no client #{args.id} (see `aftercare clients list`)", file=sys.stderr)
        return 1
    username = bot_username(settings, clinic)
    now = now_utc()
    code = registry.new_code(client.id, timedelta(days=days), now=now)
    return _issue_link(settings, args, clinic, username, client, code, now, days)


def _clients_list(settings: Settings, args: argparse.Namespace) -> int:
    import json

    clinic = _clinic_or_exit(settings)
    if clinic is None:
        return 1
    summaries = _registry(settings).list(clinic.settings.time_zone)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": s.client.id,
                        "name": s.client.name,
                        "treatment_date": s.client.treatment_date.isoformat(),
                        "kind": s.client.kind,
                        "area": s.client.area,
                        "day": s.day,
                        "conversations": [
                            {"conversation_id": c, "channel": ch} for c, ch in s.conversations
                        ],
                        "code_status": s.code_status,
                        "code_expires_at": s.code_expires_at.isoformat()
                        if s.code_expires_at
                        else None,
                        "created_at": s.client.created_at.isoformat(),
                    }
                    for s in summaries
                ]
            )
        )
        return 0
    if not summaries:
        print("No clients registered.")
    for s in summaries:
        what = s.client.kind + (f", {s.client.area}" if s.client.area else "")
        linked = ", ".join(f"{c} ({ch})" for c, ch in s.conversations) or "not linked"
        print(
            f"#{s.client.id:<4} {s.client.name:<20} {what:<18} treated {s.client.treatment_date:%Y-%m-%d}, day {s.day:<3}  chats: {linked}; link: {s.code_status}"
        )
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
    run.add_argument(
        "--web-port",
        type=int,
        default=8080,
        help="port of the demo clinic page with the chat widget (default 8080; a free one if taken)",
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
        ("photos", _escalations_photos, "save the photos the client sent (files in --out)"),
    ):
        command = esc_sub.add_parser(name, help=help_text)
        command.add_argument("id", type=int)
        if name == "photos":
            command.add_argument("--out", default=".", help="folder to save them in (default .)")
        if name == "ack":
            command.add_argument(
                "--by", default=os.environ.get("USER", "staff"), help="who acknowledges"
            )
        command.set_defaults(func=func)

    notifier = sub.add_parser(
        "notifier", help="deliver staff alerts and client notices (started by `run`)"
    )
    notifier.set_defaults(func=_notifier)

    clients = sub.add_parser(
        "clients", help="register treatments and print the client's Telegram link and QR code"
    )
    clients_sub = clients.add_subparsers(dest="clients_command", required=True)
    add = clients_sub.add_parser("add", help="register a client's treatment and issue its link")
    add.add_argument("--name", required=True, help="the client's name or initials")
    add.add_argument(
        "--date", required=True, help="treatment date: YYYY-MM-DD or the clinic's DD/MM/YYYY"
    )
    add.add_argument("--kind", help="treatment kind (default: the clinic's default kind)")
    add.add_argument("--area", help="treated area, e.g. face")
    link = clients_sub.add_parser(
        "link", help="a new link for a client (its unused links stop working)"
    )
    link.add_argument("id", type=int)
    for command, func in ((add, _clients_add), (link, _clients_link)):
        command.add_argument(
            "--valid-days",
            type=int,
            help="days the link works (default: telegram.link_valid_days, 14)",
        )
        command.add_argument(
            "--qr", help="where to write the QR code PNG (default: var/links/client-<id>.png)"
        )
        command.add_argument("--json", action="store_true", help="print one JSON object")
        command.set_defaults(func=func)
    clients_list = clients_sub.add_parser(
        "list", help="clients, their treatment day today, linked chats and link status"
    )
    clients_list.add_argument("--json", action="store_true", help="print a JSON array")
    clients_list.set_defaults(func=_clients_list)
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
