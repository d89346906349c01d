"""Split a client's message into its clauses: sentences, and the parts of a sentence joined
by "but", "and can I", "also"... ("can I wear makeup tomorrow and is oozing normal?").

A long story hides one worrying clause; two questions share one message. Reading each clause
on its own, as well as the whole message, finds both.
"""

from __future__ import annotations

import re

MIN_WORDS = 3
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+|\s+[-–—]\s+")
# A new question or statement starts: "..., and can I", "... but my face is", "... also is it"
_JOIN = re.compile(
    r"\s*,?\s+\b(?:and|but|also|plus|btw|oh and|ps|then|so)\b\s+"
    r"(?=(?:can|could|should|is|are|was|were|will|would|do|does|did|when|how|what|why|"
    r"may|am|i|i'm|im|my|it|its|it's|there|theres|there's|the|she|he|her|his|now)\b)",
    re.IGNORECASE,
)


def clauses(text: str, min_words: int = MIN_WORDS) -> list[str]:
    """The message's clauses of at least `min_words` words, in order (the whole message, when
    it has a single clause)."""
    parts: list[str] = []
    for sentence in _SENTENCE.split(text or ""):
        parts.extend(p for p in _JOIN.split(sentence) if p)
    kept = [" ".join(p.split()) for p in parts if len(p.split()) >= min_words]
    return kept or ([" ".join(text.split())] if text and text.strip() else [])
