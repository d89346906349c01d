"""`aftercare db upgrade` and `aftercare db current`: our tables' schema migrations (Alembic);
`aftercare db purge`: the clinic's retention windows, now.

Every process upgrades the database on its first use anyway; `db upgrade` does it on its own
(before starting services by hand, e.g. systemd's `ExecStartPre`), `db current` only looks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot.alerts.housekeeping import purge_now
from bot.kb.loader import KnowledgeBaseError
from bot.kb.store import ClinicStore
from bot.settings import Settings
from bot.storage import schema
from bot.storage.engine import get_engine, session_factory


def register(sub) -> None:
    """Add `db upgrade` and `db current`."""
    db = sub.add_parser("db", help="database schema migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="bring the database to the newest schema").set_defaults(
        func=upgrade_command
    )
    db_sub.add_parser(
        "current", help="show the database's schema revision (exit 1 if not the newest)"
    ).set_defaults(func=current_command)
    db_sub.add_parser(
        "purge", help="delete what is older than the clinic's privacy windows, now"
    ).set_defaults(func=purge_command)


def upgrade_command(settings: Settings, args: argparse.Namespace) -> int:
    """Upgrade (or create) the database; print its revision."""
    try:
        engine = get_engine(settings.database_url)
        with engine.connect() as connection:
            revision = schema.current(connection)
    except (ArgumentError, SQLAlchemyError, schema.SchemaError) as exc:
        print(f"aftercare: cannot upgrade the database: {exc}", file=sys.stderr)
        return 1
    print(f"database schema at revision {revision} (the newest)")
    return 0


def current_command(settings: Settings, args: argparse.Namespace) -> int:
    """Print the database's revision without changing anything."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        print(f"no database yet at {url.database} (the first aftercare command creates it)")
        return 1
    try:
        engine = create_engine(url, future=True)
        with engine.connect() as connection:
            revision = schema.current(connection)
    except (ArgumentError, SQLAlchemyError) as exc:
        print(f"aftercare: cannot read the database: {exc}", file=sys.stderr)
        return 1
    newest = schema.head()
    if revision == newest:
        print(f"database schema at revision {revision} (the newest)")
        return 0
    if revision is not None and not schema.known(revision):
        print(f"database schema at revision {revision}, newer than this code knows ({newest})")
        return 1
    print(
        f"database schema at revision {revision or 'none'}; the newest is {newest} "
        "(`aftercare db upgrade`, or any aftercare command, upgrades it)"
    )
    return 1


def purge_command(settings: Settings, args: argparse.Namespace) -> int:
    """Apply the clinic's retention windows now (the notifier does it daily); print counts."""
    try:
        store = ClinicStore(settings.clinic_dir)
        store.current()
        purged = purge_now(settings, store, session_factory(settings.database_url))
    except KnowledgeBaseError as exc:
        print(f"aftercare: the clinic's files have problems:\n{exc}", file=sys.stderr)
        return 2
    except (ArgumentError, SQLAlchemyError, schema.SchemaError) as exc:
        print(f"aftercare: cannot purge the database: {exc}", file=sys.stderr)
        return 1
    print(
        f"deleted {purged.conversations} conversation(s) and {purged.photos} photo(s);"
        f" removed the text of {purged.escalations_redacted} escalation(s)"
    )
    return 0
