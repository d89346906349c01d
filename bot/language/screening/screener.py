"""Find symptom mentions, red-flag signs and emergency signs in a client message.

A blank spaCy English pipeline with lookup lemmas and a sentencizer tokenises the message;
mentions come from the clinic's lexicon (phrases, dictionary forms, one-typo matches of
non-dictionary words), and each is read in its context (`context.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.kb.model import Lexicon
from bot.language.clauses import asked, said_fine, unsure, wondering
from bot.language.screening.context import Context, Cues
from bot.language.screening.found import Mention, Screening
from bot.language.screening.pairs import Own, pair_spans
from bot.language.screening.terms import Match, Terms, english_words, pipeline
from bot.language.temperatures import fevers

FUZZY_MIN_LENGTH = 5
STARTS_WITHIN = 4  # "and" ends a clause unless a symptom word of up to 4 words follows


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))} | {word}


@dataclass
class _Text:
    """One message as the screener reads it."""

    doc: object
    lowers: list[str]
    lemmas: list[str]
    sentence_of: list[int]


class Screener:
    """Screens messages with one lexicon (rebuilt when the clinic edits it)."""

    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        # Symptom words also match their dictionary forms; signs and cues only as written
        # ("hotter" must not become "hot", nor "worse" become "bad").
        self.symptoms = Terms(lexicon.symptoms, use_lemmas=True)
        self.weak = Terms(lexicon.weak, use_lemmas=True)
        self.signs = Terms(lexicon.signs)
        self.unplaced = Terms({"unplaced": lexicon.unplaced}, use_lemmas=True)
        self.conditions = Terms({"conditions": lexicon.conditions}, use_lemmas=True)
        self.pairs = [
            (Terms({"a": first}, use_lemmas=True), Terms({"b": second}, use_lemmas=True))
            for first, second in lexicon.emergency_pairs
        ]
        self.all_clear = [
            (Terms({"a": first}, use_lemmas=True), Terms({"b": second}, use_lemmas=True))
            for first, second in lexicon.emergency_all_clear
        ]
        self.symptom_pairs = [
            (topic, Terms({"a": first}, use_lemmas=True), Terms({"b": second}, use_lemmas=True))
            for topic, pairs in lexicon.symptom_pairs.items()
            for first, second in pairs
        ]
        self.emergency = Terms({"emergency": lexicon.emergency_phrases})
        self.improving = Terms({"improving": lexicon.improving})
        cues = lexicon.context
        self.cue_terms = {
            name: Terms({name: cues.get(name, ())})
            for name in (
                "others",
                "over_since",
                "negation",
                "resolved",
                "hypothetical",
                "close_others",
                "proxy",
                "self_treated",
                "past",
                "hyperbole",
                "names",
                "reasserted",
                "recurring",
                "today",
            )
        }
        self.termination = frozenset(cues.get("termination", ()))
        self.negation_words = frozenset(w for w in cues.get("negation", ()) if " " not in w)
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
        english_words()
        self.screen("warm up")

    def read(self, text: str) -> _Text:
        """Tokens, lower-case forms, dictionary forms and sentence numbers of a message."""
        doc = pipeline()(text or "")
        sentence_of = [0] * len(doc)
        for number, sent in enumerate(doc.sents):
            for i in range(sent.start, sent.end):
                sentence_of[i] = number
        lemmas = [t.lower_ if t.lower_ in self.lexicon.not_forms else t.lemma_.lower() for t in doc]
        return _Text(doc, [t.lower_ for t in doc], lemmas, sentence_of)

    def screen(self, text: str, symptom_question: bool = False) -> Screening:
        """Screen one message. `symptom_question`: NLU says the client asks about a symptom."""
        t = self.read(text)
        sign_hits = self.signs.matches(t.doc, t.lemmas)
        emergency_hits, emergency_words = self._emergency_spans(t)
        spans = self._symptom_spans(t, symptom_question)
        fever_spans = self._fever_spans(t, spans)
        spans = sorted(spans + fever_spans)
        if fever_spans and self.lexicon.temperature is not None:
            sign_hits = sign_hits + [
                (s, e, self.lexicon.temperature.sign) for s, e, _ in fever_spans
            ]
        targets = [(s, e) for s, e, _ in spans + sign_hits + emergency_hits]
        context = self._context(t, sign_hits, emergency_words, tuple(targets))
        # Where another symptom starts (a weak word like "spot" does not end an "it stopped").
        weak = {(s, e) for s, e, _ in self.weak.matches(t.doc, t.lemmas)}
        context.cues.symptom_starts[:] = [s for s, e, _ in spans if (s, e) not in weak]
        mentions = tuple(
            Mention(
                topic,
                t.doc[s:e].text,
                s,
                e,
                context.negated(s, e),
                context.resolved(s, e),
                context.hypothetical(s, e),
                context.told_today(s, e),
            )
            for s, e, topic in spans
        )
        overruled = self._overruled(t, context)
        live_signs = self._live_signs(t, sign_hits, context, overruled, mentions)
        live = {key for key, _ in live_signs}
        inactive_signs = frozenset(key for _, _, key in sign_hits if key not in live)
        clear = self._all_clear(t)
        emergency, hypothetical_emergency = self._emergencies(t, emergency_hits, context, clear)
        read_away = self._read_away(t, emergency_hits + clear, emergency)
        denied = bool(read_away) and not emergency and not hypothetical_emergency
        return Screening(
            mentions=mentions,
            signs=frozenset(key for key, _ in live_signs),
            emergency=emergency,
            hypothetical_emergency=hypothetical_emergency,
            unplaced=self._unplaced(t, context, mentions),
            conditions=self._conditions(t, context),
            hypothetical_topics=frozenset(
                m.topic for m in mentions if m.hypothetical and not m.negated
            ),
            inactive_topics=frozenset(m.topic for m in mentions if not m.active),
            hypothetical_cue=bool(context.cues.hypotheticals),
            figurative=bool(context.cues.hyperbole or context.cues.names),
            sign_words=live_signs,
            worrying=self._worrying(live_signs),
            worrying_signs=self.lexicon.worrying_signs,
            inactive_signs=inactive_signs,
            denied_emergency=denied,
            read_away=read_away,
            overruled_signs=overruled,
            recurring=context.cues.recurring,
        )

    def _worrying(self, live_signs: tuple[tuple[str, str], ...]) -> bool:
        """A live sign that on its own says something is wrong ("it's getting worse")."""
        lexicon = self.lexicon
        return any(
            key in lexicon.worrying_signs and words not in lexicon.not_worrying_alone
            for key, words in live_signs
        )

    def _context(
        self, t: _Text, sign_hits: list[Match], emergency_words: set[int], targets: tuple = ()
    ) -> Context:
        # "won't stop bleeding", "hasn't gone down", "can't breathe": the negation is a word of
        # the sign itself, not a denial of it ("my lips aren't swollen" still is one).
        inside = {i for s, e, _ in sign_hits for i in range(s, e)} | emergency_words
        found = {name: terms.matches(t.doc, t.lemmas) for name, terms in self.cue_terms.items()}
        cues = Cues(
            negations=[
                n
                for n in found["negation"]
                if n[0] not in inside and not unsure(t.lowers, n[0], n[1])
            ],
            resolutions=[r for r in found["resolved"] if r[0] not in inside],
            hypotheticals=[h for h in found["hypothetical"] if not wondering(t.lowers, h[0], h[1])],
            others=found["others"],
            over_since=found["over_since"],
            termination=self.termination,
            close_others=found["close_others"],
            all_negations=found["negation"],
            past=found["past"],
            today=found["today"],
            hyperbole=found["hyperbole"],
            names=found["names"],
            reasserted=bool(found["reasserted"]),
            recurring=bool(found["recurring"]),
            proxy=bool(found["proxy"]),
            self_treated=bool(found["self_treated"]),
        )
        starts = lambda i: self._starts_symptom(t, i)  # noqa: E731 - a one-line callback
        return Context(t.lowers, t.sentence_of, cues, starts, doc=t.doc, spans=targets)

    def _live_signs(
        self,
        t: _Text,
        hits: list[Match],
        context: Context,
        overruled: frozenset[str],
        mentions: tuple[Mention, ...] = (),
    ) -> tuple[tuple[str, str], ...]:
        """Each sign the message shows (key, words): not denied, hypothetical or someone
        else's, not inside a symptom mention read so ("a rash from another cream, it cleared
        up"), and not a weak word undone by getting better ("still pink, less than
        yesterday")."""
        live = []
        for s, e, key in hits:
            words = " ".join(t.lowers[s:e])
            if context.negated(s, e) or context.hypothetical(s, e) or context.in_the_past(s, e):
                continue  # "no pus", "my sister's hives", "I got hives last year"
            if context.over_since(s, e):
                continue  # "the pain was killing me during it but it stopped straight after"
            if any(m.start <= s and e <= m.end and not m.active for m in mentions):
                continue
            if key in overruled and words in self.lexicon.not_worrying_alone:
                continue
            live.append((key, words))
        return tuple(live)

    def _overruled(self, t: _Text, context: Context) -> frozenset[str]:
        """The signs the learned net may not add: the message says the skin is improving."""
        # "it was going down but today it's puffier": a turn after the good news undoes it.
        better = any(
            not context.negated(s, e) and not CONTRAST & set(t.lowers[e:])
            for s, e, _ in self.improving.matches(t.doc, t.lemmas)
        )
        return self.lexicon.improving_overrules if better else frozenset()

    def _emergencies(
        self, t: _Text, hits: list[Own], context: Context, clear: list[Own]
    ) -> tuple[tuple[str, ...], bool]:
        emergency, hypothetical = [], False
        for s, e, own in hits:
            # Only a denial of the sign itself clears it ("my lips aren't swollen", "no trouble
            # breathing", "puffy eyes, lips are fine"); nothing said elsewhere in the message may.
            if (
                context.denied_inside(s, e, own)
                or context.negated(s, e)
                or said_fine(t.lowers, own, clear)
            ):
                continue
            if context.answered_no(s, e):
                continue  # "chest pain? no."
            if context.in_the_past(s, e) and not context.cues.recurring:
                continue  # "fainted at the sight of the needle last time" (not "again")
            if context.hypothetical(s, e, emergency=True) and not context.cues.reasserted:
                hypothetical = True
            else:
                emergency.append(t.doc[s:e].text)
        return tuple(emergency), hypothetical

    def _all_clear(self, t: _Text) -> list[Own]:
        """Where the client says an emergency sign is absent: "lips are fine", "breathing
        totally normal" (the body word, linking words only, then the word for fine)."""
        clear = []
        for a_terms, b_terms in self.all_clear:
            firsts = {i for i, _, _ in a_terms.matches(t.doc, t.lemmas)}
            for s, e, own in pair_spans(a_terms, b_terms, t):
                links = {t.lowers[i] for i in range(s, e) if i not in own}
                before = set(t.lowers[max(0, s - 2) : s])  # "cannot breathe well" is no all-clear
                if (
                    s in firsts
                    and links <= LINKS
                    and not before & self.negation_words
                    and not asked(t.lowers, s, e)
                ):
                    clear.append((s, e, own))
        return clear

    @staticmethod
    def _read_away(t: _Text, hits: list[Own], emergency: tuple[str, ...]) -> tuple[str, ...]:
        """The emergency words the lexicon read as denied, someone else's or hypothetical,
        or said to be fine ("lips are fine"): what the learned net may count as an emergency
        only in the rest of the message (`Screeners.screen`)."""
        return tuple(t.doc[s:e].text for s, e, _ in hits if t.doc[s:e].text not in emergency)

    def _unplaced(
        self, t: _Text, context: Context, mentions: tuple[Mention, ...]
    ) -> tuple[str, ...]:
        return tuple(
            t.doc[s:e].text
            for s, e, _ in self.unplaced.matches(t.doc, t.lemmas)
            if not context.negated(s, e)
            and not context.hypothetical(s, e)
            and not context.resolved(s, e)
            and not any(m.start <= s < m.end for m in mentions)
        )

    def _conditions(self, t: _Text, context: Context) -> tuple[str, ...]:
        """Conditions told as the client's: not denied, hypothetical or someone else's. A time
        in the past does not end one ("started Roaccutane last week", "on it until last month")."""
        return tuple(
            t.doc[s:e].text
            for s, e, _ in self.conditions.matches(t.doc, t.lemmas)
            if not context.negated(s, e) and not context.hypothetical(s, e)
        )

    def _starts_symptom(self, t: _Text, i: int) -> bool:
        return any(
            terms.starts_at(t.doc, t.lemmas, i, STARTS_WITHIN)
            for terms in (self.symptoms, self.weak)
        )

    def _symptom_spans(self, t: _Text, symptom_question: bool) -> list[Match]:
        found = list(self.symptoms.matches(t.doc, t.lemmas))
        for topic, a_terms, b_terms in self.symptom_pairs:
            for start, end, own in pair_spans(a_terms, b_terms, t):
                between = {t.lowers[i] for i in range(start, end) if i not in own}
                if not between & self.negation_words:  # "the serum, nothing stings"
                    found.append((start, end, topic))
        taken = {i for s, e, _ in found for i in range(s, e)}
        found += self._typos(t, taken)
        for s, e, topic in self.weak.matches(t.doc, t.lemmas):
            if any(i in taken for i in range(s, e)):
                continue
            before = t.lowers[max(0, s - 3) : s]
            # About the skin: a skin word, or another symptom word, just before ("itchy red bumps").
            about_skin = (
                symptom_question
                or any(w in self.skin_cues for w in before)
                or any(i in taken for i in range(max(0, s - 3), s))
            )
            # "hot bath", "red light"; "my throat feels tight" is about the throat, not the skin.
            before_object = (e < len(t.lowers) and t.lowers[e] in self.not_skin) or any(
                w in self.not_skin for w in before
            )
            if about_skin and not before_object:
                found.append((s, e, topic))
                taken.update(range(s, e))
        return _longest(found)

    def _fever_spans(self, t: _Text, spans: list[Match]) -> list[Match]:
        """A temperature at or above the clinic's fever line, as a mention of its topic."""
        rules = self.lexicon.temperature
        taken = {i for s, e, _ in spans for i in range(s, e)}
        found = []
        for reading in fevers(t.doc.text, rules):
            span = t.doc.char_span(reading.start, reading.end, alignment_mode="expand")
            if span is not None and not any(i in taken for i in range(span.start, span.end)):
                found.append((span.start, span.end, rules.topic))
        return found

    def _typos(self, t: _Text, taken: set[int]) -> list[Match]:
        """One-typo matches of symptom words, for words that are not common English."""
        words, found = english_words(), []
        for i, lower in enumerate(t.lowers):
            if i in taken or len(lower) < FUZZY_MIN_LENGTH or lower in words or not lower.isalpha():
                continue
            topic = next((self.fuzzy[v] for v in _deletions(lower) if v in self.fuzzy), None)
            if topic is not None:
                found.append((i, i + 1, topic))
                taken.add(i)
        return found

    def _emergency_spans(self, t: _Text) -> tuple[list[tuple[int, int, set[int]]], set[int]]:
        """Emergency spans with the positions of their own words (a "can't" in "can't
        breathe"), and all those positions."""
        spans = [(s, e, set(range(s, e))) for s, e, _ in self.emergency.matches(t.doc, t.lemmas)]
        for a_terms, b_terms in self.pairs:
            spans += pair_spans(a_terms, b_terms, t)
        return spans, {i for _, _, own in spans for i in own}


# Words between "lips" and "fine" in "lips are fine", "breathing's totally normal".
LINKS = frozenset(
    "are is 's s am was were be been feel feels feeling felt seem seems look looks looking "
    "totally completely perfectly absolutely all still both really pretty quite fully".split()
)
CONTRAST = frozenset({"but", "though", "although", "however", "yet", "except"})


def _longest(spans: list[Match]) -> list[Match]:
    chosen: list[Match] = []
    for span in sorted(spans, key=lambda x: (-(x[1] - x[0]), x[0])):
        if all(span[1] <= c[0] or span[0] >= c[1] for c in chosen):
            chosen.append(span)
    return sorted(chosen)
