"""Small numbers as clients write them ("two days", "a week", "48"), from the clinic's words."""

from __future__ import annotations

import re

from bot.kb.model import Language


class Numbers:
    """Number words and ordinals of one `Language`, and the regex that finds them."""

    def __init__(self, language: Language):
        self.words = dict(language.numbers)
        self.ordinals = dict(language.ordinals)
        # Longest first, so "forty eight" wins over "a".
        self.pattern = "|".join(
            sorted((re.escape(w).replace(r"\ ", r"\s+") for w in self.words), key=len, reverse=True)
        )

    def to_int(self, token: str) -> int | None:
        """Digits or a number word; None if it is neither."""
        token = " ".join(token.lower().replace("-", " ").split())
        if token.isdigit():
            return int(token)
        return self.words.get(token) or self.words.get(token.replace(" ", "-"))
