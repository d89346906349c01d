"""Client text as Rasa gets it, the same on every channel (widget and Telegram)."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["clean_text"]

_LEADING = re.compile(r"^[\s/]+")


def clean_text(text: str) -> str:
    """A client's typed message as Rasa gets it.

    Control characters go (newlines and tabs become spaces), and leading slashes are removed:
    Rasa reads "/intent{...}" as an intent with entities, which a client must not be able to
    forge by typing it.
    """
    kept = []
    for char in text:
        if char in "\n\r\t":
            kept.append(" ")
        elif unicodedata.category(char) not in ("Cc", "Cf") or char == "\u200d":
            kept.append(char)
    # Slashes and spaces in any order ("/ /affirm"): Rasa strips the text before reading it.
    return _LEADING.sub("", " ".join("".join(kept).split()))
