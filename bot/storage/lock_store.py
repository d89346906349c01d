"""Rasa's lock store, chosen by the deployment: in memory (one Rasa process) or Redis (several).

Rasa handles one message of a conversation at a time by taking the conversation's lock. In one
process an in-memory lock is enough; with several Rasa processes on one tracker database
(the scale-out profile) the lock must be shared, or two messages of one client answered by two
processes at once would each write the tracker and lose or repeat events. `AFTERCARE_REDIS_URL`
(`redis://HOST:PORT/DB`, `rediss://` for TLS, a password in the URL's user part) turns on Rasa's
`RedisLockStore` with the key prefix `aftercare` so the keys do not collide with other users of
that Redis.

Rasa's `RedisLockStore` reads a conversation's lock, changes it and writes it back in separate
steps (RasaHQ/rasa#9213; the fix, `ConcurrentRedisLockStore`, was reverted from Rasa Open
Source): two processes taking a ticket at once can get the same number and both go ahead, and
one process deleting the lock while another waits makes the other fail. Here every such
read-change-write holds a short Redis mutex of the conversation (redis-py's `Lock`), and every
Redis round trip of a turn's lock runs off the event loop, so a slow Redis delays only the
conversations waiting for it. Redis is asked once at start: a wrong URL stops Rasa at once.

Used through endpoints.yml: `lock_store: type: bot.storage.lock_store.AftercareLockStore`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import (
    LOCK_LIFETIME,
    InMemoryLockStore,
    LockError,
    LockStore,
    RedisLockStore,
)

from bot.settings import Settings

log = logging.getLogger(__name__)

KEY_PREFIX = "aftercare"  # Rasa requires it alphanumeric
MUTEX_SECONDS = 10  # a read-change-write of one lock takes milliseconds; a dead holder frees it


def redis_options(url: str) -> dict[str, Any]:
    """A redis:// URL as the arguments of Rasa's `RedisLockStore`."""
    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    return {
        "host": parts.hostname or "localhost",
        "port": parts.port or 6379,
        "db": int(database) if database else 0,
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "use_ssl": parts.scheme == "rediss",
        "key_prefix": KEY_PREFIX,
    }


def configured_lock_store(settings: Settings) -> LockStore:
    """Redis when `AFTERCARE_REDIS_URL` is set (and answers), else in memory."""
    if settings.redis_url is None:
        return InMemoryLockStore()
    options = redis_options(settings.redis_url)
    store = RedisLockStore(**options)
    try:
        store.red.ping()
    except redis.RedisError as error:
        where = f"{options['host']}:{options['port']}"
        raise RuntimeError(
            f"Redis at {where} (AFTERCARE_REDIS_URL) did not answer: {error}"
        ) from None
    return store


class AftercareLockStore(LockStore):
    """The configured lock store, behind the one class name endpoints.yml gives."""

    def __init__(self, endpoint_config: Any = None) -> None:
        self.store = configured_lock_store(Settings.from_env())
        self._redis = getattr(self.store, "red", None)

    @contextlib.contextmanager
    def _mutex(self, conversation_id: str) -> Iterator[None]:
        """Held around each read-change-write of a lock shared between processes; Redis
        failing or the mutex staying busy is Rasa's `LockError` (the turn fails, the
        recovery path answers the message)."""
        if self._redis is None:  # in memory: one event loop, nothing runs in between
            yield
            return
        mutex = self._redis.lock(
            f"{KEY_PREFIX}:mutex:{conversation_id}",
            timeout=MUTEX_SECONDS,
            blocking_timeout=MUTEX_SECONDS,
        )
        try:
            acquired = mutex.acquire()
        except redis.RedisError as error:
            raise LockError(f"Redis lock store: {error}") from error
        if not acquired:
            raise LockError(f"Redis lock store: busy for {MUTEX_SECONDS}s")
        try:
            yield
        finally:
            try:
                mutex.release()
            except redis.RedisError:  # it outlived its timeout; the change was made
                log.warning("A lock-store mutex expired before it was released")

    @contextlib.asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncIterator[TicketLock]:
        """Rasa's `lock`, with each Redis round trip in a thread, off the event loop."""
        if self._redis is None:
            async with super().lock(conversation_id, lock_lifetime, wait_time_in_seconds) as held:
                yield held
            return
        ticket = await asyncio.to_thread(self.issue_ticket, conversation_id, lock_lifetime)
        try:
            yield await self._acquire(conversation_id, ticket, wait_time_in_seconds)
        finally:
            await asyncio.to_thread(self.cleanup, conversation_id, ticket)

    async def _acquire(self, conversation_id: str, ticket: int, wait: float) -> TicketLock:
        """Wait until `ticket` is served (Rasa's `_acquire_lock`, off the event loop)."""
        while True:
            lock = await asyncio.to_thread(self.get_lock, conversation_id)
            if not lock:  # expired while waiting
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(wait)
            await asyncio.to_thread(self.update_lock, conversation_id)

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        """The conversation's lock, if any."""
        return self.store.get_lock(conversation_id)

    def delete_lock(self, conversation_id: str) -> None:
        """Delete the conversation's lock."""
        self.store.delete_lock(conversation_id)

    def save_lock(self, lock: TicketLock) -> None:
        """Store a lock."""
        self.store.save_lock(lock)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """A new ticket, taken under the mutex."""
        with self._mutex(conversation_id):
            return super().issue_ticket(conversation_id, lock_lifetime)

    def update_lock(self, conversation_id: str) -> None:
        """Drop expired tickets, under the mutex."""
        with self._mutex(conversation_id):
            super().update_lock(conversation_id)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Remove a served ticket, under the mutex."""
        with self._mutex(conversation_id):
            super().finish_serving(conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Finish the ticket and delete the lock if nobody waits, as one step."""
        with self._mutex(conversation_id):
            super().finish_serving(conversation_id, ticket_number)
            if not self.is_someone_waiting(conversation_id):
                self.delete_lock(conversation_id)
