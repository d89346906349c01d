"""Both screening nets together: either one can raise the level.

The lexicon (`screener.py`) finds the clinic's words and reads each in its context; the learned
net (`learned.py`) reads what the message means. What the net finds is added as if the lexicon
had found it: a symptom topic as a present mention, a sign, an emergency, or (`other`) a
symptom the KB cannot place. Context applies to both: a symptom the lexicon read as denied,
over, hypothetical or someone else's is added by the net only when it is very sure, and so is
an emergency in a message with a denied or hypothetical emergency sign or a figure of speech.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from bot.language.clauses import clauses
from bot.language.screening.found import Mention, Screening
from bot.language.screening.learned import OTHER, PRESENT, LearnedScreening

LEARNED = "learned"  # the text of what only the learned net found
SURE = 0.9  # to overrule the lexicon's reading of a symptom's context
# Beside a symptom the lexicon placed ("my face is very swollen and getting worse": urgent), an
# emergency only the net reads must clear its threshold by this much. With the net trained on
# H1-H10, the smallest margin of a real emergency only the net reads is 0.37; that swollen face
# read 0.10 after one retraining (0.05 after another), so half the smallest real margin.
PLACED_MARGIN = 0.2
# Below this probability the net reads that the message reports no symptom of the client's own,
# present now (someone else's, past, imagined, a figure of speech). Out of fold on every labelled
# message (bench/screening_cv.py), 0.25 with the exceptions below removed 8 of 67 false alarms
# and moved 1 of 2,925 urgent readings to `question` (a message in Portuguese).
NOT_PRESENT = 0.25


def combine(
    screening: Screening, learned: LearnedScreening | None, bare_question: bool = False
) -> Screening:
    """The lexicon's screening with what the learned net adds: only when the net reads the
    client's own symptom, present now, and the lexicon did not read every symptom word of the
    message as denied, over, hypothetical or someone else's (unless the net is very sure).

    `bare_question`: the message is one question and nothing else ("is oozing normal on day
    4?"): nothing in it says whose the symptom is, so the safer reading (the client's) stays."""
    if learned is None:
        return screening
    if not learned.present:
        unsure = not bare_question and _unsure_whose(screening, learned)
        return replace(screening, unsure_whose=unsure)
    read_away_only = screening.read_away or screening.hypothetical_emergency
    if (screening.mentions or read_away_only) and not screening.active_topics:
        # Every symptom or emergency word the lexicon found is denied, over, hypothetical or
        # someone else's ("my friend's throat closed up"): the net must be sure to add one.
        learned = _only_sure(learned)
    inactive = screening.inactive_topics
    present = set(screening.active_topics)
    # What the lexicon read as denied, over, hypothetical or someone else's stays so.
    added = [t for t in learned.symptoms if t != OTHER and t not in present and t not in inactive]
    mentions = screening.mentions + tuple(Mention(t, LEARNED, -1, -1) for t in added)
    barred = screening.inactive_signs | screening.overruled_signs
    new_signs = [s for s in learned.signs if s not in barred]
    if _all_over(screening) and not added:
        new_signs = []  # "it bled a bit but stopped after a couple of minutes": nothing goes on
    signs = screening.signs | frozenset(new_signs)
    emergency = screening.emergency
    read_away = (
        screening.denied_emergency or screening.hypothetical_emergency or screening.figurative
    )
    if (
        learned.emergency
        and not emergency
        and (not read_away or learned.probabilities["emergency"] >= SURE)
        and (not screening.active_topics or _clear_emergency(learned))
    ):
        emergency = (LEARNED,)
    unplaced = screening.unplaced
    if OTHER in learned.symptoms and not unplaced and not screening.active_topics and not added:
        unplaced = (LEARNED,)
    worrying = screening.worrying or any(s in screening.worrying_signs for s in new_signs)
    return replace(
        screening,
        mentions=mentions,
        signs=signs,
        emergency=emergency,
        unplaced=unplaced,
        worrying=worrying,
        inactive_topics=inactive - set(added),
        learned=tuple(f"symptom:{t}" for t in added)
        + tuple(f"sign:{s}" for s in new_signs if s not in screening.signs)
        + (("emergency",) if emergency == (LEARNED,) else ()),
    )


def _unsure_whose(screening: Screening, learned: LearnedScreening) -> bool:
    """The lexicon placed a symptom or sign of the client's, but the net reads none as theirs
    and present now. An emergency, a sign that on its own says something is wrong ("bleeding
    won't stop") and a past sign told as back ("again") stay as read."""
    placed = bool(screening.signs or screening.active_topics)
    return (
        placed
        and not screening.emergency
        and not screening.worrying
        and not screening.recurring
        and learned.probabilities.get(PRESENT, 1.0) < NOT_PRESENT
    )


def _all_over(screening: Screening) -> bool:
    """Every symptom the lexicon found is told as over (and none as present): a sign the
    net reads ("won't stop", "getting worse") would contradict what the message says."""
    mentions = [m for m in screening.mentions if m.text != LEARNED]
    return bool(mentions) and not screening.active_topics and all(m.resolved for m in mentions)


def _clear_emergency(learned: LearnedScreening) -> bool:
    """The net's emergency clears its threshold by PLACED_MARGIN."""
    threshold = learned.thresholds.get("emergency", 1.0)
    return learned.probabilities.get("emergency", 0.0) >= threshold + PLACED_MARGIN


def _only_sure(learned: LearnedScreening) -> LearnedScreening:
    """The net's reading with every label below SURE dropped."""
    thresholds = {k: max(v, SURE) for k, v in learned.thresholds.items()}
    return LearnedScreening(learned.probabilities, thresholds)


def not_the_clients(screening: Screening) -> tuple[str, ...]:
    """What the lexicon read as not the client's own, present now: emergency words denied,
    someone else's or hypothetical, and symptoms told as someone else's or hypothetical ("my
    sister's face swelled up"). The net must find what only it found without these clauses."""
    return screening.read_away + tuple(m.text for m in screening.mentions if m.hypothetical)


def remainder(text: str, read_away: tuple[str, ...]) -> str:
    """The message without the clauses that hold what the lexicon read away (as whole
    words: "red" read away leaves "I'm scared"); short clauses ("Drooling.") stay."""
    away = [re.compile(rf"(?<!\w){re.escape(r.lower())}(?!\w)") for r in read_away]
    kept = [c for c in clauses(text, min_words=1) if not any(r.search(c.lower()) for r in away)]
    return " ".join(kept)


def without_learned_emergency(screening: Screening) -> Screening:
    """The screening without the emergency only the learned net found."""
    learned = tuple(x for x in screening.learned if x != "emergency")
    return replace(screening, emergency=(), learned=learned)


def only_what_the_rest_holds(screening: Screening, rest: LearnedScreening | None) -> Screening:
    """Without the symptoms and signs only the learned net found that it does not find again
    in the rest of the message (the clauses the lexicon read away taken out; nothing is found
    again when the rest reports nothing of the client's own now): "breathing fine, lips fine,
    just a bit itchy" is no allergic reaction because lips and breathing were named."""
    found = rest is not None and rest.present
    symptoms = set(rest.symptoms) if found else set()
    signs = set(rest.signs) if found else set()
    mentions = tuple(m for m in screening.mentions if m.text != LEARNED or m.topic in symptoms)
    learned_signs = {x[len("sign:") :] for x in screening.learned if x.startswith("sign:")}
    dropped = learned_signs - signs - _lexicon_signs(screening)
    learned = tuple(
        x
        for x in screening.learned
        if not (x.startswith("symptom:") and x[len("symptom:") :] not in symptoms)
        and not (x.startswith("sign:") and x[len("sign:") :] in dropped)
    )
    return replace(
        screening, mentions=mentions, learned=learned, signs=screening.signs - frozenset(dropped)
    )


def _lexicon_signs(screening: Screening) -> set[str]:
    """The signs the lexicon found itself (its words for them are in the message)."""
    return {s for s in screening.signs if f"sign:{s}" not in screening.learned}


def recheck_without(
    combined: Screening,
    text: str,
    read_away: tuple[str, ...],
    read: Callable[[str], LearnedScreening],
) -> Screening:
    """What only the learned net found (an emergency, a symptom), kept only if `read` (the
    net) finds it again in the message without the clauses the lexicon read away."""
    only_net = combined.emergency == (LEARNED,) or any(m.text == LEARNED for m in combined.mentions)
    if not only_net:
        return combined
    rest = remainder(text, read_away)
    again = read(rest) if rest else None
    if combined.emergency == (LEARNED,) and not (again and again.emergency):
        combined = without_learned_emergency(combined)
    return only_what_the_rest_holds(combined, again)
