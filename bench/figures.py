"""Figures of a benchmark run: reading them from the results, ratios, and writing a number.

The results dictionary is the one `bench.run` builds (the content of bench.json). Shape of
the parts the report uses::

    {"machine": {...},
     "bots": {"ours" | "baseline": {
         "train_seconds": float, "cold_start_seconds": float,
         "load": {"1": LoadResult.as_dict(), "10": ..., "50": ...},
         "turns": {"at": {"1": ms, "50": ms, "100": ms, "200": ms}, "max_ms": ms, "max_turn": n},
         "rss": {"processes": [{"pid", "name", "peak_mb"}], "total_mb": float}}},
     "nlu": {"ours": {"accuracy", "macro_f1", ...}, "default": {...}},
     "safety": {"recall", "false_alarm_rate", "severe", "calm", "missed", "false_alarms"}}

Ratios are ours / baseline: below 1 means ours takes less time or memory; for throughput the
ratio is ours' speed-up over the baseline (above 1 is better).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import median
from typing import Any

LEVELS = (1, 10, 50)
TURN_MARKS = (1, 50, 100, 200)


def number(value: Any) -> float | None:
    """`value` as a finite float, else None (missing, NaN, infinite, not a number)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def ratio(ours: Any, baseline: Any) -> float | None:
    """ours / baseline, or None when either is missing or the baseline is 0."""
    a, b = number(ours), number(baseline)
    if a is None or b is None or b == 0:
        return None
    return a / b


def median_per_turn(runs: Sequence[Sequence[float]]) -> list[float]:
    """Per turn index, the median over the runs that reached it (runs may be shorter)."""
    longest = max((len(r) for r in runs), default=0)
    return [median(r[i] for r in runs if len(r) > i) for i in range(longest)]


def turn_summary(runs: Sequence[Sequence[float]], marks: Sequence[int] = TURN_MARKS) -> dict:
    """Median per turn over the runs, the marked turns (1-based) and the slowest turn."""
    medians = median_per_turn(runs)
    at = {str(m): round(medians[m - 1], 1) for m in marks if 0 < m <= len(medians)}
    if medians:
        worst = max(range(len(medians)), key=medians.__getitem__)
        max_ms, max_turn = round(medians[worst], 1), worst + 1
    else:
        max_ms, max_turn = None, None
    return {
        "median_ms": [round(x, 2) for x in medians],
        "at": at,
        "max_ms": max_ms,
        "max_turn": max_turn,
        "runs": len(runs),
    }


def get(data: Mapping[str, Any] | None, *keys: Any) -> Any:
    """data[k1][k2]... or None if any level is missing."""
    for key in keys:
        if not isinstance(data, Mapping) or str(key) not in data:
            return None
        data = data[str(key)]
    return data


def load_figure(bot: Mapping[str, Any], level: int, key: str) -> Any:
    """One figure of one load level (p50, p95, p99, throughput, errors, messages...)."""
    return get(bot, "load", level, key)


# --------------------------------------------------------------------------- formatting


def fmt(value: Any, unit: str = "", digits: int | None = None) -> str:
    """A number with thousands separators (digits by magnitude unless given); "–" if missing."""
    x = number(value)
    if x is None:
        return "–"
    if digits is None:
        digits = 0 if abs(x) >= 100 else 1 if abs(x) >= 10 else 2
    text = f"{x:,.{digits}f}"
    return f"{text} {unit}".strip()


def fmt_ratio(value: float | None) -> str:
    """`0.64×`, or "–" if missing."""
    return "–" if value is None else f"{value:.2f}×"


def fmt_pct(value: Any) -> str:
    """`99.5%`, or "–" if missing."""
    x = number(value)
    return "–" if x is None else f"{x:.1%}"
