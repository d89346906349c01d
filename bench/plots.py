"""The benchmark's plots (matplotlib, PNG): latency CDFs, latency vs turn, throughput."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.figures import LEVELS, number

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


def plot_all(
    bots: Mapping[str, Any],
    samples: Mapping[str, Mapping[str, Sequence[float]]],
    turn_medians: Mapping[str, Sequence[float]],
    images_dir: Path,
) -> dict[str, Path]:
    """The three plots of a run in `images_dir`, by name."""
    throughput = {
        bot: {lvl: r.get("throughput") for lvl, r in (bots[bot].get("load") or {}).items()}
        for bot in ("ours", "baseline")
    }
    return {
        "latency_distribution": plot_latency_distribution(
            samples, images_dir / "latency_distribution.png"
        ),
        "latency_vs_turn": plot_latency_vs_turn(turn_medians, images_dir / "latency_vs_turn.png"),
        "throughput_vs_concurrency": plot_throughput(
            throughput, images_dir / "throughput_vs_concurrency.png"
        ),
    }


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
