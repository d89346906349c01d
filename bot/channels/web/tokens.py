"""The widget's credential: a token the server issued, signed, that expires.

A token is `<chat>.<expires>.<signature>`: `chat` is 32 random bytes (URL-safe base64) that
name the conversation (its id is a one-way hash of them), `expires` the Unix second after which
the token is refused, and `signature` an HMAC-SHA256 of both under the deployment's key. Only
the server can make one, so a made-up token names no chat and cannot raise an alert. Every
visit (`POST /session`) gets a fresh token for the same chat: the lifetime counts from the
client's last visit.

A bare 43-character token (what browsers held before tokens were signed) is exchanged for a
signed one at `/session` when its chat exists; it is refused everywhere else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from bot.channels.web.format import new_token
from bot.settings import Settings

SECRET_ENV = "AFTERCARE_WEB_TOKEN_SECRET"
KEY_FILE = "web-token.key"
_CONTEXT = b"aftercare-web-token-v1"
_CHAT = r"[A-Za-z0-9_-]{40,64}"
_SIGNED = re.compile(rf"^({_CHAT})\.([0-9]{{1,12}})\.([A-Za-z0-9_-]{{43}})$")
_BARE = re.compile(rf"^({_CHAT})$")


class Standing(Enum):
    """What a token is worth."""

    VALID = "valid"  # issued here and not expired
    EXPIRED = "expired"  # issued here, too long ago
    BARE = "bare"  # a pre-signing token: only exchangeable at /session
    FORGED = "forged"  # well-formed but not signed with this deployment's key
    MALFORMED = "malformed"  # not a token at all


@dataclass(frozen=True)
class TokenCheck:
    """A token read: its standing and, unless it is forged or malformed, its chat."""

    standing: Standing
    chat: str | None = None

    @property
    def authentic(self) -> bool:
        """Issued by this deployment (maybe expired)."""
        return self.standing in (Standing.VALID, Standing.EXPIRED)


class TokenSigner:
    """Issues and checks widget tokens with one key."""

    def __init__(self, key: bytes):
        if len(key) < 32:
            raise ValueError("a widget token key must be at least 32 bytes")
        self._key = key

    def issue(self, chat: str | None, now: float, lifetime_days: int) -> str:
        """A token for `chat` (a new chat when None), valid for `lifetime_days` from `now`."""
        chat = chat or new_token()
        expires = int(now) + lifetime_days * 86_400
        return f"{chat}.{expires}.{self._sign(chat, expires)}"

    def check(self, token: object, now: float) -> TokenCheck:
        """The standing of what a browser sent as its token."""
        if not isinstance(token, str):
            return TokenCheck(Standing.MALFORMED)
        bare = _BARE.match(token)
        if bare:
            return TokenCheck(Standing.BARE, bare.group(1))
        signed = _SIGNED.match(token)
        if not signed:
            return TokenCheck(Standing.MALFORMED)
        chat, expires, signature = signed.group(1), int(signed.group(2)), signed.group(3)
        if not hmac.compare_digest(signature, self._sign(chat, expires)):
            return TokenCheck(Standing.FORGED)
        return TokenCheck(Standing.VALID if now <= expires else Standing.EXPIRED, chat)

    def _sign(self, chat: str, expires: int) -> str:
        message = b"\n".join((_CONTEXT, chat.encode(), str(expires).encode()))
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signing_key(settings: Settings) -> bytes:
    """The deployment's key: AFTERCARE_WEB_TOKEN_SECRET, or else one made once and kept in
    var/web-token.key (readable by this user only). Several machines share the variable."""
    secret = settings.secret(SECRET_ENV)
    if secret is not None:
        return secret.encode()
    return _key_file(settings.var_dir / KEY_FILE)


def _key_file(path: Path) -> bytes:
    """The key in `path`; the first process that needs it writes it whole to a private file
    and links it into place (atomic: a reader never sees half a key, two writers never race)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(secrets.token_urlsafe(48).encode())
        try:
            os.link(partial, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            partial.unlink()
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    """The key in a key file, refused if others may read it or it is too short."""
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise RuntimeError(f"{path} may be read by other users: `chmod 600 {path}`")
    key = path.read_bytes().strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable key; delete it to make a new one")
    return key
