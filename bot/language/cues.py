"""Which KB topics a message names: the topics' `cues` (clinic/knowledge/*.yml), and for
symptom topics the lexicon's symptom words (clinic/screening.yml).

NLU may be confidently wrong about a question the KB does not cover ("can I shave?" read as
exfoliation). A topic is answered only when the message names it, or NLU is very sure.
"""

from __future__ import annotations

from bot.kb.model import KnowledgeBase, Lexicon
from bot.language.screening.terms import Terms, pipeline


class CueReader:
    """Finds the topics a message names."""

    def __init__(self, kb: KnowledgeBase, lexicon: Lexicon):
        words: dict[str, tuple[str, ...]] = {}
        for key, topic in kb.topics.items():
            symptom_words = lexicon.symptoms.get(key, ()) + lexicon.weak.get(key, ())
            words[key] = tuple(dict.fromkeys(topic.cues + symptom_words))
        self.terms = Terms({k: v for k, v in words.items() if v}, use_lemmas=True)

    def topics_in(self, text: str) -> set[str]:
        """The topics whose cue words are in the text."""
        doc = pipeline()(text or "")
        lemmas = [t.lemma_.lower() for t in doc]
        return {key for _, _, key in self.terms.matches(doc, lemmas)}
