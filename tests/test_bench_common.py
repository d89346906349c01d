"""Helpers the benchmark and scripts/compare_pipelines.py share, and the comparison's analysis."""

from __future__ import annotations

import math
from pathlib import Path

from bench import common, compare, compare_report
from bench.compare import CandidateResult, Prediction


def test_rasa_env_keeps_the_environment_and_quietens_rasa(monkeypatch):
    monkeypatch.setenv("BENCH_TEST_VARIABLE", "kept")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")

    env = common.rasa_env({"RASA_CACHE_DIRECTORY": "/tmp/cache"})

    assert env["BENCH_TEST_VARIABLE"] == "kept"
    assert env["RASA_TELEMETRY_ENABLED"] == "false"
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "2"
    assert env["RASA_CACHE_DIRECTORY"] == "/tmp/cache"
    assert common.child_env({"A": "1"})["TF_CPP_MIN_LOG_LEVEL"] == "0"


def test_the_comparison_disables_rasas_training_cache():
    env = compare.uncached_env(Path("/work"))
    assert env["RASA_MAX_CACHE_SIZE"] == "0"
    assert env["RASA_CACHE_DIRECTORY"] == "/work/rasa-cache"


def test_percentile_interpolates_between_ranks():
    assert common.percentile([1, 2, 3, 4], 50) == 2.5
    assert common.percentile([10.0], 95) == 10.0
    assert math.isnan(common.percentile([], 50))


def candidate(name: str, right: list[bool], macro_f1: float = 0.9) -> CandidateResult:
    result = CandidateResult(name=name, config=f"{name}.yml", ok=True, macro_f1=macro_f1)
    for i, ok in enumerate(right):
        result.predictions.append(Prediction(f"text {i}", "a", "a" if ok else "b", 0.5 + i / 100))
    result.accuracy = result.parse_accuracy = sum(right) / len(right)
    return result


def test_paired_comparison_counts_the_texts_only_one_candidate_got_right():
    base = candidate("base", [True, True, False, False])
    other = candidate("other", [True, False, True, True])

    paired = compare_report.compare_paired(base, other)

    assert (paired.only_baseline_right, paired.only_candidate_right) == (1, 2)
    assert paired.delta_accuracy == 0.25
    assert paired.mcnemar_p == 1.0  # far too few texts to tell


def test_the_suggested_threshold_keeps_the_correct_predictions():
    result = candidate("c", [True] * 50 + [False] * 10)

    analysis = compare_report.analyse_confidence(result.predictions, 0.3)

    assert (analysis.n_correct, analysis.n_wrong) == (50, 10)
    assert analysis.kept_correct_at_suggested >= compare_report.KEEP_CORRECT
    assert analysis.kept_correct_at_configured == 1.0
    assert compare_report.best_candidate([result, candidate("d", [True], 0.95)]).name == "d"
