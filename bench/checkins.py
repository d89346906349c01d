"""`make bench`, the check-in row: does the dispatcher slow chat turns down?

One stack (`aftercare run`, the embedded SQLite default) answers 10 conversations for a
while with check-ins off; a fresh stack does the same with check-ins on and its dispatcher
cycling (nothing due: the usual state between windows); a third while its dispatcher sends a
backlog of check-ins due now (conversations seeded with today's treatment and a check-in
whose window is open: what a window's start, or a restart after downtime, looks like),
paced at one a second, through the same Rasa. Writes results/checkins.json and
results/checkins.md: the turn latency of each run and how many check-ins went out meanwhile.

Usage: python -m bench.checkins [--seconds 60] [--conversations 10] [--due 600]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bench.bots import OURS_SCRIPT
from bench.common import percentile
from bench.load import run_load
from bench.scale import _stack
from bot.kb.loader import load_clinic
from bot.storage.engine import session_factory
from bot.storage.models import CheckinRow
from bot.storage.treatments import TreatmentRepository

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"


def _clinic(work: Path, checkins_on: bool) -> Path:
    """A copy of the clinic folder: check-ins off, or on with one whose window is open now."""
    clinic = work / "clinic"
    shutil.copytree(ROOT / "clinic", clinic)
    path = clinic / "checkins.yml"
    text = path.read_text()
    if not checkins_on:
        path.write_text(text.replace("enabled: true", "enabled: false"))
        return clinic
    zone = ZoneInfo(load_clinic(clinic).settings.time_zone)
    start = max(datetime.now(zone) - timedelta(minutes=5), datetime.now(zone).replace(hour=0))
    text = text.replace('{from: "21:00", to: "08:00"}', '{from: "00:00", to: "00:00"}')
    text += (
        f'  bench_now:\n    day: 0\n    window: {{from: "{start:%H:%M}", to: "23:59"}}\n'
        '    text: "Hi {name}, a check-in for the benchmark."\n'
        "    quick_replies: [fine, worried, wrong]\n"
    )
    path.write_text(text)
    return clinic


def _seed(database: str, clinic: Path, due: int) -> None:
    """`due` conversations treated today (each gets the open check-in)."""
    treatments = TreatmentRepository(session_factory(database))
    today = datetime.now(ZoneInfo(load_clinic(clinic).settings.time_zone)).date()
    for i in range(due):
        treatments.set_date(f"bench-checkin-{i}", today, source="clinic")


def _sent(database: str) -> int:
    with session_factory(database)() as session:
        return session.scalar(select(func.count(CheckinRow.id)).where(CheckinRow.status == "sent"))


def _run(name: str, work: Path, checkins_on: bool, due: int, args: argparse.Namespace) -> dict:
    clinic = _clinic(work / name, checkins_on)
    database = f"sqlite:///{work / (name + '.db')}"
    if due:
        _seed(database, clinic, due)
    env = {
        "AFTERCARE_CLINIC_DIR": str(clinic),
        "AFTERCARE_DATABASE_URL": database,
        "AFTERCARE_TRACKER_DB": str(work / f"{name}-tracker.db"),
        "RASA_TELEMETRY_ENABLED": "false",
    }
    stack = _stack(name, env, work / "logs")
    url = stack.url
    stack.start()
    try:
        stack.wait_first_answer()
        asyncio.run(run_load(url, OURS_SCRIPT, args.conversations, 10**6, 10, f"warm-{name}"))
        before = _sent(database)
        result = asyncio.run(
            run_load(url, OURS_SCRIPT, args.conversations, 10**6, args.seconds, f"run-{name}")
        )
        sent = _sent(database) - before
    finally:
        stack.stop()
    return {
        "checkins": ("on" if checkins_on else "off") + (f", {due} due" if checkins_on else ""),
        "conversations": args.conversations,
        "messages": len(result.samples),
        "errors": result.errors,
        "p50": round(percentile(result.samples, 50), 1),
        "p95": round(percentile(result.samples, 95), 1),
        "checkins_sent_meanwhile": sent,
    }


def report(rows: list[dict]) -> str:
    """The Markdown table of results/checkins.md."""
    lines = [
        "| check-ins | conversations | messages | errors | p50 ms | p95 ms | check-ins sent during the run |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['checkins']} | {r['conversations']} | {r['messages']} | {r['errors']} |"
            f" {r['p50']} | {r['p95']} | {r['checkins_sent_meanwhile']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument("--due", type=int, default=600, help="check-ins due when the run starts")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aftercare-checkins-") as work:
        runs = (("off", False, 0), ("idle", True, 0), ("backlog", True, args.due))
        rows = [_run(name, Path(work), on, due, args) for name, on, due in runs]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "checkins.json").write_text(json.dumps(rows, indent=1))
    (RESULTS / "checkins.md").write_text(report(rows))
    print(report(rows))
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
