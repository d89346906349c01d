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
import tempfile
from dataclasses import dataclass

from bench.common import ROOT
from bench.screening_cv import source_of, tally
from bot.language.screening import screener as screener_module
from bot.language.screening.context import Context
from bot.language.screening.learning import read_cases
from bot.serve.screening_training import screening_inputs
from bot.service import AftercareService, Incoming
from bot.settings import Settings

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

    def hypothetical(self, start: int, end: int | None = None) -> bool:
        theirs = self._flag(self.flags.hypothetical, start)
        return self._mix(super().hypothetical(start, end), theirs)

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


def levels(service, cases: list[dict], variant: str) -> list[str]:
    """The screening level of every case with one context variant."""
    MedspacyContext.variant = variant
    original = screener_module.Context
    if variant != "rules":
        screener_module.Context = _patched_context(service)
    try:
        out = []
        for i, case in enumerate(cases):
            sender = f"ctx-{variant}-{i}"
            if case.get("day") is not None:
                days = case["day"]
                service.save_treatment_date(sender, f"{days} days ago" if days else "today")
            turn = service.turn(Incoming(sender, "nlu_fallback", str(case["text"])))
            out.append(service.answering.triage(turn).level)
        return out
    finally:
        screener_module.Context = original


def _patched_context(service):
    termination = service.clinic().lexicon.context.get("termination", ())

    class Patched(MedspacyContext):
        def __init__(self, lowers, sentence_of, cues, starts_symptom, doc=None, spans=()):
            super().__init__(lowers, sentence_of, cues, starts_symptom)
            self.flags = _medspacy_flags(doc, list(spans), frozenset(termination))

    return Patched


def main() -> int:
    """Score every variant on every labelled set; print a table and write JSON."""
    cases, sources = [], []
    for path in screening_inputs(ROOT):
        read = read_cases([path])
        cases += read
        sources += [source_of(path)] * len(read)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(
            {"AFTERCARE_DATABASE_URL": f"sqlite:///{tmp}/ctx.db", "AFTERCARE_MODELS_DIR": tmp}
        )
        service = AftercareService(settings)
        results = {}
        for variant in VARIANTS:
            got = levels(service, cases, variant)
            wanted = [c["level"] for c in cases]
            results[variant] = tally(list(zip(sources, wanted, got, strict=True)))
    out = ROOT / "results" / "context_compare.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    for variant, by_source in results.items():
        for source, t in by_source.items():
            print(
                f"{variant:<9} {source:<28} recall {t['caught']}/{t['severe']}"
                f"  emergency {t['emergency_caught']}/{t['emergency']}"
                f"  false urgent {t['false_urgent']}/{t['calm']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
