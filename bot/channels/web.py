"""The website chat widget's channel: one `<script>` tag on the clinic's site talks to this.

Routes (under `/webhooks/web/`):
- `GET /` health; `GET /widget.js`, `GET /widget.css` the widget itself (no build step);
- `GET /config` what the widget shows: the clinic's name and colour, and every label and
  message from the clinic's phrases (`web.*`);
- `POST /session` start or resume a chat (and link it with a clinic link code);
- `POST /message` one client message → the replies; `POST /history` messages since a point
  (how the widget picks up notices pushed later, e.g. "the team has seen your message").

The browser keeps one secret token (localStorage); the conversation id is a hash of it, so
ids seen by staff cannot be used to read a chat. Only the sites in `web.allowed_origins`
(clinic/settings.yml, plus `AFTERCARE_WEB_ORIGINS`) may call the API from a browser. The
POSTs are CORS "simple" requests (text/plain bodies, no custom headers): Rasa's server
answers every preflight OPTIONS itself (sanic-cors), so the widget never needs one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import BotUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.web_format import (
    MAX_TITLE,
    ORIGINS_ENV,
    clean_text,
    conversation_id_for,
    history_messages,
    new_token,
    origin_allowed,
    parse_origins,
    text_colour_on,
    valid_token,
)
from bot.clients import ClientRegistry
from bot.intents import button_intents
from bot.settings import Settings

log = logging.getLogger(__name__)

CHANNEL_NAME = "web"
MAX_BODY_BYTES = 64 * 1024
# A client sending faster than this is asked to slow down (flooding, or a stuck script).
RATE_MESSAGES, RATE_SECONDS = 20, 60.0
# Per address, all calls (a tab polls 4 a minute) and new chats: generous for a waiting room
# behind one address, tight for a script. Behind a reverse proxy, set SANIC_PROXIES_COUNT=1
# so the client's address is used (README).
RATE_CALLS_PER_ADDRESS, RATE_NEW_CHATS_PER_ADDRESS = 600, 60
HISTORY_LIMIT = 200
POLL_SECONDS = 15
_STATIC = {
    "widget.js": "application/javascript; charset=utf-8",
    "widget.css": "text/css; charset=utf-8",
}
# Phrases the widget shows, by the name it knows them under.
_WIDGET_PHRASES = (
    "launcher",
    "dialog",
    "subtitle",
    "close",
    "input_label",
    "placeholder",
    "send",
    "typing",
    "you_said",
    "bot_said",
    "unread",
    "too_long",
    "empty",
    "send_failed",
    "error",
    "busy",
    "banner_urgent",
    "banner_emergency",
    "new_chat",
    "forget_confirm",
    "forget_yes",
    "forget_no",
)


class WebOutput(CollectingOutputChannel):
    """Collects a turn's replies; the widget reads them back from the conversation."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME


class _RateLimiter:
    """At most `limit` events per `seconds` per key (in this process; memory is bounded)."""

    def __init__(
        self, limit: int = RATE_MESSAGES, seconds: float = RATE_SECONDS, max_keys: int = 50_000
    ) -> None:
        self.limit, self.seconds, self.max_keys = limit, seconds, max_keys
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        times = self._seen.pop(key, None) or deque()
        self._seen[key] = times  # most recently used last
        while times and now - times[0] > self.seconds:
            times.popleft()
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)  # the longest-idle key
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True


def _service():
    from bot.service import get_service

    return get_service()


def _static(name: str) -> str:
    return resources.files("bot.channels").joinpath("web_static", name).read_text("utf-8")


class WebInput(InputChannel):
    """The website widget channel (`bot.channels.web.WebInput` in credentials.yml)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WebInput:
        """Nothing secret: allowed origins come from the clinic settings and the environment."""
        settings = Settings.from_env()
        return cls(extra_origins=parse_origins(settings.env.get(ORIGINS_ENV)))

    def __init__(self, extra_origins: tuple[str, ...] = ()) -> None:
        self.extra_origins = extra_origins
        self.on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None
        self.limiter = _RateLimiter()
        self.address_limiter = _RateLimiter(RATE_CALLS_PER_ADDRESS)
        self.new_chat_limiter = _RateLimiter(RATE_NEW_CHATS_PER_ADDRESS)

    def get_output_channel(self) -> WebOutput:
        """Used by Rasa's API for notices: collected, and read by the widget from history."""
        return WebOutput()

    # --- helpers --------------------------------------------------------------------------

    def allowed_origins(self) -> tuple[str, ...]:
        """The clinic's sites (read on every request: edits apply at once) and the extra ones."""
        return _service().clinic().settings.web.allowed_origins + self.extra_origins

    def _reply(self, request: Request, body: dict[str, Any], status: int = 200) -> HTTPResponse:
        headers = {"Cache-Control": "no-store", "Vary": "Origin"}
        origin = request.headers.get("origin")
        if origin and origin_allowed(origin, self.allowed_origins()):
            headers["Access-Control-Allow-Origin"] = origin
        return response.json(body, status=status, headers=headers)

    def _refuse_origin(self, request: Request) -> HTTPResponse | None:
        """403 for another site's page; 429 for an address calling far too often."""
        origin = request.headers.get("origin")
        if not origin_allowed(origin, self.allowed_origins()):
            log.warning("Refused a web widget request from origin %r", origin)
            return response.json(
                {"error": "origin_not_allowed"}, status=403, headers={"Vary": "Origin"}
            )
        if request.method == "POST" and not self.address_limiter.allow(_address(request)):
            return self._busy(request)
        return None

    def _busy(self, request: Request) -> HTTPResponse:
        return self._reply(request, {"error": "busy", "message": self._phrase("web.busy")}, 429)

    def _body(self, request: Request) -> dict[str, Any] | None:
        """The JSON object a POST carries (sent as text/plain by the widget), or None."""
        if len(request.body or b"") > MAX_BODY_BYTES:
            return None
        try:
            body = json.loads(request.body or b"")
        except (ValueError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    def _chat_request(self, request: Request) -> tuple[dict[str, Any], str] | HTTPResponse:
        """An allowed POST with a well-formed token: its body and conversation; else the
        response refusing it."""
        refused = self._refuse_origin(request)
        if refused:
            return refused
        body = self._body(request)
        if body is None or not valid_token(body.get("token")):
            return self._reply(request, {"error": "bad_request"}, status=400)
        return body, conversation_id_for(body["token"])

    def _phrase(self, key: str, **values: object) -> str:
        return _service().phrase(key, **values)

    async def _history(self, request: Request, conversation: str, after: float) -> dict[str, Any]:
        agent = request.app.ctx.agent
        tracker = await agent.tracker_store.retrieve_full_tracker(conversation)
        events = [e.as_dict() for e in tracker.events] if tracker is not None else []
        messages = history_messages(events, after=after, limit=HISTORY_LIMIT)
        cursor = max([after] + [m["time"] for m in messages])
        return {"messages": messages, "cursor": cursor}

    async def _record(self, request: Request, conversation: str, key: str, **values: Any) -> None:
        """Add a clinic phrase to the conversation as a bot message (kept for the history)."""
        agent = request.app.ctx.agent
        async with agent.lock_store.lock(conversation):
            tracker = await agent.processor.fetch_tracker_and_update_session(
                conversation, WebOutput()
            )
            tracker.update(BotUttered(self._phrase(key, **values), metadata={"response_key": key}))
            await agent.processor.save_tracker(tracker)

    async def _to_rasa(
        self, conversation: str, text: str, metadata: dict[str, Any] | None = None
    ) -> bool:
        """Hand a message to Rasa; False if nothing came back (an action failed)."""
        output = WebOutput()
        try:
            await self.on_new_message(
                UserMessage(
                    text,
                    output,
                    conversation,
                    input_channel=CHANNEL_NAME,
                    metadata={"web": metadata or {}},
                )
            )
        except Exception:  # noqa: BLE001 - the client must hear something
            log.exception("Rasa failed on a web message in %s", conversation)
            return False
        return bool(output.messages)

    # --- routes ---------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        self.on_new_message = on_new_message
        web = Blueprint("web_widget", __name__)

        @web.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok", "enabled": True})

        def static(name: str) -> Callable[[Request], Awaitable[HTTPResponse]]:
            async def serve(request: Request) -> HTTPResponse:
                return response.text(
                    _static(name),
                    content_type=_STATIC[name],
                    headers={
                        "Cache-Control": "public, max-age=300",
                        "X-Content-Type-Options": "nosniff",
                        # A script tag on any site may load it; the API below checks origins.
                        "Access-Control-Allow-Origin": "*",
                    },
                )

            return serve

        for name in _STATIC:
            web.add_route(static(name), f"/{name}", methods=["GET"], name=name.replace(".", "_"))

        @web.route("/config", methods=["GET"])
        async def config(request: Request) -> HTTPResponse:
            refused = self._refuse_origin(request)
            if refused:
                return refused
            clinic = _service().clinic().settings
            limit = clinic.web.max_message_length
            return self._reply(
                request,
                {
                    "clinic_name": clinic.name,
                    "colour": clinic.web.colour,
                    "text_colour": text_colour_on(clinic.web.colour),
                    "max_length": limit,
                    "poll_seconds": POLL_SECONDS,
                    "emergency_number": clinic.emergency_number,
                    "text": {
                        name: self._phrase(f"web.{name}", max_length=limit, count="{count}")
                        for name in _WIDGET_PHRASES
                    },
                },
            )

        @web.route("/session", methods=["POST"])
        async def session(request: Request) -> HTTPResponse:
            """Resume the chat of a token (or start one), linking it if a code was given."""
            refused = self._refuse_origin(request)
            if refused:
                return refused
            body = self._body(request)
            if body is None:
                return self._reply(request, {"error": "bad_request"}, status=400)
            token, code = body.get("token"), body.get("code")
            code = code.strip() if isinstance(code, str) and code.strip() else None
            history = None
            if valid_token(token):
                history = await self._history(request, conversation_id_for(token), 0.0)
                if code and history["messages"] and not await self._used_here(token, code):
                    # A link on a browser that holds another chat (a shared computer, a
                    # reception tablet): a new chat, so no one sees the previous person's.
                    history = None
            if history is None:
                if not self.new_chat_limiter.allow(_address(request)):
                    return self._busy(request)
                token, history = new_token(), {"messages": [], "cursor": 0.0}
            conversation = conversation_id_for(token)
            if code:
                await self._link(request, conversation, code)
            elif not history["messages"]:
                # A new chat: greet, then the day summary (which asks the date first).
                await self._record(request, conversation, "chat.greet")
                await self._to_rasa(conversation, "/day_summary")
            else:
                return self._reply(request, {"token": token, **history})
            return self._reply(
                request, {"token": token, **await self._history(request, conversation, 0.0)}
            )

        @web.route("/message", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            checked = self._chat_request(request)
            if isinstance(checked, HTTPResponse):
                return checked
            body, conversation = checked
            after = _after(body)
            text, metadata = self._message_text(body)
            limit = _service().clinic().settings.web.max_message_length
            if text is None:
                return self._reply(
                    request, {"error": "empty", "message": self._phrase("web.empty")}, status=400
                )
            if len(text) > limit:
                return self._reply(
                    request,
                    {
                        "error": "too_long",
                        "message": self._phrase("web.too_long", max_length=limit),
                    },
                    status=413,
                )
            if not self.limiter.allow(conversation):
                return self._busy(request)
            answered = await self._to_rasa(conversation, text, metadata)
            result = await self._history(request, conversation, after)
            if not answered:
                result["error"] = "no_reply"
                result["message"] = self._phrase("web.error")
            return self._reply(request, result)

        @web.route("/history", methods=["POST"])
        async def history(request: Request) -> HTTPResponse:
            checked = self._chat_request(request)
            if isinstance(checked, HTTPResponse):
                return checked
            body, conversation = checked
            return self._reply(request, await self._history(request, conversation, _after(body)))

        @web.route("/forget", methods=["POST"])
        async def forget(request: Request) -> HTTPResponse:
            """Delete the chat of a token everywhere (like Telegram's /forget)."""
            from bot.forget import forget_conversation

            checked = self._chat_request(request)
            if isinstance(checked, HTTPResponse):
                return checked
            _, conversation = checked
            agent = request.app.ctx.agent
            async with agent.lock_store.lock(conversation):
                await forget_conversation(conversation, agent.tracker_store)
            return self._reply(request, {"forgotten": True})

        return web

    async def _used_here(self, token: str, code: str) -> bool:
        """Whether the chat of `token` is the one that used this link code (the client opened
        their link again), so the code may join it."""
        used_by = await asyncio.to_thread(ClientRegistry(_service().sessions).code_used_by, code)
        return used_by == conversation_id_for(token)

    def _message_text(self, body: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """What Rasa gets for a POST /message, and the metadata kept with it.

        A button press sends its payload, if it names an intent of the domain (and is shown as
        its title); anything else a client sends is read as words.
        """
        payload, title = body.get("payload"), body.get("title")
        if isinstance(payload, str) and payload.startswith("/") and payload[1:] in button_intents():
            shown = clean_text(title)[:MAX_TITLE] if isinstance(title, str) else ""
            return payload, {"title": shown or payload[1:]}
        raw = body.get("text")
        if not isinstance(raw, str):
            raw = title if isinstance(title, str) else ""
        text = clean_text(raw)
        return (text or None), {}

    async def _link(self, request: Request, conversation: str, code: str) -> None:
        """Link the chat to the treatment a clinic link code was issued for."""
        from bot.days import format_date

        service = _service()
        result = await asyncio.to_thread(
            ClientRegistry(service.sessions).redeem, code, conversation, CHANNEL_NAME
        )
        if result.status == "linked":
            day = await asyncio.to_thread(service.current_day, conversation)
            await self._record(
                request,
                conversation,
                "link.linked",
                treatment_date=format_date(result.client.treatment_date),
                day=day,
            )
            return
        await self._record(request, conversation, f"link.code_{result.status}")
        await self._to_rasa(conversation, "/day_summary")


def _after(body: dict[str, Any]) -> float:
    """The point (Unix seconds) after which the widget wants messages; 0 for everything."""
    after = body.get("after")
    if isinstance(after, bool) or not isinstance(after, int | float) or not math.isfinite(after):
        return 0.0
    return float(after)


def _address(request: Request) -> str:
    """The client's address (the proxy's, unless Sanic is told how many proxies forward)."""
    return request.remote_addr or request.ip or "unknown"
