#!/usr/bin/env python
"""Compare candidate NLU pipelines by held-out accuracy and speed.

Every candidate is a complete Rasa config in ``bench/pipelines/<name>.yml``. The NLU data
(``data/nlu``) is split ONCE, stratified per intent, with
``rasa data split nlu --random-seed 42 --training-fraction 0.8``; then, per candidate:

1. ``rasa train nlu`` on the training part (wall time measured, Rasa's training cache
   disabled so no candidate reuses another's featurizer outputs);
2. ``rasa test nlu`` on the test part (intent accuracy and macro-F1 read from
   ``intent_report.json``; entity micro-F1 from each ``<Extractor>_report.json``);
3. inference speed: the model is loaded once with ``Agent.load`` and every test text is
   parsed with ``await agent.parse_message(text)`` after a warm-up (mean ms per message).
   The same pass records each prediction's confidence (the FallbackClassifier's
   ``nlu_fallback`` is undone exactly as ``rasa test nlu`` does) for the confidence analysis.

Results go to ``results/pipelines.md`` and ``results/pipelines.json``; the table is printed.
For the best candidate the Markdown also shows the confidence distribution of correct vs
wrong predictions and a suggested FallbackClassifier threshold.

Usage (from the repository root)::

    RASA_TELEMETRY_ENABLED=false .venv/bin/python scripts/compare_pipelines.py
    .venv/bin/python scripts/compare_pipelines.py --candidates lr_counts diet_light

Run it alone on the machine: it measures time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PIPELINES_DIR = ROOT / "bench" / "pipelines"
RESULTS_DIR = ROOT / "results"
NLU_DATA = ROOT / "data" / "nlu"
RASA = Path(sys.executable).parent / "rasa"

SPLIT_SEED = 42
TRAINING_FRACTION = 0.8
#: Placeholder in a candidate config, replaced by the path of the blank spaCy pipeline.
SPACY_PLACEHOLDER = "${AFTERCARE_SPACY_LEMMA_MODEL}"
#: Share of correct predictions the suggested fallback threshold must keep.
KEEP_CORRECT = 0.98
PERCENTILES = (1, 2, 5, 10, 25, 50, 75, 90)
#: Table order for the candidates of the brief; any other config follows alphabetically.
PREFERRED_ORDER = ("lr_counts", "rasa_default", "diet_light", "lr_spacy_lemmas")

log = logging.getLogger("compare_pipelines")


@dataclass
class ConfidenceAnalysis:
    """Confidence of correct vs wrong top-intent predictions on the test split."""

    n_correct: int
    n_wrong: int
    correct_percentiles: dict[str, float]
    wrong_percentiles: dict[str, float]
    #: Highest threshold (0.01 grid) keeping >= KEEP_CORRECT of correct predictions.
    suggested_threshold: float
    kept_correct_at_suggested: float
    caught_wrong_at_suggested: float
    #: threshold -> (share of correct kept, share of wrong caught), for a few thresholds.
    sweep: dict[str, tuple[float, float]]
    wrong_examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CandidateResult:
    """Everything measured for one candidate pipeline."""

    name: str
    config: str
    ok: bool
    error: str | None = None
    accuracy: float | None = None
    macro_f1: float | None = None
    weighted_f1: float | None = None
    entity_micro_f1: dict[str, float] = field(default_factory=dict)
    train_seconds: float | None = None
    test_seconds: float | None = None
    load_seconds: float | None = None
    ms_per_message_mean: float | None = None
    ms_per_message_p50: float | None = None
    ms_per_message_p95: float | None = None
    parse_accuracy: float | None = None
    model_mb: float | None = None
    load_average_before: float | None = None
    confidence: ConfidenceAnalysis | None = None


# --------------------------------------------------------------------------- helpers


def rasa_env(workdir: Path) -> dict[str, str]:
    """Environment for Rasa subprocesses: no telemetry, training cache disabled."""
    env = dict(os.environ)
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env["RASA_MAX_CACHE_SIZE"] = "0"
    env["RASA_CACHE_DIRECTORY"] = str(workdir / "rasa-cache")
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def run(cmd: list[str], env: dict[str, str], log_file: Path) -> float:
    """Run ``cmd`` from the repository root, log its output, return its wall time in seconds.

    Raises:
        RuntimeError: if the command fails (with the tail of its output).
    """
    log.info("$ %s", " ".join(cmd))
    start = time.perf_counter()
    with log_file.open("w") as out:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"exit {proc.returncode}: {' '.join(cmd[:3])}\n{tail}")
    return elapsed


def split_data(workdir: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """Split data/nlu once (stratified per intent); return (train file, test file)."""
    out = workdir / "split"
    run(
        [
            str(RASA),
            "data",
            "split",
            "nlu",
            "--nlu",
            str(NLU_DATA),
            "--random-seed",
            str(SPLIT_SEED),
            "--training-fraction",
            str(TRAINING_FRACTION),
            "--out",
            str(out),
        ],
        env,
        workdir / "split.log",
    )
    return out / "training_data.yml", out / "test_data.yml"


def build_spacy_lemma_model(target: Path) -> Path:
    """Save a blank English spaCy pipeline with a lookup lemmatizer (tables from
    spacy-lookups-data, so it works offline) to ``target``."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    nlp.to_disk(target)
    return target


def render_config(source: Path, workdir: Path) -> Path:
    """Copy a candidate config into ``workdir``, building/substituting the spaCy model if used."""
    text = source.read_text()
    if SPACY_PLACEHOLDER in text:
        model_dir = workdir / "spacy_en_lookup_lemmas"
        if not model_dir.exists():
            build_spacy_lemma_model(model_dir)
        text = text.replace(SPACY_PLACEHOLDER, str(model_dir))
    rendered = workdir / "configs" / source.name
    rendered.parent.mkdir(parents=True, exist_ok=True)
    rendered.write_text(text)
    return rendered


def load_test_examples(test_file: Path) -> list[tuple[str, str]]:
    """(text, intent) for every example of the test split."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(test_file))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


def load_average() -> float | None:
    """1-minute load average (to judge how noisy the timings are)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default)."""
    import numpy as np

    return float(np.percentile(values, q)) if values else float("nan")


# --------------------------------------------------------------------------- measurements


async def measure_inference(
    model: Path, examples: list[tuple[str, str]], passes: int, warmup: int
) -> tuple[float, list[float], list[dict[str, Any]]]:
    """Load ``model`` once and time ``agent.parse_message`` on every test text.

    Returns:
        (load seconds, per-message milliseconds over all timed passes,
        one prediction per example from the first timed pass).
    """
    from rasa.core.agent import Agent
    from rasa.nlu.classifiers import fallback_classifier

    start = time.perf_counter()
    agent = Agent.load(str(model))
    load_seconds = time.perf_counter() - start

    for text, _ in examples[:warmup]:
        await agent.parse_message(text)

    timings: list[float] = []
    predictions: list[dict[str, Any]] = []
    for pass_no in range(passes):
        for text, intent in examples:
            t0 = time.perf_counter()
            parsed = await agent.parse_message(text)
            timings.append((time.perf_counter() - t0) * 1000)
            if pass_no == 0:
                if fallback_classifier.is_fallback_classifier_prediction(parsed):
                    parsed = fallback_classifier.undo_fallback_prediction(parsed)
                ranking = parsed.get("intent_ranking") or []
                second = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
                predictions.append(
                    {
                        "text": text,
                        "intent": intent,
                        "predicted": parsed["intent"]["name"],
                        "confidence": float(parsed["intent"]["confidence"]),
                        "margin": float(parsed["intent"]["confidence"] - second),
                    }
                )
    return load_seconds, timings, predictions


def analyse_confidence(predictions: list[dict[str, Any]]) -> ConfidenceAnalysis:
    """Percentiles of confidence for correct vs wrong predictions, and a threshold.

    The suggested threshold is the highest value on a 0.01 grid for which at least
    ``KEEP_CORRECT`` of correct predictions have confidence >= threshold (the
    FallbackClassifier triggers when confidence < threshold).
    """
    correct = [p["confidence"] for p in predictions if p["predicted"] == p["intent"]]
    wrong = [p["confidence"] for p in predictions if p["predicted"] != p["intent"]]

    def shares(threshold: float) -> tuple[float, float]:
        kept = sum(c >= threshold for c in correct) / len(correct) if correct else 1.0
        caught = sum(c < threshold for c in wrong) / len(wrong) if wrong else 1.0
        return round(kept, 4), round(caught, 4)

    grid = [round(i / 100, 2) for i in range(101)]
    suggested = max(t for t in grid if shares(t)[0] >= KEEP_CORRECT)
    kept, caught = shares(suggested)
    sweep_points = sorted({*(round(i / 20, 2) for i in range(1, 20)), suggested})
    wrong_examples = sorted(
        (p for p in predictions if p["predicted"] != p["intent"]),
        key=lambda p: -p["confidence"],
    )
    return ConfidenceAnalysis(
        n_correct=len(correct),
        n_wrong=len(wrong),
        correct_percentiles={f"p{q}": round(percentile(correct, q), 4) for q in PERCENTILES},
        wrong_percentiles={f"p{q}": round(percentile(wrong, q), 4) for q in PERCENTILES},
        suggested_threshold=suggested,
        kept_correct_at_suggested=kept,
        caught_wrong_at_suggested=caught,
        sweep={f"{t:.2f}": shares(t) for t in sweep_points},
        wrong_examples=wrong_examples,
    )


def read_reports(report_dir: Path, result: CandidateResult) -> None:
    """Fill intent and entity metrics from the reports ``rasa test nlu`` wrote."""
    intent = json.loads((report_dir / "intent_report.json").read_text())
    result.accuracy = round(float(intent["accuracy"]), 4)
    result.macro_f1 = round(float(intent["macro avg"]["f1-score"]), 4)
    result.weighted_f1 = round(float(intent["weighted avg"]["f1-score"]), 4)
    for report in sorted(report_dir.glob("*_report.json")):
        extractor = report.name.removesuffix("_report.json")
        if extractor in {"intent", "response_selection"}:
            continue
        data = json.loads(report.read_text())
        micro = data.get("micro avg") or {}
        if "f1-score" in micro:
            result.entity_micro_f1[extractor] = round(float(micro["f1-score"]), 4)


def evaluate_candidate(
    name: str,
    workdir: Path,
    train_file: Path,
    test_file: Path,
    examples: list[tuple[str, str]],
    env: dict[str, str],
    passes: int,
    warmup: int,
) -> CandidateResult:
    """Train, test and time one candidate; failures are recorded, not raised."""
    source = PIPELINES_DIR / f"{name}.yml"
    result = CandidateResult(name=name, config=str(source.relative_to(ROOT)), ok=False)
    result.load_average_before = load_average()
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    try:
        config = render_config(source, workdir)
        models = workdir / "models"
        result.train_seconds = round(
            run(
                [
                    str(RASA),
                    "train",
                    "nlu",
                    "--config",
                    str(config),
                    "--nlu",
                    str(train_file),
                    "--out",
                    str(models),
                    "--fixed-model-name",
                    name,
                ],
                env,
                logs / f"{name}.train.log",
            ),
            2,
        )
        model = models / f"{name}.tar.gz"
        result.model_mb = round(model.stat().st_size / 1e6, 2)

        report_dir = workdir / name
        result.test_seconds = round(
            run(
                [
                    str(RASA),
                    "test",
                    "nlu",
                    "--model",
                    str(model),
                    "--nlu",
                    str(test_file),
                    "--out",
                    str(report_dir),
                ],
                env,
                logs / f"{name}.test.log",
            ),
            2,
        )
        read_reports(report_dir, result)

        load_s, timings, predictions = asyncio.run(
            measure_inference(model, examples, passes, warmup)
        )
        result.load_seconds = round(load_s, 2)
        result.ms_per_message_mean = round(sum(timings) / len(timings), 3)
        result.ms_per_message_p50 = round(percentile(timings, 50), 3)
        result.ms_per_message_p95 = round(percentile(timings, 95), 3)
        result.parse_accuracy = round(
            sum(p["predicted"] == p["intent"] for p in predictions) / len(predictions), 4
        )
        if abs(result.parse_accuracy - (result.accuracy or 0)) > 1e-3:
            log.warning(
                "%s: accuracy from parse_message (%.4f) differs from rasa test nlu (%.4f)",
                name,
                result.parse_accuracy,
                result.accuracy,
            )
        result.confidence = analyse_confidence(predictions)
        result.ok = True
    except Exception as exc:  # noqa: BLE001 - one failing candidate must not stop the others
        log.error("%s failed: %s", name, exc)
        result.error = str(exc)
    return result


# --------------------------------------------------------------------------- reporting


def fmt(value: float | None, spec: str) -> str:
    """Format a number or show a dash for a missing value."""
    return "–" if value is None else format(value, spec)


def best_candidate(results: list[CandidateResult]) -> CandidateResult | None:
    """Highest macro-F1, then accuracy, then the faster one."""
    ok = [r for r in results if r.ok]
    if not ok:
        return None
    return max(ok, key=lambda r: (r.macro_f1, r.accuracy, -(r.ms_per_message_mean or 0)))


def results_table(results: list[CandidateResult]) -> str:
    """The main comparison table in Markdown."""
    lines = [
        "| candidate | intent accuracy | macro-F1 | weighted-F1 | entity micro-F1 "
        "| train s | load s | ms/message (mean) | p95 ms | model MB |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if not r.ok:
            first_line = (r.error or "failed").splitlines()[0]
            lines.append(f"| {r.name} | FAILED: {first_line} | | | | | | | | |")
            continue
        entities = ", ".join(f"{k} {v:.3f}" for k, v in r.entity_micro_f1.items()) or "–"
        lines.append(
            f"| {r.name} | {fmt(r.accuracy, '.4f')} | {fmt(r.macro_f1, '.4f')} "
            f"| {fmt(r.weighted_f1, '.4f')} | {entities} | {fmt(r.train_seconds, '.1f')} "
            f"| {fmt(r.load_seconds, '.1f')} | {fmt(r.ms_per_message_mean, '.2f')} "
            f"| {fmt(r.ms_per_message_p95, '.2f')} | {fmt(r.model_mb, '.1f')} |"
        )
    return "\n".join(lines)


def confidence_section(r: CandidateResult) -> str:
    """Markdown for the confidence analysis of one candidate."""
    c = r.confidence
    assert c is not None
    keys = list(c.correct_percentiles)
    lines = [
        f"### Confidence on the test split: {r.name}",
        "",
        f"{c.n_correct} correct, {c.n_wrong} wrong predictions (top intent, fallback undone).",
        "",
        "| | " + " | ".join(keys) + " |",
        "|---|" + "---:|" * len(keys),
        "| correct | " + " | ".join(f"{c.correct_percentiles[k]:.3f}" for k in keys) + " |",
        "| wrong | " + " | ".join(f"{c.wrong_percentiles[k]:.3f}" for k in keys) + " |",
        "",
        "| fallback threshold | correct kept | wrong caught |",
        "|---:|---:|---:|",
    ]
    for t, (kept, caught) in c.sweep.items():
        mark = " **(suggested)**" if float(t) == c.suggested_threshold else ""
        lines.append(f"| {t}{mark} | {kept:.1%} | {caught:.1%} |")
    lines += [
        "",
        f"Suggested `FallbackClassifier` threshold: **{c.suggested_threshold:.2f}** "
        f"(highest on a 0.01 grid keeping ≥{KEEP_CORRECT:.0%} of correct predictions): keeps "
        f"{c.kept_correct_at_suggested:.1%} of correct, catches "
        f"{c.caught_wrong_at_suggested:.1%} of wrong.",
        "",
        "Wrong predictions, most confident first:",
        "",
        "| text | true | predicted | confidence |",
        "|---|---|---|---:|",
    ]
    for p in c.wrong_examples:
        text = p["text"].replace("|", "\\|")
        lines.append(f"| {text} | {p['intent']} | {p['predicted']} | {p['confidence']:.3f} |")
    return "\n".join(lines)


def write_results(
    results: list[CandidateResult], meta: dict[str, Any], md_path: Path, json_path: Path
) -> str:
    """Write the Markdown and JSON reports; return the table."""
    table = results_table(results)
    best = best_candidate(results)
    md = [
        "# NLU pipeline comparison",
        "",
        f"Generated by `scripts/compare_pipelines.py` on {meta['date']}. Held-out split: "
        f"`rasa data split nlu --random-seed {SPLIT_SEED} --training-fraction "
        f"{TRAINING_FRACTION}` ({meta['n_train']} train / {meta['n_test']} test examples, "
        f"{meta['n_intents']} intents), the same split for every candidate. "
        f"Train s = wall time of `rasa train nlu` (includes ~CLI start-up, cache disabled). "
        f"ms/message = `await agent.parse_message(text)` over all test texts, "
        f"{meta['passes']} passes after {meta['warmup']} warm-up messages. "
        f"Machine: {meta['cpus']} CPUs, Python {meta['python']}, Rasa {meta['rasa']}, "
        f"spaCy {meta['spacy']}.",
        "",
        table,
        "",
    ]
    if best is not None:
        md += [f"Best by macro-F1 (then accuracy, then speed): **{best.name}**.", ""]
        md.append(confidence_section(best))
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text("\n".join(md) + "\n")
    payload = {
        "meta": meta,
        "best": best.name if best else None,
        "candidates": [asdict(r) for r in results],
    }
    json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return table


# --------------------------------------------------------------------------- main


def available_candidates() -> list[str]:
    """Candidate names: the stems of bench/pipelines/*.yml (the brief's order first)."""
    names = {p.stem for p in PIPELINES_DIR.glob("*.yml")}
    first = [n for n in PREFERRED_ORDER if n in names]
    return first + sorted(names - set(first))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--candidates",
        nargs="+",
        metavar="NAME",
        help=f"subset of bench/pipelines/*.yml to run (default: all: "
        f"{', '.join(available_candidates())})",
    )
    parser.add_argument(
        "--passes", type=int, default=3, help="timed passes over the test texts (default 3)"
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="warm-up messages before timing (default 20)"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep split, models and reports here (default: a temp dir, deleted afterwards)",
    )
    parser.add_argument(
        "--md", type=Path, default=RESULTS_DIR / "pipelines.md", help="Markdown report path"
    )
    parser.add_argument(
        "--json", type=Path, default=RESULTS_DIR / "pipelines.json", help="JSON report path"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; return a process exit code (1 if any candidate failed)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("rasa", "tensorflow", "absl", "h5py", "matplotlib", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from rasa.utils.log_utils import configure_structlog

    # Without this Rasa's structlog prints a debug line per parsed message, which would
    # end up inside the timed loop.
    configure_structlog(logging.WARNING)

    names = args.candidates or available_candidates()
    unknown = [n for n in names if not (PIPELINES_DIR / f"{n}.yml").exists()]
    if unknown:
        print(f"unknown candidates: {unknown}; available: {available_candidates()}")
        return 2

    keep = args.workdir is not None
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="pipelines-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    env = rasa_env(workdir)
    log.info("work dir: %s", workdir)
    try:
        train_file, test_file = split_data(workdir, env)
        examples = load_test_examples(test_file)
        n_train = len(load_test_examples(train_file))
        results = []
        for name in names:
            log.info("== %s", name)
            results.append(
                evaluate_candidate(
                    name, workdir, train_file, test_file, examples, env, args.passes, args.warmup
                )
            )
            r = results[-1]
            if r.ok:
                log.info(
                    "%s: acc %.4f macro-F1 %.4f train %.1fs %.2f ms/msg",
                    name,
                    r.accuracy,
                    r.macro_f1,
                    r.train_seconds,
                    r.ms_per_message_mean,
                )

        import rasa
        import spacy

        meta = {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "split_seed": SPLIT_SEED,
            "training_fraction": TRAINING_FRACTION,
            "n_train": n_train,
            "n_test": len(examples),
            "n_intents": len({intent for _, intent in examples}),
            "passes": args.passes,
            "warmup": args.warmup,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "rasa": rasa.__version__,
            "spacy": spacy.__version__,
            "workdir": str(workdir) if keep else None,
        }
        table = write_results(results, meta, args.md, args.json)
        print(table)
        best = best_candidate(results)
        if best is not None and best.confidence is not None:
            c = best.confidence
            print(
                f"\nbest: {best.name}; suggested fallback threshold {c.suggested_threshold:.2f} "
                f"(keeps {c.kept_correct_at_suggested:.1%} of correct, catches "
                f"{c.caught_wrong_at_suggested:.1%} of wrong)"
            )
        print(f"\nwritten: {args.md} and {args.json}")
        return 0 if all(r.ok for r in results) else 1
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
