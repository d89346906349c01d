"""`aftercare clients add|link|list|forget`: register treatments and issue their personal links."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.channels.links import bot_username, deep_link, write_qr_png
from bot.cli import checkins, forget_client
from bot.cli.kb import clinic_or_exit
from bot.domain.days import local_today, now_utc
from bot.kb.model import Clinic
from bot.language.dates import MAX_DAYS_AGO, parse_clinic_date
from bot.settings import Settings
from bot.storage.clients import Client, ClientRegistry, ClientSummary
from bot.storage.engine import session_factory


def register(sub) -> None:
    """Add `clients add|link|list`."""
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
    for command, func in ((add, add_command), (link, link_command)):
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
    listing = clients_sub.add_parser(
        "list", help="clients, their treatment day today, linked chats and link status"
    )
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(func=list_command)
    forget_client.register(clients_sub)
    checkins.register_client_switch(clients_sub)


def _registry(settings: Settings) -> ClientRegistry:
    return ClientRegistry(session_factory(settings.database_url))


def _valid_days(args: argparse.Namespace, clinic: Clinic) -> int:
    return clinic.settings.telegram.link_valid_days if args.valid_days is None else args.valid_days


def _problems(
    args: argparse.Namespace, clinic: Clinic, now: datetime
) -> tuple[list[str], date | None]:
    """What is wrong with `clients add`'s arguments, and the treatment date if it is one."""
    problems, treatment_date = [], None
    name = (args.name or "").strip()
    if not name:
        problems.append("--name must not be empty (the client's name or initials)")
    elif len(name) > 128:
        problems.append("--name is too long (at most 128 characters)")
    if len((args.area or "").strip()) > 64:
        problems.append("--area is too long (at most 64 characters)")
    kind = args.kind or clinic.settings.default_treatment_kind
    if kind not in clinic.kb.kinds:
        problems.append(
            f"unknown treatment kind '{kind}'; the clinic's kinds: {', '.join(clinic.kb.kinds)}"
        )
    today = local_today(clinic.settings.time_zone, now)
    try:
        treatment_date = parse_clinic_date(args.date, clinic.settings.date_order)
    except ValueError as exc:
        problems.append(f"--date: {exc}")
    else:
        if treatment_date > today:
            problems.append(
                f"--date {treatment_date:%Y-%m-%d} is in the future (today is {today:%Y-%m-%d} at the clinic); register a treatment once it is done"
            )
        elif (today - treatment_date).days > MAX_DAYS_AGO:
            problems.append(f"--date {treatment_date:%Y-%m-%d} is more than a year ago")
    if _valid_days(args, clinic) < 1:
        problems.append("--valid-days must be 1 or more")
    return problems, treatment_date


def add_command(settings: Settings, args: argparse.Namespace) -> int:
    """Register a treatment and print its link (and write its QR code)."""
    clinic = clinic_or_exit(settings)
    if clinic is None:
        return 1
    now = now_utc()
    problems, treatment_date = _problems(args, clinic, now)
    if problems:
        for problem in problems:
            print(f"aftercare: {problem}", file=sys.stderr)
        return 2
    username = bot_username(settings, clinic)
    days = _valid_days(args, clinic)
    kind = args.kind or clinic.settings.default_treatment_kind
    area = (args.area or "").strip() or None
    client, code = _registry(settings).add(
        args.name.strip(), treatment_date, kind, area, valid_for=timedelta(days=days), now=now
    )
    return _issue_link(settings, args, clinic, username, client, code, now, days)


def link_command(settings: Settings, args: argparse.Namespace) -> int:
    """A new link for a client; the old one stops working."""
    clinic = clinic_or_exit(settings)
    if clinic is None:
        return 1
    days = _valid_days(args, clinic)
    if days < 1:
        print("aftercare: --valid-days must be 1 or more", file=sys.stderr)
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


def _issue_link(
    settings: Settings,
    args: argparse.Namespace,
    clinic: Clinic,
    username: str,
    client: Client,
    code: str,
    now: datetime,
    days: int,
) -> int:
    """Write the QR code and print (or --json) what the clinic hands the client."""
    link = deep_link(username, code)
    expires = now + timedelta(days=days)
    qr_path = (
        Path(args.qr).resolve()
        if args.qr
        else settings.var_dir / "links" / f"client-{client.id}.png"
    )
    write_qr_png(link, qr_path)
    if args.json:
        record = {
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
        print(json.dumps(record))
        return 0
    local = expires.astimezone(ZoneInfo(clinic.settings.time_zone))
    area = f", {client.area})" if client.area else ")"
    print(f"Client #{client.id}: {client.name}")
    print(f"  treatment: {client.treatment_date:%Y-%m-%d} ({client.kind}{area}")
    print(f"  link:      {link}")
    print(
        f"  valid:     once, until {expires:%Y-%m-%d %H:%M} UTC ({local:%Y-%m-%d %H:%M %Z} clinic time)"
    )
    print(f"  QR code:   {qr_path}")
    return 0


def _summary_record(s: ClientSummary) -> dict:
    return {
        "id": s.client.id,
        "name": s.client.name,
        "treatment_date": s.client.treatment_date.isoformat(),
        "kind": s.client.kind,
        "area": s.client.area,
        "day": s.day,
        "conversations": [{"conversation_id": c, "channel": ch} for c, ch in s.conversations],
        "code_status": s.code_status,
        "code_expires_at": s.code_expires_at.isoformat() if s.code_expires_at else None,
        "created_at": s.client.created_at.isoformat(),
    }


def list_command(settings: Settings, args: argparse.Namespace) -> int:
    """Every client with today's day, linked chats and link status."""
    clinic = clinic_or_exit(settings)
    if clinic is None:
        return 1
    summaries = _registry(settings).list(clinic.settings.time_zone)
    if args.json:
        print(json.dumps([_summary_record(s) for s in summaries]))
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
