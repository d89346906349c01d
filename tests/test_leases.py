"""Leases and claims shared by several processes: one holder at a time, on the database's clock.

Runs on SQLite and on the PostgreSQL server `make test` starts (`database_url`)."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import pytest

from bot.domain.days import now_utc
from bot.storage.clock import db_now
from bot.storage.engine import session_factory
from bot.storage.escalations import EscalationRepository
from bot.storage.heartbeats import Heartbeats
from bot.storage.leases import Leases, run_while_held, telegram_poller
from bot.storage.outbox import Outbox


@pytest.fixture
def sessions(database_url):
    return session_factory(database_url)


def test_one_owner_holds_a_lease_and_renews_it_while_others_are_refused(sessions):
    leases = Leases(sessions)
    assert leases.hold("job", "a", 30)
    assert not leases.hold("job", "b", 30)
    assert leases.hold("job", "a", 30)  # a renewal
    assert leases.holder("job") == "a"
    assert leases.hold("other job", "b", 30)


def test_a_lease_its_holder_stopped_renewing_is_taken_by_another(sessions):
    leases = Leases(sessions)
    assert leases.hold("job", "a", 1.5)
    assert not leases.hold("job", "b", 30)
    asyncio.run(asyncio.sleep(1.8))
    assert leases.holder("job") is None
    assert leases.hold("job", "b", 30)
    assert not leases.hold("job", "a", 30)


def test_a_released_lease_is_free_at_once_but_only_its_holder_releases_it(sessions):
    leases = Leases(sessions)
    assert leases.hold("job", "a", 30)
    leases.release("job", "b")
    assert leases.holder("job") == "a"
    leases.release("job", "a")
    assert leases.hold("job", "b", 30)


def test_many_threads_taking_one_lease_at_once_give_it_to_exactly_one(sessions):
    leases, winners, start = Leases(sessions), [], threading.Barrier(8)

    def take(owner: str) -> None:
        start.wait()
        if leases.hold("job", owner, 30):
            winners.append(owner)

    threads = [threading.Thread(target=take, args=(f"p{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    assert leases.holder("job") == winners[0]


def test_poller_leases_are_named_without_the_token():
    token = "123456:fake-token-for-aftercare-tests"
    name = telegram_poller(token)
    assert token not in name and "fake" not in name and "123456" not in name
    assert name == telegram_poller(token) != telegram_poller(token + "x")


def test_a_job_runs_in_one_process_at_a_time_and_moves_when_its_holder_stops(sessions):
    """Two processes (two owners) want to run the same job: one runs it; when that one stops,
    the other takes over within the lease's renewal period; they never run it together."""
    leases = Leases(sessions)
    running: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    ran: set[str] = set()

    def job(owner: str):
        async def poll() -> None:
            running.append(owner)
            ran.add(owner)
            if len(running) > 1:
                overlaps.append(tuple(running))
            try:
                await asyncio.Event().wait()
            finally:
                running.remove(owner)

        return poll

    async def scenario() -> None:
        stop_a, stop_b = asyncio.Event(), asyncio.Event()
        a = asyncio.create_task(run_while_held(leases, "poll", job("a"), stop_a, 3, "a"))
        await until(lambda: running == ["a"])
        b = asyncio.create_task(run_while_held(leases, "poll", job("b"), stop_b, 3, "b"))
        await asyncio.sleep(2.5)  # b asked at least twice
        assert running == ["a"]
        stop_a.set()
        await a
        await until(lambda: running == ["b"], 2.0)  # b asks every second
        stop_b.set()
        await b

    asyncio.run(asyncio.wait_for(scenario(), 20))
    assert ran == {"a", "b"} and not overlaps and not running
    assert leases.holder("poll") is None  # released on a clean stop


@pytest.mark.parametrize("failure", ["refused", "hangs"])
def test_a_holder_that_cannot_renew_stops_its_job_before_its_last_lease_runs_out(
    sessions, monkeypatch, failure
):
    """The database refuses, or stops answering (a renewal that hangs): the job stops before
    the last lease this process surely got runs out, and comes back when renewals work."""
    leases = Leases(sessions)
    real_hold, gate = leases.hold, threading.Event()
    state = {"broken": False, "last_ok": 0.0}
    running: list[bool] = []

    def hold(*args) -> bool:
        asked = time.monotonic()
        if state["broken"]:
            if failure == "refused":
                raise ConnectionError("database away")
            gate.wait(30)  # hangs until the database is back
        held = real_hold(*args)
        if held and not state["broken"]:
            state["last_ok"] = asked
        return held

    monkeypatch.setattr(leases, "hold", hold)

    async def poll() -> None:
        running.append(True)
        try:
            await asyncio.Event().wait()
        finally:
            running.clear()

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_while_held(leases, "poll", poll, stop, 3, "a"))
        await until(lambda: running)
        state["broken"] = True
        await until(lambda: not running, 4.0)
        assert time.monotonic() < state["last_ok"] + 3.0  # the lease it had still held
        state["broken"] = False
        gate.set()
        await until(lambda: running, 4.0)  # back once the database answers
        stop.set()
        await task

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_a_holder_that_died_without_releasing_is_replaced_once_its_lease_ran_out(sessions):
    leases = Leases(sessions)
    assert leases.hold("poll", "dead", 2)  # and never renewed again
    running: list[bool] = []

    async def poll() -> None:
        running.append(True)
        await asyncio.Event().wait()

    async def scenario() -> float:
        stop, started = asyncio.Event(), time.monotonic()
        task = asyncio.create_task(run_while_held(leases, "poll", poll, stop, 3, "b"))
        await until(lambda: running, 6.0)
        took = time.monotonic() - started
        stop.set()
        await task
        return took

    took = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert 1.0 < took < 5.0  # after the dead one's 2 s, at one of b's next tries


async def until(condition, timeout: float = 5.0) -> None:
    """Wait for `condition()` to hold (fails after `timeout`)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _escalate(sessions, sender: str) -> None:
    EscalationRepository(sessions).create(
        sender, "urgent", "swollen", "swelling", 4, channels=["email", "webhook"]
    )


def test_two_workers_claiming_at_once_never_take_the_same_delivery(sessions):
    for i in range(30):
        _escalate(sessions, f"c{i}")
    claimed: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def worker(index: int) -> None:
        outbox = Outbox(sessions)
        start.wait()
        while batch := outbox.claim_due(limit=4):
            claimed[index].extend(d.id for d in batch)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = claimed[0] + claimed[1]
    assert len(every) == len(set(every)) == 60


@pytest.mark.parametrize("skew_minutes", [2, -2])
def test_a_host_clock_off_by_minutes_neither_delays_alerts_nor_fakes_a_live_notifier(
    database_url, service, clinic_dir, monkeypatch, skew_minutes
):
    """Rasa processes and notifiers on several hosts, one PostgreSQL: what a turn stores is
    due, and a heartbeat judged, by the database's clock, so a bot host whose clock is two
    minutes ahead does not hold its alerts back, and one two minutes behind does not take a
    notifier silent for a minute as alive."""
    if not database_url.startswith("postgresql"):
        pytest.skip("one SQLite database is on one host: its clock is the database's")
    import bot.service.core
    from bot.service.messages import Incoming
    from tests.conftest import edit

    edit(
        clinic_dir / "settings.yml",
        '    # webhook:\n    #   url: "https://hooks.slack.com/services/..."',
        '    webhook:\n      url: "http://127.0.0.1:9/hook"',
    )
    skewed = now_utc() + timedelta(minutes=skew_minutes)
    monkeypatch.setattr(bot.service.core, "now_utc", lambda: skewed)
    turn = service.turn(Incoming("c1", "symptom", "day 4, yellow pus and spreading redness"))
    assert turn.now == skewed  # this host's clock
    service.escalator.escalate(turn, turn.text, "urgent", "infection", 4, ["pus"])
    outbox = Outbox(service.sessions)
    assert len(outbox.claim_due(lease_seconds=60)) == 1  # due at once
    assert outbox.claim_due() == []  # and leased for a minute of the database's time

    heartbeats = Heartbeats(service.sessions)
    with service.sessions() as session:
        minute_ago = db_now(session) - timedelta(seconds=60)
    heartbeats.beat("notifier", now=minute_ago)
    assert not service.escalator.alerts_go_out(turn)
    heartbeats.beat("notifier")
    assert service.escalator.alerts_go_out(turn)
