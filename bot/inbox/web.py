"""The staff inbox's web app (aiohttp, server-rendered with Jinja2): login, the queue, a
conversation, the overview and the audit log. Every route but /login, /static and /healthz
needs a session (`bot.inbox.security`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import jinja2
from aiohttp import web

from bot.inbox.desk import Desk
from bot.inbox.pages import Pages
from bot.inbox.security import (
    COOKIE,
    LOGIN_COOKIE,
    client_address,
    guard,
    login_token,
    safe_next,
    set_cookie,
    staff_session,
)
from bot.storage.staff import SESSION_HOURS

HERE = Path(__file__).parent
MAX_BODY = 64 * 1024  # a form: a reply or a note at most


def templates() -> jinja2.Environment:
    """The page templates; everything they show is escaped unless marked safe."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class InboxApp:
    """Routes: each reads the form, makes one call to the desk, and redirects or renders."""

    def __init__(self, desk: Desk, secure_cookies: bool, public_origin: str | None = None):
        """`secure_cookies`: served through a HTTPS proxy (it also tells who logs in, by
        X-Forwarded-For); `public_origin`: the inbox's address as browsers see it."""
        self.desk, self.secure, self.origin = desk, secure_cookies, public_origin
        self.pages = Pages(desk, templates())

    def app(self) -> web.Application:
        middleware = guard(self.desk.accounts, self.pages.labels["refusals"], self.origin)
        app = web.Application(middlewares=[middleware], client_max_size=MAX_BODY)
        r = app.router
        r.add_get("/healthz", lambda request: web.Response(text="ok"))
        r.add_static("/static/", HERE / "static")
        r.add_get("/login", self.login_page)
        r.add_post("/login", self.login)
        r.add_post("/logout", self.logout)
        r.add_get("/", self.pages.queue)
        r.add_get("/c/{key}", self.pages.conversation)
        r.add_post("/c/{key}/{what}", self.conversation_action)
        r.add_post("/e/{id:\\d+}/{what}", self.escalation_action)
        r.add_get("/photo/{id:\\d+}", self.pages.photo)
        r.add_get("/overview", self.pages.overview)
        r.add_get("/clients", self.pages.clients)
        r.add_get("/audit", self.pages.audit)
        return app

    # --- logging in and out ----------------------------------------------------------------

    async def login_page(self, request: web.Request, problem: str | None = None, status=200):
        token = login_token(request)
        response = self.pages.render(
            "login.html",
            csrf=token,
            problem=problem,
            next=request.query.get("next", ""),
            status=status,
        )
        set_cookie(response, LOGIN_COOKIE, token, self.secure, 3600)
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
        cookie = request.cookies.get(LOGIN_COOKIE)
        if not cookie or form.get("csrf") != cookie:
            return await self.login_page(request, "expired", status=403)
        address = client_address(request, behind_proxy=self.secure)
        accounts = self.desk.accounts
        if await asyncio.to_thread(accounts.limited, name, address):
            return await self.login_page(request, "limited", status=429)
        result = await asyncio.to_thread(accounts.log_in, name, password, address)
        if result is None:
            return await self.login_page(request, "wrong", status=401)
        token, session = result
        await asyncio.to_thread(self.desk.audit.record, session.staff.name, "log_in")
        response = web.HTTPSeeOther(safe_next(str(form.get("next", ""))))
        set_cookie(response, COOKIE, token, self.secure, SESSION_HOURS * 3600)
        response.del_cookie(LOGIN_COOKIE, path="/")
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        session = staff_session(request)
        await asyncio.to_thread(self.desk.accounts.log_out, request.cookies.get(COOKIE))
        await asyncio.to_thread(self.desk.audit.record, session.staff.name, "log_out")
        response = web.HTTPSeeOther("/login")
        response.del_cookie(COOKIE, path="/")
        return response

    # --- what staff do -------------------------------------------------------------------

    async def conversation_action(self, request: web.Request) -> web.StreamResponse:
        """claim, take_over, reply, note, hand_back: then back to the conversation."""
        key, what = request.match_info["key"], request.match_info["what"]
        sender = self.pages.sender(key)
        staff, form = staff_session(request).staff, await request.post()
        text = str(form.get("text", ""))
        actions = {
            "claim": lambda: self.desk.claim(staff, sender),
            "take_over": lambda: self.desk.claim(staff, sender, take_over=True),
            "reply": lambda: self.desk.reply(staff, sender, text),
            "note": lambda: self.desk.note(staff, sender, text),
            "hand_back": lambda: self.desk.hand_back(staff, sender),
        }
        if what not in actions:
            raise web.HTTPNotFound()
        done = await actions[what]()
        if done.problem and what in ("reply", "note"):
            # Nothing typed is lost: the page comes back with the text in the box.
            return await self.pages.conversation(request, problem=done.problem, draft=text)
        suffix = f"?problem={done.problem}" if done.problem else ""
        return web.HTTPSeeOther(f"/c/{key}{suffix}")

    async def escalation_action(self, request: web.Request) -> web.StreamResponse:
        """acknowledge or resolve an escalation, then back to where staff were."""
        escalation_id, what = int(request.match_info["id"]), request.match_info["what"]
        staff = staff_session(request).staff
        if what == "acknowledge":
            done = await self.desk.acknowledge(staff, escalation_id)
        elif what == "resolve":
            done = await self.desk.resolve(staff, escalation_id)
        else:
            raise web.HTTPNotFound()
        form = await request.post()
        back = safe_next(str(form.get("back", "/")))
        joiner = "&" if "?" in back else "?"
        return web.HTTPSeeOther(back + (f"{joiner}problem={done.problem}" if done.problem else ""))


async def sweep_forever(desk: Desk, every: float = 30.0) -> None:
    """Give quiet hand-offs back to the bot, every `every` seconds."""
    while True:
        try:
            await desk.sweep()
        except Exception as exc:  # noqa: BLE001 - the database may be restarting: next time
            import logging

            logging.getLogger(__name__).warning("Hand-off sweep failed (%s)", type(exc).__name__)
        await asyncio.sleep(every)
