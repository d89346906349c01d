"""The benchmark's report: ratios, targets met or missed, Markdown tables and plots.

Pure functions of the results dictionary `bench.run` builds (the content of bench.json), so
they can be tested with sample data. Shape of the parts used here::

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
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import median
from typing import Any

LEVELS = (1, 10, 50)
TURN_MARKS = (1, 50, 100, 200)

#: The targets of issue 6.
P95_AT_10_MAX_MS = 300.0
THROUGHPUT_AT_10_MIN_SPEEDUP = 1.5
TURN_200_MAX_GROWTH = 1.3
COLD_START_MAX_S = 30.0
ACCURACY_MIN = 0.92
RECALL_REQUIRED = 1.0
#: The whole `make bench` (with `make venv`) should stay under this.
BUDGET_SECONDS = 20 * 60


# --------------------------------------------------------------------------- numbers


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


def _get(data: Mapping[str, Any] | None, *keys: Any) -> Any:
    """data[k1][k2]... or None if any level is missing."""
    for key in keys:
        if not isinstance(data, Mapping) or str(key) not in data:
            return None
        data = data[str(key)]
    return data


def load_figure(bot: Mapping[str, Any], level: int, key: str) -> Any:
    """One figure of one load level (p50, p95, p99, throughput, errors, messages...)."""
    return _get(bot, "load", level, key)


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class Row:
    """One line of the side-by-side table."""

    key: str
    metric: str
    unit: str
    ours: float | None
    baseline: float | None
    #: "time" (lower is better), "rate" (higher is better) or "" (no ratio shown).
    kind: str = "time"
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        """ours / baseline (the speed-up for a rate), None without a speed comparison."""
        return ratio(self.ours, self.baseline) if self.kind else None


def speed_rows(bots: Mapping[str, Any]) -> list[Row]:
    """Every speed and memory figure of both bots (no targets filled in)."""
    ours, base = bots.get("ours") or {}, bots.get("baseline") or {}
    rows = [
        Row("train_seconds", "Train time, fresh cache", "s", *_pair(ours, base, "train_seconds")),
        Row(
            "cold_start_seconds",
            "Cold start to first answer",
            "s",
            *_pair(ours, base, "cold_start_seconds"),
        ),
    ]
    for level in LEVELS:
        for q in ("p50", "p95", "p99"):
            rows.append(
                Row(
                    f"{q}_at_{level}",
                    f"Latency {q} @ {level} conversation{'s' if level > 1 else ''}",
                    "ms",
                    number(load_figure(ours, level, q)),
                    number(load_figure(base, level, q)),
                )
            )
    for level in LEVELS:
        rows.append(
            Row(
                f"throughput_at_{level}",
                f"Throughput @ {level} conversation{'s' if level > 1 else ''}",
                "msg/s",
                number(load_figure(ours, level, "throughput")),
                number(load_figure(base, level, "throughput")),
                kind="rate",
            )
        )
    rows.append(
        Row(
            "errors",
            "Failed or empty replies (all load levels)",
            "",
            _errors(ours),
            _errors(base),
            kind="",
        )
    )
    for mark in TURN_MARKS:
        rows.append(
            Row(
                f"turn_{mark}",
                f"Latency of turn {mark} (one conversation)",
                "ms",
                number(_get(ours, "turns", "at", mark)),
                number(_get(base, "turns", "at", mark)),
            )
        )
    rows.append(
        Row(
            "turn_max",
            "Slowest turn (median of the runs)",
            "ms",
            number(_get(ours, "turns", "max_ms")),
            number(_get(base, "turns", "max_ms")),
        )
    )
    rows.append(
        Row("rss_total_mb", "Peak RSS, all processes", "MB", *_pair(ours, base, "rss", "total_mb"))
    )
    return rows


def _pair(ours: Mapping, base: Mapping, *keys: str) -> tuple[float | None, float | None]:
    return number(_get(ours, *keys)), number(_get(base, *keys))


def _errors(bot: Mapping[str, Any]) -> float | None:
    load = bot.get("load") if isinstance(bot, Mapping) else None
    if not load:
        return None
    return float(sum(int(level.get("errors") or 0) for level in load.values()))


def ratios(bots: Mapping[str, Any]) -> dict[str, float | None]:
    """ours / baseline for every speed figure (throughput: ours' speed-up)."""
    return {
        row.key: (round(r, 3) if (r := row.ratio) is not None else None)
        for row in speed_rows(bots)
        if row.kind
    }


# --------------------------------------------------------------------------- targets


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
    targets = []

    p95 = number(load_figure(ours, 10, "p95"))
    met = None if p95 is None else (p95 <= P95_AT_10_MAX_MS and _level_clean(ours, 10))
    targets.append(
        Target(
            "p95_at_10",
            "p95 latency @ 10 conversations",
            f"≤ {P95_AT_10_MAX_MS:.0f} ms",
            _fmt(p95, "ms"),
            met,
        )
    )

    speedup = ratio(load_figure(ours, 10, "throughput"), load_figure(base, 10, "throughput"))
    met = None
    if speedup is not None:
        met = (
            speedup >= THROUGHPUT_AT_10_MIN_SPEEDUP
            and _level_clean(ours, 10)
            and _level_clean(base, 10)
        )
    targets.append(
        Target(
            "throughput_at_10",
            "Throughput @ 10 conversations vs baseline",
            f"≥ {THROUGHPUT_AT_10_MIN_SPEEDUP}× baseline",
            _fmt_ratio(speedup),
            met,
        )
    )

    growth = ratio(_get(ours, "turns", "at", 200), _get(ours, "turns", "at", 1))
    targets.append(
        Target(
            "turn_200",
            "Turn 200 latency vs turn 1",
            f"≤ {TURN_200_MAX_GROWTH}× turn 1",
            _fmt_ratio(growth),
            None if growth is None else growth <= TURN_200_MAX_GROWTH,
        )
    )

    cold = number(ours.get("cold_start_seconds"))
    targets.append(
        Target(
            "cold_start",
            "Cold start to first answer",
            f"≤ {COLD_START_MAX_S:.0f} s",
            _fmt(cold, "s"),
            None if cold is None else cold <= COLD_START_MAX_S,
        )
    )

    nlu = results.get("nlu") or {}
    acc = number(_get(nlu, "ours", "accuracy"))
    default_acc = number(_get(nlu, "default", "accuracy"))
    if acc is None:
        met = None
    elif acc < ACCURACY_MIN or (default_acc is not None and acc < default_acc):
        met = False
    else:
        met = None if default_acc is None else True
    value = _fmt(acc, "", 3)
    if default_acc is not None:
        value += f" (default {default_acc:.3f})"
    targets.append(
        Target(
            "intent_accuracy",
            "Intent accuracy, held-out",
            f"≥ {ACCURACY_MIN} and ≥ default pipeline",
            value,
            met,
        )
    )

    safety = results.get("safety") or {}
    recall = number(safety.get("recall"))
    targets.append(
        Target(
            "red_flag_recall",
            "Urgent/emergency recall",
            "100%",
            _fmt_pct(recall),
            None if recall is None else recall >= RECALL_REQUIRED - 1e-9,
        )
    )
    return targets


def targets_by_key(targets: Sequence[Target]) -> dict[str, Target]:
    """Targets by their key."""
    return {t.key: t for t in targets}


# --------------------------------------------------------------------------- formatting


def _fmt(value: Any, unit: str = "", digits: int | None = None) -> str:
    x = number(value)
    if x is None:
        return "–"
    if digits is None:
        digits = 0 if abs(x) >= 100 else 1 if abs(x) >= 10 else 2
    text = f"{x:,.{digits}f}"
    return f"{text} {unit}".strip()


def _fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _fmt_pct(value: Any) -> str:
    x = number(value)
    return "–" if x is None else f"{x:.1%}"


def met_mark(met: bool | None) -> str:
    """✅ met, ❌ missed, – not measured."""
    return "–" if met is None else ("✅ met" if met else "❌ missed")


def machine_line(machine: Mapping[str, Any]) -> str:
    """One line describing where and when the figures were taken."""
    parts = [
        str(machine.get("cpu") or "unknown CPU"),
        f"{machine.get('cores', '?')} cores",
        f"{_fmt(machine.get('ram_gb'), '', 1)} GB RAM",
        f"Linux {machine.get('kernel', '?')}",
        f"Python {machine.get('python', '?')}",
        f"Rasa {machine.get('rasa', '?')}",
    ]
    when = f"{machine.get('date', '?')}, commit {machine.get('commit', '?')}"
    return f"Machine: {', '.join(parts)}; {when}."


def _row_cells(row: Row, target: Target | None) -> list[str]:
    digits = 0 if row.key == "errors" else None
    ratio_text = _fmt_ratio(row.ratio) if row.kind else "–"
    return [
        f"{row.metric}{f' ({row.unit})' if row.unit else ''}",
        _fmt(row.ours, digits=digits),
        _fmt(row.baseline, digits=digits),
        ratio_text,
        target.target if target else "",
        met_mark(target.met) if target else "",
    ]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


#: Which table row shows which target.
TARGET_ROWS = {
    "p95_at_10": "p95_at_10",
    "throughput_at_10": "throughput_at_10",
    "turn_200": "turn_200",
    "cold_start": "cold_start_seconds",
}


def side_by_side_table(results: Mapping[str, Any]) -> str:
    """metric | ours | baseline | ours/baseline | target | met, quality rows first."""
    targets = targets_by_key(evaluate_targets(results))
    by_row = {row_key: targets[t] for t, row_key in TARGET_ROWS.items()}
    nlu = results.get("nlu") or {}
    safety = results.get("safety") or {}
    cells = [
        [
            "Intent accuracy, held-out (baseline: rasa init pipeline)",
            _fmt(_get(nlu, "ours", "accuracy"), digits=3),
            _fmt(_get(nlu, "default", "accuracy"), digits=3),
            "–",
            targets["intent_accuracy"].target,
            met_mark(targets["intent_accuracy"].met),
        ],
        [
            "Intent macro-F1, held-out",
            _fmt(_get(nlu, "ours", "macro_f1"), digits=3),
            _fmt(_get(nlu, "default", "macro_f1"), digits=3),
            "–",
            "",
            "",
        ],
        [
            "Urgent/emergency recall (red-flag set)",
            _recall_text(safety),
            "–",
            "–",
            targets["red_flag_recall"].target,
            met_mark(targets["red_flag_recall"].met),
        ],
        [
            "False urgent alarms on calm cases",
            _false_alarm_text(safety),
            "–",
            "–",
            "",
            "",
        ],
    ]
    for row in speed_rows(results.get("bots") or {}):
        cells.append(_row_cells(row, by_row.get(row.key)))
    header = ["metric", "ours", "baseline", "ours / baseline", "target", "met"]
    return _table(header, cells, ["---", "---:", "---:", "---:", "---", "---"])


def _recall_text(safety: Mapping[str, Any]) -> str:
    recall = number(safety.get("recall"))
    if recall is None:
        return "–"
    severe, missed = safety.get("severe"), safety.get("missed")
    if isinstance(severe, int) and isinstance(missed, int):
        return f"{recall:.1%} ({severe - missed}/{severe})"
    return f"{recall:.1%}"


def _false_alarm_text(safety: Mapping[str, Any]) -> str:
    rate = number(safety.get("false_alarm_rate"))
    if rate is None:
        return "–"
    calm, alarms = safety.get("calm"), safety.get("false_alarms")
    if isinstance(calm, int) and isinstance(alarms, int):
        return f"{rate:.1%} ({alarms}/{calm})"
    return f"{rate:.1%}"


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


def readme_block(results: Mapping[str, Any]) -> str:
    """The table, the targets line and the machine line: ready to paste into the README."""
    return "\n\n".join(
        [
            side_by_side_table(results),
            "Ratio = ours ÷ baseline (below 1: less time or memory; for throughput: speed-up). "
            + targets_summary(results),
            machine_line(results.get("machine") or {}),
        ]
    )


def nlu_table(results: Mapping[str, Any], images: Mapping[str, str]) -> str:
    """Accuracy, macro-F1, train time and the confusion matrix link of both pipelines."""
    nlu = results.get("nlu") or {}
    rows = []
    for key, label in (("ours", "ours (config.yml)"), ("default", "rasa init default")):
        entry = nlu.get(key) or {}
        train = _fmt(entry.get("train_seconds"), digits=0)
        if number(entry.get("train_cpu_seconds")) is not None:
            train += f" ({_fmt(entry.get('train_cpu_seconds'), digits=0)})"
        image = images.get(key)
        note = "" if entry.get("ok", bool(entry)) else f"failed: {entry.get('error', '')[:80]}"
        if not entry:
            note = "not run"
        rows.append(
            [
                label,
                entry.get("config", "–"),
                _fmt(entry.get("accuracy"), digits=4),
                _fmt(entry.get("macro_f1"), digits=4),
                _fmt(entry.get("weighted_f1"), digits=4),
                train,
                f"[png]({image})" if image else "–",
                note.replace("|", "/").replace("\n", " "),
            ]
        )
    header = ["pipeline", "config", "accuracy", "macro-F1", "weighted-F1", "train s (CPU s)"]
    header += ["confusion matrix", "note"]
    return _table(header, rows, ["---", "---", "---:", "---:", "---:", "---:", "---", "---"])


def rss_table(bots: Mapping[str, Any]) -> str:
    """Peak RSS of every process of both stacks."""
    rows = []
    for bot in ("ours", "baseline"):
        rss = _get(bots, bot, "rss") or {}
        for proc in rss.get("processes") or []:
            rows.append([bot, f"`{proc.get('name')}`", _fmt(proc.get("peak_mb"), digits=0)])
        if rss:
            rows.append([bot, "**total**", f"**{_fmt(rss.get('total_mb'), digits=0)}**"])
    return _table(["bot", "process", "peak RSS (MB)"], rows, ["---", "---", "---:"])


def phases_table(phases: Sequence[Mapping[str, Any]]) -> str:
    """Every phase with its duration and the 1-minute load average at its start and end."""
    rows = [
        [
            str(p.get("name")),
            "yes" if p.get("timed") else "no",
            _fmt(p.get("seconds"), digits=1),
            _fmt(p.get("load_start"), digits=2),
            _fmt(p.get("load_end"), digits=2),
            _fmt(p.get("background_cpu_seconds"), digits=1),
            _fmt(p.get("other_cpu_seconds"), digits=1),
        ]
        for p in phases
    ]
    header = ["phase", "timed", "seconds", "load avg at start", "load avg at end"]
    header += ["background job CPU s", "other processes CPU s"]
    return _table(header, rows, ["---", "---", "---:", "---:", "---:", "---:", "---:"])


def targets_table(targets: Sequence[Target]) -> str:
    """The targets of issue 6 with this run's value."""
    rows = [[t.name, t.target, t.value, met_mark(t.met)] for t in targets]
    return _table(["target", "required", "this run", "met"], rows, ["---", "---", "---:", "---"])


# --------------------------------------------------------------------------- plots

COLORS = {"ours": "#1f77b4", "baseline": "#d62728"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain_log_axis(axis) -> None:
    """Tick labels like 50, 200, 1000 instead of 5×10^1 on a log axis."""
    from matplotlib.ticker import LogFormatter

    axis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    axis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


def plot_latency_distribution(
    samples: Mapping[str, Mapping[str, Sequence[float]]], path: Path
) -> Path:
    """Latency CDFs per concurrency level, ours vs baseline. samples[bot][level] = [ms]."""
    plt = _pyplot()
    levels = sorted({int(lvl) for per_bot in samples.values() for lvl in per_bot})
    fig, axes = plt.subplots(1, max(1, len(levels)), figsize=(5 * max(1, len(levels)), 4))
    axes = list(axes) if hasattr(axes, "__len__") else [axes]
    for ax, level in zip(axes, levels, strict=False):
        for bot, per_level in samples.items():
            values = sorted(per_level.get(str(level)) or per_level.get(level) or [])
            if not values:
                continue
            y = [(i + 1) / len(values) for i in range(len(values))]
            ax.step(
                values, y, where="post", label=f"{bot} (n={len(values)})", color=COLORS.get(bot)
            )
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis)
        ax.tick_params(axis="x", which="minor", labelsize=7)
        ax.set_title(f"{level} concurrent conversation{'s' if level > 1 else ''}")
        ax.set_xlabel("latency (ms, log scale)")
        ax.set_ylabel("share of messages answered")
        ax.axhline(0.95, color="grey", linestyle=":", linewidth=0.8)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right")
    fig.suptitle("Latency distribution (CDF), REST channel on loopback")
    fig.tight_layout()
    return _save(fig, plt, path)


def plot_latency_vs_turn(turns: Mapping[str, Sequence[float]], path: Path) -> Path:
    """Median latency per turn of the long conversation, ours vs baseline."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    for bot, values in turns.items():
        if values:
            ax.plot(range(1, len(values) + 1), values, label=bot, color=COLORS.get(bot), lw=1)
    ax.set_xlabel("turn of one conversation")
    ax.set_ylabel("latency (ms, median of the runs)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title("Latency vs turn (one long conversation)")
    fig.tight_layout()
    return _save(fig, plt, path)


def plot_throughput(throughput: Mapping[str, Mapping[str, float]], path: Path) -> Path:
    """Messages per second at each concurrency level, ours vs baseline."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for bot, per_level in throughput.items():
        points = sorted((int(k), v) for k, v in per_level.items() if number(v) is not None)
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker="o", label=bot, color=COLORS.get(bot))
        for x, y in points:
            ax.annotate(f"{y:.1f}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center")
    ax.set_xscale("log")
    ax.set_xticks(LEVELS)
    ax.set_xticklabels([str(x) for x in LEVELS])
    ax.set_xlabel("concurrent conversations")
    ax.set_ylabel("messages per second")
    ax.set_ylim(0, max(1.0, ax.get_ylim()[1] * 1.12))
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title("Throughput vs concurrency")
    fig.tight_layout()
    return _save(fig, plt, path)


def _save(fig, plt, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- the report


def render_markdown(results: Mapping[str, Any], images: Mapping[str, str]) -> str:
    """bench.md: the side-by-side table, targets, NLU, plots, memory, phases, settings.

    `images`: relative links by name (latency_distribution, latency_vs_turn,
    throughput_vs_concurrency, and the confusion matrices "ours" / "default").
    """
    settings = results.get("settings") or {}
    background = results.get("background") or {}
    total = number(results.get("total_seconds"))
    lines = [
        "# Benchmark: Aftercare Assistant vs a bare Rasa bot",
        "",
        f"Generated by `make bench` (`python -m bench.run`). {machine_line(results.get('machine') or {})}",
        "",
        "- **ours**: the whole stack as `aftercare run` starts it (Rasa with `bot.rasa_server`, "
        "action server, SQLite app database and tracker store, REST channel).",
        "- **baseline**: Rasa's own `rasa init` bot (default DIET + TED config, in-memory "
        "tracker store) with one custom action, `action_hello_world`, answering greetings.",
        "- Same machine, same load generator (`bench/load.py`, loopback only), same bounds; "
        "the two stacks run one after the other, never at once.",
        "",
        "## Side by side",
        "",
        side_by_side_table(results),
        "",
        "Ratio = ours ÷ baseline: below 1 means less time or memory; for throughput it is ours' "
        "speed-up. NLU baseline = the `rasa init` default pipeline trained and scored on the "
        "same held-out split of our data.",
        "",
        "## Targets (issue 6)",
        "",
        targets_table(evaluate_targets(results)),
        "",
        "Latency and throughput targets count only if the load level had no failed replies.",
        "",
        "## NLU quality (held-out split)",
        "",
        _split_line(results.get("nlu") or {}),
        "",
        nlu_table(results, images),
        "",
        "## Plots",
        "",
    ]
    for key, title in (
        ("latency_distribution", "Latency distribution per concurrency level"),
        ("latency_vs_turn", "Latency vs turn"),
        ("throughput_vs_concurrency", "Throughput vs concurrency"),
    ):
        if images.get(key):
            lines += [f"![{title}]({images[key]})", ""]
    lines += [
        "## Peak memory (VmHWM of every process)",
        "",
        rss_table(results.get("bots") or {}),
        "",
        "## How it was measured",
        "",
        f"- Load levels: {', '.join(str(x) for x in settings.get('levels', LEVELS))} concurrent "
        f"conversations, each bounded by {settings.get('max_seconds', '?')} s and "
        f"{_max_messages_text(settings)} messages; {settings.get('warmup', '?')} warm-up "
        "messages per bot first. A client sends its next message when the reply arrived; an "
        "error or empty reply is counted as failed.",
        f"- Long conversation: {settings.get('turns', '?')} turns, "
        f"{settings.get('turn_runs', '?')} runs with fresh senders; median per turn.",
        "- Cold start: from launching the process(es) of an already trained bot until the "
        "first non-empty REST reply (polled every 0.2 s).",
        "- Train time: `rasa train` of the whole bot with a fresh, empty Rasa cache directory.",
        f"- Held-out NLU of the default pipeline (DIET, slow to train): {background.get('mode', '?')}"
        + (f" ({background['note']})" if background.get("note") else "")
        + ".",
        f"- Load script, ours: {_script(settings.get('ours_script'))}.",
        f"- Load script, baseline: {_script(settings.get('baseline_script'))}.",
        f"- Long conversation, ours: {_long_script(settings.get('ours_long'))}.",
        f"- Long conversation, baseline: {_long_script(settings.get('baseline_long'))}.",
        f"- Staff alerts created by the load on ours: {_get(results, 'bots', 'ours', 'escalations_created')} "
        "(the scripts contain no red flags).",
        "",
        "## Phases",
        "",
        phases_table(results.get("phases") or []),
        "",
        "Load average: the 1-minute average (it counts the background job's runnable threads "
        "too). Background job CPU s: CPU time the SCHED_IDLE NLU job got during the phase. "
        "Other processes CPU s: CPU time used on the machine by anything that is not this "
        "benchmark (its noise; 0 on an otherwise idle machine).",
        "",
        f"Total: {_fmt(total, 's', 0)} for `python -m bench.run` (plus `make venv`, which is "
        f"near-instant once the environment exists); budget {BUDGET_SECONDS // 60} min.",
        "",
    ]
    return "\n".join(lines)


def _split_line(nlu: Mapping[str, Any]) -> str:
    split = nlu.get("split") or {}
    ours = nlu.get("ours") or {}
    n_train = ours.get("n_train") or split.get("n_train", "?")
    n_test = ours.get("n_test") or split.get("n_test", "?")
    matches = nlu.get("default_matches_rasa")
    note = (
        " The default pipeline's file matches Rasa's own default_config.yml pipeline."
        if matches
        else (
            " WARNING: bench/pipelines/rasa_default.yml differs from Rasa's default."
            if matches is False
            else ""
        )
    )
    return (
        "`rasa data split nlu --random-seed 42 --training-fraction 0.8` of data/nlu "
        f"({n_train} train / {n_test} test examples); both pipelines are trained with "
        "`rasa train nlu` on the same training part and scored with `rasa test nlu` on the same "
        f"test part. Ours is the shipped config.yml.{note}"
    )


def _script(texts: Any) -> str:
    """ "hi" → "3 days ago" → ..."""
    if not texts:
        return "?"
    return " → ".join(f'"{t}"' for t in texts)


def _long_script(long: Any) -> str:
    if not isinstance(long, Mapping):
        return "?"
    return f"{_script(long.get('opening'))}, then {_script(long.get('repeated'))} in a cycle"


def _max_messages_text(settings: Mapping[str, Any]) -> str:
    bounds = settings.get("max_messages") or {}
    if not bounds:
        return "?"
    return "/".join(str(bounds[k]) for k in sorted(bounds, key=int))


def as_dicts(targets: Sequence[Target]) -> list[dict[str, Any]]:
    """Targets as JSON-ready dictionaries."""
    return [asdict(t) for t in targets]
