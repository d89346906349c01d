"""Reading a mention in its context, ConText-style, within one message.

A negation ("no pus"), a resolution ("the redness went down") or a hypothetical ("what if it
oozes") covers the words after (or, for resolutions, around) it until a termination word such
as "but", "just" or a comma ends the clause. Someone else's symptom ("my cousin got hives")
counts as hypothetical for the client, and so does hyperbole ("I nearly passed out when I saw
the price"). A close person ("my wife") is someone else only when the writer says they are the
treated one ("mine's fine") and nothing says the close person is ("she's day 2"): a partner or
parent often writes for the client. A past time ("last year", "before my treatment") puts a
mention in the past.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.language.screening.terms import Match

WINDOW_BEFORE = 6  # how far back a negation or hypothetical reaches
WINDOW_AFTER = 5  # how far forward a resolution reaches
PAST_WINDOW_AFTER = 8  # how far forward a past time reaches ("fainted ... last time")
HYPERBOLE_WINDOW = 8  # how far either way a figure of speech reaches
NOT_PAST_BEFORE = frozenset({"since", "from", "for", "than"})  # "since last week", "than before"
COMPARED_WINDOW = 4  # "than" this close before a past time compares now with then
# "a month after my first session": a time counted from then, i.e. now (not "a month before").
TIME_UNITS = frozenset({"week", "weeks", "fortnight", "month", "months"})
TODAY_WINDOW = 5  # how far a word of today reaches a symptom told as over
SINCE = frozenset({"since"})  # anywhere between a symptom and a past time: "since ... 2 weeks ago"
POST_NEGATIONS = frozenset({"no", "nope", "none", "nah", "negative", "nothing"})
SELF_WORDS = frozenset({"my", "i", "i'm", "im", "i've", "ive", "mine"})
# Someone else's story runs on across commas ("her face went yellow, crusty, hot") until the
# writer turns to themselves (a self word) or to a contrast.
OTHERS_END = frozenset({"but", "however", "though", "although", "yet", "whereas", ";", "."})
QUESTION_MARKS = ("?", "??")
ASKED_WORDS_BEFORE = 2  # "chest pain? no": words of the asked sign before the symptom word
PLURAL_SUBJECTS = frozenset({"both", "all", "they", "those", "these"})  # "both stopped in minutes"
BECAME_VERBS = frozenset({"gone", "went"})
# "oozing on day 1 but it stopped that same day": "it" after "but" is the symptom, when the
# resolution is a whole one and nothing but a time follows it.
BUT_BACK = frozenset({"it", "that"})
WHOLE_RESOLUTIONS = frozenset({"stopped", "cleared", "cleared up", "disappeared", "went away"})
TIME_AFTER = frozenset({"by", "after", "within", "overnight", "quickly", "yesterday", "later"})
SAME = frozenset({"that", "the"})  # "that same day", "the same evening"
# ...unless it started again: "but it stopped only for a minute then carried on".
RESTARTED = frozenset(
    "again back then only until carried continued continues restarted returned".split()
)
OVER_FOLLOWERS = frozenset(
    "now away down off completely totally fully mostly already since by and but though "
    "overnight today thankfully luckily altogether entirely quickly within in after for so "
    "too as from".split()
)


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
    close_others: list[Match] = field(default_factory=list)
    past: list[Match] = field(default_factory=list)
    today: list[Match] = field(default_factory=list)  # "this morning", "an hour ago"
    hyperbole: list[Match] = field(default_factory=list)
    names: list[Match] = field(default_factory=list)  # "hay fever": a name holding a symptom word
    reasserted: bool = False  # "what if my throat feels tight? asking because mine does"
    recurring: bool = False  # "it's happening again": a past sign is back now
    all_negations: list[Match] = field(default_factory=list)  # also those inside signs
    proxy: bool = False  # the message says a third person is the treated one
    self_treated: bool = False  # the message says the writer is the treated one


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

    def denied_inside(self, start: int, end: int, own: set[int] = frozenset()) -> bool:
        """A negation inside the span that is not one of its own words: "my lips aren't
        swollen" (but not the "n't" of "can't breathe")."""
        return any(start <= n[0] < end and n[0] not in own for n in self._every_negation)

    @property
    def _every_negation(self) -> list[Match]:
        """Negations, also those that are words of a sign ("hasn't stopped")."""
        return self.cues.all_negations or self.cues.negations

    def hypothetical(self, start: int, end: int | None = None, emergency: bool = False) -> bool:
        """A "what if" before it, someone else's symptom ("my cousin got hives") or hyperbole.
        `emergency`: the span is an emergency sign, read as someone else's more strictly."""
        stop = start + 1 if end is None else end
        for c_start, c_end, _ in self.cues.hypotheticals:
            if c_start <= start and stop <= c_end:
                return True  # the cue holds the word: "at what temperature should I worry"
            if (
                c_end <= start
                and self.sentence_of[c_start] == self.sentence_of[start]
                and not self.terminated(c_end, start)
            ):
                return True
        named = any(c_start <= start and stop <= c_end for c_start, c_end, _ in self.cues.names)
        return named or self._someone_else(start, emergency) or self._hyperbole(start, stop)

    def _someone_else(self, start: int, emergency: bool = False) -> bool:
        # "she had hers done" says a third person is treated; when the writer is treated too
        # ("I'm fine"), the third person's symptom is theirs, unless it is an emergency.
        if self.cues.proxy and (emergency or not self.cues.self_treated):
            return False
        others = list(self.cues.others)
        if self.cues.self_treated:
            others += self.cues.close_others
        for c_start, c_end, _ in others:
            if (
                c_end <= start
                and self.sentence_of[c_start] == self.sentence_of[start]
                and not (SELF_WORDS | OTHERS_END) & set(self.lowers[c_end:start])
            ):
                return True
        return False

    def _hyperbole(self, start: int, end: int) -> bool:
        for c_start, c_end, _ in self.cues.hyperbole:
            if self.sentence_of[c_start] != self.sentence_of[start]:
                continue
            if c_start <= start and end <= c_end:
                return True  # the figure of speech holds the word: "cabin fever"
            if c_end <= start and start - c_end <= HYPERBOLE_WINDOW:
                return True
            if c_start >= end and c_start - end <= HYPERBOLE_WINDOW:
                return True
        return False

    def resolved(self, start: int, end: int) -> bool:
        """Over: "it bled but nothing since", "Oozing?? no.", "the redness went down"."""
        return (
            self.over_since(start, end)
            or self.answered_no(start, end)
            or self._resolution_near(start, end)
            or self._in_the_past(start, end)
        )

    def told_today(self, start: int, end: int) -> bool:
        """A word of today in the mention's clause, near it ("some bleeding this morning"; not
        "the oozing stopped yesterday, can I wear makeup tonight?")."""
        for c_start, c_end, _ in self.cues.today:
            if self.sentence_of[c_start] != self.sentence_of[start]:
                continue
            a, b = (end, c_start) if c_start >= end else (c_end, start)
            if 0 <= b - a <= TODAY_WINDOW and not self.terminated(a, b, loose_and=False):
                return True
        return False

    def in_the_past(self, start: int, end: int) -> bool:
        """Put in the past: "I had a fever last week"."""
        return self._in_the_past(start, end)

    def _in_the_past(self, start: int, end: int) -> bool:
        # "I had a fever last week", "last year I came out in hives"; not "since last week".
        for c_start, c_end, _ in self.cues.past:
            if self.sentence_of[c_start] != self.sentence_of[start]:
                continue
            if c_start > 0 and self._time_from(c_start):
                continue
            after = (
                c_start >= end
                and c_start - end <= PAST_WINDOW_AFTER
                and not SINCE & set(self.lowers[end:c_start])  # "since ... ago"
            )
            before = c_end <= start and start - c_end <= WINDOW_BEFORE
            if (after and not self.terminated(end, c_start, loose_and=False)) or (
                before and not self._past_cut(c_start, c_end, start)
            ):
                return True
        return False

    def _time_from(self, c_start: int) -> bool:
        """The past cue counts time from then: "since last week", "a month after my session"."""
        before = self.lowers[c_start - 1]
        if "than" in self.lowers[max(0, c_start - COMPARED_WINDOW) : c_start]:
            return True  # "darker than they were before the treatment": a change, now
        return before in NOT_PAST_BEFORE or (
            before in TIME_UNITS and self.lowers[c_start] == "after"
        )

    def _past_cut(self, c_start: int, c_end: int, start: int) -> bool:
        """A clause boundary between a past cue and a later mention. A cue that opens its
        sentence sets the time of what follows across commas: "Last time, a year ago, I got
        a cold sore"; not across "but" ("last week I was fine, but now it's oozing")."""
        if self._time_opens(c_start, start):
            between = [w for w in self.lowers[c_end:start] if w != ","]
            return any(w in self.cues.termination for w in between)
        return self.terminated(c_end, start, loose_and=False)

    def _time_opens(self, c_start: int, start: int) -> bool:
        """Only commas and other past cues lie before the cue in its sentence."""
        in_cue = {i for a, b, _ in self.cues.past for i in range(a, b)}
        i = c_start
        while not self._opens(i, start):
            i -= 1
            if self.lowers[i] != "," and i not in in_cue:
                return False
        return True

    def over_since(self, start: int, end: int) -> bool:
        """Said to be over later in its sentence: "it bled a little but nothing since"."""
        # Over across "but" or a comma, in the same sentence, for the symptom named last before
        # it only ("there's pus, the bleeding has dried up" ends the bleeding, not the pus).
        for c_start, _, _ in self.cues.over_since:
            if self.cue_before(self._every_negation, c_start, 2):
                continue  # "hasn't stopped in two hours" is not over
            same_sentence = c_start >= end and self.sentence_of[c_start] == self.sentence_of[start]
            later = any(end <= other < c_start for other in self.cues.symptom_starts)
            both = c_start > 0 and self.lowers[c_start - 1] in PLURAL_SUBJECTS  # "both stopped"
            if same_sentence and (both or not later):
                return True
        return False

    def answered_no(self, start: int, end: int) -> bool:
        """The symptom asked as a question of a few words and answered "no": "Oozing?? no.",
        "chest pain? no"."""
        lowers = self.lowers
        first = start
        while first > 0 and start - first < ASKED_WORDS_BEFORE and not self._opens(first, start):
            first -= 1
        opens_sentence = self._opens(first, start)
        if not (opens_sentence and end < len(lowers) and lowers[end] in QUESTION_MARKS):
            return False
        after = [
            i for i in range(end, min(end + 4, len(lowers))) if lowers[i] not in ("?", "??", "!")
        ]
        return bool(after) and lowers[after[0]] in POST_NEGATIONS

    def _opens(self, i: int, start: int) -> bool:
        """Position i begins the sentence of `start` (or follows a full stop in it)."""
        return (
            i == 0
            or self.sentence_of[i - 1] != self.sentence_of[start]
            or self.lowers[i - 1] in (".", "!", "?")
        )

    def _became(self, c_start: int, c_end: int) -> bool:
        """'gone' or 'went' saying what it became ("the spots have gone massive", "it went
        all yellow"), not that it is over."""
        if c_end - c_start != 1 or self.lowers[c_start] not in BECAME_VERBS:
            return False
        following = self.lowers[c_end] if c_end < len(self.lowers) else ""
        return following.isalpha() and following not in OVER_FOLLOWERS

    def _resolution_near(self, start: int, end: int) -> bool:
        for c_start, c_end, _ in self.cues.resolutions:
            if self.sentence_of[c_start] != self.sentence_of[start]:
                continue
            if self.cue_before(self._every_negation, c_start, 2):
                continue  # "hasn't gone down" is not a resolution
            if self._became(c_start, c_end):
                continue
            if (
                c_start >= end
                and c_start - end <= WINDOW_AFTER
                and not self.terminated(end, c_start)
            ):
                return True
            if c_end <= start and start - c_end <= 3 and not self.terminated(c_end, start):
                return True
            if (
                c_start >= end
                and c_start - end <= WINDOW_AFTER
                and self._but_it(end, c_start, c_end)
            ):
                return True
        return False

    def _rest_of_sentence(self, position: int) -> list[str]:
        """The words from `position` to the end of its sentence."""
        sentence = self.sentence_of[position - 1] if position else 0
        words = []
        for i in range(position, len(self.lowers)):
            if self.sentence_of[i] != sentence:
                break
            words.append(self.lowers[i])
        return words

    def _but_it(self, end: int, c_start: int, c_end: int) -> bool:
        """ "...but it stopped (that same day)": the resolution speaks of the symptom just
        before "but" (not "swollen but it stopped hurting", "pus but they stopped the
        antibiotics", "pus but it cleared up on one side")."""
        lowers = self.lowers
        return (
            c_start >= end + 2
            and lowers[c_start - 2] == "but"
            and lowers[c_start - 1] in BUT_BACK
            and not self.terminated(end, c_start - 2)
            # "bleeding and swelling but it stopped": "it" is the nearest symptom only
            and not any(self._starts_symptom(i) for i in range(end, c_start - 2))
            and " ".join(lowers[c_start:c_end]) in WHOLE_RESOLUTIONS
            and self._only_time_after(c_end)
        )

    def _only_time_after(self, position: int) -> bool:
        """Nothing or a time follows a resolution ("stopped.", "stopped by bedtime", "cleared
        up that same day"); not "stopped the antibiotics", "cleared up on one side"."""
        rest = self._rest_of_sentence(position)
        if RESTARTED & set(rest):
            return False
        words = [w for w in rest if w not in (",", "!", "?")]
        if not words:
            return True
        first, second = words[0], words[1] if len(words) > 1 else ""
        return (
            first in TIME_AFTER
            or (first in SAME and second == "same")
            or (first == "on" and second == "day")
            or (first == "straight" and second == "away")
        )
