"""The inbox's pages: read what a page shows (one thread call for the database, one call to
Rasa for a transcript), then render its template."""

from __future__ import annotations

import asyncio
import string
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import yaml
from aiohttp import web

from bot.inbox.checkins import checkin_chart, checkin_panel, period_start
from bot.inbox.desk import Desk
from bot.inbox.overview import overview
from bot.inbox.security import staff_session
from bot.inbox.views import (
    VIEWS,
    CheckinMarks,
    channel_of,
    conversation_key,
    queue_items,
    sender_of,
    transcript,
)

LABELS = Path(__file__).parent / "templates" / "labels.yml"
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
OVERVIEW_DAYS = 14


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(text: str, values: dict[str, str]) -> str:
    """A canned reply with its placeholders filled (an unknown one stays as written; a text
    whose braces do not make placeholders is shown as written)."""
    try:
        return string.Formatter().vformat(text, (), _Blank(values))
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):
        return text


class Pages:
    """The GET routes."""

    def __init__(self, desk: Desk, env: jinja2.Environment):
        self.desk, self.env = desk, env
        self.labels = yaml.safe_load(LABELS.read_text(encoding="utf-8"))

    def render(self, template: str, status: int = 200, **context) -> web.Response:
        html = self.env.get_template(template).render(labels=self.labels, **context)
        return web.Response(text=html, status=status, content_type="text/html")

    def page(self, request: web.Request, template: str, **context) -> web.Response:
        session = staff_session(request)
        return self.render(
            template,
            staff=session.staff,
            csrf=session.csrf,
            path=request.path_qs,
            problem=context.pop("problem", None) or request.query.get("problem"),
            **context,
        )

    @staticmethod
    def sender(key: str) -> str:
        sender = sender_of(key)
        if sender is None:
            raise web.HTTPNotFound()
        return sender

    # --- the queue -----------------------------------------------------------------------

    def _queue(self, view: str, staff_id: int) -> list:
        repo = self.desk.escalations
        if view == "mine":
            escalations = repo.list("open") + repo.list("acknowledged")
        else:
            escalations = repo.list(view)[:200]
        failed = repo.failed_deliveries()
        return queue_items(view, escalations, self.desk.handoffs.all(), failed, staff_id)

    async def queue(self, request: web.Request) -> web.Response:
        view = request.query.get("view", "open")
        view = view if view in VIEWS else "open"
        staff = staff_session(request).staff
        items = await asyncio.to_thread(self._queue, view, staff.id)
        template = "queue_items.html" if "fragment" in request.query else "queue.html"
        now = datetime.now(timezone.utc)
        return self.page(request, template, view=view, views=VIEWS, items=items, now=now)

    # --- one conversation ------------------------------------------------------------------

    def _conversation(self, sender: str) -> dict:
        d = self.desk
        escalations = d.escalations.for_sender(sender)
        return {
            "escalations": escalations,
            "deliveries": {e.id: d.escalations.deliveries(e.id) for e in escalations},
            "photos": {e.id: [p.id for p in d.escalations.photos(e.id)] for e in escalations},
            "owner": d.handoffs.owner(sender),
            "staff_messages": d.handoffs.messages(sender),
            "client": d.clients.client_for(sender),
            "treatment": d.handoffs.treatment(sender),
            "checkin_rows": d.checkins.listing(sender_id=sender),
            "checkins_off": d.checkins.opted_out(sender),
        }

    async def conversation(self, request: web.Request, problem=None, draft="") -> web.Response:
        key = request.match_info["key"]
        sender = self.sender(key)
        data = await asyncio.to_thread(self._conversation, sender)
        try:
            events, rasa_down = await self.desk.rasa.events(sender), False
        except Exception:  # noqa: BLE001 - the page still shows what the database knows
            events, rasa_down = [], True
        clinic = self.desk.store.current()
        settings, rows = clinic.settings, data.pop("checkin_rows")
        marks = CheckinMarks.of(rows, clinic.checkins)
        lines = transcript(events, data.pop("staff_messages"), ZoneInfo(settings.time_zone), marks)
        if "fragment" in request.query:
            if rasa_down:  # the page keeps what it shows
                raise web.HTTPServiceUnavailable()
            return self.page(request, "transcript.html", lines=lines)
        staff = staff_session(request).staff
        checkins = checkin_panel(rows, data.pop("checkins_off"), settings.time_zone)
        client = data["client"]
        values = {
            **settings.placeholders(),
            "staff_name": staff.name,
            "client_name": client.name if client else "",
        }
        canned = [(title, fill(text, values)) for title, text in settings.inbox.canned_replies]
        return self.page(
            request,
            "conversation.html",
            key=key,
            sender=sender,
            channel=channel_of(sender),
            lines=lines,
            rasa_down=rasa_down,
            canned=canned,
            checkins=checkins,
            draft=draft,
            problem=problem,
            **data,
        )

    async def photo(self, request: web.Request) -> web.Response:
        photo = await asyncio.to_thread(self.desk.escalations.photo, int(request.match_info["id"]))
        if photo is None or photo.content_type not in IMAGE_TYPES:
            raise web.HTTPNotFound()
        return web.Response(body=photo.data, content_type=photo.content_type)

    # --- overview, clients, audit ----------------------------------------------------------

    def _overview(self) -> list:
        settings = self.desk.store.current().settings
        now = datetime.now(timezone.utc)
        turns = self.desk.stats.since(OVERVIEW_DAYS + 1)
        escalations = self.desk.escalations.list(None)
        labels = self.labels["charts"]
        charts = overview(turns, escalations, now, settings.time_zone, labels, days=OVERVIEW_DAYS)
        since = period_start(now, settings.time_zone, OVERVIEW_DAYS)
        shares = self.desk.checkins.shares(since)
        return [*charts, checkin_chart(shares, OVERVIEW_DAYS, labels)]

    async def overview(self, request: web.Request) -> web.Response:
        charts = await asyncio.to_thread(self._overview)
        return self.page(request, "overview.html", charts=charts)

    async def clients(self, request: web.Request) -> web.Response:
        zone = self.desk.store.current().settings.time_zone
        clients = await asyncio.to_thread(self.desk.clients.list, zone)
        return self.page(
            request, "clients.html", clients=clients, key=conversation_key, channel_of=channel_of
        )

    async def audit(self, request: web.Request) -> web.Response:
        if not staff_session(request).staff.is_admin:
            return self.page(request, "forbidden.html", status=403)
        entries = await asyncio.to_thread(self.desk.audit.recent, 500)
        return self.page(request, "audit.html", entries=entries, key=conversation_key)
