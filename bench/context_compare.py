"""medspaCy's ConText against our context rules, on every labelled set (issue 13).

The lexicon finds symptom words, signs and emergencies; whether each is denied, over,
hypothetical or someone else's is read either by our rules (`bot.language.screening.context`)
or by medspaCy's ConText (its default rules, with our clause ends added), or both ways
combined. Each variant screens every case of every set at the screening level (no NLU, no
learned net: only the context reading differs) and is scored on urgent + emergency recall
and false urgent alarms on calm cases.

    python -m bench.context_compare   # needs medspacy (pip install medspacy==1.3.1)
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

from bench.common import ROOT
from bot.language.screening import screener as screener_module
from bot.language.screening.context import Context

RANK = {"none": 0, "question": 1, "urgent": 2, "emergency": 3}
VARIANTS = ("rules", "medspacy", "either", "both")


@dataclass
class ConTextFlags:
    """medspaCy's reading of each target span of one message."""

    negated: dict[tuple[int, int], bool]
    hypothetical: dict[tuple[int, int], bool]
    historical: dict[tuple[int, int], bool]


class MedspacyContext(Context):
    """Our `Context`, with its answers replaced or combined with medspaCy's ConText."""

    variant = "medspacy"
    flags: ConTextFlags | None = None

    def _flag(self, table: dict, start: int, end: int | None = None) -> bool:
        for (s, e), value in table.items():
            if s == start and (end is None or e == end):
                return value
        return False

    def _mix(self, ours: bool, theirs: bool) -> bool:
        return {"medspacy": theirs, "either": ours or theirs, "both": ours and theirs}[self.variant]

    def negated(self, start: int, end: int) -> bool:
        return self._mix(super().negated(start, end), self._flag(self.flags.negated, start, end))

    def hypothetical(self, start: int) -> bool:
        return self._mix(super().hypothetical(start), self._flag(self.flags.hypothetical, start))

    def resolved(self, start: int, end: int) -> bool:
        theirs = self._flag(self.flags.historical, start, end)
        return self._mix(super().resolved(start, end), theirs)


def _medspacy_flags(doc, spans: list[tuple[int, int]], termination: frozenset[str]) -> ConTextFlags:
    """Run medspaCy's ConText over the spans of a message (as entities)."""
    from medspacy.context import ConText, ConTextRule  # medspacy: only for this comparison
    from spacy.tokens import Span

    context = _context_component(doc.vocab, termination, ConText, ConTextRule)
    chosen, taken = [], set()
    for s, e in sorted(set(spans), key=lambda x: (x[0], -(x[1] - x[0]))):
        if not taken & set(range(s, e)):
            chosen.append(Span(doc, s, e, label="TARGET"))
            taken |= set(range(s, e))
    doc.ents = chosen
    context(doc)
    flags = ConTextFlags({}, {}, {})
    for ent in doc.ents:
        key = (ent.start, ent.end)
        flags.negated[key] = bool(ent._.is_negated)
        flags.hypothetical[key] = bool(ent._.is_hypothetical or ent._.is_family)
        flags.historical[key] = bool(ent._.is_historical)
    return flags


_COMPONENT = {}


def _context_component(vocab, termination, context_cls, rule_cls):
    if "context" not in _COMPONENT:
        import spacy

        nlp = spacy.blank("en")
        component = context_cls(nlp, rules="default")
        component.add([rule_cls(term, "TERMINATE") for term in sorted(termination)])
        _COMPONENT["context"] = component
    return _COMPONENT["context"]


def score(service, cases: list[dict], variant: str) -> dict:
    """Recall and false alarms of one context variant at the screening level."""
    from bot.service import Incoming

    MedspacyContext.variant = variant
    original = screener_module.Context
    if variant != "rules":
        screener_module.Context = _patched_context(service)
    try:
        severe = caught = calm = alarms = 0
        for i, case in enumerate(cases):
            sender = f"ctx-{variant}-{i}"
            if case.get("day") is not None:
                days = case["day"]
                service.save_treatment_date(sender, f"{days} days ago" if days else "today")
            answer, triage = service.answering.screen(
                service.turn(Incoming(sender, "nlu_fallback", case["text"]))
            )
            got = RANK[triage.level]
            want = RANK[case["level"]]
            severe += want >= 2
            caught += want >= 2 and got >= want
            calm += want == 0
            alarms += want == 0 and got >= 2
    finally:
        screener_module.Context = original
    return {
        "recall": caught / severe,
        "severe": severe,
        "caught": caught,
        "false_alarms": alarms / calm,
        "calm": calm,
        "alarms": alarms,
    }


def _patched_context(service):
    termination = service.clinic().lexicon.context.get("termination", ())

    class Patched(MedspacyContext):
        def __init__(self, lowers, sentence_of, cues, starts_symptom, doc=None, spans=()):
            super().__init__(lowers, sentence_of, cues, starts_symptom)
            self.flags = _medspacy_flags(doc, list(spans), frozenset(termination))

    return Patched


def main() -> int:
    """Score every variant on every labelled set; print a table and write JSON."""
    import tempfile

    from bot.language.screening.learning import read_cases
    from bot.service import AftercareService
    from bot.settings import Settings

    paths = (
        sorted((ROOT / "tests" / "data").glob("red_flags*.yml"))
        + sorted((ROOT / "tests" / "data" / "heldout").glob("*.yml"))
        + sorted((ROOT / "data" / "screening").glob("*.yml"))
    )
    cases = read_cases(paths)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(
            {"AFTERCARE_DATABASE_URL": f"sqlite:///{tmp}/ctx.db", "AFTERCARE_MODELS_DIR": tmp}
        )
        service = AftercareService(settings)
        results = {v: score(service, cases, v) for v in VARIANTS}
    out = ROOT / "results" / "context_compare.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    for variant, r in results.items():
        print(
            f"{variant:<9} recall {r['recall']:.1%} ({r['caught']}/{r['severe']})  false urgent {r['false_alarms']:.1%} ({r['alarms']}/{r['calm']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
