"""Staff commands that must run inside the Rasa process: `aftercare clients forget ID`.

Deleting a conversation while Rasa holds it could be undone by the turn in flight (Rasa's SQL
store writes back every event it thinks is missing), so the command asks the running Rasa to
do it, holding Rasa's lock on each conversation, like the client's own `/forget`.

Route (under `/webhooks/control/`): `POST /forget-client` with a JSON body
`{"client": ID, "registered": ISO_TIME, "expires": UNIX_TIME}` and the header
`X-Aftercare-Signature`: the body's HMAC-SHA256 under a key derived from the deployment's key
(`AFTERCARE_WEB_TOKEN_SECRET` or var/web-token.key), which only the machine's operators can
read. Requests expire after a minute (a few seconds of clock difference allowed); anything
unsigned, badly signed or expired gets 401 and changes nothing. `registered` is the client's
registration time: a request replayed after the id was given to a new client deletes nothing.
Repeating a request is safe: it finishes what is left.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.orm import sessionmaker

from bot.channels.web.tokens import signing_key
from bot.service import get_service
from bot.settings import Settings
from bot.storage.clients import Client, ClientRegistry
from bot.storage.forget import forget_conversation

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Aftercare-Signature"
REQUEST_SECONDS = 60  # how long a signed request stays valid
CLOCK_SKEW_SECONDS = 5  # the command's and the server's clocks may differ this much
_CONTEXT = b"aftercare control v1"


@dataclass(frozen=True)
class ClientForgotten:
    """What `forget-client` did."""

    client: int
    existed: bool
    conversations: int
    escalations_redacted: int


def control_key(settings: Settings) -> bytes:
    """The key control requests are signed with (derived: never the widget tokens' own)."""
    return hmac.new(signing_key(settings), _CONTEXT, hashlib.sha256).digest()


def sign(key: bytes, body: bytes) -> str:
    """The signature header's value for `body`."""
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def signed_request(
    key: bytes, client_id: int, registered: str, now: float | None = None
) -> tuple[bytes, str]:
    """The body and signature of a `forget-client` request."""
    expires = int((now if now is not None else time.time()) + REQUEST_SECONDS)
    body = json.dumps({"client": client_id, "registered": registered, "expires": expires})
    return body.encode(), sign(key, body.encode())


def verified_request(
    key: bytes, body: bytes, signature: str | None, now: float
) -> tuple[int, str] | None:
    """(client id, registration time) of an authentic, unexpired request, else None."""
    if not signature or not hmac.compare_digest(sign(key, body).encode(), signature.encode()):
        return None
    try:
        payload = json.loads(body)
        client, registered, expires = payload["client"], payload["registered"], payload["expires"]
    except (ValueError, KeyError, TypeError):
        return None
    typed = isinstance(client, int) and isinstance(registered, str) and isinstance(expires, int)
    earliest, latest = now - CLOCK_SKEW_SECONDS, now + REQUEST_SECONDS + CLOCK_SKEW_SECONDS
    if not typed or not earliest <= expires <= latest:
        return None
    return client, registered


def registration(client: Client) -> str:
    """What binds a request to one registration of a client id."""
    return client.created_at.isoformat()


async def forget_client(
    agent: Any, sessions: sessionmaker, client_id: int, registered: str
) -> ClientForgotten:
    """Forget every conversation of a client (each under Rasa's lock), then the client. Its
    link codes go first, so no chat can join it meanwhile."""
    registry = ClientRegistry(sessions)
    client = await asyncio.to_thread(registry.get, client_id)
    if client is None or registration(client) != registered:
        return ClientForgotten(client_id, False, 0, 0)
    await asyncio.to_thread(registry.revoke_codes, client_id)
    chats = redacted = 0
    while conversations := await asyncio.to_thread(registry.conversations_of, client_id):
        for conversation in conversations:
            async with agent.lock_store.lock(conversation):
                done = await forget_conversation(conversation, agent.tracker_store, sessions)
            redacted += done.escalations_redacted
            chats += 1
    await asyncio.to_thread(registry.delete, client_id)
    return ClientForgotten(client_id, True, chats, redacted)


class ControlInput(InputChannel):
    """The staff command route on the Rasa server (signed requests only)."""

    @classmethod
    def name(cls) -> str:
        """The channel's name: its routes are under /webhooks/control/."""
        return "control"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> ControlInput:
        """Nothing to configure (credentials.yml lists it with no keys)."""
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The one route; Rasa's message handler is not used (no client speaks here)."""
        control = Blueprint("aftercare_control", __name__)

        async def forget_client(request: Request) -> HTTPResponse:
            return await self.forget_client(request)

        control.add_route(forget_client, "/forget-client", methods=["POST"])
        return control

    async def forget_client(self, request: Request) -> HTTPResponse:
        """Forget a client (`aftercare clients forget ID`)."""
        service = get_service()
        key = await asyncio.to_thread(control_key, service.settings)
        verified = verified_request(
            key, request.body, request.headers.get(SIGNATURE_HEADER), time.time()
        )
        if verified is None:
            log.warning("Refused an unsigned, badly signed or expired control request")
            return response.json({"error": "unauthorised"}, status=401)
        client, registered = verified
        done = await forget_client(request.app.ctx.agent, service.sessions, client, registered)
        log.info(
            "Forgot client %d at a staff request (%d conversation(s))", client, done.conversations
        )
        return response.json(asdict(done))
