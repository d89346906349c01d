"""Which KB topics a message names: the topics' `cues` and their variants' cues
(clinic/knowledge/*.yml), and for symptom topics the lexicon's symptom words
(clinic/screening.yml).

NLU may be confidently wrong about a question the KB does not cover ("can I shave?" read as
exfoliation). A topic is answered only when the message names it, or NLU is very sure.
"""

from __future__ import annotations

from functools import lru_cache

from bot.kb.model import KnowledgeBase, Lexicon
from bot.language.screening.terms import Terms, pipeline


class CueReader:
    """Finds the topics a message names."""

    def __init__(self, kb: KnowledgeBase, lexicon: Lexicon):
        words: dict[str, tuple[str, ...]] = {}
        for key, topic in kb.topics.items():
            symptom_words = lexicon.symptoms.get(key, ()) + lexicon.weak.get(key, ())
            # A product a variant names ("Bepanthen": creams) names its topic too.
            variant_words = tuple(c for v in topic.variants for c in v.cues)
            words[key] = tuple(dict.fromkeys(topic.cues + variant_words + symptom_words))
        self.terms = Terms({k: v for k, v in words.items() if v}, use_lemmas=True)
        variants = {
            f"{key}/{v.name}": v.cues for key, topic in kb.topics.items() for v in topic.variants
        }
        self.variant_terms = Terms(variants, use_lemmas=True) if variants else None
        outside = {"outside": kb.outside_cues} if kb.outside_cues else {}
        self.outside_terms = Terms(outside, use_lemmas=True) if outside else None
        # One message is asked about several times (whole, clauses, topics, variants, outside
        # words): it is tokenised once.
        self._read = lru_cache(maxsize=64)(self._tokenise)

    def topics_in(self, text: str) -> set[str]:
        """The topics whose cue words are in the text (not inside an outside cue: "spray tan"
        names no sunscreen question)."""
        doc, lemmas = self._read(text)
        outside = self._outside_spans(doc, lemmas)
        return {
            key
            for start, end, key in self.terms.matches(doc, lemmas)
            if not any(s <= start and end <= e for s, e in outside)
        }

    def outside_in(self, text: str) -> bool:
        """Whether the text names something the KB does not answer (a medicine, alcohol...)."""
        return bool(self._outside_spans(*self._read(text)))

    def _outside_spans(self, doc, lemmas) -> list[tuple[int, int]]:
        if self.outside_terms is None:
            return []
        return [(s, e) for s, e, _ in self.outside_terms.matches(doc, lemmas)]

    def variants_in(self, topic: str, text: str) -> tuple[str, ...]:
        """The names of the topic's variants whose cue words are in the text."""
        if self.variant_terms is None:
            return ()
        keys = {key for _, _, key in self.variant_terms.matches(*self._read(text))}
        return tuple(k.split("/", 1)[1] for k in sorted(keys) if k.split("/", 1)[0] == topic)

    @staticmethod
    def _tokenise(text: str):
        doc = pipeline()(text or "")
        return doc, [t.lemma_.lower() for t in doc]
