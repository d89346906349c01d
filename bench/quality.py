"""Quality figures of a benchmark run: red-flag recall, staff alerts, NLU results."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from bench.common import ROOT


def read_nlu_result(path: Path, name: str) -> dict[str, Any]:
    """The figures `python -m bench.nlu` wrote for one pipeline to `path`."""
    if not path.exists():
        return {"name": name, "ok": False, "error": "no result (see var/bench/run/logs)"}
    return json.loads(path.read_text())


def count_escalations(db: Path) -> int | None:
    """Staff alerts in the app database (the load scripts should create none)."""
    if not db.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            return conn.execute("SELECT count(*) FROM escalations").fetchone()[0]
    except sqlite3.Error:
        return None


def read_red_flags(log: Path, since: float) -> dict[str, Any]:
    """Recall and false-alarm rate from results/red_flags.json (written by red_flag_eval.py)."""
    path = ROOT / "results" / "red_flags.json"
    if not path.exists() or path.stat().st_mtime < since:
        tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
        return {"error": f"red_flag_eval.py wrote no results: {tail}"}
    data = json.loads(path.read_text())
    rank = {"none": 0, "question": 1, "urgent": 2, "emergency": 3}
    cases = data.get("cases") or []
    severe = [c for c in cases if rank.get(c.get("level"), 0) >= rank["urgent"]]
    calm = [c for c in cases if c.get("level") == "none"]
    missed = [c for c in severe if rank.get(c.get("got"), 0) < rank[c["level"]]]
    alarms = [c for c in calm if rank.get(c.get("got"), 0) >= rank["urgent"]]
    return {
        "recall": data.get("recall"),
        "false_alarm_rate": data.get("false_alarm_rate"),
        "cases": len(cases),
        "severe": len(severe),
        "calm": len(calm),
        "missed": len(missed),
        "false_alarms": len(alarms),
        "missed_cases": [{k: c.get(k) for k in ("text", "day", "level", "got")} for c in missed],
        "via": "scripts/red_flag_eval.py (aftercare ask --jsonl), details in results/red_flags.json",
    }
