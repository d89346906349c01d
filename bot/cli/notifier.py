"""`aftercare notifier`: the alert worker (`aftercare run` starts it)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from bot.alerts.worker import serve
from bot.kb.store import ClinicStore
from bot.settings import Settings


def register(sub) -> None:
    """Add `notifier`."""
    command = sub.add_parser(
        "notifier", help="deliver staff alerts and client notices (started by `run`)"
    )
    command.set_defaults(func=notifier_command)


def notifier_command(settings: Settings, args: argparse.Namespace) -> int:
    """Deliver alerts until SIGINT or SIGTERM."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    store = ClinicStore(settings.clinic_dir)
    store.current()  # a broken clinic folder stops the start, with file and line

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, store, stop)

    asyncio.run(main())
    return 0
