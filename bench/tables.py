"""The benchmark report's Markdown tables: side by side, targets, NLU, memory and phases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.figures import (
    LEVELS,
    TURN_MARKS,
    fmt,
    fmt_ratio,
    get,
    load_figure,
    number,
    ratio,
)
from bench.targets import Target, evaluate_targets, targets_by_key


def met_mark(met: bool | None) -> str:
    """✅ met, ❌ missed, – not measured."""
    return "–" if met is None else ("✅ met" if met else "❌ missed")


def machine_line(machine: Mapping[str, Any]) -> str:
    """One line describing where and when the figures were taken."""
    parts = [
        str(machine.get("cpu") or "unknown CPU"),
        f"{machine.get('cores', '?')} cores",
        f"{fmt(machine.get('ram_gb'), '', 1)} GB RAM",
        f"Linux {machine.get('kernel', '?')}",
        f"Python {machine.get('python', '?')}",
        f"Rasa {machine.get('rasa', '?')}",
    ]
    when = f"{machine.get('date', '?')}, commit {machine.get('commit', '?')}"
    return f"Machine: {', '.join(parts)}; {when}."


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str]
) -> str:
    """A Markdown table; `align` has one `---` / `---:` per column."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- speed rows


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
        *_load_rows(ours, base),
        Row(
            "errors",
            "Failed or empty replies (all load levels)",
            "",
            _errors(ours),
            _errors(base),
            kind="",
        ),
        *_turn_rows(ours, base),
        Row("rss_total_mb", "Peak RSS, all processes", "MB", *_pair(ours, base, "rss", "total_mb")),
    ]
    return rows


def _load_rows(ours: Mapping[str, Any], base: Mapping[str, Any]) -> list[Row]:
    """Latency percentiles at every load level, then the throughput at every level."""
    rows = []
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
    return rows


def _turn_rows(ours: Mapping[str, Any], base: Mapping[str, Any]) -> list[Row]:
    """The marked turns of the long conversation, then its slowest turn."""
    rows = [
        Row(
            f"turn_{mark}",
            f"Latency of turn {mark} (one conversation)",
            "ms",
            number(get(ours, "turns", "at", mark)),
            number(get(base, "turns", "at", mark)),
        )
        for mark in TURN_MARKS
    ]
    rows.append(
        Row(
            "turn_max",
            "Slowest turn (median of the runs)",
            "ms",
            number(get(ours, "turns", "max_ms")),
            number(get(base, "turns", "max_ms")),
        )
    )
    return rows


def _pair(ours: Mapping, base: Mapping, *keys: str) -> tuple[float | None, float | None]:
    return number(get(ours, *keys)), number(get(base, *keys))


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


# --------------------------------------------------------------------------- tables


def _row_cells(row: Row, target: Target | None) -> list[str]:
    digits = 0 if row.key == "errors" else None
    ratio_text = fmt_ratio(row.ratio) if row.kind else "–"
    return [
        f"{row.metric}{f' ({row.unit})' if row.unit else ''}",
        fmt(row.ours, digits=digits),
        fmt(row.baseline, digits=digits),
        ratio_text,
        target.target if target else "",
        met_mark(target.met) if target else "",
    ]


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
            fmt(get(nlu, "ours", "accuracy"), digits=3),
            fmt(get(nlu, "default", "accuracy"), digits=3),
            "–",
            targets["intent_accuracy"].target,
            met_mark(targets["intent_accuracy"].met),
        ],
        [
            "Intent macro-F1, held-out",
            fmt(get(nlu, "ours", "macro_f1"), digits=3),
            fmt(get(nlu, "default", "macro_f1"), digits=3),
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
        ["False urgent alarms on calm cases", _false_alarm_text(safety), "–", "–", "", ""],
    ]
    for row in speed_rows(results.get("bots") or {}):
        cells.append(_row_cells(row, by_row.get(row.key)))
    header = ["metric", "ours", "baseline", "ours / baseline", "target", "met"]
    return markdown_table(header, cells, ["---", "---:", "---:", "---:", "---", "---"])


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


def nlu_table(results: Mapping[str, Any], images: Mapping[str, str]) -> str:
    """Accuracy, macro-F1, train time and the confusion matrix link of both pipelines."""
    nlu = results.get("nlu") or {}
    rows = []
    for key, label in (("ours", "ours (config.yml)"), ("default", "rasa init default")):
        entry = nlu.get(key) or {}
        train = fmt(entry.get("train_seconds"), digits=0)
        if number(entry.get("train_cpu_seconds")) is not None:
            train += f" ({fmt(entry.get('train_cpu_seconds'), digits=0)})"
        image = images.get(key)
        note = "" if entry.get("ok", bool(entry)) else f"failed: {entry.get('error', '')[:80]}"
        if not entry:
            note = "not run"
        rows.append(
            [
                label,
                entry.get("config", "–"),
                fmt(entry.get("accuracy"), digits=4),
                fmt(entry.get("macro_f1"), digits=4),
                fmt(entry.get("weighted_f1"), digits=4),
                train,
                f"[png]({image})" if image else "–",
                note.replace("|", "/").replace("\n", " "),
            ]
        )
    header = ["pipeline", "config", "accuracy", "macro-F1", "weighted-F1", "train s (CPU s)"]
    header += ["confusion matrix", "note"]
    return markdown_table(
        header, rows, ["---", "---", "---:", "---:", "---:", "---:", "---", "---"]
    )


def rss_table(bots: Mapping[str, Any]) -> str:
    """Peak RSS of every process of both stacks."""
    rows = []
    for bot in ("ours", "baseline"):
        rss = get(bots, bot, "rss") or {}
        for proc in rss.get("processes") or []:
            rows.append([bot, f"`{proc.get('name')}`", fmt(proc.get("peak_mb"), digits=0)])
        if rss:
            rows.append([bot, "**total**", f"**{fmt(rss.get('total_mb'), digits=0)}**"])
    return markdown_table(["bot", "process", "peak RSS (MB)"], rows, ["---", "---", "---:"])


def phases_table(phases: Sequence[Mapping[str, Any]]) -> str:
    """Every phase with its duration and the 1-minute load average at its start and end."""
    rows = [
        [
            str(p.get("name")),
            "yes" if p.get("timed") else "no",
            fmt(p.get("seconds"), digits=1),
            fmt(p.get("load_start"), digits=2),
            fmt(p.get("load_end"), digits=2),
            fmt(p.get("background_cpu_seconds"), digits=1),
            fmt(p.get("other_cpu_seconds"), digits=1),
        ]
        for p in phases
    ]
    header = ["phase", "timed", "seconds", "load avg at start", "load avg at end"]
    header += ["background job CPU s", "other processes CPU s"]
    return markdown_table(header, rows, ["---", "---", "---:", "---:", "---:", "---:", "---:"])


def targets_table(targets: Sequence[Target]) -> str:
    """The targets of issue 6 with this run's value."""
    rows = [[t.name, t.target, t.value, met_mark(t.met)] for t in targets]
    return markdown_table(
        ["target", "required", "this run", "met"], rows, ["---", "---", "---:", "---"]
    )
