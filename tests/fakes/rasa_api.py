"""A fake of the part of Rasa's HTTP API the staff inbox uses (conversation events, running
an action), on 127.0.0.1 in a background thread. It records what it was asked and keeps each
conversation's events, so the inbox's transcript reads back what was written."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from aiohttp import web

from bot.serve.harness import free_port


class FakeRasaApi:
    """Rasa's /conversations API as far as the inbox needs it; `down` makes it answer 503."""

    def __init__(self) -> None:
        self.port = free_port()
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.actions: list[tuple[str, str, dict]] = []  # (sender, action, slots set before it)
        self.down = False
        self._slots: dict[str, dict] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_event(self, sender: str, event: dict[str, Any]) -> None:
        """A conversation event as Rasa would have stored it (stamped now if not)."""
        self.events.setdefault(sender, []).append({"timestamp": time.time(), **event})

    def checkins_sent(self) -> list[tuple[str, int, str]]:
        """(sender, due-table row id, key) of every `action_checkin` run, in order."""
        return [
            (sender, slots["checkin"]["id"], slots["checkin"]["key"])
            for sender, action, slots in self.actions
            if action == "action_checkin"
        ]

    def staff_events(self) -> list[dict]:
        """What `action_staff_event` was asked to say, in order."""
        return [slots["staff_event"] for _, action, slots in self.actions if "staff_event" in slots]

    async def _events(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503)
        sender = request.match_info["sender"]
        if request.method == "GET":
            return web.json_response({"sender_id": sender, "events": self.events.get(sender, [])})
        for event in await request.json():
            if event.get("event") == "slot":
                self._slots.setdefault(sender, {})[event["name"]] = event["value"]
            self.add_event(sender, event)
        return web.json_response({})

    async def _execute(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503)
        sender, name = request.match_info["sender"], (await request.json())["name"]
        if name != "action_listen":
            slots = self._slots.pop(sender, {})
            self.actions.append((sender, name, slots))
            if name == "action_checkin":
                # As the real action: the check-in's words, marked with the due-table row.
                checkin = slots.get("checkin") or {}
                text = f"check-in {checkin.get('key')}"
                self.add_event(
                    sender,
                    {
                        "event": "bot",
                        "text": text,
                        "metadata": {
                            "checkin": checkin.get("id"),
                            "checkin_try": checkin.get("try"),
                        },
                    },
                )
            else:
                event = slots.get("staff_event") or {}
                text = f"{event.get('staff_name')}: {event.get('text')}"
                self.add_event(sender, {"event": "bot", "text": text, "metadata": {}})
        return web.json_response({"messages": []})

    def start(self) -> FakeRasaApi:
        app = web.Application()
        app.router.add_route("*", "/conversations/{sender}/tracker/events", self._events)
        app.router.add_get("/conversations/{sender}/tracker", self._events)
        app.router.add_post("/conversations/{sender}/execute", self._execute)
        self._loop, self._runner = start_app(app, self.port)
        return self

    def stop(self) -> None:
        stop_app(self._loop, self._runner)


def start_app(app: web.Application, port: int):
    """Serve an aiohttp app on 127.0.0.1:`port` in a thread of its own; (loop, runner)."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    threading.Thread(target=serve, daemon=True).start()
    if not ready.wait(10):
        raise RuntimeError("the app did not start within 10 s")
    return loop, runner


def stop_app(loop, runner) -> None:
    if loop is None:
        return
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
