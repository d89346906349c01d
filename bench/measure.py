"""Measuring one bot's stack: cold start, warm-up, load levels, long conversations, peak RSS."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.figures import LEVELS, turn_summary
from bench.load import LoadResult, run_load, turn_latencies
from bench.phases import Phases
from bench.stack import Stack, run_warm_up


@dataclass(frozen=True)
class Bounds:
    """How much load each phase sends (the same for both bots)."""

    max_messages: dict[int, int]
    max_seconds: float
    warmup: int
    turns: int
    turn_runs: int


FULL = Bounds({1: 400, 10: 2000, 50: 4000}, max_seconds=20, warmup=20, turns=200, turn_runs=3)
QUICK = Bounds({1: 15, 10: 40, 50: 100}, max_seconds=4, warmup=5, turns=20, turn_runs=1)


@dataclass
class BotRun:
    """One bot's measurement, phase by phase: figures into `bot`, latencies into `samples`."""

    phases: Phases
    bounds: Bounds
    stack: Stack
    bot: dict[str, Any]
    samples: dict[str, list[float]]

    def measure(self, script: Sequence[str], long_script: tuple[Sequence[str], ...]) -> list[float]:
        """Cold start, warm-up, load levels, long conversations, peak RSS; then stop.

        Returns the median latency per turn of the long conversations.
        """
        try:
            self.cold_start(script)
            self.load_levels(script)
            return self.long_conversations(long_script)
        finally:
            with self.phases.phase(f"{self.stack.name}: stop", timed=False):
                with contextlib.suppress(Exception):
                    self.stack.sample_rss()
                self.stack.stop()
            self.bot["rss"] = self.stack.rss_report()

    def cold_start(self, script: Sequence[str]) -> None:
        """Start the stack, time its first answer, then send the warm-up messages."""
        name, stack, bot = self.stack.name, self.stack, self.bot
        with self.phases.phase(f"{name}: cold start to first answer") as record:
            stack.start()
            cold = stack.wait_first_answer()
            record["summary"] = f"{cold:.1f} s"
        bot["cold_start_seconds"] = round(cold, 2)

        with self.phases.phase(f"{name}: warm-up ({self.bounds.warmup} messages)") as record:
            bot["warmup_errors"] = run_warm_up(stack.url, script, self.bounds.warmup)
            record["summary"] = f"{bot['warmup_errors']} errors"

    def load_levels(self, script: Sequence[str]) -> None:
        """The load at each level of concurrent conversations."""
        name, stack, bounds = self.stack.name, self.stack, self.bounds
        self.bot["load"] = {}
        for level in LEVELS:
            with self.phases.phase(f"{name}: load, {level} concurrent") as record:
                result: LoadResult = asyncio.run(
                    run_load(
                        stack.url,
                        script,
                        level,
                        bounds.max_messages[level],
                        bounds.max_seconds,
                        sender_prefix=f"{name}-c{level}",
                    )
                )
                stack.check_alive()
                stack.sample_rss()
                record["summary"] = (
                    f"{result.messages} msgs, {result.throughput} msg/s, p50 {result.p50} "
                    f"p95 {result.p95} p99 {result.p99} ms, {result.errors} errors"
                )
            self.bot["load"][str(level)] = result.as_dict()
            self.samples[str(level)] = list(result.samples)

    def long_conversations(self, long_script: tuple[Sequence[str], ...]) -> list[float]:
        """Latency per turn of a few long conversations; the median per turn."""
        name, stack, bounds = self.stack.name, self.stack, self.bounds
        opening, repeated = long_script
        runs: list[list[float]] = []
        failures: list[str] = []
        with self.phases.phase(
            f"{name}: {bounds.turn_runs} × one conversation of {bounds.turns} turns"
        ) as record:
            for run in range(bounds.turn_runs):
                try:
                    runs.append(
                        asyncio.run(
                            turn_latencies(
                                stack.url, opening, repeated, bounds.turns, f"{name}-long-{run}"
                            )
                        )
                    )
                except Exception as exc:  # noqa: BLE001 - reported
                    failures.append(f"{type(exc).__name__}: {exc}"[:300])
            stack.sample_rss()
            summary = turn_summary(runs)
            record["summary"] = f"turns {summary['at']} ms, {len(failures)} failed runs"
        self.bot["turns"] = {**summary, "failed_runs": failures}
        self.bot["turns"]["median_ms"] = summary["median_ms"]
        return summary["median_ms"]
