"""Analysis and reports of the NLU pipeline comparison (bench.compare).

Paired McNemar test against a baseline, confidence of correct vs wrong predictions with a
suggested FallbackClassifier threshold, and the Markdown and JSON reports.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.common import percentile
from bench.compare import (
    TRAINING_FRACTION,
    CandidateResult,
    ConfidenceAnalysis,
    PairedComparison,
    Prediction,
)

#: Share of correct predictions the suggested fallback threshold must keep.
KEEP_CORRECT = 0.98
PERCENTILES = (1, 2, 5, 10, 25, 50, 75, 90)


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


# --------------------------------------------------------------------------- reports


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
