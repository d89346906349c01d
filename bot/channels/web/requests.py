"""One widget request: who may call (origin, address budget), what it carries, and how it is
answered (JSON with the right CORS headers), all from one clinic snapshot."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.cleaning import clean_text
from bot.channels.limits import RateLimiter
from bot.channels.web.format import MAX_TITLE, conversation_id_for, origin_allowed
from bot.channels.web.tokens import Standing, TokenCheck, TokenSigner
from bot.domain.intents import button_intents
from bot.kb.model import Clinic

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024


class Call:
    """A request to the widget API and the clinic snapshot it is answered from."""

    def __init__(
        self,
        request: Request,
        clinic: Clinic,
        extra_origins: tuple[str, ...],
        address_limiter: RateLimiter,
        signer: TokenSigner,
    ):
        self.request, self.clinic = request, clinic
        self.origins = clinic.settings.web.allowed_origins + extra_origins
        self.address_limiter = address_limiter
        self.signer, self.now = signer, time.time()

    @property
    def address(self) -> str:
        """The client's address (the proxy's, unless Sanic is told how many proxies forward)."""
        return self.request.remote_addr or self.request.ip or "unknown"

    def phrase(self, key: str, **values: object) -> str:
        """A clinic phrase, filled in."""
        return self.clinic.kb.phrase(key).format(**self.clinic.settings.placeholders(), **values)

    def reply(self, body: dict[str, Any], status: int = 200) -> HTTPResponse:
        """A JSON answer, readable by the calling page if it is an allowed site."""
        headers = {"Cache-Control": "no-store", "Vary": "Origin"}
        origin = self.request.headers.get("origin")
        if origin and origin_allowed(origin, self.origins):
            headers["Access-Control-Allow-Origin"] = origin
        return response.json(body, status=status, headers=headers)

    def busy(self) -> HTTPResponse:
        """429: too many calls."""
        return self.reply({"error": "busy", "message": self.phrase("web.busy")}, 429)

    async def refuse(self) -> HTTPResponse | None:
        """403 for another site's page; 429 for an address calling far too often."""
        origin = self.request.headers.get("origin")
        if not origin_allowed(origin, self.origins):
            log.warning("Refused a web widget request from origin %r", origin)
            return response.json(
                {"error": "origin_not_allowed"}, status=403, headers={"Vary": "Origin"}
            )
        if self.request.method == "POST" and not await self.address_limiter.check(self.address):
            return self.busy()
        return None

    def body(self) -> dict[str, Any] | None:
        """The JSON object a POST carries (sent as text/plain by the widget), or None."""
        if len(self.request.body or b"") > MAX_BODY_BYTES:
            return None
        try:
            body = json.loads(self.request.body or b"")
        except (ValueError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    def token(self, body: dict[str, Any]) -> TokenCheck:
        """What the token a POST carries is worth."""
        return self.signer.check(body.get("token"), self.now)

    def issue(self, chat: str | None) -> str:
        """A fresh token for a chat (a new one when None), for the clinic's chat lifetime."""
        return self.signer.issue(chat, self.now, self.clinic.settings.web.chat_days)

    async def chat(self, expired_ok: bool = False) -> tuple[dict[str, Any], str] | HTTPResponse:
        """An allowed POST with a token this server issued: its body and conversation; else
        the response refusing it (400 malformed, 401 not issued here or expired)."""
        refused = await self.refuse()
        if refused:
            return refused
        body = self.body()
        check = self.token(body) if body is not None else None
        if check is None or check.standing is Standing.MALFORMED:
            return self.reply({"error": "bad_request"}, status=400)
        if check.standing is Standing.VALID or (expired_ok and check.authentic):
            return body, conversation_id_for(check.chat)
        # Not logged above DEBUG: a flood of forged tokens must not flood the logs.
        log.debug("Refused a web widget request with a %s token", check.standing.value)
        error = "expired" if check.standing is Standing.EXPIRED else "unauthorised"
        return self.reply({"error": error, "message": self.phrase("web.expired")}, status=401)


def after_of(body: dict[str, Any]) -> float:
    """The point (Unix seconds) after which the widget wants messages; 0 for everything."""
    after = body.get("after")
    if isinstance(after, bool) or not isinstance(after, int | float) or not math.isfinite(after):
        return 0.0
    return float(after)


def message_text(body: dict[str, Any], domain_file: Path) -> tuple[str | None, dict[str, Any]]:
    """What Rasa gets for a POST /message, and the metadata kept with it.

    A button press sends its payload, if it names an intent of the domain (and is shown as
    its title); anything else a client sends is read as words.
    """
    payload, title = body.get("payload"), body.get("title")
    if (
        isinstance(payload, str)
        and payload.startswith("/")
        and payload[1:] in button_intents(domain_file)
    ):
        shown = clean_text(title)[:MAX_TITLE] if isinstance(title, str) else ""
        return payload, {"title": shown or payload[1:]}
    raw = body.get("text")
    if not isinstance(raw, str):
        raw = title if isinstance(title, str) else ""
    text = clean_text(raw)
    return (text or None), {}
