"""`aftercare checkins list [--due|--sent]` and `aftercare clients checkins ID on|off`: what
check-ins are planned and sent, and the clinic turning them off (or on) for a client."""

from __future__ import annotations

import argparse
import json
import sys
from zoneinfo import ZoneInfo

from bot.cli.kb import clinic_or_exit
from bot.domain.days import now_utc
from bot.settings import Settings
from bot.storage.checkin_plans import plan_conversation
from bot.storage.checkins import OPTED_OUT, Checkins, CheckinView, client_subject
from bot.storage.clients import ClientRegistry
from bot.storage.engine import session_factory


def register(sub) -> None:
    """Add `checkins list`."""
    checkins = sub.add_parser("checkins", help="the check-ins planned and sent to clients")
    checkins_sub = checkins.add_subparsers(dest="checkins_command", required=True)
    listing = checkins_sub.add_parser("list", help="check-ins, soonest due first")
    which = listing.add_mutually_exclusive_group()
    which.add_argument("--due", action="store_true", help="only those still to send")
    which.add_argument("--sent", action="store_true", help="only those sent, newest first")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(func=list_command)


def register_client_switch(clients_sub) -> None:
    """Add `clients checkins ID on|off`."""
    switch = clients_sub.add_parser(
        "checkins", help="turn a client's check-in messages off (or back on), in every chat"
    )
    switch.add_argument("id", type=int)
    switch.add_argument("state", choices=("on", "off"))
    switch.set_defaults(func=switch_command)


def _record(view: CheckinView) -> dict:
    def iso(moment):
        return moment.isoformat() if moment else None

    return {
        "id": view.id,
        "conversation_id": view.sender_id,
        "checkin": view.key,
        "day": view.day,
        "due_at": iso(view.due_at),
        "until": iso(view.until),
        "status": view.status,
        "reason": view.reason,
        "sent_at": iso(view.sent_at),
        "late": view.late,
        "answer": view.answer,
        "escalated": view.escalated,
    }


def list_command(settings: Settings, args: argparse.Namespace) -> int:
    """Check-ins with their state, in the clinic's local time."""
    clinic = clinic_or_exit(settings)
    if clinic is None:
        return 1
    which = "due" if args.due else "sent" if args.sent else None
    views = Checkins(session_factory(settings.database_url)).listing(which)
    if args.json:
        print(json.dumps([_record(v) for v in views]))
        return 0
    if not views:
        print("No check-ins." if which is None else f"No check-ins {which}.")
    zone = ZoneInfo(clinic.settings.time_zone)
    for v in views:
        when = v.sent_at if v.status == "sent" else v.due_at
        state = v.status + (f" ({v.reason})" if v.reason else "") + (" late" if v.late else "")
        answer = (
            f"  answer: {v.answer}" + (", escalated" if v.escalated else "") if v.answer else ""
        )
        print(
            f"#{v.id:<5} {v.key:<18} day {v.day:<3} {when.astimezone(zone):%Y-%m-%d %H:%M}"
            f"  {state:<22} {v.sender_id}{answer}"
        )
    return 0


def switch_command(settings: Settings, args: argparse.Namespace) -> int:
    """The clinic turns a client's check-ins off (pending ones are skipped) or back on."""
    clinic = clinic_or_exit(settings)
    if clinic is None:
        return 1
    sessions = session_factory(settings.database_url)
    registry, checkins = ClientRegistry(sessions), Checkins(sessions)
    client = registry.get(args.id)
    if client is None:
        print(f"aftercare: no client #{args.id} (see `aftercare clients list`)", file=sys.stderr)
        return 1
    chats = registry.conversations_of(client.id)
    if args.state == "off":
        checkins.opt_out(client_subject(client.id), "clinic")
        skipped = checkins.cancel(chats, OPTED_OUT)
        print(f"Check-ins are off for client #{client.id} ({skipped} planned one(s) skipped).")
        return 0
    checkins.opt_in(client_subject(client.id))
    now = now_utc()
    pending = sum(plan_conversation(sessions, clinic, chat, now) for chat in chats)
    print(f"Check-ins are on for client #{client.id} ({pending} planned).")
    return 0
