"""The scale-out profile: two `aftercare run` stacks (two Rasa servers, two action servers, two
notifiers) on one PostgreSQL database (our tables and Rasa's tracker store) and one Redis
(Rasa's lock store), as README "Scale-out" starts them. Loopback only: the servers are the
throwaway ones `make test` starts (scripts/postgres.sh, scripts/redis.sh).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from rasa.core.lock_store import InMemoryLockStore, RedisLockStore
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.channels.limits import RateLimiter, SharedRateLimiter, rate_limiter
from bot.serve.harness import free_port
from bot.storage.lock_store import AftercareLockStore, redis_options
from bot.storage.tracker_store import url_parts
from tests.conftest import SHIPPED_CLINIC, RunningBot

pytestmark = pytest.mark.integration
POSTGRES = os.environ.get("AFTERCARE_TEST_POSTGRES_URL")
REDIS = os.environ.get("AFTERCARE_TEST_REDIS_URL")
CALM = 160  # conversations, each sending its messages one after another, to either stack
RACING = 20  # conversations sending all their messages to both stacks at once
RED = 20  # conversations sending the same red flag to both stacks at once
CONCURRENT = 48  # requests in flight at once
QUESTIONS = (
    "can I wear makeup?",
    "is it ok to swim?",
    "can I go to the gym?",
    "what about retinol?",
)
RED_FLAG = "there's yellow pus coming out and the redness is spreading, I feel feverish"


class _Receiver(BaseHTTPRequestHandler):
    """The clinic's webhook: every alert it gets."""

    received: list[dict] = []
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with _Receiver.lock:
            _Receiver.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def scale_database():
    """A fresh PostgreSQL database for both stacks, dropped afterwards."""
    if not POSTGRES or not REDIS:
        pytest.skip("no PostgreSQL or Redis server (make test starts both)")
    name = "aftercare_scale_" + secrets.token_hex(4)
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def webhook():
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Receiver.received = []
    yield f"http://127.0.0.1:{port}/hook"
    server.shutdown()


async def _send(client, semaphore, port: int, sender: str, message: str) -> list[dict]:
    async with semaphore:
        response = await client.post(
            f"http://127.0.0.1:{port}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
        )
    response.raise_for_status()
    return response.json()


async def _conversations(ports: tuple[int, int], run: str) -> dict[str, list]:
    """Every conversation's messages sent, as the test's clients do; sender -> replies."""
    semaphore = asyncio.Semaphore(CONCURRENT)
    async with httpx.AsyncClient(timeout=180) as client:

        async def calm(i: int) -> list:
            sender, replies = f"{run}-calm-{i}", []
            for turn, message in enumerate(("it was 3 days ago", QUESTIONS[i % 4])):
                port = ports[(i + turn) % 2]
                replies.append(await _send(client, semaphore, port, sender, message))
            return replies

        async def racing(i: int) -> list:
            sender = f"{run}-race-{i}"
            sends = [
                _send(client, semaphore, ports[n % 2], sender, f"{QUESTIONS[n]} (message {n})")
                for n in range(4)
            ]
            return list(await asyncio.gather(*sends))

        async def red(i: int) -> list:
            sender = f"{run}-red-{i}"
            first = await _send(client, semaphore, ports[i % 2], sender, "it was 4 days ago")
            both = [_send(client, semaphore, port, sender, RED_FLAG) for port in ports]
            return [first, *await asyncio.gather(*both)]

        jobs = {f"{run}-calm-{i}": calm(i) for i in range(CALM)}
        jobs |= {f"{run}-race-{i}": racing(i) for i in range(RACING)}
        jobs |= {f"{run}-red-{i}": red(i) for i in range(RED)}
        results = await asyncio.gather(*jobs.values())
    return dict(zip(jobs, results, strict=True))


def _user_texts(url: str, run: str) -> dict[str, list[str]]:
    """sender -> the texts of its stored user events (Rasa's tracker store)."""
    engine = create_engine(url, future=True)
    texts: dict[str, list[str]] = {}
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT sender_id, data FROM events WHERE type_name = 'user' AND sender_id LIKE :p"
            ),
            {"p": f"{run}-%"},
        )
        for sender, data in rows:
            texts.setdefault(sender, []).append(json.loads(data)["text"])
    engine.dispose()
    return texts


def test_two_stacks_on_postgresql_and_redis_lose_and_double_nothing(
    scale_database, webhook, tmp_path, trained_model
):
    clinic = tmp_path / "clinic"
    shutil.copytree(SHIPPED_CLINIC, clinic)
    settings = clinic / "settings.yml"
    settings.write_text(
        settings.read_text().replace(
            '    # webhook:\n    #   url: "https://hooks.slack.com/services/..."',
            f'    webhook:\n      url: "{webhook}"',
        )
    )
    env = {
        "AFTERCARE_CLINIC_DIR": str(clinic),
        "AFTERCARE_DATABASE_URL": scale_database,
        "AFTERCARE_TRACKER_URL": scale_database,
        "AFTERCARE_REDIS_URL": REDIS,
        "AFTERCARE_TRACKER_DB": str(tmp_path / "unused-tracker.db"),
    }
    stacks = [RunningBot(env), RunningBot(env)]
    for stack in stacks:  # one after the other: the first one creates the tables
        stack.start()
    try:
        run = "scale-" + secrets.token_hex(3)
        replies = asyncio.run(_conversations((stacks[0].port, stacks[1].port), run))
        assert all(r for rs in replies.values() for r in rs), "a message got no reply"

        stored = _user_texts(scale_database, run)
        for i in range(CALM):
            sender = f"{run}-calm-{i}"
            assert sorted(stored[sender]) == sorted(["it was 3 days ago", QUESTIONS[i % 4]])
        for i in range(RACING):
            sent = [f"{QUESTIONS[n]} (message {n})" for n in range(4)]
            assert sorted(stored[f"{run}-race-{i}"]) == sorted(sent), "lost or doubled events"
        for i in range(RED):
            assert sorted(stored[f"{run}-red-{i}"]) == sorted(
                ["it was 4 days ago", RED_FLAG, RED_FLAG]
            )

        engine = create_engine(scale_database, future=True)
        with engine.connect() as connection:
            escalations = Counter(
                sender
                for (sender,) in connection.execute(
                    text("SELECT sender_id FROM escalations WHERE sender_id LIKE :p"),
                    {"p": f"{run}-%"},
                )
            )
        engine.dispose()
        red_senders = {f"{run}-red-{i}" for i in range(RED)}
        assert set(escalations) == red_senders and set(escalations.values()) == {1}
        _alerts_arrive_once_each(red_senders)
    finally:
        for stack in stacks:
            stack.stop()


def _web_messages_received(url: str) -> int:
    """Widget messages recorded as received and not yet answered (their turns hang)."""
    engine = create_engine(url, future=True)
    with engine.connect() as connection:
        count = connection.execute(
            text("SELECT COUNT(*) FROM inbound WHERE channel = 'web' AND state = 'received'")
        ).scalar_one()
    engine.dispose()
    return count


def _alerts_arrive_once_each(red_senders: set[str], wait: float = 60) -> None:
    """Both notifiers ran on one outbox: each escalation's alert reached the webhook once."""

    def alerts() -> list[dict]:
        with _Receiver.lock:
            return [a for a in _Receiver.received if a.get("purpose") == "alert"]

    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and len({a["client"] for a in alerts()}) < len(red_senders):
        time.sleep(0.5)
    time.sleep(3)  # a second notifier's double would come now
    assert Counter(a["client"] for a in alerts()) == Counter(dict.fromkeys(red_senders, 1))


# --- the pieces -------------------------------------------------------------------------------


def test_redis_urls_become_rasa_lock_store_options():
    assert redis_options("redis://127.0.0.1:6380/2") == {
        "host": "127.0.0.1",
        "port": 6380,
        "db": 2,
        "username": None,
        "password": None,
        "use_ssl": False,
        "key_prefix": "aftercare",
    }
    tls = redis_options("rediss://bot:p%40ss@redis.clinic.example")
    assert (tls["host"], tls["port"], tls["db"], tls["use_ssl"]) == (
        "redis.clinic.example",
        6379,
        0,
        True,
    )
    assert (tls["username"], tls["password"]) == ("bot", "p@ss")


def test_tracker_urls_become_rasa_sql_store_options():
    parts = url_parts("postgresql+psycopg2://rasa:s%40cret@db.example:5433/tracker?sslmode=require")
    assert parts == {
        "dialect": "postgresql+psycopg2",
        "host": "db.example",
        "port": 5433,
        "db": "tracker",
        "username": "rasa",
        "password": "s@cret",
        "query": {"sslmode": "require"},
    }


def test_without_redis_the_lock_store_is_in_memory(monkeypatch):
    monkeypatch.delenv("AFTERCARE_REDIS_URL", raising=False)
    assert isinstance(AftercareLockStore().store, InMemoryLockStore)


@pytest.fixture
def two_stores(monkeypatch) -> list[AftercareLockStore]:
    """Two lock stores on the test Redis, as two Rasa processes have."""
    if not REDIS:
        pytest.skip("no Redis server (make test starts one)")
    monkeypatch.setenv("AFTERCARE_REDIS_URL", REDIS)
    stores = [AftercareLockStore(), AftercareLockStore()]
    assert all(isinstance(s.store, RedisLockStore) for s in stores)
    return stores


def test_two_processes_taking_tickets_at_once_never_share_one(two_stores):
    """Rasa's RedisLockStore reads, changes and writes a lock in separate steps; with the
    mutex, tickets taken at once through two stores (two processes) are all different."""
    conversation = "race-" + secrets.token_hex(4)
    tickets: list[int] = []
    start = threading.Barrier(8)

    def take(store: AftercareLockStore) -> None:
        start.wait()
        for _ in range(25):
            tickets.append(store.issue_ticket(conversation, lock_lifetime=60))

    threads = [threading.Thread(target=take, args=(two_stores[n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tickets) == 200 and len(set(tickets)) == 200
    assert two_stores[0].store.red.exists(f"aftercare:lock:{conversation}")
    for ticket in tickets:
        two_stores[ticket % 2].cleanup(conversation, ticket)
    assert two_stores[0].get_lock(conversation) is None  # the last one out deleted the lock


def test_one_conversation_is_held_by_one_process_at_a_time(two_stores):
    conversation = "turns-" + secrets.token_hex(4)
    seen: list[str] = []

    async def turn(store: AftercareLockStore, name: str) -> None:
        async with store.lock(conversation, wait_time_in_seconds=0.05):
            seen.append(f"{name} in")
            await asyncio.sleep(0.3)
            seen.append(f"{name} out")

    async def both() -> None:
        await asyncio.gather(*(turn(s, n) for s, n in zip(two_stores, "ab", strict=True)))

    asyncio.run(both())
    assert seen in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])
    assert two_stores[0].get_lock(conversation) is None


def test_a_lock_store_whose_redis_does_not_answer_stops_rasa_at_start(monkeypatch):
    monkeypatch.setenv("AFTERCARE_REDIS_URL", f"redis://:pw@127.0.0.1:{free_port()}/0")
    with pytest.raises(RuntimeError, match="did not answer") as refused:
        AftercareLockStore()
    assert "pw" not in str(refused.value)


def test_a_budget_is_shared_by_every_process(monkeypatch):
    if not REDIS:
        pytest.skip("no Redis server (make test starts one)")
    monkeypatch.setenv("AFTERCARE_REDIS_URL", REDIS)
    name = "test-" + secrets.token_hex(4)
    first, second = rate_limiter(name, 5, 1.0), rate_limiter(name, 5, 1.0)
    assert isinstance(first, SharedRateLimiter)

    allowed = [limiter.allow("client-1") for limiter in (first, second) * 4]

    assert allowed == [True] * 5 + [False] * 3  # five in all, not five per process
    assert second.allow("client-2")  # another client has a budget of its own
    time.sleep(1.1)
    assert first.allow("client-1")  # the window moved on


def test_a_shared_budget_without_redis_is_counted_in_this_process(monkeypatch):
    monkeypatch.setenv("AFTERCARE_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    limiter = rate_limiter("down", 2, 60)
    assert [limiter.allow("client-1") for _ in range(3)] == [True, True, False]
    assert limiter.allow("client-2")
    monkeypatch.delenv("AFTERCARE_REDIS_URL")
    assert isinstance(rate_limiter("memory", 1, 60), RateLimiter)


def test_a_slow_redis_holds_up_neither_the_loop_nor_later_messages(monkeypatch):
    """The shared budget's Redis round trip runs in a thread: while a check waits on Redis,
    the event loop keeps serving everything else; a Redis slower than REDIS_WAIT_SECONDS is
    given up on and, for a while, budgets are counted in this process without asking it."""
    import asyncio
    import time

    import bot.channels.limits
    from bot.channels.limits import SharedRateLimiter

    monkeypatch.setattr(bot.channels.limits, "REDIS_WAIT_SECONDS", 1.0)
    delay = {"seconds": 0.5}
    asked: list[float] = []

    class SlowRedis:
        def register_script(self, script):
            def run(keys, args):
                asked.append(time.monotonic())
                time.sleep(delay["seconds"])
                return 1

            return run

    limiter = SharedRateLimiter(SlowRedis(), "slow", 2, 60)

    async def scenario() -> tuple[list[bool], int, float]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        allowed = [await limiter.check("client-1")]
        delay["seconds"] = 3.0  # Redis stops answering in time
        started = time.monotonic()
        allowed.append(await limiter.check("client-1"))
        allowed += [await limiter.check("client-1") for _ in range(2)]
        waited = time.monotonic() - started
        task.cancel()
        return allowed, ticks, waited

    allowed, ticks, waited = asyncio.run(scenario())
    assert ticks >= 50  # the loop ran on while Redis was answering
    assert allowed == [True, True, True, False]  # counted here (limit 2) once Redis was dropped
    assert len(asked) == 2 and 0.9 <= waited < 2.0  # one wait (1 s), then no more asking


@pytest.fixture
def haproxy_binary() -> str:
    binary = os.environ.get("AFTERCARE_TEST_HAPROXY")
    if not binary:
        pytest.skip("no HAProxy (make test installs it: scripts/haproxy.sh)")
    return binary


@contextlib.contextmanager
def _haproxy(binary: str, ports: list[int], tmp_path):
    """HAProxy with the project's configuration (scripts/haproxy.sh) in front of `ports`."""
    import subprocess

    from bot.settings import PROJECT_DIR

    port = free_port()
    config = subprocess.run(
        ["bash", "scripts/haproxy.sh", "config", str(port), *(f"127.0.0.1:{p}" for p in ports)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (tmp_path / "haproxy.cfg").write_text(config)
    proxy = subprocess.Popen([binary, "-f", str(tmp_path / "haproxy.cfg"), "-db"])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=5).status_code == 200:
                    break
            assert time.monotonic() < deadline, "HAProxy did not start"
            time.sleep(0.2)
        yield url
    finally:
        proxy.terminate()
        proxy.wait(timeout=30)


def _owners_by_chat(url: str) -> dict[str, set[str]]:
    """Widget chat -> the Rasa processes that took its messages (the inbound log's owners)."""
    engine = create_engine(url, future=True)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT sender_id, owner FROM inbound WHERE channel = 'web'")
        ).all()
    engine.dispose()
    owners: dict[str, set[str]] = {}
    for sender, owner in rows:
        owners.setdefault(sender, set()).add(owner)
    return owners


def test_two_rasa_behind_haproxy_keep_each_chat_on_one_and_lose_no_red_flag_when_one_dies(
    scale_database, webhook, tmp_path, trained_model, haproxy_binary
):
    """Two stacks behind HAProxy with sender affinity (scripts/haproxy.cfg): each widget chat's
    messages go to one Rasa, and both get chats. Then kill -9 of one stack's Rasa while
    conversations run through the proxy and widget red flags are mid-turn on it (its action
    server paused): the recovery path (of whichever stack gets to them first, once their
    leases ran out) screens and escalates every accepted red flag (one escalation and one
    alert each), the proxy sends the other messages to the live Rasa, and the killed Rasa is
    back by itself."""
    from tests.test_nothing_lost import SITE, URGENT_WEB
    from tests.test_supervision import answered_within, pid_of

    clinic = tmp_path / "clinic"
    shutil.copytree(SHIPPED_CLINIC, clinic)
    settings = clinic / "settings.yml"
    settings.write_text(
        settings.read_text().replace(
            '    # webhook:\n    #   url: "https://hooks.slack.com/services/..."',
            f'    webhook:\n      url: "{webhook}"',
        )
    )
    env = {
        "AFTERCARE_CLINIC_DIR": str(clinic),
        "AFTERCARE_DATABASE_URL": scale_database,
        "AFTERCARE_TRACKER_URL": scale_database,
        "AFTERCARE_REDIS_URL": REDIS,
        "AFTERCARE_TRACKER_DB": str(tmp_path / "unused-tracker.db"),
        "AFTERCARE_RECOVER_AFTER_SECONDS": "6",
        "AFTERCARE_WEB_TOKEN_SECRET": secrets.token_urlsafe(48),
    }
    stacks = [RunningBot(env), RunningBot(env)]
    for stack in stacks:
        stack.start()
    killed, other = stacks

    def widget(stack, route: str, body: dict) -> httpx.Response:
        url = f"http://127.0.0.1:{stack.port}/webhooks/web/{route}"
        return httpx.post(url, headers=SITE, content=json.dumps(body), timeout=120)

    def send_hung(token: str) -> None:
        with contextlib.suppress(httpx.HTTPError):
            widget(killed, "message", {"token": token, "text": URGENT_WEB})

    def flagged(token: str) -> bool:
        try:
            messages = widget(other, "history", {"token": token, "after": 0}).json()["messages"]
        except (httpx.HTTPError, KeyError, ValueError):
            return False
        return any(m["from"] == "bot" and m["escalation"] == "urgent" for m in messages)

    answered: dict[str, int] = Counter()

    def load(proxy: str, i: int) -> None:
        """One client's questions through the proxy; a request that died with the killed Rasa
        is sent again, as the widget does."""
        for message in ("it was 3 days ago", *QUESTIONS):
            for _ in range(6):
                with contextlib.suppress(httpx.HTTPError):
                    response = httpx.post(
                        f"{proxy}/webhooks/rest/webhook",
                        json={"sender": f"kill-load-{i}", "message": message},
                        timeout=120,
                    )
                    if response.status_code == 200 and response.json():
                        answered[f"kill-load-{i}"] += 1
                        break
                time.sleep(0.5)

    def chat_through(proxy: str) -> None:
        token = httpx.post(
            f"{proxy}/webhooks/web/session", headers=SITE, content="{}", timeout=60
        ).json()["token"]
        for question in QUESTIONS[:2]:
            sent = httpx.post(
                f"{proxy}/webhooks/web/message",
                headers=SITE,
                content=json.dumps({"token": token, "text": question}),
                timeout=120,
            )
            assert sent.status_code == 200 and sent.json()["messages"]

    try:
        with _haproxy(haproxy_binary, [s.port for s in stacks], tmp_path) as proxy:
            for _ in range(20):
                chat_through(proxy)
            owners = _owners_by_chat(scale_database)
            assert len(owners) == 20 and all(len(o) == 1 for o in owners.values())  # affinity
            assert len(set().union(*owners.values())) == 2  # both Rasa servers took chats

            tokens = [widget(killed, "session", {}).json()["token"] for _ in range(8)]
            loaders = [threading.Thread(target=load, args=(proxy, i)) for i in range(16)]
            for thread in loaders:
                thread.start()
            actions = pid_of(killed.process.pid, "bot.serve.action_server")
            os.kill(actions, signal.SIGSTOP)
            hung = [threading.Thread(target=send_hung, args=(t,)) for t in tokens]
            try:
                for thread in hung:
                    thread.start()
                deadline = time.monotonic() + 60
                while _web_messages_received(scale_database) < len(tokens):
                    assert time.monotonic() < deadline, "the red flags were never accepted"
                    time.sleep(0.2)
                os.kill(pid_of(killed.process.pid, "bot.serve.rasa_server"), signal.SIGKILL)
            finally:
                os.kill(actions, signal.SIGCONT)
            for thread in hung + loaders:
                thread.join(timeout=240)
                assert not thread.is_alive()
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not all(flagged(t) for t in tokens):
                time.sleep(1)
            assert all(flagged(t) for t in tokens), "an accepted red flag was never answered"
            assert answered == Counter({f"kill-load-{i}": 1 + len(QUESTIONS) for i in range(16)})
            assert answered_within(killed, 120, "kill-back") < 120  # restarted by its supervisor
            engine = create_engine(scale_database, future=True)
            with engine.connect() as connection:
                web = Counter(
                    sender
                    for sender, level in connection.execute(
                        text(
                            "SELECT sender_id, level FROM escalations WHERE sender_id LIKE 'web-%'"
                        )
                    )
                    if level == "urgent"
                )
            engine.dispose()
            assert len(web) == len(tokens) and set(web.values()) == {1}
            _alerts_arrive_once_each(set(web))
    finally:
        for stack in stacks:
            stack.stop()
