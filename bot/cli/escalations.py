"""`aftercare escalations ...`: red flags and hand-offs the clinic team must follow up."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.settings import Settings
from bot.storage.engine import session_factory
from bot.storage.escalations import EscalationRepository

PHOTO_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
}


def register(sub) -> None:
    """Add `escalations list|show|ack|resolve|photos`."""
    esc = sub.add_parser(
        "escalations", help="red flags and hand-offs the clinic team must follow up"
    )
    esc_sub = esc.add_subparsers(dest="esc_command", required=True)
    esc_list = esc_sub.add_parser("list", help="list open escalations")
    esc_list.add_argument("--all", action="store_true", help="include acknowledged and resolved")
    esc_list.set_defaults(func=list_command)
    for name, func, help_text in (
        ("show", show_command, "one escalation and its alert deliveries"),
        ("ack", ack_command, "acknowledge (the client is told someone has seen it)"),
        ("resolve", resolve_command, "mark as resolved"),
        ("photos", photos_command, "save the photos the client sent (files in --out)"),
    ):
        command = esc_sub.add_parser(name, help=help_text)
        command.add_argument("id", type=int)
        command.set_defaults(func=func)
        if name == "photos":
            command.add_argument("--out", default=".", help="folder to save them in (default .)")
        if name == "ack":
            command.add_argument("--by", help="who acknowledges (default: your user name)")


def _repo(settings: Settings) -> EscalationRepository:
    return EscalationRepository(session_factory(settings.database_url))


def _line(row) -> str:
    day = "?" if row.day is None else row.day
    return f"#{row.id:<4} {row.created_at:%Y-%m-%d %H:%M}  {row.level:<9} {row.status:<12} day {day:<3} {row.client_name or row.sender_id}: {row.message or ''}"


def list_command(settings: Settings, args: argparse.Namespace) -> int:
    """Open escalations (or all), newest first; an alert that could not be delivered is
    shown loudly under its escalation, and the exit code is then 3."""
    repo = _repo(settings)
    rows = repo.list(None if args.all else "open")
    failed = repo.failed_deliveries()
    if not rows:
        print("No escalations." if args.all else "No open escalations.")
    for row in rows:
        print(_line(row))
        for channel, error in failed.get(row.id, []):
            print(f"  !! ALERT NOT DELIVERED via {channel}: {error}  (fix the channel, then call)")
    shown = {row.id for row in rows}
    return 3 if any(i in shown for i in failed) else 0


def show_command(settings: Settings, args: argparse.Namespace) -> int:
    """One escalation: client, treatment, symptoms, times, photos and each delivery."""
    repo = _repo(settings)
    row = repo.get(args.id)
    if row is None:
        print(f"No escalation #{args.id}", file=sys.stderr)
        return 1
    print(_line(row))
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
        print(_delivery_line(delivery))
    return 0


def _delivery_line(delivery: dict) -> str:
    when = f" at {delivery['delivered_at']:%H:%M:%S}" if delivery["delivered_at"] else ""
    error = (
        f" (last error: {delivery['last_error']})"
        if delivery["last_error"] and delivery["status"] != "delivered"
        else ""
    )
    return f"  {delivery['purpose']:<16} {delivery['channel']:<9} {delivery['status']}{when}, {delivery['attempts']} attempt(s){error}"


def photos_command(settings: Settings, args: argparse.Namespace) -> int:
    """Save the escalation's photos as files in --out."""
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
    for photo in photos:
        extension = PHOTO_EXTENSIONS.get(photo.content_type, "bin")
        path = out / f"escalation-{args.id}-photo-{photo.id}.{extension}"
        path.write_bytes(photo.data)
        print(path)
    return 0


def ack_command(settings: Settings, args: argparse.Namespace) -> int:
    """Acknowledge; the client is then told someone has seen it."""
    if _repo(settings).acknowledge(args.id, by=args.by or settings.user):
        print(f"Escalation #{args.id} acknowledged; the client will be told someone has seen it.")
        return 0
    print(
        f"Escalation #{args.id} is not open (unknown, already acknowledged or resolved).",
        file=sys.stderr,
    )
    return 1


def resolve_command(settings: Settings, args: argparse.Namespace) -> int:
    """Close an escalation."""
    if _repo(settings).resolve(args.id):
        print(f"Escalation #{args.id} resolved.")
        return 0
    print(f"Escalation #{args.id} is unknown or already resolved.", file=sys.stderr)
    return 1
