"""The benchmark report's pure parts: ratios, targets, tables and plots from sample data."""

from __future__ import annotations

import copy
import math

import pytest

from bench import figures, plots, report, tables
from bench.targets import Target, evaluate_targets, targets_by_key, targets_summary


def load_level(p50, p95, p99, throughput, errors=0, messages=100):
    return {
        "concurrency": 0,
        "messages": messages,
        "errors": errors,
        "seconds": 30.0,
        "throughput": throughput,
        "p50": p50,
        "p95": p95,
        "p99": p99,
        "mean": p50,
    }


@pytest.fixture
def results() -> dict:
    """A complete run where every target is met."""
    return {
        "machine": {
            "cpu": "Test CPU 3000",
            "cores": 2,
            "ram_gb": 23.5,
            "kernel": "6.1",
            "python": "3.10.13",
            "rasa": "3.6.21",
            "date": "2026-11-21 20:00 UTC",
            "commit": "abc1234",
        },
        "bots": {
            "ours": {
                "train_seconds": 60.0,
                "cold_start_seconds": 6.0,
                "load": {
                    "1": load_level(30.0, 60.0, 90.0, 25.0),
                    "10": load_level(150.0, 250.0, 280.0, 60.0),
                    "50": load_level(800.0, 1000.0, 1100.0, 50.0),
                },
                "turns": {"at": {"1": 30.0, "50": 31.0, "100": 32.0, "200": 33.0}, "max_ms": 40.0},
                "rss": {
                    "processes": [
                        {"pid": 1, "name": "bot.serve.rasa_server run", "peak_mb": 700.0},
                        {"pid": 2, "name": "bot.serve.action_server", "peak_mb": 300.0},
                    ],
                    "total_mb": 1000.0,
                },
            },
            "baseline": {
                "train_seconds": 120.0,
                "cold_start_seconds": 24.0,
                "load": {
                    "1": load_level(40.0, 60.0, 70.0, 20.0),
                    "10": load_level(300.0, 500.0, 550.0, 30.0),
                    "50": load_level(1500.0, 2000.0, 2100.0, 28.0),
                },
                "turns": {"at": {"1": 50.0, "50": 55.0, "100": 60.0, "200": 70.0}, "max_ms": 80.0},
                "rss": {
                    "processes": [{"pid": 3, "name": "rasa run", "peak_mb": 1250.0}],
                    "total_mb": 1250.0,
                },
            },
        },
        "nlu": {
            "ours": {"ok": True, "config": "config.yml", "accuracy": 0.95, "macro_f1": 0.94},
            "default": {"ok": True, "accuracy": 0.90, "macro_f1": 0.89},
        },
        "safety": {
            "recall": 1.0,
            "false_alarm_rate": 0.01,
            "severe": 10,
            "missed": 0,
            "calm": 100,
            "false_alarms": 1,
        },
    }


def target(results: dict, key: str) -> Target:
    return targets_by_key(evaluate_targets(results))[key]


# --------------------------------------------------------------------------- ratios


def test_ratio_is_ours_over_baseline_and_none_when_it_cannot_be_computed():
    assert figures.ratio(50, 200) == 0.25
    assert figures.ratio(3, 2) == 1.5
    assert figures.ratio(1, 0) is None
    assert figures.ratio(None, 2) is None
    assert figures.ratio(2, None) is None
    assert figures.ratio(math.nan, 2) is None
    assert figures.ratio("x", 2) is None
    assert figures.ratio(True, 2) is None  # a flag is not a measurement


def test_ratios_cover_every_speed_figure_and_throughput_is_the_speedup(results):
    ratios = tables.ratios(results["bots"])

    assert ratios["throughput_at_10"] == 2.0  # 60 vs 30 msg/s: ours is twice as fast
    assert ratios["p95_at_10"] == 0.5  # 250 vs 500 ms
    assert ratios["cold_start_seconds"] == 0.25
    assert ratios["train_seconds"] == 0.5
    assert ratios["turn_200"] == round(33 / 70, 3)
    assert ratios["rss_total_mb"] == 0.8
    assert "errors" not in ratios  # a count, not a speed
    expected = {f"{q}_at_{n}" for q in ("p50", "p95", "p99") for n in (1, 10, 50)}
    assert expected <= set(ratios)


def test_ratios_are_none_for_a_bot_that_was_not_measured(results):
    results["bots"]["baseline"] = {}
    assert set(tables.ratios(results["bots"]).values()) == {None}


def test_turn_summary_takes_the_median_per_turn_and_the_slowest_turn():
    runs = [[10, 20, 30, 40], [12, 18, 90, 41], [11, 25, 31]]  # the last run stopped early
    summary = figures.turn_summary(runs, marks=(1, 3, 4, 200))

    assert summary["median_ms"] == [11, 20, 31, 40.5]
    assert summary["at"] == {"1": 11, "3": 31, "4": 40.5}  # turn 200 was never reached
    assert (summary["max_ms"], summary["max_turn"]) == (40.5, 4)
    assert figures.turn_summary([])["at"] == {}


# --------------------------------------------------------------------------- targets


def test_every_target_is_met_by_a_good_run(results):
    targets = evaluate_targets(results)

    assert [t.key for t in targets] == [
        "p95_at_10",
        "throughput_at_10",
        "turn_200",
        "cold_start",
        "intent_accuracy",
        "red_flag_recall",
    ]
    assert all(t.met is True for t in targets), targets
    assert targets_summary(results) == "Targets: 6/6 met."


@pytest.mark.parametrize(
    ("path", "value", "key", "met"),
    [
        # p95 at 10 conversations <= 300 ms: the boundary itself is met.
        (("bots", "ours", "load", "10", "p95"), 300.0, "p95_at_10", True),
        (("bots", "ours", "load", "10", "p95"), 300.1, "p95_at_10", False),
        # Failed replies disqualify a level, however fast the rest was.
        (("bots", "ours", "load", "10", "errors"), 1, "p95_at_10", False),
        (("bots", "ours", "load", "10", "errors"), 1, "throughput_at_10", False),
        (("bots", "baseline", "load", "10", "errors"), 3, "throughput_at_10", False),
        # Throughput >= 1.5x the baseline's: exactly 1.5x is met.
        (("bots", "ours", "load", "10", "throughput"), 45.0, "throughput_at_10", True),
        (("bots", "ours", "load", "10", "throughput"), 44.9, "throughput_at_10", False),
        (("bots", "baseline", "load", "10", "throughput"), 0.0, "throughput_at_10", None),
        # Turn 200 <= 1.3x turn 1.
        (("bots", "ours", "turns", "at", "200"), 39.0, "turn_200", True),
        (("bots", "ours", "turns", "at", "200"), 39.1, "turn_200", False),
        # Cold start <= 30 s.
        (("bots", "ours", "cold_start_seconds"), 30.0, "cold_start", True),
        (("bots", "ours", "cold_start_seconds"), 30.5, "cold_start", False),
        (("bots", "ours", "cold_start_seconds"), None, "cold_start", None),
        # Recall must be 100%.
        (("safety", "recall"), 0.999, "red_flag_recall", False),
        (("safety", "recall"), None, "red_flag_recall", None),
    ],
)
def test_target_boundaries(results, path, value, key, met):
    data = copy.deepcopy(results)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    assert target(data, key).met is met


@pytest.mark.parametrize(
    ("ours", "default", "met"),
    [
        (0.95, 0.90, True),
        (0.92, 0.92, True),  # both boundaries are inclusive
        (0.95, 0.96, False),  # worse than the default pipeline
        (0.91, 0.80, False),  # below 0.92
        (0.91, None, False),  # below 0.92: missed whatever the default scores
        (0.95, None, None),  # default not measured (--quick): cannot tell
        (None, 0.90, None),
    ],
)
def test_accuracy_target_needs_092_and_no_worse_than_the_default(results, ours, default, met):
    results["nlu"]["ours"]["accuracy"] = ours
    results["nlu"]["default"]["accuracy"] = default
    assert target(results, "intent_accuracy").met is met


def test_targets_of_an_empty_run_are_not_measured():
    targets = evaluate_targets({})
    assert {t.met for t in targets} == {None}
    assert "not measured" in targets_summary({})


def test_a_missed_target_is_named_in_the_summary(results):
    results["bots"]["ours"]["cold_start_seconds"] = 45.0
    assert targets_summary(results) == "Targets: 5/6 met; missed: Cold start to first answer."


# --------------------------------------------------------------------------- Markdown


def table_rows(markdown: str) -> dict[str, list[str]]:
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("| metric"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_side_by_side_table_shows_both_bots_the_ratio_and_the_verdict(results):
    results["bots"]["ours"]["load"]["10"]["p95"] = 320.0  # misses the 300 ms target
    table = tables.side_by_side_table(results)
    rows = table_rows(table)

    assert table.splitlines()[0] == "| metric | ours | baseline | ours / baseline | target | met |"
    assert rows["Latency p95 @ 10 conversations (ms)"] == [
        "320",
        "500",
        "0.64×",
        "≤ 300 ms",
        "❌ missed",
    ]
    assert rows["Throughput @ 10 conversations (msg/s)"] == [
        "60.0",
        "30.0",
        "2.00×",
        "≥ 1.5× baseline",
        "✅ met",
    ]
    assert rows["Cold start to first answer (s)"] == ["6.00", "24.0", "0.25×", "≤ 30 s", "✅ met"]
    assert rows["Latency of turn 200 (one conversation) (ms)"][2:] == [
        "0.47×",
        "≤ 1.3× turn 1",
        "✅ met",
    ]
    accuracy = rows["Intent accuracy, held-out (baseline: rasa init pipeline)"]
    assert accuracy[:2] == ["0.950", "0.900"] and accuracy[-1] == "✅ met"
    assert rows["Urgent/emergency recall (red-flag set)"][0] == "100.0% (10/10)"
    assert rows["False urgent alarms on calm cases"][0] == "1.0% (1/100)"
    assert rows["Failed or empty replies (all load levels)"][:3] == ["0", "0", "–"]
    assert rows["Peak RSS, all processes (MB)"][:3] == ["1,000", "1,250", "0.80×"]


def test_missing_figures_show_a_dash_not_nan(results):
    results["bots"]["baseline"] = {}
    del results["nlu"]["default"]
    table = tables.side_by_side_table(results)

    assert "nan" not in table.lower() and "None" not in table
    rows = table_rows(table)
    assert rows["Throughput @ 10 conversations (msg/s)"][1:4] == ["–", "–", "≥ 1.5× baseline"]
    assert rows["Throughput @ 10 conversations (msg/s)"][4] == "–"


def test_readme_block_has_the_table_targets_and_machine_line(results):
    block = report.readme_block(results)

    assert block.startswith("| metric | ours | baseline |")
    assert "Targets: 6/6 met." in block
    assert block.rstrip().endswith(
        "Machine: Test CPU 3000, 2 cores, 23.5 GB RAM, Linux 6.1, Python 3.10.13, Rasa 3.6.21; "
        "2026-11-21 20:00 UTC, commit abc1234."
    )


def test_full_report_links_plots_and_confusion_matrices(results):
    images = {
        "latency_distribution": "bench/latency_distribution.png",
        "latency_vs_turn": "bench/latency_vs_turn.png",
        "throughput_vs_concurrency": "bench/throughput_vs_concurrency.png",
        "ours": "bench/confusion_ours.png",
        "default": "bench/confusion_default.png",
    }
    results["phases"] = [
        {
            "name": "train ours",
            "timed": True,
            "seconds": 60.2,
            "load_start": 0.5,
            "load_end": 1.7,
            "background_cpu_seconds": 12.5,
            "other_cpu_seconds": 0.4,
        }
    ]
    markdown = report.render_markdown(results, images)

    for link in images.values():
        assert f"({link})" in markdown
    assert "| train ours | yes | 60.2 | 0.50 | 1.70 | 12.5 | 0.4 |" in markdown
    assert "| ours | `bot.serve.rasa_server run` | 700 |" in markdown
    assert "| baseline | **total** | **1,250** |" in markdown
    assert "| ours (config.yml) | config.yml | 0.9500 | 0.9400 |" in markdown


# --------------------------------------------------------------------------- plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plots_are_written_as_png_files(tmp_path):
    samples = {
        "ours": {"1": [30.0, 31.5, 40.0], "10": [150.0, 160.0, 300.0], "50": [800.0, 900.0]},
        "baseline": {"1": [45.0, 50.0], "10": [300.0, 420.0], "50": []},
    }
    paths = [
        plots.plot_latency_distribution(samples, tmp_path / "bench" / "latency_distribution.png"),
        plots.plot_latency_vs_turn(
            {"ours": [30.0, 31.0, 29.0, 35.0], "baseline": [50.0, 55.0, 60.0]},
            tmp_path / "latency_vs_turn.png",
        ),
        plots.plot_throughput(
            {"ours": {"1": 25.0, "10": 60.0, "50": 50.0}, "baseline": {"1": 20.0, "10": None}},
            tmp_path / "throughput_vs_concurrency.png",
        ),
    ]

    for path in paths:
        assert path.read_bytes()[:8] == PNG_MAGIC
        assert path.stat().st_size > 5_000
