"""The inbox's guard (OWASP ASVS level 1): no page or API answers without a session, every
form carries the session's CSRF token, logins are rate limited, and every response says not
to be framed, sniffed or cached."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from aiohttp import web

from bot.storage.staff import StaffAccounts, StaffSession

COOKIE = "aftercare_staff"
LOGIN_COOKIE = "aftercare_login"  # the login form's own CSRF token (before any session)
PUBLIC = ("/login", "/static/", "/healthz")
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; media-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes browsers send Origin: null
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def staff_session(request: web.Request) -> StaffSession:
    """The logged-in staff member of a request (the guard let it through)."""
    return request["session"]


def set_cookie(response: web.StreamResponse, name: str, value: str, secure: bool, age: int):
    response.set_cookie(
        name, value, max_age=age, path="/", httponly=True, samesite="Strict", secure=secure
    )


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens (False when either is missing)."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def login_token(request: web.Request) -> str:
    """The login form's CSRF token: the one in the browser's cookie, or a new one."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)


def _origin(value: str) -> tuple[str, str, int | None] | None:
    """An origin as (scheme, host, port), any case, default ports dropped; None if it is not
    one."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    return (
        scheme,
        parts.hostname.lower(),
        None if port == {"http": 80, "https": 443}.get(scheme) else port,
    )


def _same_origin(request: web.Request, public_origin: str | None) -> bool:
    """A form post's Origin (when the browser sends one) is this site: the configured public
    origin (scheme, host and port) behind a proxy; else the host the request names (a proxy
    may end TLS, so the scheme is not compared)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # older browsers send none: the CSRF token still protects the form
    theirs = _origin(origin)
    if theirs is None:
        return False
    if public_origin:
        return theirs == _origin(public_origin)
    host = f"{theirs[1]}:{theirs[2]}" if theirs[2] else theirs[1]
    return host == request.host.lower()


def guard(
    accounts: StaffAccounts, refusals: dict[str, str], public_origin: str | None = None
) -> Callable:
    """The middleware: find the session, refuse what needs one, check CSRF on every POST
    (`refusals`: the words of each refusal, from the inbox's labels)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        public = request.path == "/login" or request.path.startswith(PUBLIC[1:])
        token = request.cookies.get(COOKIE)
        session = await asyncio.to_thread(accounts.session, token) if token else None
        request["session"] = session
        if request.method == "POST" and not _same_origin(request, public_origin):
            return _headers(web.Response(status=403, text=refusals["cross_site"]))
        if session is None and not public:
            if request.method == "GET" and "fragment" not in request.query:
                target = request.path_qs if request.path != "/" else ""
                location = "/login" + (f"?next={_quote(target)}" if target else "")
                return _headers(web.HTTPSeeOther(location))
            return _headers(web.Response(status=401, text=refusals["log_in_first"]))
        if request.method == "POST" and session is not None and not public:
            form = await request.post()
            if not same(form.get("csrf"), session.csrf):
                return _headers(web.Response(status=403, text=refusals["form_expired"]))
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            return _headers(exc)
        return _headers(response)

    return middleware


def _quote(path: str) -> str:
    return quote(path, safe="")


def _headers(response: web.StreamResponse) -> web.StreamResponse:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def safe_next(target: str | None) -> str:
    """Where to go after logging in (or an action): a path of this site only, nothing that a
    browser could read as another site once spaces or control characters are dropped."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or any(c in target for c in "\\@")
        or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in target)
    ):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def client_address(request: web.Request, behind_proxy: bool) -> str:
    """Who is logging in, for the login limits: behind the HTTPS proxy the address it says
    it forwarded for (the last one, which the proxy itself added), else the connection's."""
    if behind_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        last = forwarded.split(",")[-1].strip()
        if last:
            return last[:64]
    return request.remote or "unknown"
