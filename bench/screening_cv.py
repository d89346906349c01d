"""How the two screening nets do together on every labelled message, without tuning on it.

The learned net's reading of each message comes from models that did not see it (5-fold,
`out_of_fold`); the lexicon reads it as it always does; both together give its level on its
day, as the bot would (no NLU: the screening level). Scored per source: the writers'
screening messages, the red-flag sets, each merged held-out set.

    python -m bench.screening_cv [--lexicon-only]   # writes results/screening_cv.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from bench.common import ROOT
from bot.kb.loader import load_clinic
from bot.language.encoder import load_encoder
from bot.language.screening.learned import LearnedScreening, char_vectorizer
from bot.language.screening.learning import (
    MAX_CHAR_FEATURES,
    examples,
    net_targets,
    out_of_fold,
    parts,
    read_cases,
    thresholds_for,
)
from bot.serve.screening_training import screening_inputs
from bot.service import AftercareService, Incoming
from bot.settings import Settings

RANK = {"none": 0, "question": 1, "urgent": 2, "emergency": 3}


def source_of(path: Path) -> str:
    """How a file's cases are grouped in the report."""
    if "screening" in path.parts:
        return "writers' screening messages"
    return path.stem if path.parent.name == "heldout" else "red-flag sets"


CACHE = ROOT / "var" / "bench" / "embeddings.npz"


def _load_cache(encoder) -> None:
    """Sentence vectors of earlier runs (the slow part), so a re-run is quick."""
    if CACHE.is_file():
        data = np.load(CACHE, allow_pickle=False)
        encoder._cache.update(zip(data["texts"].tolist(), data["vectors"], strict=True))


def _save_cache(encoder) -> None:
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    texts = list(encoder._cache)
    np.savez(CACHE, texts=np.array(texts), vectors=np.stack([encoder._cache[t] for t in texts]))


def learned_readings(cases: list[dict], settings: Settings) -> list[LearnedScreening]:
    """Each case's reading by models that did not see it."""
    clinic = load_clinic(settings.clinic_dir)
    symptoms, signs = net_targets(clinic)
    data = examples(cases, symptoms, signs)
    vectorizer = char_vectorizer()
    vectorizer.set_params(max_features=MAX_CHAR_FEATURES)
    vectorizer.fit(data.texts)
    encoder = load_encoder(settings.minilm_dir)
    encoder._cache.clear()
    _load_cache(encoder)
    p = parts(data.texts, encoder, vectorizer)
    _save_cache(encoder)
    probabilities = out_of_fold(data, p)
    thresholds = thresholds_for(data, probabilities)
    _print_labels(data, probabilities, thresholds)
    return [
        LearnedScreening(dict(zip(data.labels, map(float, row), strict=True)), thresholds)
        for row in probabilities
    ]


def _print_labels(data, probabilities: np.ndarray, thresholds: dict) -> None:
    """Each label's precision and recall at its threshold, on the held-out folds."""
    for column, label in enumerate(data.labels):
        known = data.y[:, column] != -1
        truth = data.y[known, column] == 1
        said = probabilities[known, column] >= thresholds[label]
        hits = int((truth & said).sum())
        print(
            f"  {label:<28} threshold {thresholds[label]:.2f}  precision {hits / max(said.sum(), 1):.2f}"
            f"  recall {hits / max(truth.sum(), 1):.2f}  ({int(truth.sum())} positive)"
        )


def level_of(service: AftercareService, case: dict, learned, index: int) -> str:
    """The screening level of one case on its day."""
    sender = f"cv-{index}"
    day = case.get("day")
    if day is not None:
        service.save_treatment_date(sender, f"{day} days ago" if day else "today")
    turn = service.turn(Incoming(sender, "nlu_fallback", str(case["text"])))
    if learned is not None:
        turn = turn.with_message("nlu_fallback", str(case["text"]), learned=learned)
    return service.answering.triage(turn).level


def tally(rows: list[tuple[str, str, str]]) -> dict:
    """Recall, emergency recall, person-needed recall and false urgent per source."""
    out: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for source, want, got in rows:
        t = out[source]
        w, g = RANK[want], RANK[got]
        t["severe"] += w >= 2
        t["caught"] += w >= 2 and g >= 2
        t["emergency"] += w == 3
        t["emergency_caught"] += w == 3 and g == 3
        t["person"] += w >= 1
        t["person_caught"] += w >= 1 and g >= 1
        t["calm"] += w == 0
        t["false_urgent"] += w == 0 and g >= 2
    return {k: dict(v) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lexicon-only", action="store_true", help="without the learned net")
    args = parser.parse_args(argv)
    paths = screening_inputs(ROOT)
    cases, sources = [], []
    for path in paths:
        read = read_cases([path])
        cases += read
        sources += [source_of(path)] * len(read)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(
            {"AFTERCARE_DATABASE_URL": f"sqlite:///{tmp}/cv.db", "AFTERCARE_MODELS_DIR": tmp}
        )
        readings = [None] * len(cases) if args.lexicon_only else learned_readings(cases, settings)
        service = AftercareService(settings)
        levels = [
            level_of(service, c, r, i) for i, (c, r) in enumerate(zip(cases, readings, strict=True))
        ]
    rows = list(zip(sources, [c["level"] for c in cases], levels, strict=True))
    report = tally(rows)
    for source, t in report.items():
        print(
            f"{source:<30} recall {t['caught']}/{t['severe']}  emergency {t['emergency_caught']}/{t['emergency']}"
            f"  person {t['person_caught']}/{t['person']}  false urgent {t['false_urgent']}/{t['calm']}"
        )
    out = (
        ROOT
        / "results"
        / ("screening_cv_lexicon.json" if args.lexicon_only else "screening_cv.json")
    )
    out.parent.mkdir(exist_ok=True)
    misses = [
        {"source": s, "want": c["level"], "got": g, "day": c.get("day"), "text": c["text"]}
        for (s, _, g), c in zip(rows, cases, strict=True)
        if RANK[c["level"]] != RANK[g]
    ]
    out.write_text(json.dumps({"report": report, "mismatches": misses}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
