"""The notifier's daily housekeeping: the clinic's retention windows (`bot.storage.retention`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.orm import sessionmaker

from bot.domain.days import now_utc
from bot.kb.store import ClinicStore
from bot.settings import Settings
from bot.storage.engine import tracker_engine
from bot.storage.retention import Purged, purge

log = logging.getLogger(__name__)
RETENTION_SECONDS = 24 * 3600
RETRY_SECONDS = 3600


def purge_now(settings: Settings, store: ClinicStore, sessions: sessionmaker) -> Purged:
    """Apply the current clinic's retention windows once."""
    tracker = tracker_engine(settings.tracker_db, settings.tracker_url)
    try:
        return purge(sessions, tracker, store.current().settings.privacy, now_utc())
    finally:
        if tracker is not None:
            tracker.dispose()


async def keep_retention(
    settings: Settings, store: ClinicStore, sessions: sessionmaker, stop: asyncio.Event
) -> None:
    """Apply the retention windows at start, then once a day, until `stop`."""
    if store.current().settings.privacy.keeps_everything():
        log.warning(
            "No retention windows are set (privacy: in clinic/settings.yml): client data is"
            " kept until a client deletes it"
        )
    while not stop.is_set():
        wait = RETENTION_SECONDS
        try:
            await asyncio.to_thread(purge_now, settings, store, sessions)
        except Exception:  # a locked or unreachable database: try again sooner
            log.exception("Could not apply the retention windows; trying again in an hour")
            wait = RETRY_SECONDS
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
