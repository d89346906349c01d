"""`aftercare staff add|list|password|disable|enable`: accounts of the staff inbox."""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.settings import Settings
from bot.storage.engine import session_factory
from bot.storage.staff import ROLES, AccountError, StaffAccounts, check_password


def register(sub) -> None:
    """Add `staff ...`."""
    staff = sub.add_parser("staff", help="accounts of the staff inbox")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser(
        "add", help="create an account (password from a prompt, or one line on stdin)"
    )
    add.add_argument("name", help="login name; clients see it when this person replies")
    add.add_argument("--role", choices=ROLES, default="staff", help="admin also sees the audit log")
    add.set_defaults(func=add_command)
    listing = staff_sub.add_parser("list", help="accounts and their roles")
    listing.set_defaults(func=list_command)
    password = staff_sub.add_parser("password", help="set a new password (ends its sessions)")
    password.add_argument("name")
    password.set_defaults(func=password_command)
    for what, disabled in (("disable", True), ("enable", False)):
        command = staff_sub.add_parser(what, help=f"{what} an account")
        command.add_argument("name")
        command.set_defaults(func=lambda s, a, d=disabled: switch_command(s, a, d))


def _accounts(settings: Settings) -> StaffAccounts:
    return StaffAccounts(session_factory(settings.database_url))


def read_password() -> str:
    """The new password: asked twice at a terminal, or the first line of stdin."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password (10 characters or more): ")
    check_password(first)
    if getpass.getpass("Same password again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def add_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        staff = _accounts(settings).add(args.name, args.role, read_password())
    except AccountError as exc:
        print(f"aftercare staff add: {exc}", file=sys.stderr)
        return 2
    print(f"Added {staff.name} ({staff.role}). They log in at the inbox address `run` prints.")
    return 0


def list_command(settings: Settings, args: argparse.Namespace) -> int:
    accounts = _accounts(settings).list()
    if not accounts:
        print("No staff accounts yet: aftercare staff add NAME --role admin")
    for staff in accounts:
        state = "disabled" if staff.disabled else "active"
        print(f"{staff.name}\t{staff.role}\t{state}")
    return 0


def password_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        _accounts(settings).set_password(args.name, read_password())
    except AccountError as exc:
        print(f"aftercare staff password: {exc}", file=sys.stderr)
        return 2
    print(f"Password of {args.name} changed; their sessions ended.")
    return 0


def switch_command(settings: Settings, args: argparse.Namespace, disabled: bool) -> int:
    try:
        _accounts(settings).set_disabled(args.name, disabled)
    except AccountError as exc:
        print(f"aftercare staff: {exc}", file=sys.stderr)
        return 2
    print(f"{args.name} {'disabled (logged out everywhere)' if disabled else 'enabled'}.")
    return 0
