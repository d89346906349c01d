"""Pairs of words that say one thing together ("lips" ... "swollen"): within a few words, in
one sentence and one clause."""

from __future__ import annotations

from typing import Protocol

from spacy.tokens import Doc

from bot.language.screening.terms import Terms

PAIR_WINDOW = 4  # the two words of a pair within this many tokens
Own = tuple[int, int, set[int]]  # a span, and the positions of its own words


class Text(Protocol):
    """A read message: its spaCy doc, lemmas, lower-case words and sentence of each word."""

    doc: Doc
    lemmas: list[str]
    lowers: list[str]
    sentence_of: list[int]


def pair_spans(a_terms: Terms, b_terms: Terms, t: Text) -> list[Own]:
    """Spans where a word of each list stands within PAIR_WINDOW words, in one sentence,
    with the positions of the two words."""
    spans = []
    for a_start, a_end, _ in a_terms.matches(t.doc, t.lemmas):
        for b_start, b_end, _ in b_terms.matches(t.doc, t.lemmas):
            if t.sentence_of[a_start] != t.sentence_of[b_start]:
                continue
            gap = b_start - a_end if b_start >= a_end else a_start - b_end
            between = t.lowers[min(a_end, b_end) : max(a_start, b_start)]
            gap -= sum(1 for w in between if _clitic(w))  # "they're" is one word
            if 0 <= gap <= PAIR_WINDOW and not _new_clause(between):
                own = set(range(a_start, a_end)) | set(range(b_start, b_end))
                spans.append((min(a_start, b_start), max(a_end, b_end), own))
    return spans


CLAUSE_BREAKS = frozenset({"but", "though", "although", "however", ";"})
NEW_SUBJECT = frozenset({"i", "i'm", "im", "i've", "ive", "i'd"})


def _clitic(word: str) -> bool:
    """The second token of a contraction ("'re" of "they're", "n't" of "isn't")."""
    return word.startswith(("'", "’")) or word in ("n't", "n’t")


def _new_clause(between: list[str]) -> bool:
    """Words between a pair's two words start a new clause: "my lips aren't swollen and I'm
    breathing fine" pairs neither "n't" with "breathing" nor across "but"."""
    for i, word in enumerate(between):
        if word in CLAUSE_BREAKS:
            return True
        if word in (",", "and", ".") and i + 1 < len(between) and between[i + 1] in NEW_SUBJECT:
            return True
    return False
