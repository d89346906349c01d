"""Our tables' schema, kept current by Alembic migrations (`bot/storage/migrations/`).

Each process brings the database to the newest revision the first time it uses it
(`bot.storage.engine.get_engine`), one process at a time (a PostgreSQL advisory lock, or a lock
file beside a SQLite database), so `aftercare run`, its children and every command agree:
- an **empty** database gets the models' tables and is marked as the newest revision (the
  Alembic recipe; a test checks that the migrations build exactly the same schema);
- a database **from before migrations** (made by `create_all` of release b8f5dd8) is marked as
  the baseline, then upgraded (an older one, whose tables lack the baseline's columns, is
  refused with a clear error);
- any other database is upgraded from its revision; one from newer code is refused.
"""

from __future__ import annotations

import fcntl
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from bot.storage.models import Base

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001_baseline"
# The tables of the baseline revision (what release b8f5dd8's `create_all` made).
BASELINE_TABLES = (
    "clients",
    "conversations",
    "escalations",
    "heartbeats",
    "client_links",
    "escalation_photos",
    "link_codes",
    "outbox",
)
VERSION_TABLE = "alembic_version"
_PG_LOCK_KEY = 0x4146_5443  # any constant: one migrating process per PostgreSQL database


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for our migrations, on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@functools.lru_cache(maxsize=1)
def head() -> str:
    """The newest revision."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current(connection: Connection) -> str | None:
    """The database's revision (None: not under migrations)."""
    return MigrationContext.configure(connection).get_current_revision()


class SchemaError(RuntimeError):
    """The database cannot be brought to this code's schema (told how to fix it)."""


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision (see the module's docstring), in one
    transaction: a migration that fails leaves the database as it was."""
    migrating = _migration_engine(engine)
    try:
        with _one_at_a_time(engine), migrating.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY}
                )
            _upgrade(connection)
    except SQLAlchemyError as exc:
        raise SchemaError(
            f"could not bring the database to schema revision {head()}, so it was left as it "
            f"was: {exc.__class__.__name__}: {getattr(exc, 'orig', exc)}"
        ) from exc
    finally:
        if migrating is not engine:
            migrating.dispose()


def _upgrade(connection: Connection) -> None:
    tables = set(inspect(connection).get_table_names())
    config = alembic_config(connection)
    revision = current(connection) if VERSION_TABLE in tables else None
    if revision is not None:
        if revision != head():
            _known(revision)
            command.upgrade(config, "head")
    elif tables & set(BASELINE_TABLES):
        _check_baseline(connection, tables)
        baseline = [Base.metadata.tables[name] for name in BASELINE_TABLES]
        Base.metadata.create_all(connection, tables=baseline)  # what an older one lacked
        command.stamp(config, BASELINE)
        command.upgrade(config, "head")
    else:
        Base.metadata.create_all(connection)
        command.stamp(config, "head")


def known(revision: str) -> bool:
    """Whether this code has the revision (a database from newer code has one it has not)."""
    script = ScriptDirectory.from_config(alembic_config())
    return revision in {s.revision for s in script.walk_revisions()}


def _known(revision: str) -> None:
    """Refuse a revision this code does not know."""
    if not known(revision):
        raise SchemaError(
            f"the database is at schema revision {revision}, which this version of Aftercare "
            f"does not know (its newest is {head()}): run the newer version, or restore a "
            "backup made before it"
        )


def _check_baseline(connection: Connection, tables: set[str]) -> None:
    """A database from before migrations must have the baseline's columns (release b8f5dd8);
    an older one cannot be marked as the baseline."""
    inspector = inspect(connection)
    for name in sorted(tables & set(BASELINE_TABLES)):
        have = {c["name"] for c in inspector.get_columns(name)}
        missing = sorted(set(Base.metadata.tables[name].columns.keys()) - have)
        if missing:
            raise SchemaError(
                f"table {name} has no column {', '.join(missing)}: the database is from a "
                "release older than b8f5dd8, which cannot be upgraded in place; start from a "
                "new database (export what you need with `aftercare escalations list --all`)"
            )


def _migration_engine(engine: Engine) -> Engine:
    """For SQLite, a connection of its own on which DDL is transactional (the driver would
    commit each CREATE at once) and foreign keys are off (a migration that copies a table
    must not cascade-delete the rows that point to it); elsewhere, the engine itself."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return engine
    migrating = create_engine(
        engine.url,
        future=True,
        poolclass=NullPool,
        hide_parameters=True,
        connect_args={"isolation_level": None},
    )

    @event.listens_for(migrating, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return migrating


@contextmanager
def _one_at_a_time(engine: Engine) -> Iterator[None]:
    """A lock file beside a SQLite database file (PostgreSQL locks in the transaction)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as lock:  # noqa: PTH123 - a lock file
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
