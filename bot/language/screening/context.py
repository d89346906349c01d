"""Reading a mention in its context, ConText-style, within one message.

A negation ("no pus"), a resolution ("the redness went down") or a hypothetical ("what if it
oozes") covers the words after (or, for resolutions, around) it until a termination word such
as "but", "just" or a comma ends the clause. Someone else's symptom ("my sister got hives")
counts as hypothetical for the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.language.screening.terms import Match

WINDOW_BEFORE = 6  # how far back a negation or hypothetical reaches
WINDOW_AFTER = 5  # how far forward a resolution reaches
POST_NEGATIONS = frozenset({"no", "nope", "none", "nah", "negative", "nothing"})
SELF_WORDS = frozenset({"my", "i", "me", "i'm", "im"})
QUESTION_MARKS = ("?", "??")


@dataclass
class Cues:
    """The context cues found in one message, and what ends a clause."""

    negations: list[Match]
    resolutions: list[Match]
    hypotheticals: list[Match]
    others: list[Match]
    over_since: list[Match]
    termination: frozenset[str]
    symptom_starts: list[int] = field(default_factory=list)


class Context:
    """Context questions about spans of one message (token positions)."""

    def __init__(
        self,
        lowers: list[str],
        sentence_of: list[int],
        cues: Cues,
        starts_symptom,
        doc=None,
        spans: tuple[tuple[int, int], ...] = (),
    ):
        """`doc` and `spans` (every symptom, sign and emergency found) are for other readers of
        context, like medspaCy's ConText in bench/context_compare.py; these rules need neither."""
        self.lowers, self.sentence_of, self.cues = lowers, sentence_of, cues
        self._starts_symptom = starts_symptom  # position -> whether a symptom word starts there

    def terminated(self, a: int, b: int, loose_and: bool = True) -> bool:
        """A clause boundary lies between positions a and b (both exclusive)."""
        lowers = self.lowers
        for i in range(a, b):
            if lowers[i] in self.cues.termination:
                return True
            if (
                loose_and
                and lowers[i] in ("and", "&")
                and i + 1 < len(lowers)
                and lowers[i + 1] not in ("everything", "all", "the")
                and not self._starts_symptom(i + 1)
            ):
                return True
        return False

    def cue_before(self, cues: list[Match], start: int, window: int) -> bool:
        """A cue ends at most `window` words before `start`, in the same clause."""
        for c_start, c_end, _ in cues:
            if (
                c_end <= start
                and start - c_end <= window
                and self.sentence_of[c_start] == self.sentence_of[start]
                and not self.terminated(c_end, start)
            ):
                return True
        return False

    def negated(self, start: int, end: int) -> bool:
        """Denied: "no pus", "not swollen" (a negation inside the span itself does not count)."""
        outside = [n for n in self.cues.negations if not (start <= n[0] < end)]
        return self.cue_before(outside, start, WINDOW_BEFORE)

    def denied_inside(self, start: int, end: int) -> bool:
        """A negation inside the span: "my lips aren't swollen"."""
        return any(start <= n[0] < end for n in self.cues.negations)

    def hypothetical(self, start: int) -> bool:
        """A "what if" before it, or someone else's symptom ("my sister got hives")."""
        for c_start, c_end, _ in self.cues.hypotheticals:
            if (
                c_end <= start
                and self.sentence_of[c_start] == self.sentence_of[start]
                and not self.terminated(c_end, start)
            ):
                return True
        for c_start, c_end, _ in self.cues.others:
            if (
                c_end <= start
                and self.sentence_of[c_start] == self.sentence_of[start]
                and not SELF_WORDS & set(self.lowers[c_end:start])
                and not self.terminated(c_end, start, loose_and=False)
            ):
                return True
        return False

    def resolved(self, start: int, end: int) -> bool:
        """Over: "it bled but nothing since", "Oozing?? no.", "the redness went down"."""
        return (
            self._over_since(start, end)
            or self._answered_no(start, end)
            or self._resolution_near(start, end)
        )

    def _over_since(self, start: int, end: int) -> bool:
        # Over across "but" or a comma, in the same sentence, for the symptom named last before
        # it only ("there's pus, the bleeding has dried up" ends the bleeding, not the pus).
        for c_start, _, _ in self.cues.over_since:
            same_sentence = c_start >= end and self.sentence_of[c_start] == self.sentence_of[start]
            later = any(end <= other < c_start for other in self.cues.symptom_starts)
            if same_sentence and not later:
                return True
        return False

    def _answered_no(self, start: int, end: int) -> bool:
        # "Oozing?? no.": the symptom word alone as a question, answered "no".
        lowers = self.lowers
        opens_sentence = (
            start == 0
            or self.sentence_of[start - 1] != self.sentence_of[start]
            or lowers[start - 1] in (".", "!", "?")
        )
        if not (opens_sentence and end < len(lowers) and lowers[end] in QUESTION_MARKS):
            return False
        after = [
            i for i in range(end, min(end + 4, len(lowers))) if lowers[i] not in ("?", "??", "!")
        ]
        return bool(after) and lowers[after[0]] in POST_NEGATIONS

    def _resolution_near(self, start: int, end: int) -> bool:
        for c_start, c_end, _ in self.cues.resolutions:
            if self.sentence_of[c_start] != self.sentence_of[start]:
                continue
            if self.cue_before(self.cues.negations, c_start, 2):
                continue  # "hasn't gone down" is not a resolution
            if (
                c_start >= end
                and c_start - end <= WINDOW_AFTER
                and not self.terminated(end, c_start)
            ):
                return True
            if c_end <= start and start - c_end <= 3 and not self.terminated(c_end, start):
                return True
        return False
