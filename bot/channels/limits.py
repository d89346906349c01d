"""How much one chat, one Telegram user and one address may send: sliding windows, in this
process and bounded, or in Redis and shared by every process when `AFTERCARE_REDIS_URL` is
set (the scale-out profile: otherwise N processes would allow N times each budget; while
Redis is down, each process counts on its own)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis

from bot import logs
from bot.settings import Settings

log = logging.getLogger(__name__)

# A client sending faster than this is asked to slow down (flooding, or a stuck script).
RATE_MESSAGES, RATE_SECONDS = 20, 60.0
# Per address, all calls (a tab polls 4 a minute) and new chats: generous for a waiting room
# behind one address, tight for a script. Behind a reverse proxy, set SANIC_PROXIES_COUNT=1
# so the client's address is used (README).
RATE_CALLS_PER_ADDRESS, RATE_NEW_CHATS_PER_ADDRESS = 600, 60


class RateLimiter:
    """At most `limit` events per `seconds` per key (in this process; memory is bounded)."""

    def __init__(
        self, limit: int = RATE_MESSAGES, seconds: float = RATE_SECONDS, max_keys: int = 50_000
    ) -> None:
        self.limit, self.seconds, self.max_keys = limit, seconds, max_keys
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, key: str, now: float | None = None) -> bool:
        """Count one event for `key`; False if it is over the limit (then not counted)."""
        now = time.monotonic() if now is None else now
        times = self._seen.pop(key, None) or deque()
        self._seen[key] = times  # most recently used last
        while times and now - times[0] > self.seconds:
            times.popleft()
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)  # the longest-idle key
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True

    async def check(self, key: str) -> bool:
        """`allow` for a coroutine (in memory: nothing to wait for)."""
        return self.allow(key)


# One atomic step in Redis, on Redis's clock: drop what left the window, refuse when full,
# else count this event. KEYS[1] the key; ARGV: window in ms, limit, a unique member.
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - tonumber(ARGV[1]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""


_REDIS_THREADS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="rate-limit")
REDIS_WAIT_SECONDS = 2.5  # a budget check waits no longer for Redis (its socket timeout is 2 s)
REDIS_PAUSE_SECONDS = 30.0  # after a failure, budgets are counted in this process this long


class SharedRateLimiter:
    """`RateLimiter` kept in Redis: one window per key for every process. When Redis fails or
    is slow, this process counts on its own for a while (REDIS_PAUSE_SECONDS) and a warning is
    logged: a client is never refused for our fault, and nobody queues behind a dead Redis."""

    def __init__(self, client: redis.Redis, name: str, limit: int, seconds: float) -> None:
        self.name, self.limit, self.seconds = name, limit, seconds
        self._script = client.register_script(_SLIDING_WINDOW)
        self._local = RateLimiter(limit, seconds)
        self._redis_back_at = 0.0  # monotonic time to try Redis again after a failure

    def allow(self, key: str, now: float | None = None) -> bool:
        """Count one event for `key`; False if it is over the limit (then not counted)."""
        if time.monotonic() < self._redis_back_at:
            return self._local.allow(key)
        try:
            counted = self._script(
                keys=[f"aftercare:rate:{self.name}:{key}"],
                args=[int(self.seconds * 1000), self.limit, uuid.uuid4().hex],
            )
        except redis.RedisError:
            self._redis_failed()
            return self._local.allow(key)
        return bool(counted)

    async def check(self, key: str) -> bool:
        """`allow` for a coroutine: the Redis round trip runs in a thread of its own pool, so
        a slow Redis holds up at most REDIS_WAIT_SECONDS of this request, never the event loop
        nor the threads that record and screen messages."""
        if time.monotonic() < self._redis_back_at:
            return self._local.allow(key)
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(_REDIS_THREADS, self.allow, key), REDIS_WAIT_SECONDS
            )
        except asyncio.TimeoutError:
            self._redis_failed()
            return self._local.allow(key)

    def _redis_failed(self) -> None:
        self._redis_back_at = time.monotonic() + REDIS_PAUSE_SECONDS
        log.warning(
            "The shared rate limit %s is unavailable (Redis); counting in this process for %ss",
            self.name,
            REDIS_PAUSE_SECONDS,
        )


def rate_limiter(
    name: str, limit: int = RATE_MESSAGES, seconds: float = RATE_SECONDS
) -> RateLimiter | SharedRateLimiter:
    """The limiter for this deployment: in Redis when `AFTERCARE_REDIS_URL` is set."""
    url = Settings.from_env().redis_url
    if url is None:
        return RateLimiter(limit, seconds)
    return SharedRateLimiter(redis.Redis.from_url(url, socket_timeout=2), name, limit, seconds)


class MessageBudget:
    """Client messages per chat (widget) or user (Telegram): answered up to the limit; beyond
    it, still screened for red flags up to the same number again, so a flood costs at most
    twice the normal work and a red flag inside it is never just "busy"."""

    def __init__(
        self, limit: int = RATE_MESSAGES, seconds: float = RATE_SECONDS, name: str | None = None
    ) -> None:
        """`name`: share the budget between processes (Redis, when configured) under it."""
        if name is None:
            self.answered, self.screened = RateLimiter(limit, seconds), RateLimiter(limit, seconds)
        else:
            self.answered = rate_limiter(f"{name}:answered", limit, seconds)
            self.screened = rate_limiter(f"{name}:screened", limit, seconds)

    async def allow(self, key: str) -> bool:
        """Count one message for `key`; False when it is over the limit (not answered)."""
        return await self.answered.check(key)

    async def screen_over_limit(self, key: str, text: str, screen: Callable[[str], Any]) -> Any:
        """`screen(text)` in a thread while the screening budget lasts, else None."""
        if not await self.screened.check(key):
            return None
        with logs.hiding(text):
            return await asyncio.to_thread(screen, text)
