"""The machine a benchmark runs on, and the scheduling policy of its processes (Linux)."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.common import ROOT
from bench.stack import cmdline, descendants, process_label


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, kernel, Python, Rasa, date and git commit."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "rasa": version("rasa"),
        "rasa_sdk": version("rasa-sdk"),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "commit": git_commit(),
    }


def git_commit() -> str:
    """The short commit of the checkout, marked if tracked files have uncommitted changes."""
    commit = "unknown"
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if dirty:
            commit += " (with uncommitted changes)"
    return commit


# --------------------------------------------------------------------------- scheduling

POLICY_NAMES = {
    os.SCHED_OTHER: "SCHED_OTHER",
    os.SCHED_BATCH: "SCHED_BATCH",
    os.SCHED_IDLE: "SCHED_IDLE",
    os.SCHED_FIFO: "SCHED_FIFO",
    os.SCHED_RR: "SCHED_RR",
}


def scheduling_policy(pid: int) -> str:
    """The scheduling policy of a process (e.g. SCHED_IDLE); "gone" if it exited."""
    try:
        policy = os.sched_getscheduler(pid)
    except OSError:
        return "gone"
    return POLICY_NAMES.get(policy & ~getattr(os, "SCHED_RESET_ON_FORK", 0), str(policy))


def tree_policies(pid: int) -> dict[str, str]:
    """The scheduling policy of a process and each of its descendants, by label."""
    return {
        f"{pid_}: {process_label(cmdline(pid_))}": scheduling_policy(pid_)
        for pid_ in descendants([pid])
        if cmdline(pid_)
    }


def wait_for_policy(pid: int, wanted: str, timeout: float = 5.0) -> str:
    """The process's policy once it is `wanted` (chrt sets it just before exec), or at timeout."""
    deadline = time.monotonic() + timeout
    policy = scheduling_policy(pid)
    while policy != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
        policy = scheduling_policy(pid)
    return policy
