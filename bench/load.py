"""A bounded load generator for a Rasa REST channel on loopback (asyncio + httpx).

Each simulated client is one conversation that sends a fixed script of messages, one at a time
(a client waits for the reply before typing the next). `run_load` keeps `concurrency` clients
busy until `max_messages` were sent or `max_seconds` passed, and reports latency percentiles and
messages per second. `turn_latencies` measures one long conversation turn by turn.

Only 127.0.0.1/localhost URLs are accepted: a benchmark never leaves the machine.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit

import httpx

from bench.common import percentile

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class LoadResult:
    """What one load level measured (milliseconds, messages per second)."""

    concurrency: int
    messages: int
    errors: int
    seconds: float
    throughput: float
    p50: float
    p95: float
    p99: float
    mean: float
    #: Every successful message's latency (ms) in the order the replies came; not in as_dict.
    samples: tuple[float, ...] = field(default=(), repr=False, compare=False)
    #: The first failure seen (exception type and message), for the report; None if none.
    first_error: str | None = None

    def as_dict(self) -> dict[str, float | int | str | None]:
        """The summary figures (everything but the raw samples)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "samples"}


def _check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"benchmarks talk to loopback only, not {host!r}")


async def _send(client: httpx.AsyncClient, url: str, sender: str, text: str) -> float:
    """Send one message; the latency in ms. Raises on an HTTP error or an empty reply."""
    started = time.perf_counter()
    response = await client.post(url, json={"sender": sender, "message": text})
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    if not response.json():
        raise RuntimeError(f"no reply to {text!r}")
    return elapsed


async def run_load(
    url: str,
    script: Sequence[str],
    concurrency: int,
    max_messages: int,
    max_seconds: float,
    sender_prefix: str = "bench",
) -> LoadResult:
    """Keep `concurrency` conversations sending `script` until a bound is reached."""
    _check_loopback(url)
    latencies: list[float] = []
    errors = 0
    sent = 0
    first_error: str | None = None
    conversation_ids = itertools.count(1)
    deadline = time.perf_counter() + max_seconds

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal errors, sent, first_error
        while True:
            sender = f"{sender_prefix}-{next(conversation_ids)}"
            for text in script:
                if sent >= max_messages or time.perf_counter() >= deadline:
                    return
                sent += 1
                try:
                    latencies.append(await _send(client, url, sender, text))
                except Exception as exc:  # noqa: BLE001 - counted; a benchmark reports failures
                    errors += 1
                    if first_error is None:
                        first_error = f"{type(exc).__name__}: {exc}"[:300]

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return LoadResult(
        concurrency=concurrency,
        messages=len(latencies),
        errors=errors,
        seconds=round(seconds, 3),
        throughput=round(len(latencies) / seconds, 2) if seconds else 0.0,
        p50=round(percentile(latencies, 50), 1),
        p95=round(percentile(latencies, 95), 1),
        p99=round(percentile(latencies, 99), 1),
        mean=round(sum(latencies) / len(latencies), 1) if latencies else math.nan,
        samples=tuple(round(x, 2) for x in latencies),
        first_error=first_error,
    )


async def turn_latencies(
    url: str, opening: Sequence[str], repeated: Sequence[str], turns: int, sender: str
) -> list[float]:
    """Latency (ms) of every turn of one conversation: `opening`, then `repeated` in a cycle."""
    _check_loopback(url)
    texts = list(opening) + [t for _, t in zip(range(turns), itertools.cycle(repeated))]
    async with httpx.AsyncClient(timeout=60) as client:
        return [await _send(client, url, sender, text) for text in texts[:turns]]
