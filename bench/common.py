"""Helpers shared by the benchmark and scripts/compare_pipelines.py.

The environment helpers here are the only code in bench/ and that script that touch
`os.environ` (the project reads settings in bot/settings.py only).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Rasa without telemetry, TensorFlow without its info and warning lines.
RASA_QUIET = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks; NaN if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def load_average() -> float | None:
    """The 1-minute load average (to judge how noisy the timings are)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus `extra`, for a child process."""
    return {**os.environ, **(extra or {})}


def rasa_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for Rasa subprocesses: no telemetry, quiet TensorFlow, plus `extra`."""
    return child_env({**RASA_QUIET, **(extra or {})})


def quiet_rasa_here() -> None:
    """No telemetry and quiet TensorFlow in this process too (unless already set)."""
    for key, value in RASA_QUIET.items():
        os.environ.setdefault(key, value)
