"""Phases of a benchmark run: progress lines, duration, load and CPU noise; child processes."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.common import load_average
from bench.stack import machine_busy_seconds, tree_cpu_seconds


class Phases:
    """Timed phases with progress lines; the CPU a background job took during each."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.phases: list[dict[str, Any]] = []
        self.background: subprocess.Popen | None = None

    def say(self, text: str) -> None:
        """A progress line with the elapsed time."""
        print(f"[{time.perf_counter() - self.started:7.1f} s] {text}", flush=True)

    @contextlib.contextmanager
    def phase(self, name: str, timed: bool = True) -> Iterator[dict[str, Any]]:
        """Time a phase; record its duration and the load average at its start and end."""
        record: dict[str, Any] = {"name": name, "timed": timed, "load_start": load_average()}
        background_cpu = self.background_cpu()
        busy, own = machine_busy_seconds(), tree_cpu_seconds(os.getpid())
        self.say(f"{name} ...")
        start = time.perf_counter()
        try:
            yield record
        finally:
            record["seconds"] = round(time.perf_counter() - start, 2)
            record["load_end"] = load_average()
            if background_cpu is not None and (now := self.background_cpu()) is not None:
                # CPU the SCHED_IDLE job got meanwhile: how much it shared the machine.
                record["background_cpu_seconds"] = round(now - background_cpu, 1)
            # CPU used by processes that are not the bench's own (other work on the machine).
            other = (machine_busy_seconds() - busy) - (tree_cpu_seconds(os.getpid()) - own)
            record["other_cpu_seconds"] = round(max(0.0, other), 1)
            self.phases.append(record)
            self.say(f"{name}: {record['seconds']:.1f} s {_phase_notes(record)}")

    def background_cpu(self) -> float | None:
        """CPU seconds the background NLU job used so far (None if it is not running)."""
        if self.background is None or self.background.returncode is not None:
            return None
        with contextlib.suppress(OSError):
            if (Path("/proc") / str(self.background.pid)).exists():
                return tree_cpu_seconds(self.background.pid)
        return None


def _phase_notes(record: dict[str, Any]) -> str:
    """`(load 0.5 -> 1.2) — summary [background job: …] [other processes: …]`."""
    extra = f" — {record['summary']}" if record.get("summary") else ""
    if "background_cpu_seconds" in record:
        extra += f" [background job: {record['background_cpu_seconds']} CPU s]"
    if record["other_cpu_seconds"] >= 1:
        extra += f" [other processes: {record['other_cpu_seconds']} CPU s]"
    return f"(load {record['load_start']} -> {record['load_end']}){extra}"


def run_logged(
    cmd: Sequence[str], cwd: Path, env: dict[str, str], log: Path
) -> tuple[float, float]:
    """Run a command to completion with its output in `log`; (wall s, CPU s of it)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"exit {proc.returncode}: {' '.join(cmd[:4])}\n{tail}")
    return wall, usage.ru_utime + usage.ru_stime


def run_quiet(cmd: Sequence[str], cwd: Path, env: dict[str, str], log: Path) -> int:
    """Run a command with its output in `log`; its exit code (failures are in the results)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.run(
            list(cmd), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        ).returncode


def fresh_dir(path: Path) -> Path:
    """An empty directory at `path`."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path
