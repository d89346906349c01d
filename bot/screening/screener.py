"""Find symptom mentions, red-flag signs and emergency signs in a client message.

A blank spaCy English pipeline with lookup lemmas and a sentencizer tokenises the message;
mentions come from the clinic's lexicon (phrases, dictionary forms, one-typo matches of
non-dictionary words). Each mention is then read in context, ConText-style: a negation
("no pus"), a resolution ("the redness went down") or a hypothetical ("what if it oozes")
covers the words after (or, for resolutions, around) it until a termination word such as
"but", "just" or a comma ends the clause.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from bot.screening.lexicon import Lexicon

WINDOW_BEFORE = 6  # how far back a negation or hypothetical reaches
WINDOW_AFTER = 5  # how far forward a resolution reaches
PAIR_WINDOW = 4  # emergency pair words within this many tokens
FUZZY_MIN_LENGTH = 5
POST_NEGATIONS = frozenset({"no", "nope", "none", "nah", "negative", "nothing"})
COMMON_WORD_LOGPROB = -14.5  # "tingly" -14.3 is a word; "swolen" -18.1 is a typo

_nlp_lock = threading.Lock()


@lru_cache(maxsize=1)
def _nlp():
    """The spaCy pipeline (built once per process, offline)."""
    import spacy

    with _nlp_lock:
        nlp = spacy.blank("en")
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        nlp.add_pipe("sentencizer")
        nlp.initialize()
        return nlp


@lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
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


@dataclass(frozen=True)
class Mention:
    """One symptom word or phrase found in the message, read in its context."""

    topic: str
    text: str
    start: int
    end: int
    negated: bool = False
    resolved: bool = False
    hypothetical: bool = False

    @property
    def active(self) -> bool:
        """The client reports this symptom now (not denied, over or hypothetical)."""
        return not (self.negated or self.resolved or self.hypothetical)


@dataclass(frozen=True)
class Screening:
    """What the screener found in one message."""

    mentions: tuple[Mention, ...] = ()
    signs: frozenset[str] = frozenset()
    emergency: tuple[str, ...] = ()
    hypothetical_emergency: bool = False
    unplaced: tuple[str, ...] = ()
    hypothetical_topics: frozenset[str] = field(default_factory=frozenset)
    inactive_topics: frozenset[str] = field(default_factory=frozenset)
    hypothetical_cue: bool = False
    sign_words: tuple[tuple[str, str], ...] = ()  # (sign, the words that showed it)

    @property
    def active_topics(self) -> tuple[str, ...]:
        """Symptom topics the client reports now, in order of first mention, deduplicated."""
        seen: list[str] = []
        for mention in self.mentions:
            if mention.active and mention.topic not in seen:
                seen.append(mention.topic)
        return tuple(seen)

    @property
    def is_emergency(self) -> bool:
        """An emergency sign is reported now."""
        return bool(self.emergency)


class _Terms:
    """Lexicon entries compiled to token tuples for fast matching."""

    def __init__(self, phrases: dict[str, tuple[str, ...]], use_lemmas: bool = False):
        tokenizer = _nlp().tokenizer
        self.use_lemmas = use_lemmas
        self.by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        self.lemmas: dict[str, str] = {}
        self.singles: dict[str, str] = {}
        lemmatize = _nlp().get_pipe("lemmatizer")
        for key, words in phrases.items():
            for word in words:
                tokens = tuple(t.lower_ for t in tokenizer(word))
                if not tokens:
                    continue
                self.by_first.setdefault(tokens[0], []).append((tokens, key))
                if len(tokens) == 1:
                    self.singles.setdefault(tokens[0], key)
                    lemma = lemmatize(tokenizer(word))[0].lemma_.lower()
                    if lemma == tokens[0]:  # a base form: its inflections match too
                        self.lemmas.setdefault(lemma, key)
        for candidates in self.by_first.values():
            candidates.sort(key=lambda c: -len(c[0]))

    def matches(self, lowers: list[str], lemmas: list[str]) -> list[tuple[int, int, str]]:
        """(start, end, key) of every match, longest first at each position (a phrase listed
        under several keys matches each of them)."""
        found = []
        for i, lower in enumerate(lowers):
            longest = None
            for tokens, key in self.by_first.get(lower, ()):
                if longest is not None and len(tokens) < longest:
                    break
                if tuple(lowers[i : i + len(tokens)]) == tokens:
                    found.append((i, i + len(tokens), key))
                    longest = len(tokens)
            if longest is None:
                key = self.lemmas.get(lemmas[i]) if self.use_lemmas else None
                if key is not None:
                    found.append((i, i + 1, key))
        return found


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))} | {word}


class Screener:
    """Screens messages with one lexicon (rebuilt when the clinic edits it)."""

    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        # Symptom words also match their dictionary forms; signs and cues only as written
        # ("hotter" must not become "hot", nor "worse" become "bad").
        self.symptoms = _Terms(lexicon.symptoms, use_lemmas=True)
        self.weak = _Terms(lexicon.weak, use_lemmas=True)
        self.signs = _Terms(lexicon.signs)
        self.unplaced = _Terms({"unplaced": lexicon.unplaced}, use_lemmas=True)
        self.pairs = [
            (_Terms({"a": first}, use_lemmas=True), _Terms({"b": second}, use_lemmas=True))
            for first, second in lexicon.emergency_pairs
        ]
        self.symptom_pairs = [
            (topic, _Terms({"a": first}, use_lemmas=True), _Terms({"b": second}, use_lemmas=True))
            for topic, pairs in lexicon.symptom_pairs.items()
            for first, second in pairs
        ]
        self.emergency = _Terms({"emergency": lexicon.emergency_phrases})
        ctx = lexicon.context
        self.others = _Terms({"others": ctx.get("others", ())})
        self.over_since = _Terms({"over_since": ctx.get("over_since", ())})
        self.negation = _Terms({"negation": ctx.get("negation", ())})
        self.resolved = _Terms({"resolved": ctx.get("resolved", ())})
        self.hypothetical = _Terms({"hypothetical": ctx.get("hypothetical", ())})
        self.termination = set(ctx.get("termination", ()))
        self.skin_cues = set(lexicon.skin_cues)
        self.not_skin = set(lexicon.not_skin)
        self.fuzzy: dict[str, str] = {}
        for topic, words in lexicon.symptoms.items():
            for word in words:
                if " " not in word and len(word) >= FUZZY_MIN_LENGTH:
                    for variant in _deletions(word):
                        self.fuzzy.setdefault(variant, topic)

    def warm_up(self) -> None:
        """Load the pipeline and word list now (start-up) rather than on the first message."""
        _english_words()
        self.screen("warm up")

    def screen(self, text: str, symptom_question: bool = False) -> Screening:
        """Screen one message. `symptom_question`: NLU says the client asks about a symptom."""
        doc = _nlp()(text or "")
        lowers = [t.lower_ for t in doc]
        lemmas = [t.lemma_.lower() for t in doc]
        sentence_of = [0] * len(doc)
        for number, sent in enumerate(doc.sents):
            for i in range(sent.start, sent.end):
                sentence_of[i] = number
        sign_hits = self.signs.matches(lowers, lemmas)
        emergency_hits, emergency_words = self._emergency_spans(lowers, lemmas, sentence_of)
        inside = {i for s, e, _ in sign_hits for i in range(s, e)} | emergency_words
        # "won't stop bleeding", "hasn't gone down", "can't breathe": the negation is a word of
        # the sign itself, not a denial of it ("my lips aren't swollen" still is one).
        negations = [n for n in self.negation.matches(lowers, lemmas) if n[0] not in inside]
        resolutions = [r for r in self.resolved.matches(lowers, lemmas) if r[0] not in inside]
        hypotheticals = self.hypothetical.matches(lowers, lemmas)

        def terminated(a: int, b: int, loose_and: bool = True) -> bool:
            """A clause boundary lies between positions a (exclusive) and b (exclusive)."""
            for i in range(a, b):
                if lowers[i] in self.termination:
                    return True
                if (
                    loose_and
                    and lowers[i] in ("and", "&")
                    and i + 1 < len(lowers)
                    and lowers[i + 1] not in ("everything", "all", "the")
                    and not self._starts_symptom(lowers, lemmas, i + 1)
                ):
                    return True
            return False

        def cue_before(cues, start: int, window: int) -> bool:
            for c_start, c_end, _ in cues:
                if (
                    c_end <= start
                    and start - c_end <= window
                    and sentence_of[c_start] == sentence_of[start]
                    and not terminated(c_end, start)
                ):
                    return True
            return False

        def negated(start: int, end: int) -> bool:
            return cue_before(
                [n for n in negations if not (start <= n[0] < end)], start, WINDOW_BEFORE
            )

        def resolved(start: int, end: int) -> bool:
            # "it bled a little on the day but nothing since": over, across "but" or a comma, in
            # the same sentence, for the symptom named last before it only ("there's pus, the
            # bleeding has dried up" ends the bleeding, not the pus).
            for c_start, _, _ in over_since:
                same_sentence = c_start >= end and sentence_of[c_start] == sentence_of[start]
                if same_sentence and not any(end <= other < c_start for other in symptom_starts):
                    return True
            # "Oozing?? no.": the symptom word alone as a question, answered "no".
            opens_sentence = (
                start == 0
                or sentence_of[start - 1] != sentence_of[start]
                or lowers[start - 1] in (".", "!", "?")
            )
            if opens_sentence and end < len(lowers) and lowers[end] in ("?", "??"):
                after = [
                    i
                    for i in range(end, min(end + 4, len(lowers)))
                    if lowers[i] not in ("?", "??", "!")
                ]
                if after and lowers[after[0]] in POST_NEGATIONS:
                    return True
            for c_start, c_end, _ in resolutions:
                if sentence_of[c_start] != sentence_of[start] or cue_before(negations, c_start, 2):
                    continue  # "hasn't gone down" is not a resolution
                if (
                    c_start >= end
                    and c_start - end <= WINDOW_AFTER
                    and not terminated(end, c_start)
                ):
                    return True
                if c_end <= start and start - c_end <= 3 and not terminated(c_end, start):
                    return True
            return False

        others = self.others.matches(lowers, lemmas)
        over_since = self.over_since.matches(lowers, lemmas)

        def hypothetical(start: int) -> bool:
            """A "what if" before it, or someone else's symptom ("my sister got hives")."""
            for c_start, c_end, _ in hypotheticals:
                if (
                    c_end <= start
                    and sentence_of[c_start] == sentence_of[start]
                    and not terminated(c_end, start)
                ):
                    return True
            for c_start, c_end, _ in others:
                if (
                    c_end <= start
                    and sentence_of[c_start] == sentence_of[start]
                    and not {"my", "i", "me", "i'm", "im"} & set(lowers[c_end:start])
                    and not terminated(c_end, start, loose_and=False)
                ):
                    return True
            return False

        spans = self._symptom_spans(lowers, lemmas, symptom_question, sentence_of)
        symptom_starts = [s for s, _, _ in spans]
        mentions = tuple(
            Mention(topic, doc[s:e].text, s, e, negated(s, e), resolved(s, e), hypothetical(s))
            for s, e, topic in spans
        )
        live_signs = [
            (key, " ".join(lowers[s:e]))
            for s, e, key in sign_hits
            if not negated(s, e) and not hypothetical(s)
        ]
        signs = frozenset(key for key, _ in live_signs)
        emergency, hypothetical_emergency = [], False
        for s, e in emergency_hits:
            # Only a denial of the sign itself clears it ("my lips aren't swollen", "no trouble
            # breathing"); nothing said elsewhere in the message may ("...the oozing has dried up").
            denied_inside = any(s <= n[0] < e for n in negations)
            if denied_inside or negated(s, e):
                continue
            if hypothetical(s):
                hypothetical_emergency = True
            else:
                emergency.append(doc[s:e].text)
        unplaced = tuple(
            doc[s:e].text
            for s, e, _ in self.unplaced.matches(lowers, lemmas)
            if not negated(s, e)
            and not hypothetical(s)
            and not resolved(s, e)
            and not any(m.start <= s < m.end for m in mentions)
        )
        return Screening(
            mentions=mentions,
            signs=signs,
            emergency=tuple(emergency),
            hypothetical_emergency=hypothetical_emergency,
            unplaced=unplaced,
            hypothetical_topics=frozenset(
                m.topic for m in mentions if m.hypothetical and not m.negated
            ),
            inactive_topics=frozenset(m.topic for m in mentions if not m.active),
            hypothetical_cue=bool(hypotheticals),
            sign_words=tuple(live_signs),
        )

    def _starts_symptom(self, lowers: list[str], lemmas: list[str], i: int) -> bool:
        window_l, window_m = lowers[i : i + 4], lemmas[i : i + 4]
        return any(
            s == 0
            for s, _, _ in self.symptoms.matches(window_l, window_m)
            + self.weak.matches(window_l, window_m)
        )

    def _symptom_spans(
        self, lowers: list[str], lemmas: list[str], symptom_question: bool, sentence_of: list[int]
    ) -> list[tuple[int, int, str]]:
        found = list(self.symptoms.matches(lowers, lemmas))
        for topic, a_terms, b_terms in self.symptom_pairs:
            for start, end in self._pair_spans(a_terms, b_terms, lowers, lemmas, sentence_of):
                found.append((start, end, topic))
        taken = {i for s, e, _ in found for i in range(s, e)}
        words = _english_words()
        for i, lower in enumerate(lowers):
            if i in taken or len(lower) < FUZZY_MIN_LENGTH or lower in words or not lower.isalpha():
                continue
            topic = next((self.fuzzy[v] for v in _deletions(lower) if v in self.fuzzy), None)
            if topic is not None:
                found.append((i, i + 1, topic))
                taken.add(i)
        for s, e, topic in self.weak.matches(lowers, lemmas):
            if any(i in taken for i in range(s, e)):
                continue
            before = lowers[max(0, s - 3) : s]
            # About the skin: a skin word, or another symptom word, just before ("itchy red bumps").
            about_skin = (
                symptom_question
                or any(w in self.skin_cues for w in before)
                or any(i in taken for i in range(max(0, s - 3), s))
            )
            # "hot bath", "red light"; "my throat feels tight" is about the throat, not the skin.
            before_object = (e < len(lowers) and lowers[e] in self.not_skin) or any(
                w in self.not_skin for w in before
            )
            if about_skin and not before_object:
                found.append((s, e, topic))
                taken.update(range(s, e))
        return self._longest(found)

    @staticmethod
    def _longest(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        chosen: list[tuple[int, int, str]] = []
        for span in sorted(spans, key=lambda x: (-(x[1] - x[0]), x[0])):
            if all(span[1] <= c[0] or span[0] >= c[1] for c in chosen):
                chosen.append(span)
        return sorted(chosen)

    @staticmethod
    def _pair_spans(
        a_terms, b_terms, lowers, lemmas, sentence_of, with_words: bool = False
    ) -> list:
        """Spans where a word of each list stands within PAIR_WINDOW words, in one sentence
        (with `with_words`, also the positions of the two words)."""
        spans = []
        for a_start, a_end, _ in a_terms.matches(lowers, lemmas):
            for b_start, b_end, _ in b_terms.matches(lowers, lemmas):
                if sentence_of[a_start] != sentence_of[b_start]:
                    continue
                gap = b_start - a_end if b_start >= a_end else a_start - b_end
                if 0 <= gap <= PAIR_WINDOW:
                    span = (min(a_start, b_start), max(a_end, b_end))
                    own = set(range(a_start, a_end)) | set(range(b_start, b_end))
                    spans.append((*span, own) if with_words else span)
        return spans

    def _emergency_spans(
        self, lowers: list[str], lemmas: list[str], sentence_of: list[int]
    ) -> tuple[list[tuple[int, int]], set[int]]:
        """Emergency spans, and the positions of their own words (a "can't" in "can't breathe")."""
        spans = [(s, e) for s, e, _ in self.emergency.matches(lowers, lemmas)]
        words = {i for s, e in spans for i in range(s, e)}
        for a_terms, b_terms in self.pairs:
            for start, end, own in self._pair_spans(
                a_terms, b_terms, lowers, lemmas, sentence_of, with_words=True
            ):
                spans.append((start, end))
                words |= own
        return spans, words
