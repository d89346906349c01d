"""Staff accounts of the inbox: Argon2id password hashes, sessions, login rate limits and the
audit log. Times are the database's clock (`bot.storage.clock`), so several inbox processes
agree on what expired."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import sessionmaker

from bot.domain.days import as_utc
from bot.storage.clock import db_now
from bot.storage.models import AuditRow, LoginFailureRow, StaffRow, StaffSessionRow

ROLES = ("staff", "admin")
BOT = "bot"  # who the audit log names for what the bot did by itself
SESSION_HOURS = 12  # a login lasts a working day at most, then the password is asked again
MIN_PASSWORD = 10
# Login limits: failures counted over a window, per name tried and per address.
FAILURE_WINDOW_MINUTES = 15
FAILURES_PER_NAME = 5
FAILURES_PER_ADDRESS = 20
FAILURES_PER_NAME_ANYWHERE = 50  # guesses at one name spread over many addresses
_HASHER = PasswordHasher()  # Argon2id, 64 MiB, 3 passes (the library's RFC 9106 profile)


@cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown: a wrong name takes as long as a wrong
    password (made once, on the first login)."""
    return _HASHER.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A staff account cannot be made or changed as asked (the message says why)."""


@dataclass(frozen=True)
class Staff:
    """A staff account (never its hash)."""

    id: int
    name: str
    role: str
    disabled: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class StaffSession:
    """A logged-in browser: who, and the token its forms must carry."""

    staff: Staff
    csrf: str
    expires_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log."""

    at: datetime
    staff_name: str
    action: str
    sender_id: str | None
    escalation_id: int | None
    detail: str | None


def _staff(row: StaffRow) -> Staff:
    return Staff(row.id, row.name, row.role, row.disabled_at is not None)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def address_key(address: str) -> str:
    """What is stored of a login's address: a hash, enough to count failures by."""
    return hashlib.sha256(address.encode()).hexdigest()[:32]


def check_new_account(name: str, role: str, password: str) -> None:
    """Refuse a name, role or password that cannot be used (AccountError says which)."""
    if not name or len(name) > 64 or not name.isprintable() or name != name.strip():
        raise AccountError("the name must be 1-64 printable characters, no spaces at the ends")
    if role not in ROLES:
        raise AccountError(f"the role must be one of: {', '.join(ROLES)}")
    check_password(password)


def check_password(password: str) -> None:
    """Refuse a password too short to be safe (ASVS: at least 8; we ask 10) or too long."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > 256:
        raise AccountError("the password must have at most 256 characters")


class StaffAccounts:
    """Accounts, logins and sessions; one transaction per call."""

    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def add(self, name: str, role: str, password: str) -> Staff:
        """Create an account (AccountError when the name is taken or anything is unusable)."""
        check_new_account(name, role, password)
        with self._sessions.begin() as session:
            if _find(session, name) is not None:
                raise AccountError(f"there is already an account named {name!r}")
            row = StaffRow(
                name=name,
                role=role,
                password_hash=_HASHER.hash(password),
                created_at=db_now(session),
            )
            session.add(row)
            session.flush()
            return _staff(row)

    def set_password(self, name: str, password: str) -> None:
        """Change a password; every session of the account ends."""
        check_password(password)
        with self._sessions.begin() as session:
            row = self._row(session, name)
            row.password_hash = _HASHER.hash(password)
            session.execute(delete(StaffSessionRow).where(StaffSessionRow.staff_id == row.id))

    def set_disabled(self, name: str, disabled: bool) -> None:
        """Disable an account (its sessions end at once) or enable it again."""
        with self._sessions.begin() as session:
            row = self._row(session, name)
            row.disabled_at = db_now(session) if disabled else None
            if disabled:
                session.execute(delete(StaffSessionRow).where(StaffSessionRow.staff_id == row.id))

    @staticmethod
    def _row(session, name: str) -> StaffRow:
        row = _find(session, name)
        if row is None:
            raise AccountError(f"there is no account named {name!r}")
        return row

    def list(self) -> list[Staff]:
        with self._sessions() as session:
            return [_staff(r) for r in session.scalars(select(StaffRow).order_by(StaffRow.name))]

    def count(self) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.count(StaffRow.id))) or 0

    # --- logging in ----------------------------------------------------------------------

    def limited(self, name: str, address: str) -> bool:
        """Whether logins for this name from this address, or any from this address, are
        paused (too many failures)."""
        with self._sessions() as session:
            since = db_now(session) - timedelta(minutes=FAILURE_WINDOW_MINUTES)
            recent = select(func.count(LoginFailureRow.id)).where(LoginFailureRow.at > since)
            at = recent.where(LoginFailureRow.address == address_key(address))
            # A name is paused only where its failures came from: a stranger elsewhere cannot
            # lock a team member out by guessing.
            by_name = session.scalar(at.where(LoginFailureRow.name == _key(name)[:64]))
            by_address = session.scalar(at)
            anywhere = session.scalar(recent.where(LoginFailureRow.name == _key(name)[:64]))
            return (
                by_name >= FAILURES_PER_NAME
                or by_address >= FAILURES_PER_ADDRESS
                or anywhere >= FAILURES_PER_NAME_ANYWHERE
            )

    def log_in(self, name: str, password: str, address: str) -> tuple[str, StaffSession] | None:
        """A new session (its cookie token, and the session) for the right password of an
        enabled account; None otherwise (the failure is counted)."""
        with self._sessions.begin() as session:
            now = db_now(session)
            row = _find(session, name)
            if not _verify(row.password_hash if row else _dummy_hash(), password) or (
                row is None or row.disabled_at is not None
            ):
                session.add(
                    LoginFailureRow(name=_key(name)[:64], address=address_key(address), at=now)
                )
                return None
            if _HASHER.check_needs_rehash(row.password_hash):
                row.password_hash = _HASHER.hash(password)
            token = secrets.token_urlsafe(32)
            expires = now + timedelta(hours=SESSION_HOURS)
            csrf = secrets.token_urlsafe(32)
            session.add(
                StaffSessionRow(
                    token_hash=_token_hash(token),
                    staff_id=row.id,
                    csrf=csrf,
                    created_at=now,
                    expires_at=expires,
                )
            )
            old = now - timedelta(minutes=FAILURE_WINDOW_MINUTES)
            session.execute(delete(LoginFailureRow).where(LoginFailureRow.at < old))
            return token, StaffSession(_staff(row), csrf, expires)

    def session(self, token: str | None) -> StaffSession | None:
        """The live session of a cookie token (an expired one, or a disabled account's: None)."""
        if not token or len(token) > 128:
            return None
        with self._sessions() as session:
            row = session.scalar(
                select(StaffSessionRow).where(StaffSessionRow.token_hash == _token_hash(token))
            )
            if row is None or as_utc(row.expires_at) <= db_now(session):
                return None
            staff = session.get(StaffRow, row.staff_id)
            if staff is None or staff.disabled_at is not None:
                return None
            return StaffSession(_staff(staff), row.csrf, as_utc(row.expires_at))

    def log_out(self, token: str | None) -> None:
        """End a session (and drop every expired one)."""
        with self._sessions.begin() as session:
            now = db_now(session)
            conditions = [StaffSessionRow.expires_at <= now]
            if token:
                conditions.append(StaffSessionRow.token_hash == _token_hash(token))
            session.execute(delete(StaffSessionRow).where(or_(*conditions)))


def _key(name: str) -> str:
    """A name as logins compare it: any case, any script ("Émilie" is "émilie")."""
    return name.strip().casefold()


def _find(session, name: str) -> StaffRow | None:
    """The account of a name, compared with `_key` in Python (SQLite's lower() knows ASCII
    only); a clinic has a handful of accounts."""
    key = _key(name)
    return next((r for r in session.scalars(select(StaffRow)) if _key(r.name) == key), None)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


class AuditLog:
    """Who did what in the inbox (never a reply's or a note's words)."""

    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def record(
        self,
        staff_name: str,
        action: str,
        sender_id: str | None = None,
        escalation_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        with self._sessions.begin() as session:
            session.add(
                AuditRow(
                    at=db_now(session),
                    staff_name=staff_name[:64],
                    action=action,
                    sender_id=sender_id,
                    escalation_id=escalation_id,
                    detail=(detail or None) and detail[:255],
                )
            )

    def recent(self, limit: int = 200, sender_id: str | None = None) -> list[AuditEntry]:
        with self._sessions() as session:
            query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
            if sender_id is not None:
                query = query.where(AuditRow.sender_id == sender_id)
            return [
                AuditEntry(
                    as_utc(r.at), r.staff_name, r.action, r.sender_id, r.escalation_id, r.detail
                )
                for r in session.scalars(query)
            ]
