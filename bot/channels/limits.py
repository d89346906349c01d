"""How much one chat, one Telegram user and one address may send: sliding windows in this
process, bounded (shared by the widget and Telegram)."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from bot import logs

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


class MessageBudget:
    """Client messages per chat (widget) or user (Telegram): answered up to the limit; beyond
    it, still screened for red flags up to the same number again, so a flood costs at most
    twice the normal work and a red flag inside it is never just "busy"."""

    def __init__(self, limit: int = RATE_MESSAGES, seconds: float = RATE_SECONDS) -> None:
        self.answered, self.screened = RateLimiter(limit, seconds), RateLimiter(limit, seconds)

    def allow(self, key: str) -> bool:
        """Count one message for `key`; False when it is over the limit (not answered)."""
        return self.answered.allow(key)

    async def screen_over_limit(self, key: str, text: str, screen: Callable[[str], Any]) -> Any:
        """`screen(text)` in a thread while the screening budget lasts, else None."""
        if not self.screened.allow(key):
            return None
        with logs.hiding(text):
            return await asyncio.to_thread(screen, text)
