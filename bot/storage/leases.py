"""Leases: a job only one process may do at a time (polling one Telegram bot: Telegram refuses
a second poller), held for a while and renewed by its holder, on the database's clock.

A holder renews its lease well before it runs out; a holder that dies stops renewing, and
another process takes the lease once it ran out. Taking and renewing are one compare-and-set
statement, so two processes never both hold a lease, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from bot.domain.days import as_utc
from bot.storage.clock import db_now
from bot.storage.models import LeaseRow

log = logging.getLogger(__name__)

PROCESS = secrets.token_hex(8)  # this process, as the owner of what it holds or answers
POLLER_SECONDS = 30.0  # a Telegram poller that died is replaced after at most this long


class Leases:
    """Named leases; one short transaction per call."""

    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def hold(self, name: str, owner: str, seconds: float) -> bool:
        """Take or renew lease `name` for `owner` for `seconds` from now (database time);
        False while another owner holds it."""
        try:
            with self._sessions.begin() as session:
                now = db_now(session)
                until = now + timedelta(seconds=seconds)
                taken = session.execute(
                    update(LeaseRow)
                    .where(
                        LeaseRow.name == name,
                        or_(LeaseRow.owner == owner, LeaseRow.until <= now),
                    )
                    .values(owner=owner, until=until)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if taken:
                    return True
                if session.get(LeaseRow, name) is not None:
                    return False
                session.add(LeaseRow(name=name, owner=owner, until=until))
            return True
        except IntegrityError:  # another process created it at the same moment
            return False

    def release(self, name: str, owner: str) -> None:
        """Give the lease up at once (a clean stop), if `owner` holds it."""
        with self._sessions.begin() as session:
            session.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.owner == owner))

    def holder(self, name: str) -> str | None:
        """Who holds lease `name` now (None: nobody, or it ran out)."""
        with self._sessions() as session:
            row = session.get(LeaseRow, name)
            if row is None:
                return None
            return row.owner if as_utc(row.until) > db_now(session) else None


def stack_owner(role: str, stack: str | None) -> str:
    """Who holds a lease for `role` in this process: the stack's role when `aftercare run`
    started it (`Settings.stack`, random per run: a process it restarts after a crash takes
    its lease back at once, instead of waiting for the dead one's to run out), else this
    process."""
    return f"{stack}/{role}" if stack else PROCESS


def telegram_poller(token: str) -> str:
    """The lease of the one process polling the Telegram bot with `token` (named by a digest:
    the table never holds a token)."""
    return "telegram-poller:" + hashlib.sha256(token.encode()).hexdigest()[:16]


class _Renewals:
    """Asks for a lease, one ask at a time (an ask that hangs is never doubled), and judges
    from the last answer whether the lease surely lasts until the next check."""

    def __init__(self, leases: Leases, name: str, owner: str, seconds: float) -> None:
        self.leases, self.name, self.owner, self.seconds = leases, name, owner, seconds
        self.pending: asyncio.Future | None = None
        self.asked = 0.0  # monotonic time of the pending or last ask
        self.held_until = 0.0  # monotonic time the lease surely lasts until

    async def held(self) -> bool:
        """Ask (unless an earlier ask is still out), wait up to a sixth of the lease, and say
        whether it is ours for longer than the next check is away (half a lease at most)."""
        if self.pending is None:
            self.asked = time.monotonic()  # the lease counts from before the database was asked
            self.pending = asyncio.ensure_future(
                asyncio.to_thread(self.leases.hold, self.name, self.owner, self.seconds)
            )
        done, _ = await asyncio.wait({self.pending}, timeout=self.seconds / 6)
        if done:
            answer, self.pending = self.pending, None
            try:
                self.held_until = self.asked + self.seconds if answer.result() else 0.0
            except Exception:  # noqa: BLE001 - the database is away: judge by time
                log.warning("Could not renew lease %s", self.name, exc_info=True)
        else:
            log.warning("Renewing lease %s is taking long", self.name)
        return time.monotonic() + 0.6 * self.seconds < self.held_until

    async def settle(self) -> None:
        """Let an ask still out finish (briefly), so a release comes after it."""
        if self.pending is not None:
            await asyncio.wait({self.pending}, timeout=self.seconds / 6)


async def run_while_held(
    leases: Leases,
    name: str,
    job: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
    seconds: float | None = None,
    owner: str = PROCESS,
) -> None:
    """Run `job()` (a coroutine that runs until cancelled) only while this process holds lease
    `name`, until `stop`: the lease is taken when free and renewed every third of `seconds`
    (default POLLER_SECONDS). When another process holds it, or renewals fail or hang, the
    job is cancelled while the lease surely lasts (the next check would come too late); a job
    that ends by itself is logged and started again. Released at the end."""
    seconds = seconds or POLLER_SECONDS
    renewals = _Renewals(leases, name, owner, seconds)
    task: asyncio.Task | None = None
    try:
        while not stop.is_set():
            held = await renewals.held()
            if task is not None and task.done():
                _log_end(task, name)
                task = None
            if held and task is None:
                log.info("This process holds lease %s: starting its job", name)
                task = asyncio.create_task(job())
            elif not held and task is not None:
                log.info("Lease %s is not surely ours now: stopping its job here", name)
                await _cancel(task)
                task = None
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=seconds / 3)
    finally:
        if task is not None:
            await _cancel(task)
        await renewals.settle()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(leases.release, name, owner)


async def _cancel(task: asyncio.Task) -> None:
    """Cancel `task` and wait until it ended (a cancellation of the caller still propagates)."""
    task.cancel()
    await asyncio.wait({task})
    _log_end(task, "")


def _log_end(task: asyncio.Task, name: str) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("The job of lease %s failed", name, exc_info=task.exception())
