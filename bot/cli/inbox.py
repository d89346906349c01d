"""`aftercare inbox`: the staff inbox web server (`aftercare run` starts it)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from aiohttp import web

from bot.inbox.desk import Desk
from bot.inbox.web import InboxApp, sweep_forever
from bot.kb.store import ClinicStore
from bot.settings import Settings
from bot.storage.engine import get_engine


def register(sub) -> None:
    """Add `inbox`."""
    command = sub.add_parser("inbox", help="serve the staff inbox (started by `run`)")
    command.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    command.add_argument("--port", type=int, default=8090, help="port (default 8090)")
    command.set_defaults(func=inbox_command)


def build(settings: Settings) -> web.Application:
    """The inbox app with its hand-off sweep running beside it."""
    store = ClinicStore(settings.clinic_dir)
    store.current()  # a broken clinic folder stops the start, with file and line
    get_engine(settings.database_url)
    desk = Desk.build(settings, store)
    app = InboxApp(desk, settings.inbox_https, settings.inbox_origin).app()

    async def sweeper(app: web.Application):
        task = asyncio.create_task(sweep_forever(desk))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(sweeper)
    return app


def inbox_command(settings: Settings, args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    web.run_app(build(settings), host=args.host, port=args.port, access_log=None, print=None)
    return 0
