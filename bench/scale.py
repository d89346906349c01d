"""`make bench`, the scale-out row: 50 conversations on one stack, then on two stacks.

Both runs use the scale-out profile (README "Scale-out"): our tables and Rasa's tracker store on
one PostgreSQL database, Rasa's lock store in Redis (throwaway servers on loopback, from
scripts/postgres.sh and scripts/redis.sh). One stack is one `aftercare run`; with two, half
the conversations talk to each Rasa (what a round-robin proxy does by conversation). Writes
results/scale.json and results/scale.md.

Usage: python -m bench.scale [--seconds 60] [--conversations 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from bench.bots import OURS_SCRIPT
from bench.common import percentile
from bench.load import LoadResult, run_load
from bench.stack import Command, Stack
from bot.serve.harness import free_port

ROOT = Path(__file__).resolve().parent.parent
AFTERCARE = str(ROOT / ".venv" / "bin" / "aftercare")
RESULTS = ROOT / "results"


def _server(script: str, directory: str) -> dict[str, str]:
    """Start a throwaway server with one of the project's scripts; the variables it prints."""
    out = subprocess.run(
        ["bash", f"scripts/{script}", "start", directory],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pairs = (line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    found = {k: v for k, v in (p for p in pairs if len(p) == 2)}
    if not found:
        raise SystemExit(f"scripts/{script} could not start its server")
    return found


def _database(server_url: str) -> str:
    """A fresh database on the PostgreSQL server."""
    name = "aftercare_bench_" + secrets.token_hex(4)
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _stack(name: str, env: dict[str, str], logs: Path) -> Stack:
    rasa, actions, web = free_port(), free_port(), free_port()
    argv = [AFTERCARE, "run", "--port", str(rasa), "--action-port", str(actions)]
    argv += ["--web-port", str(web), "--inbox-port", str(free_port())]
    command = Command(name, argv, ROOT, env, unset_prefixes=("TELEGRAM_",))
    url = f"http://127.0.0.1:{rasa}/webhooks/rest/webhook"
    return Stack(name, [command], url, logs, greeting=OURS_SCRIPT[0])


async def _load(urls: list[str], conversations: int, seconds: float, tag: str) -> dict:
    """`conversations` clients split over `urls`, all at once; the figures together."""
    share = conversations // len(urls)
    results: list[LoadResult] = await asyncio.gather(
        *(
            run_load(url, OURS_SCRIPT, share, 10**6, seconds, sender_prefix=f"{tag}-{i}")
            for i, url in enumerate(urls)
        )
    )
    samples = [x for r in results for x in r.samples]
    wall = max(r.seconds for r in results)
    return {
        "stacks": len(urls),
        "conversations": share * len(urls),
        "messages": len(samples),
        "errors": sum(r.errors for r in results),
        "throughput": round(len(samples) / wall, 2) if wall else 0.0,
        "p50": round(percentile(samples, 50), 1),
        "p95": round(percentile(samples, 95), 1),
    }


def measure(conversations: int, seconds: float, work: Path) -> list[dict]:
    """One stack, then two, on one PostgreSQL and one Redis."""
    # Outside `work` (private to us): the PostgreSQL server runs as its own user.
    servers = {s: f"/tmp/aftercare-scale-{secrets.token_hex(4)}-{s}" for s in ("pg", "redis")}
    env = _server("postgres.sh", servers["pg"]) | _server("redis.sh", servers["redis"])
    try:
        database = _database(env["AFTERCARE_TEST_POSTGRES_URL"])
        profile = {
            "AFTERCARE_DATABASE_URL": database,
            "AFTERCARE_TRACKER_URL": database,
            "AFTERCARE_REDIS_URL": env["AFTERCARE_TEST_REDIS_URL"],
            "AFTERCARE_TRACKER_DB": str(work / "unused-tracker.db"),
            "RASA_TELEMETRY_ENABLED": "false",
        }
        rows, stacks = [], []
        try:
            for count in (1, 2):
                stack = _stack(f"scale-{count}", profile, work / "logs")
                stack.start()
                stack.wait_first_answer()
                stacks.append(stack)
                urls = [s.url for s in stacks]
                asyncio.run(_load(urls, conversations, 10, f"warm{count}"))
                rows.append(asyncio.run(_load(urls, conversations, seconds, f"run{count}")))
        finally:
            for stack in stacks:
                stack.stop()
        return rows
    finally:
        for script, directory in (("postgres.sh", servers["pg"]), ("redis.sh", servers["redis"])):
            subprocess.run(["bash", f"scripts/{script}", "stop", directory], cwd=ROOT, check=False)


def report(rows: list[dict]) -> str:
    """The Markdown table of results/scale.md."""
    lines = [
        "| Rasa stacks | conversations | messages | errors | msg/s | p50 ms | p95 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['stacks']} | {r['conversations']} | {r['messages']} | {r['errors']} |"
            f" {r['throughput']} | {r['p50']} | {r['p95']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--conversations", type=int, default=50)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aftercare-scale-") as work:
        rows = measure(args.conversations, args.seconds, Path(work))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(rows, indent=1))
    (RESULTS / "scale.md").write_text(report(rows))
    print(report(rows))
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
