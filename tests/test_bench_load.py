"""The benchmark's load generator against a small REST server of our own on loopback."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bench.common import percentile
from bench.load import run_load, turn_latencies
from bot.serve.harness import free_port


class FakeRest:
    """Answers like Rasa's REST channel after `delay` seconds; records what it got."""

    def __init__(self, delay: float = 0.02, fail_every: int = 0):
        self.delay, self.fail_every = delay, fail_every
        self.received: list[dict] = []
        self.in_flight = self.most_in_flight = 0
        self.port = free_port()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        number = len(self.received)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        if self.fail_every and number % self.fail_every == 0:
            return web.json_response([], status=500)
        return web.json_response([{"recipient_id": body["sender"], "text": "ok"}])

    async def __aenter__(self) -> str:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return f"http://127.0.0.1:{self.port}/webhooks/rest/webhook"

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()


def test_load_stops_at_the_message_bound_with_that_many_conversations_at_once():
    fake = FakeRest(delay=0.02)

    async def scenario():
        async with fake as url:
            return await run_load(url, ["hi", "3 days ago", "gym?"], 5, 40, 60)

    result = asyncio.run(scenario())

    assert (result.messages, result.errors) == (40, 0)
    assert len(fake.received) == 40
    assert fake.most_in_flight == 5
    assert result.p50 >= 20 and result.p99 >= result.p95 >= result.p50
    # Each conversation sends the script in order, one message at a time.
    by_sender: dict[str, list[str]] = {}
    for body in fake.received:
        by_sender.setdefault(body["sender"], []).append(body["message"])
    for texts in by_sender.values():
        assert texts == ["hi", "3 days ago", "gym?"][: len(texts)]


def test_load_stops_at_the_time_bound_and_counts_failed_replies():
    fake = FakeRest(delay=0.05, fail_every=4)

    async def scenario():
        async with fake as url:
            return await run_load(url, ["hello"], 2, 10_000, 0.5)

    result = asyncio.run(scenario())

    assert result.messages + result.errors == len(fake.received) < 10_000
    assert result.errors == len(fake.received) // 4
    assert result.seconds < 2


def test_load_keeps_every_latency_sample_and_the_first_error():
    fake = FakeRest(delay=0.01, fail_every=3)

    async def scenario():
        async with fake as url:
            return await run_load(url, ["hi", "gym?"], 2, 9, 60)

    result = asyncio.run(scenario())

    assert (result.messages, result.errors) == (6, 3)
    assert len(result.samples) == result.messages
    assert all(s >= 10 for s in result.samples)
    assert result.p50 == pytest.approx(percentile(result.samples, 50), abs=0.1)
    assert result.first_error is not None and "500" in result.first_error
    summary = result.as_dict()
    assert "samples" not in summary
    assert summary["messages"] == 6 and summary["first_error"] == result.first_error


def test_a_clean_run_has_no_first_error():
    fake = FakeRest(delay=0.0)

    async def scenario():
        async with fake as url:
            return await run_load(url, ["hi"], 1, 3, 60)

    result = asyncio.run(scenario())
    assert (result.errors, result.first_error, len(result.samples)) == (0, None, 3)


def test_turn_latencies_cover_every_turn_of_one_conversation():
    fake = FakeRest(delay=0.0)

    async def scenario():
        async with fake as url:
            return await turn_latencies(url, ["hi", "yesterday"], ["a", "b"], 7, "long-1")

    latencies = asyncio.run(scenario())

    assert len(latencies) == 7
    assert [b["message"] for b in fake.received] == ["hi", "yesterday", "a", "b", "a", "b", "a"]
    assert {b["sender"] for b in fake.received} == {"long-1"}


def test_benchmarks_refuse_anything_but_loopback():
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(run_load("http://example.com/webhooks/rest/webhook", ["hi"], 1, 1, 1))


def test_percentiles_interpolate_between_ranks():
    values = [10, 20, 30, 40, 50]
    assert percentile(values, 50) == 30
    assert percentile(values, 95) == pytest.approx(48)
    assert percentile([7], 99) == 7
