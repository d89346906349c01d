"""The website chat widget's channel: one `<script>` tag on the clinic's site talks to this.

Routes (under `/webhooks/web/`):
- `GET /` health; `GET /widget.js`, `GET /widget.css` the widget itself (no build step);
- `GET /config` what the widget shows: the clinic's name and colour, and every label and
  message from the clinic's phrases (`web.*`);
- `POST /session` start or resume a chat (and link it with a clinic link code);
- `POST /message` one client message → the replies; `POST /history` messages since a point
  (how the widget picks up notices pushed later, e.g. "the team has seen your message");
- `POST /forget` delete the chat; `POST /checkins` turn the check-in messages off or on
  (`checkins`).

The browser keeps one token (localStorage), issued and signed here and renewed at each visit
(`tokens`); the conversation id is a hash of its random part, so ids seen by staff cannot be
used to read a chat, and a token this server did not issue names no chat. Only the sites in `web.allowed_origins`
(clinic/settings.yml, plus `AFTERCARE_WEB_ORIGINS`) may call the API from a browser. The
POSTs are CORS "simple" requests (text/plain bodies, no custom headers): Rasa's server
answers every preflight OPTIONS itself (sanic-cors), so the widget never needs one. Each
request looks at the clinic's files once and passes that snapshot down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from importlib import resources
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import logs
from bot.channels.limits import (
    RATE_CALLS_PER_ADDRESS,
    RATE_NEW_CHATS_PER_ADDRESS,
    MessageBudget,
    rate_limiter,
)
from bot.channels.recovery import Recovery, within_delay
from bot.channels.web.checkins import checkins_on, switch_checkins
from bot.channels.web.format import (
    conversation_id_for,
    history_messages,
    parse_origins,
    text_colour_on,
)
from bot.channels.web.recording import CHANNEL_NAME, Recovering, WebOutput, record_reply
from bot.channels.web.requests import Call, after_of, message_text
from bot.channels.web.tokens import Standing, TokenCheck, TokenSigner, signing_key
from bot.kb.loader import phrase_keys
from bot.service import AftercareService, Reply, get_service
from bot.settings import Settings
from bot.storage.forget import forget_conversation, unwrap
from bot.storage.web_chats import SignedChats

log = logging.getLogger(__name__)

HISTORY_LIMIT = 200
HISTORY_EVENTS = 20 * HISTORY_LIMIT  # Rasa stores several events per message
POLL_SECONDS = 15
_STATIC = {
    "widget.js": "application/javascript; charset=utf-8",
    "widget.css": "text/css; charset=utf-8",
}


def _static(name: str) -> str:
    return resources.files("bot.channels.web").joinpath("static", name).read_text("utf-8")


class WebInput(Recovering, InputChannel):
    """The website widget channel (`bot.channels.web.WebInput` in credentials.yml)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WebInput:
        """Nothing secret: allowed origins come from the clinic settings and the environment."""
        # The settings alone: the service (database, clinic) is built on the first request.
        settings = Settings.from_env()
        signer = TokenSigner(signing_key(settings))
        return cls(parse_origins(settings.web_origins_text), signer)

    def __init__(self, extra_origins: tuple[str, ...], signer: TokenSigner) -> None:
        self.extra_origins, self.signer = extra_origins, signer
        self.on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None
        self.limiter = MessageBudget(name="web-chat")  # per chat
        self.address_limiter = rate_limiter("web-address", RATE_CALLS_PER_ADDRESS)
        self.new_chat_limiter = rate_limiter("web-new-chat", RATE_NEW_CHATS_PER_ADDRESS)
        self.sanic_app: Any = None
        self._recovery: asyncio.Task | None = None

    @staticmethod
    def service() -> AftercareService:
        """The aftercare service of this process."""
        return get_service()

    def get_output_channel(self) -> WebOutput:
        """Used by Rasa's API for notices: collected, and read by the widget from history."""
        return WebOutput()

    def call(self, request: Request) -> Call:
        """One request and the clinic snapshot it is answered from."""
        clinic = self.service().clinic()
        return Call(request, clinic, self.extra_origins, self.address_limiter, self.signer)

    # --- the conversation ---------------------------------------------------------------

    async def history(self, request: Request, conversation: str, after: float) -> dict[str, Any]:
        """The chat's messages after `after`, and the cursor to ask from next time: only the
        events after the cursor are read (at most HISTORY_EVENTS), in a thread."""
        store = unwrap(request.app.ctx.agent.tracker_store)  # Rasa wraps it (fail-safe)
        if hasattr(store, "recent_events"):
            first, events = await asyncio.to_thread(
                store.recent_events, conversation, after, HISTORY_EVENTS
            )
        else:  # another tracker store (tests): the whole conversation
            tracker = await store.retrieve_full_tracker(conversation)
            first, events = 0, [e.as_dict() for e in tracker.events] if tracker else []
        messages = history_messages(events, after=after, limit=HISTORY_LIMIT, first=first)
        cursor = max([after] + [m["time"] for m in messages])
        return {"messages": messages, "cursor": cursor}

    async def record(self, request: Request, conversation: str, reply: Reply) -> None:
        """Add a reply to the conversation as a bot message (kept for the history)."""
        await record_reply(request.app.ctx.agent, conversation, reply)

    async def to_rasa(
        self, conversation: str, text: str, metadata: dict[str, Any] | None = None
    ) -> bool | None:
        """Hand a message to Rasa: True if it was answered (or quiet on purpose: a team member
        has the chat), None if the turn ended with nothing to say (an action failed), False
        if it failed or took longer than the recovery delay."""
        output = WebOutput()
        message = UserMessage(
            text, output, conversation, input_channel=CHANNEL_NAME, metadata={"web": metadata or {}}
        )
        with logs.hiding(text):  # a failure's log line must not carry the client's words
            try:
                finished = await within_delay(self.on_new_message(message), self.service())
            except Exception:  # noqa: BLE001 - the client must hear something
                log.exception("Rasa failed on a web message in %s", conversation)
                return False
        if not finished:
            return False
        return True if output.messages or output.quiet else None

    # --- routes ---------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        self.on_new_message = on_new_message
        web = Blueprint("web_widget", __name__)
        web.add_route(_handler(self.health), "/", methods=["GET"], name="health")
        for name in _STATIC:
            web.add_route(
                _static_route(name), f"/{name}", methods=["GET"], name=name.replace(".", "_")
            )
        web.add_route(_handler(self.config), "/config", methods=["GET"], name="config")
        web.add_route(_handler(self.session), "/session", methods=["POST"], name="session")
        web.add_route(_handler(self.message), "/message", methods=["POST"], name="message")
        web.add_route(_handler(self.history_route), "/history", methods=["POST"], name="history")
        web.add_route(_handler(self.forget), "/forget", methods=["POST"], name="forget")
        web.add_route(_handler(self.checkins), "/checkins", methods=["POST"], name="checkins")

        @web.listener("after_server_start")
        async def start_recovery(app: Any, loop: Any) -> None:
            self.sanic_app = app
            recovery = Recovery(CHANNEL_NAME, self.service, self.deliver_recovered, "web.recovered")
            self._recovery = asyncio.create_task(recovery.run())

        @web.listener("before_server_stop")
        async def stop_recovery(app: Any, loop: Any) -> None:
            if self._recovery is not None:
                self._recovery.cancel()
                with suppress(BaseException):
                    await self._recovery

        return web

    async def health(self, request: Request) -> HTTPResponse:
        return response.json({"status": "ok", "enabled": True})

    async def config(self, request: Request) -> HTTPResponse:
        call = self.call(request)
        refused = await call.refuse()
        if refused:
            return refused
        settings = call.clinic.settings
        limit = settings.web.max_message_length
        text = {
            name: call.phrase(f"web.{name}", max_length=limit, count="{count}")
            for name in phrase_keys("web.")
        }
        return call.reply(
            {
                "clinic_name": settings.name,
                "colour": settings.web.colour,
                "text_colour": text_colour_on(settings.web.colour),
                "max_length": limit,
                "poll_seconds": POLL_SECONDS,
                "emergency_number": settings.emergency_number,
                # Whether the clinic sends check-ins (the widget offers their setting), and
                # how long a check-in's quick replies are offered (while it may be answered).
                "checkins": call.clinic.checkins.enabled,
                "checkin_reply_hours": call.clinic.checkins.answer_hours,
                "text": text,
            }
        )

    async def session(self, request: Request) -> HTTPResponse:
        """Resume the chat of a token (or start one), linking it if a code was given; either
        way the browser gets a fresh token for it."""
        call = self.call(request)
        refused = await call.refuse()
        if refused:
            return refused
        body = call.body()
        if body is None:
            return call.reply({"error": "bad_request"}, status=400)
        code = body.get("code")
        code = code.strip() if isinstance(code, str) and code.strip() else None
        check = call.token(body)
        history = await self._resumable(request, check, code)
        if history is None and not await self.new_chat_limiter.check(call.address):
            return call.busy()
        token = call.issue(check.chat if history is not None else None)
        conversation = conversation_id_for(token)
        await asyncio.to_thread(SignedChats(self.service().sessions).mark, conversation)
        if code:
            await self._link(request, conversation, code)
        elif history is None:
            # A new chat: greet, then the day summary (which asks the date first).
            await self.record(request, conversation, self.service().greeting())
            await self.to_rasa(conversation, "/day_summary")
        if code or history is None:  # messages were added: read them
            history = await self.history(request, conversation, 0.0)
        checkins = await checkins_on(self.service(), conversation)
        return call.reply({"token": token, "checkins": checkins, **history})

    async def _resumable(
        self, request: Request, check: TokenCheck, code: str | None
    ) -> dict | None:
        """The history of the token's chat, if it may be resumed: a valid token's, or a
        pre-signing token's (exchanged here for a signed one), when the chat exists. A link on
        a browser that holds another chat (a shared computer, a reception tablet) starts a new
        one, so no one sees the previous person's."""
        if check.standing not in (Standing.VALID, Standing.BARE):
            return None
        conversation = conversation_id_for(check.chat)
        history = await self.history(request, conversation, 0.0)
        if not history["messages"]:
            return None  # deleted, or a made-up token of the old shape: no chat to resume
        if check.standing is Standing.BARE and await asyncio.to_thread(
            SignedChats(self.service().sessions).signed, conversation
        ):
            return None  # a signed token's chat part: only a signed token opens this chat
        if code and not await self._used_here(conversation, code):
            return None
        return history

    async def message(self, request: Request) -> HTTPResponse:
        """A client message: answered, or refused but screened. It runs to its end even when
        the client goes away meanwhile (Sanic cancels the handler then): a red flag in it is
        never dropped while a budget is being checked (in Redis, in a thread)."""
        handling = asyncio.ensure_future(self._message(request))
        handling.add_done_callback(_note_failure)  # also when nobody awaits it any more
        return await asyncio.shield(handling)

    async def _message(self, request: Request) -> HTTPResponse:
        call = self.call(request)
        checked = await call.chat(expired_ok=True)
        if isinstance(checked, HTTPResponse):
            return checked
        body, conversation = checked
        text, metadata = message_text(body, self.service().settings.domain_file)
        limit = call.clinic.settings.web.max_message_length
        if text is None:
            return call.reply({"error": "empty", "message": call.phrase("web.empty")}, status=400)
        if len(text) > limit:
            message = call.phrase("web.too_long", max_length=limit)
            return call.reply({"error": "too_long", "message": message}, status=413)
        if call.token(body).standing is Standing.EXPIRED:
            return await self.refused_but_screened(call, conversation, text, metadata, "expired")
        if not await self.limiter.allow(conversation):
            return await self.refused_but_screened(call, conversation, text, metadata, "busy")
        answered = await self.answer(request, conversation, text, metadata)
        result = await self.history(request, conversation, after_of(body))
        if not answered:
            result["error"] = "no_reply"
            result["message"] = call.phrase("web.error")
        return call.reply(result)

    async def refused_but_screened(
        self, call: Any, conversation: str, text: str, metadata: dict[str, Any], error: str
    ) -> HTTPResponse:
        """429 for a chat over its limit ("busy"), 401 for an ended chat ("expired"); a red
        flag in the message still gets its reply (the emergency number first) before the
        refusal, and its escalation."""
        status, refusal = (429, "web.busy") if error == "busy" else (401, "web.expired")
        outcome = None
        if not metadata:  # a button press has nothing to screen
            outcome = await self.limiter.screen_over_limit(
                conversation,
                text,
                lambda words: self.service().screen_unanswered(conversation, words),
            )
        replies = outcome.replies if outcome is not None else []
        body = {
            "error": error,
            "message": "\n\n".join([r.text for r in replies] or [call.phrase(refusal)]),
            "escalation": next((r.escalation for r in replies if r.escalation), None),
            "alert_unsent": any(r.alert_unsent for r in replies),
        }
        if replies and error == "expired":
            body["message"] += "\n\n" + call.phrase(refusal)  # and how to go on
        return call.reply(body, status)

    async def history_route(self, request: Request) -> HTTPResponse:
        call = self.call(request)
        checked = await call.chat()
        if isinstance(checked, HTTPResponse):
            return checked
        body, conversation = checked
        return call.reply(await self.history(request, conversation, after_of(body)))

    async def forget(self, request: Request) -> HTTPResponse:
        """Delete the chat of a token everywhere (like Telegram's /forget)."""
        call = self.call(request)
        checked = await call.chat(expired_ok=True)  # an ended chat can still be deleted
        if isinstance(checked, HTTPResponse):
            return checked
        _, conversation = checked
        agent = request.app.ctx.agent
        async with agent.lock_store.lock(conversation):
            await forget_conversation(conversation, agent.tracker_store, self.service().sessions)
        return call.reply({"forgotten": True})

    async def checkins(self, request: Request) -> HTTPResponse:
        """Turn the chat's check-in messages off or back on (the widget's setting)."""
        return await switch_checkins(self.call(request), self.service())

    async def _used_here(self, conversation: str, code: str) -> bool:
        """Whether `conversation` is the one that used this link code (the client opened
        their link again), so the code may join it."""
        used_by = await asyncio.to_thread(self.service().clients.code_used_by, code)
        return used_by == conversation

    async def _link(self, request: Request, conversation: str, code: str) -> None:
        """Link the chat to the treatment a clinic link code was issued for."""
        linked = await asyncio.to_thread(self.service().link_chat, conversation, code, CHANNEL_NAME)
        await self.record(request, conversation, linked.reply)
        if not linked.linked:
            await self.to_rasa(conversation, "/day_summary")


def _note_failure(handling: asyncio.Future) -> None:
    """Log a widget message's failure by its kind only (its text may be in the exception)."""
    if not handling.cancelled() and handling.exception() is not None:
        log.error("A widget message failed: %s", type(handling.exception()).__name__)


def _handler(method: Callable[[Request], Awaitable[HTTPResponse]]):
    """A route handler for a method (Sanic marks its handlers, which a bound method refuses)."""

    async def handle(request: Request) -> HTTPResponse:
        return await method(request)

    return handle


def _static_route(name: str) -> Callable[[Request], Awaitable[HTTPResponse]]:
    async def serve(request: Request) -> HTTPResponse:
        return response.text(
            _static(name),
            content_type=_STATIC[name],
            headers={
                "Cache-Control": "public, max-age=300",
                "X-Content-Type-Options": "nosniff",
                # A script tag on any site may load it; the API checks origins.
                "Access-Control-Allow-Origin": "*",
            },
        )

    return serve
