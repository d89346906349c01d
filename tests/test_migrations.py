"""Schema migrations (Alembic) for our tables (issue 14): a database from the release before
migrations is upgraded in place, the migrations build exactly the models' schema, and
processes that start at once migrate a database once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from bot.storage import schema
from bot.storage.engine import get_engine, session_factory
from bot.storage.escalations import EscalationRepository
from bot.storage.inbound import InboundLog
from bot.storage.models import Base
from tests.conftest import AFTERCARE

PREVIOUS_RELEASE = Path(__file__).parent / "data" / "schema" / "release_b8f5dd8.sql"


def previous_release_database(path: Path) -> str:
    """A SQLite database exactly as release b8f5dd8 left it; its URL."""
    with sqlite3.connect(path) as connection:
        connection.executescript(PREVIOUS_RELEASE.read_text(encoding="utf-8"))
    return f"sqlite:///{path}"


def emptied(url: str):
    """A new engine (not the process's cached one) on the database, with no table of ours."""
    engine = create_engine(url, future=True)
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {schema.VERSION_TABLE}"))
    return engine


def revision_of(url: str) -> str | None:
    with create_engine(url, future=True).connect() as connection:
        return schema.current(connection)


def test_a_database_from_the_release_before_migrations_is_upgraded_keeping_its_rows(tmp_path):
    url = previous_release_database(tmp_path / "old.db")
    assert revision_of(url) is None
    sessions = session_factory(url)  # the first use brings it up to date
    assert revision_of(url) == schema.head()
    (escalation,) = EscalationRepository(sessions).list()
    assert (escalation.sender_id, escalation.level) == ("telegram-4242", "urgent")
    assert escalation.message == "yellow crust on my chin"
    assert InboundLog(sessions).record("web", "web-1", "hello") is not None  # the new table


def test_a_create_all_database_is_stamped_as_the_baseline_then_upgraded(database_url):
    engine = emptied(database_url)
    with engine.begin() as connection:  # the release before migrations: tables, no version
        command.upgrade(schema.alembic_config(connection), schema.BASELINE)
        connection.execute(text(f"DROP TABLE {schema.VERSION_TABLE}"))
        connection.execute(
            text(
                "INSERT INTO heartbeats (name, beat_at) VALUES ('notifier', '2026-12-02 10:00:00')"
            )
        )
    schema.upgrade(engine)
    with engine.connect() as connection:
        assert schema.current(connection) == schema.head()
        assert "inbound" in inspect(connection).get_table_names()
        assert connection.execute(text("SELECT name FROM heartbeats")).scalars().all() == [
            "notifier"
        ]
    schema.upgrade(engine)  # again: nothing to do


def test_the_migrations_build_exactly_the_schema_of_the_models(database_url):
    engine = emptied(database_url)
    with engine.begin() as connection:
        command.upgrade(schema.alembic_config(connection), "head")
    ours = {"include_name": lambda name, kind, _: kind != "table" or name in Base.metadata.tables}
    with engine.connect() as connection:  # (Rasa's tracker tables may share the database)
        context = MigrationContext.configure(connection, opts=ours)
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_an_empty_database_is_created_at_the_newest_revision(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    get_engine(url)
    assert revision_of(url) == schema.head()


def test_processes_that_start_at_once_migrate_an_old_database_once(tmp_path):
    url = previous_release_database(tmp_path / "shared.db")
    code = f"from bot.storage.engine import get_engine; get_engine({url!r})"
    starts = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    errors = [p.communicate(timeout=120)[1] for p in starts]
    assert [p.returncode for p in starts] == [0, 0, 0], errors
    assert revision_of(url) == schema.head()
    with sqlite3.connect(tmp_path / "shared.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM escalations").fetchone() == (1,)


def test_db_current_says_whether_the_schema_is_the_newest_and_db_upgrade_makes_it_so(tmp_path):
    url = previous_release_database(tmp_path / "cli.db")
    env = {"AFTERCARE_DATABASE_URL": url, "PATH": str(Path(sys.executable).parent)}

    def aftercare(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([AFTERCARE, *args], env=env, capture_output=True, text=True)

    before = aftercare("db", "current")
    assert before.returncode == 1 and f"the newest is {schema.head()}" in before.stdout
    assert revision_of(url) is None  # looking changed nothing
    upgraded = aftercare("db", "upgrade")
    assert upgraded.returncode == 0 and schema.head() in upgraded.stdout
    assert aftercare("db", "current").returncode == 0
    missing = {**env, "AFTERCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'nothing.db'}"}
    nothing = subprocess.run(
        [AFTERCARE, "db", "current"], env=missing, capture_output=True, text=True
    )
    assert nothing.returncode == 1 and "no database yet" in nothing.stdout
    assert not (tmp_path / "nothing.db").exists()


def test_a_database_older_than_the_baseline_or_from_newer_code_is_refused_clearly(tmp_path):
    older = tmp_path / "older.db"
    previous_release_database(older)
    with sqlite3.connect(older) as connection:  # a release before escalations had names
        connection.execute("ALTER TABLE escalations DROP COLUMN client_name")
    with pytest.raises(schema.SchemaError, match="older than b8f5dd8"):
        schema.upgrade(create_engine(f"sqlite:///{older}", future=True))
    assert revision_of(f"sqlite:///{older}") is None  # left as it was

    newer = tmp_path / "newer.db"
    get_engine(f"sqlite:///{newer}")
    with sqlite3.connect(newer) as connection:
        connection.execute(f"UPDATE {schema.VERSION_TABLE} SET version_num = '0099_future'")
    with pytest.raises(schema.SchemaError, match="does not know"):
        schema.upgrade(create_engine(f"sqlite:///{newer}", future=True))


def test_an_empty_version_table_is_read_as_a_database_from_before_migrations(tmp_path):
    url = previous_release_database(tmp_path / "half.db")
    with sqlite3.connect(tmp_path / "half.db") as connection:
        connection.execute(f"CREATE TABLE {schema.VERSION_TABLE} (version_num VARCHAR(32))")
    schema.upgrade(create_engine(url, future=True))
    assert revision_of(url) == schema.head()


def test_a_migration_that_fails_leaves_the_database_as_it_was(tmp_path):
    url = previous_release_database(tmp_path / "clash.db")
    with sqlite3.connect(tmp_path / "clash.db") as connection:  # in the way of revision 0002
        connection.execute("CREATE TABLE inbound (id INTEGER PRIMARY KEY)")
    with pytest.raises(schema.SchemaError, match="left as it was"):
        schema.upgrade(create_engine(url, future=True))
    with sqlite3.connect(tmp_path / "clash.db") as connection:
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    assert schema.VERSION_TABLE not in tables  # the stamp was rolled back with the rest
