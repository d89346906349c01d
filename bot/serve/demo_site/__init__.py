"""A mock clinic website with the chat widget, served by `aftercare run` on localhost.

It shows what a clinic gets: its own pages with the one `<script>` tag added. Pages are
rendered on every request from `clinic/settings.yml` (name, phone, hours, colour), so an edit
shows on reload. It runs on another port than Rasa, so the browser treats it as another site,
as the clinic's real site would be (the widget API checks its origin).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from bot.channels.web.format import text_colour_on
from bot.kb.model import ClinicSettings

# path → (content template, page title)
PAGES = {"/": ("home.html", "Home"), "/aftercare": ("aftercare.html", "Aftercare")}


def _template(name: str) -> str:
    return resources.files("bot.serve.demo_site").joinpath(name).read_text("utf-8")


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", value)
    return template


def widget_tag(bot_url: str) -> str:
    """The line a clinic pastes into its pages."""
    return f'<script src="{bot_url.rstrip("/")}/webhooks/web/widget.js" defer></script>'


def render_page(path: str, clinic: ClinicSettings, bot_url: str) -> str | None:
    """The demo page at `path` (None if there is none), every value HTML-escaped."""
    if path not in PAGES:
        return None
    content, title = PAGES[path]
    values = {
        "clinic_name": html.escape(clinic.name),
        "clinic_phone": html.escape(clinic.phone),
        "opening_hours": html.escape(clinic.opening_hours.text),
    }
    return _fill(
        _template("page.html"),
        {
            **values,
            "page_title": html.escape(title),
            "content": _fill(_template(content), values),
            "snippet": html.escape(widget_tag(bot_url)),
            "widget_src": html.escape(f"{bot_url.rstrip('/')}/webhooks/web/widget.js"),
        },
    )


def render_css(clinic: ClinicSettings) -> str:
    """The site's stylesheet in the clinic's colour."""
    colour = clinic.web.colour
    return _fill(_template("site.css"), {"colour": colour, "text_colour": text_colour_on(colour)})


class DemoSite:
    """The demo site on 127.0.0.1 (a thread of `aftercare run`)."""

    def __init__(self, clinic: Callable[[], ClinicSettings], bot_url: str, port: int = 8080):
        self.clinic, self.bot_url = clinic, bot_url.rstrip("/")
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server hook
                site.handle(self)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return  # quiet: Rasa's log is the one to read

        try:
            self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        except OSError:  # the port is taken: any free one (the banner prints which)
            self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def origins(self) -> tuple[str, str]:
        """The site's origins (both spellings of loopback), for the widget's allowed list."""
        return (f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}")

    def start(self) -> DemoSite:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        if path == "/favicon.ico":
            request.send_response(HTTPStatus.NO_CONTENT)
            request.end_headers()
            return
        try:
            clinic = self.clinic()
            if path == "/site.css":
                body, content_type = render_css(clinic), "text/css; charset=utf-8"
            else:
                body, content_type = (
                    render_page(path, clinic, self.bot_url),
                    "text/html; charset=utf-8",
                )
        except Exception as exc:  # noqa: BLE001 - e.g. a broken settings edit: say so
            request.send_error(HTTPStatus.INTERNAL_SERVER_ERROR, explain=str(exc))
            return
        if body is None:
            request.send_error(HTTPStatus.NOT_FOUND)
            return
        data = body.encode()
        request.send_response(HTTPStatus.OK)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(data)))
        request.send_header("Cache-Control", "no-store")
        request.send_header("X-Content-Type-Options", "nosniff")
        request.send_header("Referrer-Policy", "no-referrer")
        # Scripts only from the bot; the widget's requests only to the bot.
        request.send_header(
            "Content-Security-Policy",
            f"default-src 'none'; script-src {self.bot_url}; connect-src {self.bot_url}; "
            f"style-src 'self' {self.bot_url}; img-src 'self' data:; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'",
        )
        request.end_headers()
        request.wfile.write(data)
