"""The clinic's client registry and the single-use codes that link a chat to a treatment.

The clinic registers a client's treatment (`aftercare clients add`) and gets a code, printed
as a Telegram deep link `https://t.me/<bot>?start=<code>` and a QR code (`bot.channels.links`). A conversation that
redeems the code (Telegram's `/start <code>`, later a web page's `?code=`) is linked to the
client: its treatment date and kind are set, so the bot never has to ask.

Codes are 144 random bits, work once, expire, and a new code revokes the client's unused
ones. Only a code's SHA-256 is stored: the database never holds a code that still works.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import delete, select, update
from sqlalchemy.orm import sessionmaker

from bot.domain.days import as_utc, now_utc, treatment_day
from bot.storage.checkins import client_subject
from bot.storage.models import (
    CheckinOptOutRow,
    ClientLinkRow,
    ClientRow,
    Conversation,
    LinkCodeRow,
)

CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CODE_BYTES = 18  # 144 bits: 24 characters of [A-Za-z0-9_-], a valid Telegram start parameter
DEFAULT_VALID_FOR = timedelta(days=14)
LINK_STATUSES = ("linked", "used", "expired", "unknown")


@dataclass(frozen=True)
class Client:
    """A registered client's treatment."""

    id: int
    name: str
    treatment_date: date
    kind: str
    area: str | None
    created_at: datetime


@dataclass(frozen=True)
class LinkResult:
    """What redeeming a code did: `status` is linked, used, expired or unknown.

    `client` is set only when the conversation is linked (a stranger holding someone else's
    used or expired code learns nothing about them).
    """

    status: str
    client: Client | None = None

    @property
    def linked(self) -> bool:
        """Whether the conversation is now linked to the client."""
        return self.status == "linked"


@dataclass(frozen=True)
class ClientSummary:
    """A client for `aftercare clients list`: today's day, linked conversations, code state."""

    client: Client
    day: int | None  # today's treatment day in the clinic's time zone
    conversations: list[tuple[str, str]]  # (conversation_id, channel)
    code_status: str  # "active until YYYY-MM-DD HH:MM UTC", "used", "expired", "revoked", "none"
    code_expires_at: datetime | None = None  # of the newest code


class UnknownClientError(KeyError):
    """No client has this id."""

    def __init__(self, client_id: int):
        super().__init__(client_id)
        self.client_id = client_id

    def __str__(self) -> str:
        return f"no client #{self.client_id}"


def _utc(now: datetime | None) -> datetime:
    """`now` (default: the current time) in UTC, as every stored time is."""
    moment = now or now_utc()
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(timezone.utc)


def hash_code(code: str) -> str:
    """The stored form of a code: its SHA-256, hex."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def new_code_text() -> str:
    """A fresh random code (URL- and Telegram-start-parameter-safe)."""
    return secrets.token_urlsafe(CODE_BYTES)


def _to_client(row: ClientRow) -> Client:
    return Client(
        row.id,
        row.name,
        row.treatment_date,
        row.treatment_kind,
        row.area,
        as_utc(row.created_at),
    )


def _text(value: str | None, what: str, limit: int, required: bool = True) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise ValueError(f"{what} must not be empty")
        return None
    if len(value) > limit:
        raise ValueError(f"{what} is too long (at most {limit} characters)")
    return value


def _valid_for(valid_for: timedelta) -> timedelta:
    if valid_for <= timedelta(0):
        raise ValueError("a code must be valid for a positive time")
    return valid_for


def _code_status(row: LinkCodeRow | None, now: datetime) -> str:
    if row is None:
        return "none"
    if row.used_at is not None:
        return "used"
    if row.revoked_at is not None:
        return "revoked"
    expires = as_utc(row.expires_at)
    if expires <= now:
        return "expired"
    return f"active until {expires:%Y-%m-%d %H:%M} UTC"


class ClientRegistry:
    """Clients, their link codes and linked conversations; one session per call."""

    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def add(
        self,
        name: str,
        treatment_date: date,
        kind: str,
        area: str | None = None,
        valid_for: timedelta = DEFAULT_VALID_FOR,
        now: datetime | None = None,
    ) -> tuple[Client, str]:
        """Register a client's treatment with its first code; the code is returned only here."""
        now = _utc(now)
        name = _text(name, "the client's name", 128)
        kind = _text(kind, "the treatment kind", 32)
        area = _text(area, "the treated area", 64, required=False)
        valid_for = _valid_for(valid_for)
        if not isinstance(treatment_date, date) or isinstance(treatment_date, datetime):
            raise ValueError("treatment_date must be a date")
        with self._sessions.begin() as session:
            row = ClientRow(
                name=name,
                treatment_date=treatment_date,
                treatment_kind=kind,
                area=area,
                created_at=now,
            )
            session.add(row)
            session.flush()
            code = self._issue(session, row.id, valid_for, now)
            return _to_client(row), code

    def new_code(
        self, client_id: int, valid_for: timedelta = DEFAULT_VALID_FOR, now: datetime | None = None
    ) -> str:
        """A fresh code for a client; the client's unused codes stop working.

        Raises `UnknownClientError` (a `KeyError`) if there is no such client.
        """
        now = _utc(now)
        valid_for = _valid_for(valid_for)
        with self._sessions.begin() as session:
            if session.get(ClientRow, client_id) is None:
                raise UnknownClientError(client_id)
            session.execute(
                update(LinkCodeRow)
                .where(
                    LinkCodeRow.client_id == client_id,
                    LinkCodeRow.used_at.is_(None),
                    LinkCodeRow.revoked_at.is_(None),
                )
                .values(revoked_at=now)
                .execution_options(synchronize_session=False)
            )
            return self._issue(session, client_id, valid_for, now)

    @staticmethod
    def _issue(session, client_id: int, valid_for: timedelta, now: datetime) -> str:
        code = new_code_text()
        session.add(
            LinkCodeRow(
                client_id=client_id,
                code_hash=hash_code(code),
                created_at=now,
                expires_at=now + valid_for,
            )
        )
        session.flush()
        return code

    def redeem(
        self, code: str, conversation_id: str, channel: str, now: datetime | None = None
    ) -> LinkResult:
        """Link a conversation to the client a code was issued for, in one transaction.

        linked: the code was unused and valid (or this same conversation used it before: the
        link is idempotent); the conversation's treatment date and kind are now the clinic's.
        used: another conversation used it. expired: too old, or replaced by a newer code.
        unknown: no such code (malformed codes are rejected without a query).
        """
        now = _utc(now)
        if not isinstance(code, str) or not CODE_PATTERN.match(code):
            return LinkResult("unknown")
        conversation_id = _text(conversation_id, "the conversation id", 128)
        channel = _text(channel, "the channel", 32)
        code_hash = hash_code(code)
        with self._sessions.begin() as session:
            # Claim first: of two conversations racing for one code, exactly one matches.
            claimed = session.execute(
                update(LinkCodeRow)
                .where(
                    LinkCodeRow.code_hash == code_hash,
                    LinkCodeRow.used_at.is_(None),
                    LinkCodeRow.revoked_at.is_(None),
                    LinkCodeRow.expires_at > now,
                )
                .values(used_at=now, used_by=conversation_id)
                .execution_options(synchronize_session=False)
            )
            row = session.execute(
                select(LinkCodeRow).where(LinkCodeRow.code_hash == code_hash)
            ).scalar_one_or_none()
            if row is None:
                return LinkResult("unknown")
            if claimed.rowcount != 1:
                if row.used_at is None:
                    return LinkResult("expired")  # expired or revoked
                if row.used_by != conversation_id:
                    return LinkResult("used")
            client = session.get(ClientRow, row.client_id)
            link = session.get(ClientLinkRow, conversation_id)
            if link is None:
                session.add(
                    ClientLinkRow(
                        conversation_id=conversation_id,
                        client_id=client.id,
                        channel=channel,
                        linked_at=now,
                    )
                )
            else:
                link.client_id, link.channel, link.linked_at = client.id, channel, now
            conversation = session.get(Conversation, conversation_id)
            if conversation is None:
                conversation = Conversation(sender_id=conversation_id, created_at=now)
                session.add(conversation)
            conversation.treatment_date = client.treatment_date
            conversation.treatment_kind = client.treatment_kind
            conversation.date_source = "clinic"
            return LinkResult("linked", _to_client(client))

    def code_used_by(self, code: str) -> str | None:
        """The conversation that used a link code, if any (None for unused or unknown codes)."""
        if not isinstance(code, str) or not CODE_PATTERN.match(code):
            return None
        with self._sessions() as session:
            return session.execute(
                select(LinkCodeRow.used_by).where(LinkCodeRow.code_hash == hash_code(code))
            ).scalar_one_or_none()

    def client_for(self, conversation_id: str) -> Client | None:
        """The client a conversation is linked to, if any."""
        with self._sessions() as session:
            row = session.execute(
                select(ClientRow)
                .join(ClientLinkRow, ClientLinkRow.client_id == ClientRow.id)
                .where(ClientLinkRow.conversation_id == conversation_id)
            ).scalar_one_or_none()
            return _to_client(row) if row else None

    def get(self, client_id: int) -> Client | None:
        """One client by id."""
        with self._sessions() as session:
            row = session.get(ClientRow, client_id)
            return _to_client(row) if row else None

    def list(self, time_zone: str, now: datetime | None = None) -> list[ClientSummary]:
        """Every client, oldest registration first, with today's day in `time_zone`."""
        now = _utc(now)
        with self._sessions() as session:
            clients = session.execute(select(ClientRow).order_by(ClientRow.id)).scalars().all()
            links: dict[int, list[tuple[str, str]]] = {}
            for link in session.execute(
                select(ClientLinkRow).order_by(ClientLinkRow.linked_at)
            ).scalars():
                links.setdefault(link.client_id, []).append((link.conversation_id, link.channel))
            newest: dict[int, LinkCodeRow] = {}
            for code in session.execute(select(LinkCodeRow).order_by(LinkCodeRow.id)).scalars():
                newest[code.client_id] = code
            summaries = []
            for row in clients:
                code = newest.get(row.id)
                summaries.append(
                    ClientSummary(
                        client=_to_client(row),
                        day=treatment_day(row.treatment_date, time_zone, now),
                        conversations=links.get(row.id, []),
                        code_status=_code_status(code, now),
                        code_expires_at=as_utc(code.expires_at) if code else None,
                    )
                )
            return summaries

    def forget_conversation(self, conversation_id: str) -> int | None:
        """Unlink a conversation; a client left with no conversation is deleted with its codes.

        Returns the id of the client the conversation was linked to, or None.
        """
        with self._sessions.begin() as session:
            session.execute(
                update(LinkCodeRow)
                .where(LinkCodeRow.used_by == conversation_id)
                .values(used_by=None)
                .execution_options(synchronize_session=False)
            )
            link = session.get(ClientLinkRow, conversation_id)
            if link is None:
                return None
            client_id = link.client_id
            session.delete(link)
            session.flush()
            others = session.execute(
                select(ClientLinkRow.conversation_id).where(ClientLinkRow.client_id == client_id)
            ).first()
            if others is None:
                # Explicit, so it does not depend on the database enforcing ON DELETE CASCADE.
                session.execute(delete(LinkCodeRow).where(LinkCodeRow.client_id == client_id))
                session.execute(delete(ClientRow).where(ClientRow.id == client_id))
                _forget_switch(session, client_id)
            return client_id

    def conversations_of(self, client_id: int) -> list[str]:
        """The conversations linked to a client, oldest link first."""
        with self._sessions() as session:
            return list(
                session.execute(
                    select(ClientLinkRow.conversation_id)
                    .where(ClientLinkRow.client_id == client_id)
                    .order_by(ClientLinkRow.linked_at)
                ).scalars()
            )

    def revoke_codes(self, client_id: int) -> None:
        """Delete a client's link codes: no chat can link to them any more."""
        with self._sessions.begin() as session:
            session.execute(delete(LinkCodeRow).where(LinkCodeRow.client_id == client_id))

    def delete(self, client_id: int) -> bool:
        """Delete a client with its codes and any link left; whether it existed."""
        with self._sessions.begin() as session:
            session.execute(delete(ClientLinkRow).where(ClientLinkRow.client_id == client_id))
            session.execute(delete(LinkCodeRow).where(LinkCodeRow.client_id == client_id))
            _forget_switch(session, client_id)
            return bool(
                session.execute(delete(ClientRow).where(ClientRow.id == client_id)).rowcount
            )


def _forget_switch(session, client_id: int) -> None:
    """The clinic's check-in "off" for a deleted client goes with them (SQLite may give the
    next client the same id)."""
    session.execute(
        delete(CheckinOptOutRow).where(CheckinOptOutRow.subject == client_subject(client_id))
    )
