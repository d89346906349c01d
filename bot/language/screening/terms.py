"""The screener's reading tools: one spaCy pipeline per process, and lexicon terms matched
with spaCy's `PhraseMatcher` (on lower-case tokens) plus dictionary forms of single words."""

from __future__ import annotations

import threading
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

COMMON_WORD_LOGPROB = -14.5  # "tingly" -14.3 is a word; "swolen" -18.1 is a typo
_nlp_lock = threading.Lock()


@lru_cache(maxsize=1)
def pipeline():
    """A blank English spaCy pipeline with lookup lemmas and sentences (offline, once)."""
    import spacy  # heavy (it imports TensorFlow through thinc): only where screening runs

    with _nlp_lock:
        nlp = spacy.blank("en")
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        nlp.add_pipe("sentencizer")
        nlp.initialize()
        return nlp


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Common English words (spaCy's word-frequency table): never typo-matched, so "leaving"
    is not read as "leaking" nor "never" as "fever". Typos are far rarer than this cut-off."""
    import spacy_lookups_data
    import srsly

    table = srsly.read_gzip_json(
        Path(spacy_lookups_data.__file__).parent / "data" / "en_lexeme_prob.json.gz"
    )
    return frozenset(
        word.lower() for word, logprob in table.items() if logprob > COMMON_WORD_LOGPROB
    )


Match = tuple[int, int, str]  # (start token, end token, key)


class Terms:
    """Lexicon entries by key. `use_lemmas`: a single word written in its dictionary form
    also matches its inflections ("swell" matches "swollen")."""

    def __init__(self, phrases: dict[str, tuple[str, ...]], use_lemmas: bool = False):
        from spacy.matcher import PhraseMatcher

        nlp = pipeline()
        self.matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.keys = list(phrases)
        self.use_lemmas = use_lemmas
        self.lemmas: dict[str, str] = {}
        lemmatize = nlp.get_pipe("lemmatizer")
        for key, words in phrases.items():
            docs = [nlp.make_doc(word) for word in words if word.strip()]
            if docs:
                self.matcher.add(key, docs)
            for doc in docs:
                if (
                    len(doc) == 1
                    and lemmatize(nlp.make_doc(doc.text))[0].lemma_.lower() == doc[0].lower_
                ):
                    self.lemmas.setdefault(doc[0].lower_, key)  # a base form

    def matches(self, doc, lemmas: list[str]) -> list[Match]:
        """(start, end, key) of every match, the longest at each position (a phrase listed
        under several keys matches each of them); else a dictionary form's."""
        strings = doc.vocab.strings
        by_start: dict[int, set[tuple[int, str]]] = defaultdict(set)
        for match_id, start, end in self.matcher(doc):
            by_start[start].add((end, strings[match_id]))
        found: list[Match] = []
        for i in range(len(doc)):
            if i in by_start:
                longest = max(end for end, _ in by_start[i])
                keys = sorted((k for e, k in by_start[i] if e == longest), key=self.keys.index)
                found.extend((i, longest, key) for key in keys)
            elif self.use_lemmas and lemmas[i] in self.lemmas:
                found.append((i, i + 1, self.lemmas[lemmas[i]]))
        return found

    def starts_at(self, doc, lemmas: list[str], i: int, within: int) -> bool:
        """Whether a term of at most `within` words starts at token `i`."""
        span = doc[i : i + within]
        if any(start == i for _, start, _ in self.matcher(span)):
            return True
        return self.use_lemmas and i < len(lemmas) and lemmas[i] in self.lemmas
