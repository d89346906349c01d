"""The targets of issue 6 and whether a run met them (None: not measured)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.figures import fmt, fmt_pct, fmt_ratio, get, load_figure, number, ratio

P95_AT_10_MAX_MS = 300.0
THROUGHPUT_AT_10_MIN_SPEEDUP = 1.5
TURN_200_MAX_GROWTH = 1.3
COLD_START_MAX_S = 30.0
ACCURACY_MIN = 0.92
RECALL_REQUIRED = 1.0
#: The whole `make bench` (with `make venv`) should stay under this.
BUDGET_SECONDS = 20 * 60


@dataclass(frozen=True)
class Target:
    """One target of issue 6 and whether this run met it (None: not measured)."""

    key: str
    name: str
    target: str
    value: str
    met: bool | None


def _level_clean(bot: Mapping[str, Any], level: int) -> bool:
    """A load level counts only if it ran and every reply was a real answer."""
    return load_figure(bot, level, "messages") not in (None, 0) and not load_figure(
        bot, level, "errors"
    )


def evaluate_targets(results: Mapping[str, Any]) -> list[Target]:
    """The targets of issue 6 for this run's figures.

    Latency and throughput targets are met only if the load level had no failed replies.
    Accuracy must be at least 0.92 AND no worse than the default pipeline's (unknown -> None,
    unless it is already below 0.92).
    """
    bots = results.get("bots") or {}
    ours, base = bots.get("ours") or {}, bots.get("baseline") or {}
    return [
        _p95_target(ours),
        _throughput_target(ours, base),
        _turn_target(ours),
        _cold_start_target(ours),
        _accuracy_target(results.get("nlu") or {}),
        _recall_target(results.get("safety") or {}),
    ]


def _p95_target(ours: Mapping[str, Any]) -> Target:
    p95 = number(load_figure(ours, 10, "p95"))
    met = None if p95 is None else (p95 <= P95_AT_10_MAX_MS and _level_clean(ours, 10))
    return Target(
        "p95_at_10",
        "p95 latency @ 10 conversations",
        f"≤ {P95_AT_10_MAX_MS:.0f} ms",
        fmt(p95, "ms"),
        met,
    )


def _throughput_target(ours: Mapping[str, Any], base: Mapping[str, Any]) -> Target:
    speedup = ratio(load_figure(ours, 10, "throughput"), load_figure(base, 10, "throughput"))
    met = None
    if speedup is not None:
        met = (
            speedup >= THROUGHPUT_AT_10_MIN_SPEEDUP
            and _level_clean(ours, 10)
            and _level_clean(base, 10)
        )
    return Target(
        "throughput_at_10",
        "Throughput @ 10 conversations vs baseline",
        f"≥ {THROUGHPUT_AT_10_MIN_SPEEDUP}× baseline",
        fmt_ratio(speedup),
        met,
    )


def _turn_target(ours: Mapping[str, Any]) -> Target:
    growth = ratio(get(ours, "turns", "at", 200), get(ours, "turns", "at", 1))
    return Target(
        "turn_200",
        "Turn 200 latency vs turn 1",
        f"≤ {TURN_200_MAX_GROWTH}× turn 1",
        fmt_ratio(growth),
        None if growth is None else growth <= TURN_200_MAX_GROWTH,
    )


def _cold_start_target(ours: Mapping[str, Any]) -> Target:
    cold = number(ours.get("cold_start_seconds"))
    return Target(
        "cold_start",
        "Cold start to first answer",
        f"≤ {COLD_START_MAX_S:.0f} s",
        fmt(cold, "s"),
        None if cold is None else cold <= COLD_START_MAX_S,
    )


def _accuracy_target(nlu: Mapping[str, Any]) -> Target:
    acc = number(get(nlu, "ours", "accuracy"))
    default_acc = number(get(nlu, "default", "accuracy"))
    if acc is None:
        met = None
    elif acc < ACCURACY_MIN or (default_acc is not None and acc < default_acc):
        met = False
    else:
        met = None if default_acc is None else True
    value = fmt(acc, "", 3)
    if default_acc is not None:
        value += f" (default {default_acc:.3f})"
    return Target(
        "intent_accuracy",
        "Intent accuracy, held-out",
        f"≥ {ACCURACY_MIN} and ≥ default pipeline",
        value,
        met,
    )


def _recall_target(safety: Mapping[str, Any]) -> Target:
    recall = number(safety.get("recall"))
    return Target(
        "red_flag_recall",
        "Urgent/emergency recall",
        "100%",
        fmt_pct(recall),
        None if recall is None else recall >= RECALL_REQUIRED - 1e-9,
    )


def targets_by_key(targets: Sequence[Target]) -> dict[str, Target]:
    """Targets by their key."""
    return {t.key: t for t in targets}


def targets_summary(results: Mapping[str, Any]) -> str:
    """`Targets: 4/6 met, 1 missed (…), 1 not measured (…)`."""
    targets = evaluate_targets(results)
    met = [t for t in targets if t.met]
    missed = [t.name for t in targets if t.met is False]
    unknown = [t.name for t in targets if t.met is None]
    text = f"Targets: {len(met)}/{len(targets)} met"
    if missed:
        text += f"; missed: {', '.join(missed)}"
    if unknown:
        text += f"; not measured: {', '.join(unknown)}"
    return text + "."


def as_dicts(targets: Sequence[Target]) -> list[dict[str, Any]]:
    """Targets as JSON-ready dictionaries."""
    return [asdict(t) for t in targets]
