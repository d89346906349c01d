#!/usr/bin/env python
"""Compare candidate NLU pipelines by held-out accuracy and speed.

Every candidate is a complete Rasa config in ``bench/pipelines/<name>.yml``. The NLU data
(``data/nlu``) is split ONCE, stratified per intent, with
``rasa data split nlu --random-seed 42 --training-fraction 0.8``, and every candidate is
trained and tested on that same split:

1. ``rasa train nlu`` on the training part: wall time, plus the CPU time of the Rasa process
   (less sensitive to other load on the machine). Rasa's training cache is disabled so no
   candidate reuses another's featurizer outputs.
2. ``rasa test nlu`` on the test part: intent accuracy, macro-F1 and weighted-F1 from
   ``intent_report.json``; entity micro-F1 from each ``<Extractor>_report.json``.
3. Inference speed: each model is loaded once with ``Agent.load`` (TensorFlow and Rasa are
   imported beforehand, so load times are comparable) and every test text is parsed with
   ``await agent.parse_message(text)`` after a warm-up. The timed passes go round-robin over
   the candidates, so background load on the machine hits all of them alike. The first pass
   also records each prediction and its confidence (the FallbackClassifier's
   ``nlu_fallback`` is undone exactly as ``rasa test nlu`` does).
4. Analysis: paired McNemar test of each candidate against a baseline (by default the
   candidate whose pipeline is config.yml's), and the confidence of correct vs wrong
   predictions with a suggested FallbackClassifier threshold.

Results go to ``results/pipelines.md`` and ``results/pipelines.json``; the table is printed.

Usage (from the repository root; run it alone on the machine, it measures time)::

    RASA_TELEMETRY_ENABLED=false .venv/bin/python scripts/compare_pipelines.py
    .venv/bin/python scripts/compare_pipelines.py --candidates lr_counts diet_light
    .venv/bin/python scripts/compare_pipelines.py --workdir /tmp/bench --reuse  # re-time only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PIPELINES_DIR = ROOT / "bench" / "pipelines"
RESULTS_DIR = ROOT / "results"
NLU_DATA = ROOT / "data" / "nlu"
RASA = Path(sys.executable).parent / "rasa"

SPLIT_SEED = 42
TRAINING_FRACTION = 0.8
#: Placeholder in a candidate config, replaced by the path of the blank spaCy pipeline.
SPACY_PLACEHOLDER = "${AFTERCARE_SPACY_LEMMA_MODEL}"
CONFIG = ROOT / "config.yml"
#: Table order for the candidates of the brief; any other config follows alphabetically.
PREFERRED_ORDER = ("minilm", "lr_counts", "rasa_default", "diet_light", "lr_spacy_lemmas")
#: Share of correct predictions the suggested fallback threshold must keep.
KEEP_CORRECT = 0.98
PERCENTILES = (1, 2, 5, 10, 25, 50, 75, 90)

log = logging.getLogger("compare_pipelines")


# --------------------------------------------------------------------------- data classes


@dataclass
class Prediction:
    """One test example as the model saw it (top intent with the fallback undone)."""

    text: str
    intent: str
    predicted: str
    confidence: float

    @property
    def correct(self) -> bool:
        """Whether the top intent is the annotated one."""
        return self.predicted == self.intent


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
    #: The candidate's own FallbackClassifier threshold and its (kept, caught) shares.
    configured_threshold: float | None
    kept_correct_at_configured: float | None
    caught_wrong_at_configured: float | None
    #: threshold -> [share of correct kept, share of wrong caught].
    sweep: dict[str, list[float]]


@dataclass
class PairedComparison:
    """Per-example comparison of a candidate with the baseline on the same test texts."""

    baseline: str
    delta_accuracy: float
    only_baseline_right: int
    only_candidate_right: int
    mcnemar_p: float


@dataclass
class CandidateResult:
    """Everything measured for one candidate pipeline."""

    name: str
    config: str
    ok: bool = False
    error: str | None = None
    accuracy: float | None = None
    macro_f1: float | None = None
    weighted_f1: float | None = None
    entity_micro_f1: dict[str, float] = field(default_factory=dict)
    train_seconds: float | None = None
    train_cpu_seconds: float | None = None
    test_seconds: float | None = None
    model_mb: float | None = None
    load_average_before_train: float | None = None
    load_seconds: float | None = None
    ms_per_message_mean: float | None = None
    ms_per_message_p50: float | None = None
    ms_per_message_p95: float | None = None
    cpu_ms_per_message: float | None = None
    parse_accuracy: float | None = None
    vs_baseline: PairedComparison | None = None
    confidence: ConfidenceAnalysis | None = None
    predictions: list[Prediction] = field(default_factory=list)


# --------------------------------------------------------------------------- helpers


def rasa_env(workdir: Path) -> dict[str, str]:
    """Environment for Rasa subprocesses: no telemetry, training cache disabled."""
    env = dict(os.environ)
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env["RASA_MAX_CACHE_SIZE"] = "0"
    env["RASA_CACHE_DIRECTORY"] = str(workdir / "rasa-cache")
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def children_cpu_seconds() -> float:
    """User + system CPU time of all waited-for child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str], env: dict[str, str], log_file: Path) -> tuple[float, float]:
    """Run ``cmd`` from the repository root with its output in ``log_file``.

    Returns:
        (wall seconds, CPU seconds of the child process).

    Raises:
        RuntimeError: if the command fails (with the tail of its output).
    """
    log.info("$ %s", " ".join(cmd))
    cpu_before = children_cpu_seconds()
    start = time.perf_counter()
    with log_file.open("w") as out:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    cpu = children_cpu_seconds() - cpu_before
    if proc.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"exit {proc.returncode}: {' '.join(cmd[:3])}\n{tail}")
    return wall, cpu


def split_data(workdir: Path, env: dict[str, str], seed: int, reuse: bool) -> tuple[Path, Path]:
    """Split data/nlu once (stratified per intent); return (train file, test file)."""
    out = workdir / "split"
    train, test = out / "training_data.yml", out / "test_data.yml"
    if reuse and train.exists() and test.exists():
        log.info("reusing split in %s", out)
        return train, test
    cmd = [str(RASA), "data", "split", "nlu", "--nlu", str(NLU_DATA)]
    cmd += ["--random-seed", str(seed), "--training-fraction", str(TRAINING_FRACTION)]
    run([*cmd, "--out", str(out)], env, workdir / "split.log")
    return train, test


def build_spacy_lemma_model(target: Path) -> Path:
    """Save a blank English spaCy pipeline with a lookup lemmatizer to ``target``.

    The lemma tables come from spacy-lookups-data, so this works offline.
    """
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


def fallback_threshold(config: Path) -> float | None:
    """The FallbackClassifier threshold of a config (Rasa's default 0.3 if not given)."""
    for component in pipeline_of(config):
        if component.get("name") == "FallbackClassifier":
            return float(component.get("threshold", 0.3))
    return None


def pipeline_of(config: Path) -> list[dict[str, Any]]:
    """The ``pipeline:`` list of a Rasa config file."""
    return yaml.safe_load(config.read_text()).get("pipeline") or []


def default_baseline(names: list[str]) -> str:
    """The candidate whose pipeline is config.yml's (the shipped one), else the first."""
    shipped = pipeline_of(CONFIG)
    for name in names:
        if pipeline_of(PIPELINES_DIR / f"{name}.yml") == shipped:
            return name
    return names[0]


def load_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) for every intent example of a Rasa NLU file."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


def load_average() -> float | None:
    """1-minute load average (to judge how noisy the timings are)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default); NaN for no values."""
    import numpy as np

    return float(np.percentile(values, q)) if values else math.nan


# --------------------------------------------------------------------------- train and test


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
        micro = json.loads(report.read_text()).get("micro avg") or {}
        if "f1-score" in micro:
            result.entity_micro_f1[extractor] = round(float(micro["f1-score"]), 4)


def train_and_test(
    name: str,
    workdir: Path,
    train_file: Path,
    test_file: Path,
    env: dict[str, str],
    reuse: bool,
) -> tuple[CandidateResult, Path | None]:
    """Train and test one candidate; return its result and model path (None on failure).

    With ``reuse``, a model and measurements left in ``workdir`` by an earlier run are used
    instead of training again. Failures are recorded in the result, not raised.
    """
    source = PIPELINES_DIR / f"{name}.yml"
    result = CandidateResult(name=name, config=str(source.relative_to(ROOT)))
    model = workdir / "models" / f"{name}.tar.gz"
    report_dir = workdir / name
    saved = report_dir / "train_test.json"
    try:
        if reuse and model.exists() and saved.exists():
            log.info("reusing model and train/test measurements of %s", name)
            for key, value in json.loads(saved.read_text()).items():
                setattr(result, key, value)
        else:
            config = render_config(source, workdir)
            result.load_average_before_train = load_average()
            cmd = [str(RASA), "train", "nlu", "--config", str(config), "--nlu", str(train_file)]
            cmd += ["--out", str(model.parent), "--fixed-model-name", name]
            wall, cpu = run(cmd, env, workdir / "logs" / f"{name}.train.log")
            result.train_seconds, result.train_cpu_seconds = round(wall, 1), round(cpu, 1)
            result.model_mb = round(model.stat().st_size / 1e6, 2)
            cmd = [str(RASA), "test", "nlu", "--model", str(model), "--nlu", str(test_file)]
            wall, _ = run(
                [*cmd, "--out", str(report_dir)], env, workdir / "logs" / f"{name}.test.log"
            )
            result.test_seconds = round(wall, 1)
            keys = ("train_seconds", "train_cpu_seconds", "test_seconds", "model_mb")
            keys += ("load_average_before_train",)
            saved.write_text(json.dumps({k: getattr(result, k) for k in keys}, indent=2))
        read_reports(report_dir, result)
        result.ok = True
        return result, model
    except Exception as exc:  # noqa: BLE001 - one failing candidate must not stop the others
        log.error("%s failed: %s", name, exc)
        result.error = str(exc)
        return result, None


# --------------------------------------------------------------------------- inference

#: Run in a fresh interpreter: time ``Agent.load`` once TensorFlow and Rasa are imported.
LOAD_SNIPPET = """
import sys, time
import tensorflow
from rasa.core.agent import Agent
start = time.perf_counter()
Agent.load(sys.argv[1])
print(time.perf_counter() - start)
"""


def measure_load_seconds(model: Path, env: dict[str, str]) -> float:
    """Seconds ``Agent.load`` takes in a fresh process (imports of TF/Rasa not counted)."""
    proc = subprocess.run(
        [sys.executable, "-c", LOAD_SNIPPET, str(model)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(proc.stdout.strip().splitlines()[-1])


def top_prediction(parsed: dict[str, Any], text: str, intent: str) -> Prediction:
    """The top intent of a parse result, with the FallbackClassifier's decision undone."""
    from rasa.nlu.classifiers import fallback_classifier

    if fallback_classifier.is_fallback_classifier_prediction(parsed):
        parsed = fallback_classifier.undo_fallback_prediction(parsed)
    top = parsed["intent"]
    return Prediction(text, intent, top["name"], round(float(top["confidence"]), 6))


async def measure_inference(
    models: dict[str, Path],
    results: dict[str, CandidateResult],
    examples: list[tuple[str, str]],
    passes: int,
    warmup: int,
) -> None:
    """Load every model once, then time ``agent.parse_message`` round-robin.

    Fills wall and CPU ms per message, the predictions (first timed pass) and the accuracy
    they give into ``results``.
    """
    from rasa.core.agent import Agent

    agents = {}
    for name, path in models.items():
        agents[name] = Agent.load(str(path))
        for text, _ in examples[:warmup]:
            await agents[name].parse_message(text)

    wall_ms: dict[str, list[float]] = {name: [] for name in agents}
    cpu_ms: dict[str, float] = dict.fromkeys(agents, 0.0)
    order = list(agents)
    for pass_no in range(passes):
        for name in order[pass_no % len(order) :] + order[: pass_no % len(order)]:
            agent = agents[name]
            cpu_start = time.process_time()
            for text, intent in examples:
                t0 = time.perf_counter()
                parsed = await agent.parse_message(text)
                wall_ms[name].append((time.perf_counter() - t0) * 1000)
                if pass_no == 0:
                    results[name].predictions.append(top_prediction(parsed, text, intent))
            cpu_ms[name] += (time.process_time() - cpu_start) * 1000

    for name, timings in wall_ms.items():
        r = results[name]
        r.ms_per_message_mean = round(sum(timings) / len(timings), 3)
        r.ms_per_message_p50 = round(percentile(timings, 50), 3)
        r.ms_per_message_p95 = round(percentile(timings, 95), 3)
        r.cpu_ms_per_message = round(cpu_ms[name] / len(timings), 3)
        r.parse_accuracy = round(sum(p.correct for p in r.predictions) / len(r.predictions), 4)
        if r.accuracy is not None and abs(r.parse_accuracy - r.accuracy) > 1e-3:
            log.warning(
                "%s: accuracy from parse_message (%.4f) differs from rasa test nlu (%.4f)",
                name,
                r.parse_accuracy,
                r.accuracy,
            )


# --------------------------------------------------------------------------- analysis


def analyse_confidence(
    predictions: list[Prediction], configured: float | None
) -> ConfidenceAnalysis:
    """Percentiles of confidence for correct vs wrong predictions, and a threshold.

    The FallbackClassifier triggers when confidence < threshold. The suggested threshold is
    the highest value on a 0.01 grid that keeps >= ``KEEP_CORRECT`` of correct predictions.
    """
    correct = [p.confidence for p in predictions if p.correct]
    wrong = [p.confidence for p in predictions if not p.correct]

    def shares(threshold: float) -> list[float]:
        kept = sum(c >= threshold for c in correct) / len(correct) if correct else 1.0
        caught = sum(c < threshold for c in wrong) / len(wrong) if wrong else 1.0
        return [round(kept, 4), round(caught, 4)]

    grid = [round(i / 100, 2) for i in range(101)]
    suggested = max(t for t in grid if shares(t)[0] >= KEEP_CORRECT)
    points = {round(i / 20, 2) for i in range(1, 20)} | {suggested}
    if configured is not None:
        points.add(configured)
    at_configured = shares(configured) if configured is not None else [None, None]
    return ConfidenceAnalysis(
        n_correct=len(correct),
        n_wrong=len(wrong),
        correct_percentiles={f"p{q}": round(percentile(correct, q), 4) for q in PERCENTILES},
        wrong_percentiles={f"p{q}": round(percentile(wrong, q), 4) for q in PERCENTILES},
        suggested_threshold=suggested,
        kept_correct_at_suggested=shares(suggested)[0],
        caught_wrong_at_suggested=shares(suggested)[1],
        configured_threshold=configured,
        kept_correct_at_configured=at_configured[0],
        caught_wrong_at_configured=at_configured[1],
        sweep={f"{t:.2f}": shares(t) for t in sorted(points)},
    )


def compare_paired(base: CandidateResult, other: CandidateResult) -> PairedComparison:
    """Exact McNemar test on the examples where exactly one of the two is right."""
    from scipy.stats import binomtest

    base_right = {(p.text, p.intent): p.correct for p in base.predictions}
    only_base = only_other = 0
    for p in other.predictions:
        b = base_right[(p.text, p.intent)]
        only_base += b and not p.correct
        only_other += p.correct and not b
    n = only_base + only_other
    p_value = binomtest(min(only_base, only_other), n, 0.5).pvalue if n else 1.0
    delta = (other.parse_accuracy or 0) - (base.parse_accuracy or 0)
    return PairedComparison(base.name, round(delta, 4), only_base, only_other, round(p_value, 4))


def best_candidate(results: list[CandidateResult]) -> CandidateResult | None:
    """Highest macro-F1, then accuracy, then the faster one."""
    ok = [r for r in results if r.ok and r.macro_f1 is not None]
    if not ok:
        return None
    return max(ok, key=lambda r: (r.macro_f1, r.accuracy, -(r.ms_per_message_mean or 0)))


# --------------------------------------------------------------------------- reporting


def fmt(value: float | None, spec: str) -> str:
    """Format a number, or a dash for a missing value."""
    return "–" if value is None else format(value, spec)


def results_table(results: list[CandidateResult]) -> str:
    """The main comparison table in Markdown."""
    lines = [
        "| candidate | accuracy | macro-F1 | weighted-F1 | Δacc vs baseline (McNemar p) "
        "| train s (CPU s) | model MB | load s | ms/message mean (p95) | CPU ms/message "
        "| entity micro-F1 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if not r.ok:
            first_line = (r.error or "failed").splitlines()[0]
            lines.append(f"| {r.name} | FAILED: {first_line} |" + " |" * 10)
            continue
        entities = ", ".join(f"{k} {v:.3f}" for k, v in r.entity_micro_f1.items()) or "–"
        vs = r.vs_baseline
        paired = (
            f"{vs.delta_accuracy:+.4f} (p={vs.mcnemar_p:.2f}; "
            f"{vs.only_candidate_right} won / {vs.only_baseline_right} lost)"
            if vs
            else "(baseline)"
        )
        lines.append(
            f"| {r.name} | {fmt(r.accuracy, '.4f')} | {fmt(r.macro_f1, '.4f')} "
            f"| {fmt(r.weighted_f1, '.4f')} | {paired} "
            f"| {fmt(r.train_seconds, '.1f')} ({fmt(r.train_cpu_seconds, '.0f')}) "
            f"| {fmt(r.model_mb, '.1f')} | {fmt(r.load_seconds, '.1f')} "
            f"| {fmt(r.ms_per_message_mean, '.2f')} ({fmt(r.ms_per_message_p95, '.2f')}) "
            f"| {fmt(r.cpu_ms_per_message, '.2f')} | {entities} |"
        )
    return "\n".join(lines)


def confidence_overview(results: list[CandidateResult]) -> str:
    """One row of confidence figures per candidate."""
    lines = [
        "| candidate | correct p2 / p5 / p50 | wrong p50 / p90 | configured threshold: "
        "kept / caught | suggested threshold: kept / caught |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        c = r.confidence
        if c is None:
            continue
        cp, wp = c.correct_percentiles, c.wrong_percentiles
        configured = (
            f"{c.configured_threshold:.2f}: {c.kept_correct_at_configured:.1%} / "
            f"{c.caught_wrong_at_configured:.1%}"
            if c.configured_threshold is not None
            else "–"
        )
        lines.append(
            f"| {r.name} | {cp['p2']:.3f} / {cp['p5']:.3f} / {cp['p50']:.3f} "
            f"| {wp['p50']:.3f} / {wp['p90']:.3f} | {configured} "
            f"| {c.suggested_threshold:.2f}: {c.kept_correct_at_suggested:.1%} / "
            f"{c.caught_wrong_at_suggested:.1%} |"
        )
    return "\n".join(lines)


def confidence_section(r: CandidateResult) -> str:
    """Markdown for the detailed confidence analysis of one candidate."""
    c = r.confidence
    assert c is not None
    keys = list(c.correct_percentiles)
    lines = [
        f"### Confidence on the test split: {r.name}",
        "",
        f"{c.n_correct} correct, {c.n_wrong} wrong predictions (top intent, fallback undone). "
        "Percentiles of the top-intent confidence:",
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
        notes = []
        if float(t) == c.suggested_threshold:
            notes.append("suggested")
        if c.configured_threshold is not None and float(t) == c.configured_threshold:
            notes.append("configured")
        mark = f" **({', '.join(notes)})**" if notes else ""
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
    wrong = sorted((p for p in r.predictions if not p.correct), key=lambda p: -p.confidence)
    for p in wrong:
        text = p.text.replace("|", "\\|")
        lines.append(f"| {text} | {p.intent} | {p.predicted} | {p.confidence:.3f} |")
    return "\n".join(lines)


def write_results(
    results: list[CandidateResult], meta: dict[str, Any], md_path: Path, json_path: Path
) -> str:
    """Write the Markdown and JSON reports; return the main table."""
    table = results_table(results)
    best = best_candidate(results)
    md = [
        "# NLU pipeline comparison",
        "",
        f"Generated by `scripts/compare_pipelines.py` on {meta['date']}. Held-out split: "
        f"`rasa data split nlu --random-seed {meta['split_seed']} --training-fraction "
        f"{TRAINING_FRACTION}` ({meta['n_train']} train / {meta['n_test']} test examples, "
        f"{meta['n_intents']} intents), the same split for every candidate.",
        "",
        "- accuracy / F1: `rasa test nlu` on the test part (intent_report.json).",
        f"- Δacc vs baseline: paired against `{meta['baseline']}`{meta['baseline_note']} on the same "
        "test texts; exact McNemar p-value, and how many texts only the candidate (won) or "
        "only the baseline (lost) got right.",
        "- train s: wall time of `rasa train nlu` (includes the CLI start-up; training cache "
        "disabled); CPU s: CPU time of that process (less sensitive to other load).",
        "- load s: `Agent.load` in a fresh process, after importing TensorFlow and Rasa.",
        f"- ms/message: `await agent.parse_message(text)` over all {meta['n_test']} test texts, "
        f"{meta['passes']} passes round-robin over the candidates after {meta['warmup']} "
        "warm-up messages each; CPU ms/message: process CPU time / messages.",
        f"- Machine: {meta['cpus']} CPUs (shared; 1-min load average {meta['load_average_start']}"
        f" at start, {meta['load_average_end']} at end), Python {meta['python']}, "
        f"Rasa {meta['rasa']}, spaCy {meta['spacy']}.",
        "",
        table,
        "",
        "## Confidence of correct vs wrong predictions",
        "",
        confidence_overview(results),
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
        help="subset of bench/pipelines/*.yml to run (default: all: "
        f"{', '.join(available_candidates())})",
    )
    parser.add_argument(
        "--passes", type=int, default=3, help="timed passes over the test texts (default 3)"
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="warm-up messages per model (default 20)"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep split, models and reports here (default: a temp dir, deleted afterwards)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --workdir: reuse the split, models and train/test measurements found "
        "there (re-measures inference only)",
    )
    parser.add_argument(
        "--baseline",
        metavar="NAME",
        help="candidate the others are paired against (default: the one whose pipeline is "
        "config.yml's, else the first)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=SPLIT_SEED,
        help=f"split seed (default {SPLIT_SEED}; another seed checks that a difference "
        "is not an artefact of one split)",
    )
    parser.add_argument(
        "--md",
        type=Path,
        help="Markdown report (default results/pipelines.md, or pipelines_seed<N>.md)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="JSON report (default results/pipelines.json, or pipelines_seed<N>.json)",
    )
    args = parser.parse_args(argv)
    if args.reuse and args.workdir is None:
        parser.error("--reuse needs --workdir")
    stem = "pipelines" if args.seed == SPLIT_SEED else f"pipelines_seed{args.seed}"
    args.md = args.md or RESULTS_DIR / f"{stem}.md"
    args.json = args.json or RESULTS_DIR / f"{stem}.json"
    return args


def configure_logging() -> None:
    """Our progress on stderr; Rasa, TensorFlow and structlog quiet."""
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False  # Rasa reconfigures the root logger when it loads a model
    from rasa.utils.log_utils import configure_structlog

    # Otherwise Rasa's structlog prints a debug line per parsed message inside the timed loop.
    configure_structlog(logging.WARNING)
    for noisy in ("rasa", "tensorflow", "absl", "h5py", "matplotlib", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; return a process exit code (1 if any candidate failed)."""
    args = parse_args(argv)
    configure_logging()

    names = args.candidates or available_candidates()
    if args.baseline and args.baseline not in names:
        names = [args.baseline, *names]
    unknown = [n for n in names if not (PIPELINES_DIR / f"{n}.yml").exists()]
    if unknown:
        print(f"unknown candidates: {unknown}; available: {available_candidates()}")
        return 2

    keep = args.workdir is not None
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="pipelines-"))).resolve()
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    env = rasa_env(workdir)
    log.info("work dir: %s", workdir)
    load_start = load_average()
    try:
        train_file, test_file = split_data(workdir, env, args.seed, args.reuse)
        examples = load_examples(test_file)

        results: dict[str, CandidateResult] = {}
        models: dict[str, Path] = {}
        for name in names:
            log.info("== %s: train and test", name)
            results[name], model = train_and_test(
                name, workdir, train_file, test_file, env, args.reuse
            )
            if model is not None:
                models[name] = model
                r = results[name]
                log.info(
                    "%s: accuracy %s, macro-F1 %s, train %s s (CPU %s s)",
                    name,
                    r.accuracy,
                    r.macro_f1,
                    r.train_seconds,
                    r.train_cpu_seconds,
                )

        log.info("== model load time (fresh process each): %s", ", ".join(models))
        for name, model in models.items():
            results[name].load_seconds = round(measure_load_seconds(model, env), 2)
        log.info("== inference timing: %s", ", ".join(models))
        asyncio.run(measure_inference(models, results, examples, args.passes, args.warmup))

        baseline_name = args.baseline or default_baseline(names)
        baseline = results.get(baseline_name)
        for name, r in results.items():
            if not r.predictions:
                continue
            config = workdir / "configs" / f"{name}.yml"
            source = config if config.exists() else PIPELINES_DIR / f"{name}.yml"
            r.confidence = analyse_confidence(r.predictions, fallback_threshold(source))
            if baseline is not None and baseline.predictions and name != baseline_name:
                r.vs_baseline = compare_paired(baseline, r)
            log.info(
                "%s: %.2f ms/message (CPU %.2f)",
                name,
                r.ms_per_message_mean or 0,
                r.cpu_ms_per_message or 0,
            )

        import rasa
        import spacy

        meta = {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "split_seed": args.seed,
            "baseline": baseline_name,
            "baseline_note": (
                " (the config.yml pipeline)"
                if pipeline_of(PIPELINES_DIR / f"{baseline_name}.yml") == pipeline_of(CONFIG)
                else ""
            ),
            "training_fraction": TRAINING_FRACTION,
            "n_train": len(load_examples(train_file)),
            "n_test": len(examples),
            "n_intents": len({intent for _, intent in examples}),
            "passes": args.passes,
            "warmup": args.warmup,
            "cpus": os.cpu_count(),
            "load_average_start": load_start,
            "load_average_end": load_average(),
            "python": platform.python_version(),
            "rasa": rasa.__version__,
            "spacy": spacy.__version__,
            "workdir": str(workdir) if keep else None,
        }
        ordered = [results[n] for n in names]
        table = write_results(ordered, meta, args.md, args.json)
        print(table)
        best = best_candidate(ordered)
        if best is not None and best.confidence is not None:
            c = best.confidence
            print(
                f"\nbest by macro-F1: {best.name}; suggested fallback threshold "
                f"{c.suggested_threshold:.2f} (keeps {c.kept_correct_at_suggested:.1%} of "
                f"correct, catches {c.caught_wrong_at_suggested:.1%} of wrong)"
            )
        print(f"\nwritten: {args.md} and {args.json}")
        return 0 if all(r.ok for r in ordered) else 1
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
