"""Turning bot replies into Telegram messages: escaping, splitting and keyboards.

Pure functions, no network: the Telegram channel and its tests share them.
"""

from __future__ import annotations

import html
import re
from typing import Any

# Telegram refuses a message text longer than 4096 characters (counted after entity parsing,
# in UTF-16 code units for characters outside the Basic Multilingual Plane).
MAX_MESSAGE_LENGTH = 4096
# Telegram's limit on an inline button's callback data, in bytes.
MAX_CALLBACK_BYTES = 64
_BREAKS = ("\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " ")


def utf16_length(text: str) -> int:
    """How long Telegram considers `text` to be."""
    return len(text.encode("utf-16-le")) // 2


def _fits(text: str, limit: int) -> int:
    """The largest prefix length of `text` (in characters) that fits `limit` UTF-16 units."""
    if utf16_length(text) <= limit:
        return len(text)
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Split a reply into messages of at most `limit`, at the best break that fits:
    a paragraph, a line, a sentence, a word, or (for one giant word) anywhere."""
    parts: list[str] = []
    rest = text.strip()
    while rest:
        cut = _fits(rest, limit)
        if cut == len(rest):
            parts.append(rest)
            break
        window = rest[:cut]
        split_at = -1
        for separator in _BREAKS:
            found = window.rfind(separator)
            if found > cut // 4:  # never leave a tiny fragment for a far-away break
                split_at = found + len(separator.rstrip(" ")) if separator.strip() else found
                break
        if split_at <= 0:
            split_at = cut
        parts.append(rest[:split_at].rstrip())
        rest = rest[split_at:].lstrip()
    return [part for part in parts if part]


def to_html(text: str) -> str:
    """Text for `parse_mode=HTML`: whatever the KB or the client wrote shows as written
    (no Markdown or HTML from a clinic's answer can break the message)."""
    return html.escape(text, quote=False)


_PAYLOAD = re.compile(r"^/[A-Za-z0-9_]{1,60}$")


def button_rows(buttons: list[dict[str, Any]]) -> list[list[dict[str, str]]]:
    """Rasa buttons as inline-keyboard rows: short ones side by side, long ones on their own
    row. A button's payload travels as its callback data (the title if the payload is too long)."""
    rows: list[list[dict[str, str]]] = []
    for button in buttons:
        title = str(button.get("title") or button.get("payload") or "")
        payload = str(button.get("payload") or title)
        if len(payload.encode()) > MAX_CALLBACK_BYTES:
            payload = title.encode()[:MAX_CALLBACK_BYTES].decode(errors="ignore")
        item = {"text": title, "callback_data": payload}
        if rows and len(rows[-1]) < 2 and len(title) <= 20 and len(rows[-1][0]["text"]) <= 20:
            rows[-1].append(item)
        else:
            rows.append([item])
    return rows


def is_intent_payload(data: str) -> bool:
    """Whether callback data looks like a Rasa intent payload ("/affirm")."""
    return bool(_PAYLOAD.match(data))
