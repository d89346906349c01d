"""Pure helpers of the website chat channel: conversation ids, origins, colours, history.

Nothing here touches Rasa or the network, so every rule is tested on its own.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

SENDER_PREFIX = "web-"
# Sites allowed to embed the widget, besides clinic/settings.yml (comma-separated).
ORIGINS_ENV = "AFTERCARE_WEB_ORIGINS"
# Levels that put a banner above the chat (the message was passed to staff as a red flag).
BANNER_LEVELS = ("urgent", "emergency")
# What a button title or a shown message is cut to, whatever a client sends.
MAX_TITLE = 200


def new_token() -> str:
    """A new chat's secret: 32 random bytes, URL-safe base64 (the first part of the token
    the browser keeps, see `tokens`)."""
    return secrets.token_urlsafe(32)


def conversation_id_for(token: str) -> str:
    """The Rasa conversation id of a browser token (of its chat part).

    A one-way hash: staff see `web-<hash>` in alerts and logs, and that id cannot be used to
    read or write the conversation, which needs the token itself.
    """
    chat = token.split(".", 1)[0]
    return SENDER_PREFIX + hashlib.sha256(chat.encode()).hexdigest()[:32]


def normalise_origin(origin: str) -> str:
    """`https://Example.com/` → `https://example.com` (how origins are compared)."""
    return origin.strip().rstrip("/").lower()


def origin_allowed(origin: str | None, allowed: Iterable[str]) -> bool:
    """Whether a request's Origin header is one of the allowed sites.

    No Origin header (a non-browser client, or a same-origin GET) is allowed: the check stops
    other websites' pages from using the widget API in their visitors' browsers, which always
    send Origin on these requests. The opaque origin "null" (sandboxed frames, files) is not.
    """
    if origin is None:
        return True
    return normalise_origin(origin) in {normalise_origin(o) for o in allowed}


ORIGIN_PATTERN = re.compile(r"^https?://[a-z0-9.-]+(:\d{1,5})?$", re.IGNORECASE)


def parse_origins(text: str | None) -> tuple[str, ...]:
    """Origins from a comma-separated environment variable (scheme://host[:port] each)."""
    origins = tuple(normalise_origin(o) for o in (text or "").split(",") if o.strip())
    bad = [o for o in origins if not ORIGIN_PATTERN.match(o)]
    if bad:
        raise ValueError(
            f"{ORIGINS_ENV} has entries that are not site addresses (scheme://host[:port], no "
            f"path): {', '.join(bad)}"
        )
    return origins


def _luminance(colour: str) -> float:
    """WCAG relative luminance of #rrggbb."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours (1 to 21)."""
    a, b = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def text_colour_on(background: str) -> str:
    """Black or white, whichever reads better on `background` (always at least 4.5:1)."""
    black, white = "#000000", "#ffffff"
    if contrast_ratio(background, white) >= contrast_ratio(background, black):
        return white
    return black


def _client_text(event: Mapping[str, Any]) -> str | None:
    """What the client sees of their own message: the button title for a button press,
    nothing for an internal request (e.g. the day summary asked when the chat opens)."""
    web = (event.get("metadata") or {}).get("web") or {}
    if isinstance(web, Mapping) and web.get("title"):
        return str(web["title"])[:MAX_TITLE]
    text = event.get("text") or ""
    if not text or text.startswith("/"):
        return None
    return text


def history_messages(
    events: Iterable[Mapping[str, Any]], after: float = 0.0, limit: int = 200, first: int = 0
) -> list[dict[str, Any]]:
    """The chat as the widget shows it, from Rasa tracker events (as dicts), oldest first.

    Each message: `id`, `from` ("client" or "bot"), `text`, `time` (Unix seconds), `buttons`
    (title and payload; only the last bot message's are offered), `escalation` (urgent or
    emergency when the message answered a red flag, else null), `alert_unsent` (staff could
    not be alerted to it from here) and `checkin` (a check-in the bot sent unprompted: its
    quick replies are offered while it may be answered). Only messages after `after`, at most the last `limit`.
    `first`: the index of the first event in the whole conversation (ids are `e<index>`).
    """
    messages: list[dict[str, Any]] = []
    for index, event in enumerate(events, start=first):
        kind, time = event.get("event"), float(event.get("timestamp") or 0)
        if time <= after:
            continue
        if kind == "user":
            text = _client_text(event)
            if text is None:
                continue
            messages.append(
                {
                    "id": f"e{index}",
                    "from": "client",
                    "text": text,
                    "time": time,
                    "buttons": [],
                    "escalation": None,
                    "alert_unsent": False,
                    "checkin": False,
                }
            )
        elif kind == "bot" and event.get("text"):
            data = event.get("data") or {}
            metadata = event.get("metadata") or {}
            buttons = [
                {"title": str(b.get("title", ""))[:MAX_TITLE], "payload": str(b.get("payload", ""))}
                for b in (data.get("buttons") or data.get("quick_replies") or [])
                if isinstance(b, Mapping) and b.get("title")
            ]
            level = metadata.get("escalation")
            messages.append(
                {
                    "id": f"e{index}",
                    "from": "bot",
                    "text": event["text"],
                    "time": time,
                    "buttons": buttons,
                    "escalation": level if level in BANNER_LEVELS else None,
                    "alert_unsent": bool(metadata.get("alert_unsent")),
                    "checkin": metadata.get("checkin") is not None,
                }
            )
    return messages[-limit:] if limit else messages
