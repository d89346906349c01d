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
import time
from collections import deque
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
from bot.intents import button_intents
from bot.settings import Settings

log = logging.getLogger(__name__)

CHANNEL_NAME = "web"
MAX_BODY_BYTES = 64 * 1024
# A client sending faster than this is asked to slow down (flooding, or a stuck script).
RATE_MESSAGES, RATE_SECONDS = 20, 60.0
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
)


class WebOutput(CollectingOutputChannel):
    """Collects a turn's replies; the widget reads them back from the conversation."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME


class _RateLimiter:
    """At most `limit` messages per `seconds` per conversation (in this process)."""

    def __init__(self, limit: int = RATE_MESSAGES, seconds: float = RATE_SECONDS) -> None:
        self.limit, self.seconds = limit, seconds
        self._seen: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        times = self._seen.setdefault(key, deque())
        while times and now - times[0] > self.seconds:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        if len(self._seen) > 10000:  # forget idle conversations
            for idle in [k for k, v in self._seen.items() if not v or now - v[-1] > self.seconds]:
                del self._seen[idle]
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
        origin = request.headers.get("origin")
        if origin_allowed(origin, self.allowed_origins()):
            return None
        log.warning("Refused a web widget request from origin %r", origin)
        return response.json(
            {"error": "origin_not_allowed"}, status=403, headers={"Vary": "Origin"}
        )

    def _body(self, request: Request) -> dict[str, Any] | None:
        """The JSON object a POST carries (sent as text/plain by the widget), or None."""
        if len(request.body or b"") > MAX_BODY_BYTES:
            return None
        try:
            body = json.loads(request.body or b"")
        except (ValueError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

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
            token = body.get("token")
            if not valid_token(token):
                token = new_token()
            conversation = conversation_id_for(token)
            code = body.get("code")
            history = await self._history(request, conversation, 0.0)
            if isinstance(code, str) and code.strip():
                await self._link(request, conversation, code.strip())
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
            refused = self._refuse_origin(request)
            if refused:
                return refused
            body = self._body(request)
            if body is None or not valid_token(body.get("token")):
                return self._reply(request, {"error": "bad_request"}, status=400)
            conversation = conversation_id_for(body["token"])
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
                return self._reply(
                    request, {"error": "busy", "message": self._phrase("web.busy")}, status=429
                )
            answered = await self._to_rasa(conversation, text, metadata)
            result = await self._history(request, conversation, after)
            if not answered:
                result["error"] = "no_reply"
                result["message"] = self._phrase("web.error")
            return self._reply(request, result)

        @web.route("/history", methods=["POST"])
        async def history(request: Request) -> HTTPResponse:
            refused = self._refuse_origin(request)
            if refused:
                return refused
            body = self._body(request)
            if body is None or not valid_token(body.get("token")):
                return self._reply(request, {"error": "bad_request"}, status=400)
            after = _after(body)
            return self._reply(
                request, await self._history(request, conversation_id_for(body["token"]), after)
            )

        return web

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
        from bot.clients import ClientRegistry
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
    if isinstance(after, bool) or not isinstance(after, int | float):
        return 0.0
    return float(after)
