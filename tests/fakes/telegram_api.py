"""A fake Telegram Bot API server on 127.0.0.1 that the real python-telegram-bot can talk to.

The server runs in a background thread with its own event loop, so synchronous tests and code
running on another event loop (an ``Application`` under ``asyncio.run``) can both use it::

    with FakeTelegramApi() as api:
        bot = telegram.Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url)
        api.push_text(42, "/start")
        replies = api.wait_for("sendMessage")

Only what the bot uses is implemented; any other method answers 404 so gaps show up in tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import json
import re
import threading
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from types import TracebackType
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

Json = dict[str, Any]
Predicate = Callable[[Json], bool]

DEFAULT_TOKEN = "123456:fake-token-for-aftercare-tests"  # not a real token's shape
BOT_ID = 123456789
BOT_USERNAME = "aftercare_test_bot"
BOT_FIRST_NAME = "Aftercare Test Bot"
GROUP_USER_ID = 424242

# Form values python-telegram-bot sends verbatim; every other form value is JSON-encoded by PTB
# (numbers, booleans, objects), so it is decoded back.
_STRING_PARAMS = frozenset(
    {
        "action",
        "animation",
        "audio",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "document",
        "file_id",
        "inline_message_id",
        "ip_address",
        "message_effect_id",
        "parse_mode",
        "photo",
        "secret_token",
        "text",
        "url",
        "video",
        "voice",
    }
)
# Parameters that hold JSON objects, parsed even when a JSON body carries them as strings.
_JSON_PARAMS = frozenset(
    {
        "allowed_updates",
        "caption_entities",
        "entities",
        "link_preview_options",
        "reply_markup",
        "reply_parameters",
    }
)


class ApiError(Exception):
    """A Bot API error answer: HTTP status, description and optional response parameters."""

    def __init__(self, status: int, description: str, parameters: Json | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _now() -> int:
    return int(time.time())


def _utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _command_entities(text: str) -> list[Json]:
    """A ``bot_command`` entity for text starting with ``/``, as Telegram sends it."""
    if not text.startswith("/") or len(text) < 2:
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]


def _decode_form_value(key: str, value: str) -> Any:
    """Undo python-telegram-bot's form encoding: non-string values arrive JSON-dumped."""
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _error_body(status: int, description: str, parameters: Json | None = None) -> Json:
    body: Json = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


def _error_response(status: int, description: str, parameters: Json | None = None) -> web.Response:
    return web.json_response(_error_body(status, description, parameters), status=status)


class FakeTelegramApi:
    """Fake Bot API server: ``start()``/``stop()`` (or ``with``), ``push_*`` updates, inspect ``sent``."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_id: int = BOT_ID,
        bot_username: str = BOT_USERNAME,
        bot_first_name: str = BOT_FIRST_NAME,
    ) -> None:
        self.token = token
        self.bot_user: Json = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.port: int | None = None

        # One lock guards all shared state; the condition also signals new calls to wait_for().
        self._cond = threading.Condition()
        self._calls: list[Json] = []
        self._updates: list[Json] = []
        self._messages: dict[tuple[int | str, int], Json] = {}
        self._chats: dict[int | str, Json] = {}
        self._files: dict[str, Json] = {}
        self._paths: dict[str, bytes] = {}
        self._failures: dict[str, deque[tuple[int, str | None]]] = {}
        self._webhook: Json = {"url": ""}
        self.commands: list[Json] = []
        self._next_update_id = 1
        self._next_message_id = 1
        self._next_file = 1
        self._next_callback = 1

        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._update_event: asyncio.Event | None = None
        self._closing = False
        # Like Telegram: a getUpdates ends any long poll still waiting with 409 (two pollers).
        self._poll_generation = 0
        self.poll_conflicts = 0

        handlers: dict[str, Callable[[Json], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "logOut": self._return_true,
            "close": self._return_true,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "sendPhoto": self._send_photo,
            "getFile": self._get_file,
            "setMyCommands": self._set_my_commands,
        }
        # Bot API method names are case-insensitive.
        self._methods = {name.lower(): (name, handler) for name, handler in handlers.items()}

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeTelegramApi:
        """Start serving on a free 127.0.0.1 port in a background thread."""
        if self._thread is not None:
            raise RuntimeError("FakeTelegramApi is already running")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._startup())
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._closing = False
        self._loop = loop
        self._thread = threading.Thread(target=serve, name="fake-telegram-api", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("FakeTelegramApi did not start within 10 s")
        if failure:
            self._thread.join()
            self._thread = self._loop = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Release long polls, shut the server down and join its thread."""
        if self._thread is None or self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = self._loop = None
        self.port = None

    def __enter__(self) -> FakeTelegramApi:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Value for PTB's ``base_url`` (PTB appends the token)."""
        return f"http://127.0.0.1:{self._require_port()}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for PTB's ``base_file_url`` (PTB appends the token)."""
        return f"http://127.0.0.1:{self._require_port()}/file/bot"

    def _require_port(self) -> int:
        if self.port is None:
            raise RuntimeError("FakeTelegramApi is not running; call start() first")
        return self.port

    async def _startup(self) -> None:
        self._update_event = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def _shutdown(self) -> None:
        self._closing = True
        self._wake_pollers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ----------------------------------------------------------------- test controls

    @property
    def sent(self) -> list[Json]:
        """Every authorised call so far, oldest first: ``{"method": ..., "params": {...}}``."""
        with self._cond:
            return copy.deepcopy(self._calls)

    @property
    def pending_updates(self) -> int:
        """How many queued updates getUpdates has not yet seen confirmed."""
        with self._cond:
            return len(self._updates)

    def calls(self, method: str) -> list[Json]:
        """The recorded calls of one method."""
        return [call for call in self.sent if call["method"].lower() == method.lower()]

    def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        predicate: Predicate | None = None,
    ) -> list[Json]:
        """Block until ``count`` calls of ``method`` (matching ``predicate``) arrived; return all matches.

        Blocks the calling thread: from a coroutine on the bot's event loop use ``wait_for_async``.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                matches = [
                    copy.deepcopy(call)
                    for call in self._calls
                    if call["method"].lower() == method.lower()
                    and (predicate is None or predicate(call))
                ]
                if len(matches) >= count:
                    return matches
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} {method} call(s) within {timeout} s, "
                        f"got {len(matches)} matching; received: {self._describe_calls()}"
                    )
                self._cond.wait(remaining)

    async def wait_for_async(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        predicate: Predicate | None = None,
    ) -> list[Json]:
        """``wait_for`` without blocking the caller's event loop."""
        return await asyncio.to_thread(self.wait_for, method, count, timeout, predicate)

    def fail_next(
        self, method: str, times: int = 1, status: int = 500, description: str | None = None
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with HTTP ``status`` (429 adds retry_after)."""
        with self._cond:
            queue = self._failures.setdefault(method.lower(), deque())
            queue.extend([(status, description)] * times)

    def push_update(self, update: Json) -> Json:
        """Queue an update for getUpdates, assigning its ``update_id``; returns the queued update."""
        with self._cond:
            queued = {**copy.deepcopy(update), "update_id": self._next_update_id}
            self._next_update_id += 1
            self._updates.append(queued)
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop stopping concurrently
                self._loop.call_soon_threadsafe(self._wake_pollers)
        return copy.deepcopy(queued)

    def push_text(
        self,
        chat_id: int,
        text: str,
        user_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Sam",
    ) -> Json:
        """Queue a text message from a user; ``/commands`` get a bot_command entity."""
        if user_id is None:
            user_id = chat_id if chat_type == "private" else GROUP_USER_ID
        chat: Json = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name
        else:
            chat["title"] = "Test group"
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        with self._cond:
            self._chats[chat_id] = chat
            message: Json = {
                "message_id": self._take_message_id(),
                "from": user,
                "chat": chat,
                "date": _now(),
                "text": text,
            }
            entities = _command_entities(text)
            if entities:
                message["entities"] = entities
            self._messages[(chat_id, message["message_id"])] = message
        return self.push_update({"message": message})

    def push_callback(
        self, chat_id: int, data: str, message_id: int, user_id: int | None = None
    ) -> Json:
        """Queue an inline-button press on bot message ``message_id`` in ``chat_id``."""
        chat = self._chat_for(chat_id)
        if user_id is None:
            user_id = chat_id if chat["type"] == "private" else GROUP_USER_ID
        first_name = chat.get("first_name", "Sam")
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        with self._cond:
            message = self._messages.get((chat["id"], message_id))
            if message is None:  # a button on a message this fake never saw: invent it
                message = {
                    "message_id": message_id,
                    "from": dict(self.bot_user),
                    "chat": chat,
                    "date": _now(),
                    "text": "",
                }
                self._messages[(chat["id"], message_id)] = message
            callback = {
                "id": str(self._next_callback),
                "from": user,
                "message": copy.deepcopy(message),
                "chat_instance": str(zlib.crc32(str(chat["id"]).encode())),
                "data": data,
            }
            self._next_callback += 1
        return self.push_update({"callback_query": callback})

    def add_file(self, file_id: str, data: bytes, file_path: str | None = None) -> str:
        """Register bytes for getFile / file download; returns the file_path."""
        with self._cond:
            if file_path is None:
                file_path = f"documents/file_{self._next_file}"
                self._next_file += 1
            self._files[file_id] = {
                "file_id": file_id,
                "file_unique_id": f"u{zlib.crc32(file_id.encode()):08x}",
                "file_size": len(data),
                "file_path": file_path,
            }
            self._paths[file_path] = bytes(data)
        return file_path

    # ----------------------------------------------------------------- HTTP plumbing

    async def _handle_method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error_response(401, "Unauthorized")
        name = request.match_info["method"]
        canonical, handler = self._methods.get(name.lower(), (name, None))
        params = await self._read_params(request)
        with self._cond:
            self._calls.append({"method": canonical, "params": params})
            failure = self._take_failure(canonical)
            self._cond.notify_all()
        if handler is None:
            return _error_response(404, f"Not Found: method {name}")
        if failure is not None:
            return self._failure_response(*failure)
        try:
            result = await handler(params)
        except ApiError as exc:
            return _error_response(exc.status, exc.description, exc.parameters)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error_response(401, "Unauthorized")
        with self._cond:
            data = self._paths.get(request.match_info["path"])
        if data is None:
            return _error_response(404, "Not Found")
        return web.Response(body=data, content_type="application/octet-stream")

    async def _read_params(self, request: web.Request) -> Json:
        """Parameters from the query string and a JSON, urlencoded or multipart body."""
        params: Json = {key: _decode_form_value(key, value) for key, value in request.query.items()}
        if not request.body_exists:
            return params
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                for key, value in body.items():
                    if key in _JSON_PARAMS and isinstance(value, str):
                        value = _decode_form_value(key, value)
                    params[key] = value
            return params
        files: Json = {}
        for key, value in (await request.post()).items():
            if isinstance(value, FileField):
                files[key] = {
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "data": value.file.read(),
                }
            else:
                params[key] = _decode_form_value(key, str(value))
        for key, value in list(params.items()):  # resolve attach://<name> references
            if isinstance(value, str) and value.startswith("attach://"):
                attached = files.pop(value.removeprefix("attach://"), None)
                if attached is not None:
                    params[key] = attached
        params.update(files)
        return params

    def _take_failure(self, method: str) -> tuple[int, str | None] | None:
        queue = self._failures.get(method.lower())
        return queue.popleft() if queue else None

    @staticmethod
    def _failure_response(status: int, description: str | None) -> web.Response:
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            return _error_response(
                status, description or "Too Many Requests: retry after 1", {"retry_after": 1}
            )
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return _error_response(status, description or f"{phrase}: injected failure")

    def _describe_calls(self) -> str:
        """A short summary of received calls for assertion messages (lock held)."""
        polls = sum(1 for call in self._calls if call["method"] == "getUpdates")
        others = [
            f"{call['method']}({_summarise(call['params'])})"
            for call in self._calls
            if call["method"] != "getUpdates"
        ]
        return f"{polls} getUpdates; " + ("; ".join(others) if others else "no other calls")

    def _wake_pollers(self) -> None:
        """Release every pending getUpdates (runs on the server loop)."""
        if self._update_event is not None:
            self._update_event.set()
            self._update_event = asyncio.Event()

    # ----------------------------------------------------------------- helpers for objects

    def _take_message_id(self) -> int:
        message_id = self._next_message_id
        self._next_message_id += 1
        return message_id

    def _store_photo(self, data: bytes) -> str:
        """Register an uploaded photo under a fresh file_id."""
        with self._cond:
            file_id = f"photo_{self._next_file}"
            self._next_file += 1
        self.add_file(file_id, data, f"photos/{file_id}.jpg")
        return file_id

    def _chat_for(self, chat_id: Any) -> Json:
        """The Chat object for a ``chat_id`` parameter."""
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        with self._cond:
            known = self._chats.get(chat_id)
        if known is not None:
            return dict(known)
        if isinstance(chat_id, bool) or not isinstance(chat_id, int | str):
            raise ApiError(400, "Bad Request: chat not found")
        if isinstance(chat_id, int):
            if chat_id > 0:
                return {"id": chat_id, "type": "private", "first_name": "Sam"}
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            return {"id": chat_id, "type": kind, "title": "Test group"}
        if chat_id.startswith("@") and len(chat_id) > 1:
            channel_id = -1_000_000_000_000 - zlib.crc32(chat_id.encode())
            return {"id": channel_id, "type": "channel", "title": chat_id, "username": chat_id[1:]}
        raise ApiError(400, "Bad Request: chat not found")

    def _new_message(self, chat: Json, fields: Json, reply_markup: Any) -> Json:
        """Store and return a message sent by the bot."""
        with self._cond:
            message: Json = {
                "message_id": self._take_message_id(),
                "from": dict(self.bot_user),
                "chat": chat,
                "date": _now(),
                **fields,
            }
            _apply_reply_markup(message, reply_markup)
            self._messages[(chat["id"], message["message_id"])] = message
            return copy.deepcopy(message)

    def _quoted_message(self, chat: Json, params: Json) -> Json | None:
        """The message a send replies to, if the bot asked to reply to a known one."""
        reply = params.get("reply_parameters")
        message_id = reply.get("message_id") if isinstance(reply, dict) else None
        message_id = message_id or params.get("reply_to_message_id")
        with self._cond:
            quoted = self._messages.get((chat["id"], message_id)) if message_id else None
            return (
                copy.deepcopy({k: v for k, v in quoted.items() if k != "reply_to_message"})
                if quoted
                else None
            )

    def _edit(self, params: Json, changes: Json, reply_markup: Any) -> Json | bool:
        """Apply an edit to a stored message; inline messages just answer True."""
        if params.get("inline_message_id"):
            return True
        chat = self._chat_for(params.get("chat_id"))
        message_id = params.get("message_id")
        with self._cond:
            message = self._messages.get((chat["id"], message_id))
            if message is None:
                raise ApiError(400, "Bad Request: message to edit not found")
            message.update(changes)
            message["edit_date"] = _now()
            _apply_reply_markup(message, reply_markup)
            return copy.deepcopy(message)

    # ----------------------------------------------------------------- Bot API methods

    async def _return_true(self, params: Json) -> bool:
        return True

    async def _get_me(self, params: Json) -> Json:
        return dict(self.bot_user)

    async def _delete_webhook(self, params: Json) -> bool:
        with self._cond:
            self._webhook = {"url": ""}
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return True

    async def _set_webhook(self, params: Json) -> bool:
        url = params.get("url", "")
        if not isinstance(url, str):
            raise ApiError(400, "Bad Request: bad webhook: invalid URL")
        with self._cond:
            self._webhook = {
                "url": url,
                **{
                    key: params[key]
                    for key in ("max_connections", "allowed_updates", "ip_address")
                    if key in params
                },
            }
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return True

    async def _get_webhook_info(self, params: Json) -> Json:
        with self._cond:
            return {
                **self._webhook,
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }

    async def _get_updates(self, params: Json) -> list[Json]:
        with self._cond:
            if self._webhook.get("url"):
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._poll_generation += 1  # this server's loop only: no lock needed
        generation = self._poll_generation
        self._wake_pollers()
        while True:
            if generation != self._poll_generation:
                with self._cond:
                    self.poll_conflicts += 1
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            event = self._update_event
            batch = self._take_updates(offset, limit)
            remaining = deadline - loop.time()
            if batch or self._closing or remaining <= 0 or event is None:
                return batch
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _take_updates(self, offset: int, limit: int) -> list[Json]:
        """Confirm updates before ``offset`` (negative: keep the last -offset) and return a batch."""
        with self._cond:
            if offset < 0:
                del self._updates[:offset]
            elif offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            return copy.deepcopy(self._updates[:limit])

    async def _set_my_commands(self, params: Json) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100")
        for command in commands:
            name, description = command.get("command", ""), command.get("description", "")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name) or not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        with self._cond:
            self.commands = copy.deepcopy(commands)
        return True

    async def _send_message(self, params: Json) -> Json:
        chat = self._chat_for(params.get("chat_id"))
        text = params.get("text")
        if text is None or str(text) == "":
            raise ApiError(400, "Bad Request: message text is empty")
        text = str(text)
        if params.get("parse_mode") == "HTML":
            text = parse_html(text)  # what the user sees, or 400 like Telegram
        elif params.get("parse_mode"):
            raise ApiError(400, f"Bad Request: unsupported parse_mode {params['parse_mode']}")
        if _utf16_len(text) > MAX_TEXT_LENGTH:
            raise ApiError(400, "Bad Request: message is too long")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        fields: Json = {"text": text}
        if params.get("entities"):
            fields["entities"] = params["entities"]
        quoted = self._quoted_message(chat, params)
        if quoted:
            fields["reply_to_message"] = quoted
        return self._new_message(chat, fields, params.get("reply_markup"))

    async def _send_chat_action(self, params: Json) -> bool:
        self._chat_for(params.get("chat_id"))
        if not params.get("action"):
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _edit_message_text(self, params: Json) -> Json | bool:
        text = params.get("text")
        if text is None or str(text) == "":
            raise ApiError(400, "Bad Request: message text is empty")
        changes: Json = {"text": str(text)}
        if params.get("entities"):
            changes["entities"] = params["entities"]
        return self._edit(params, changes, params.get("reply_markup"))

    async def _edit_message_reply_markup(self, params: Json) -> Json | bool:
        return self._edit(params, {}, params.get("reply_markup"))

    async def _answer_callback_query(self, params: Json) -> bool:
        if not params.get("callback_query_id"):
            raise ApiError(400, "Bad Request: query is too old and response timeout expired")
        return True

    async def _send_photo(self, params: Json) -> Json:
        chat = self._chat_for(params.get("chat_id"))
        photo = params.get("photo")
        with self._cond:
            known = self._files.get(photo) if isinstance(photo, str) else None
        if known is not None:
            file_id = known["file_id"]
        elif isinstance(photo, dict) and isinstance(photo.get("data"), bytes):
            file_id = self._store_photo(photo["data"])
        elif isinstance(photo, str) and photo.startswith(("http://", "https://")):
            file_id = self._store_photo(b"")  # the fake does not fetch URLs
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        with self._cond:
            info = self._files[file_id]
        size = {
            "file_id": info["file_id"],
            "file_unique_id": info["file_unique_id"],
            "file_size": info["file_size"],
            "width": 640,
            "height": 480,
        }
        fields: Json = {"photo": [size]}
        if params.get("caption"):
            fields["caption"] = str(params["caption"])
        if params.get("caption_entities"):
            fields["caption_entities"] = params["caption_entities"]
        return self._new_message(chat, fields, params.get("reply_markup"))

    async def _get_file(self, params: Json) -> Json:
        with self._cond:
            info = self._files.get(params.get("file_id"))
        if info is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return dict(info)


MAX_TEXT_LENGTH = 4096
_HTML_TAGS = frozenset(
    "b strong i em u ins s strike del span tg-spoiler a code pre blockquote tg-emoji".split()
)
_HTML_TOKEN = re.compile(r"<(/?)([a-zA-Z-]+)([^<>]*)>|&(#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot);|[<>&]")


def parse_html(text: str) -> str:
    """The visible text of a `parse_mode=HTML` message, or the 400 Telegram answers: only its
    tags, balanced; every other <, > and & written as an entity."""
    plain, stack, position = [], [], 0
    for match in _HTML_TOKEN.finditer(text):
        plain.append(text[position : match.start()])
        position = match.end()
        closing, tag, _attrs, entity = match.groups()
        if entity:
            plain.append(html.unescape(match.group(0)))
        elif tag:
            tag = tag.lower()
            if tag not in _HTML_TAGS:
                raise ApiError(
                    400, f'Bad Request: can\'t parse entities: unsupported start tag "{tag}"'
                )
            if not closing:
                stack.append(tag)
            elif not stack or stack.pop() != tag:
                raise ApiError(
                    400, f'Bad Request: can\'t parse entities: unmatched end tag "{tag}"'
                )
        else:
            raise ApiError(
                400,
                f"Bad Request: can't parse entities: unescaped {match.group(0)!r} at byte "
                f"offset {len(text[: match.start()].encode())}",
            )
    if stack:
        raise ApiError(
            400, f"Bad Request: can't parse entities: can't find end tag \"{stack[-1]}\""
        )
    plain.append(text[position:])
    return "".join(plain)


def _apply_reply_markup(message: Json, reply_markup: Any) -> None:
    """Messages carry only inline keyboards; other markups (or none) leave no reply_markup."""
    if isinstance(reply_markup, dict) and "inline_keyboard" in reply_markup:
        message["reply_markup"] = copy.deepcopy(reply_markup)
    else:
        message.pop("reply_markup", None)


def _summarise(params: Json, limit: int = 120) -> str:
    """Params as a short string, with uploaded bytes replaced by their size."""
    shown = {
        key: (
            f"<{len(value['data'])} bytes>"
            if isinstance(value, dict) and "data" in value
            else value
        )
        for key, value in params.items()
    }
    text = json.dumps(shown, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."
