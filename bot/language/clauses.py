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


CLAUSE_ENDS = frozenset(",;.!?:")
CLAUSE_BREAKS = CLAUSE_ENDS | {"but", "though", "although", "except"}
ASKING = frozenset(
    "is are r isnt aren't isn't should do does would if whether wondering sure or".split()
)


def asked(lowers: list[str], start: int, end: int) -> bool:
    """Whether "lips ... normal" is asked rather than said ("is the swelling in my lips
    normal?", "wondering if my lips are ok", "lips ok??", "lips normal or should I worry"): its
    clause ends with a question mark, or an asking word comes before it in its clause or
    just after it."""
    after = next((w for w in lowers[end:] if w in CLAUSE_ENDS or w.startswith("?")), "")
    if after.startswith("?") or (end < len(lowers) and lowers[end] in ASKING):
        return True
    opening = start
    while opening > 0 and lowers[opening - 1] not in CLAUSE_ENDS:
        opening -= 1
    return any(w in ASKING for w in lowers[opening:start])


def said_fine(lowers: list[str], sign: set[int], clear: list[tuple[int, int, set[int]]]) -> bool:
    """Whether an all-clear ("lips are fine") clears an emergency sign's words: it names the
    same body part, and the sign's own symptom word is in another clause ("puffy eyes, lips
    are fine"). "The swelling in my lips is normal" still tells of swollen lips."""
    for start, end, fine in clear:
        if not sign & fine:
            continue
        rest = sign - fine
        if all(_apart(lowers, i, start, end) for i in rest):
            return True
    return False


def _apart(lowers: list[str], i: int, start: int, end: int) -> bool:
    """A clause break between word `i` and the span start..end."""
    between = lowers[i + 1 : start] if i < start else lowers[end:i]
    return any(w in CLAUSE_BREAKS for w in between)


# "wondering if my lips are ok", "not sure if it's normal": words that ask about now.
WONDERING = frozenset("wondering wonder wondered sure checking check know asking ask".split())
UNSURE = frozenset("sure certain know".split())


def wondering(lowers: list[str], start: int, end: int) -> bool:
    """A bare "if"/"whether" after a word of wondering: it asks about now, not "what if"."""
    return (
        lowers[start:end] in (["if"], ["whether"]) and start > 0 and lowers[start - 1] in WONDERING
    )


def unsure(lowers: list[str], start: int, end: int) -> bool:
    """ "not sure", "don't know": a negation of the writer's certainty, not of a symptom."""
    return end < len(lowers) and lowers[end] in UNSURE
