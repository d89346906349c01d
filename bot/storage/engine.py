"""Database engine and schema (SQLAlchemy 2.0-style API on 1.4; any SQLAlchemy URL).

SQLite is the embedded default; PostgreSQL works through the same code by URL.
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from bot.storage import schema

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def get_engine(url: str) -> Engine:
    """One engine per URL per process; brings the schema up to date on first use."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            parsed = make_url(url)
            # hide_parameters: a database error's message never carries a client's words.
            kwargs: dict = {"future": True, "pool_pre_ping": True, "hide_parameters": True}
            sqlite = parsed.get_backend_name() == "sqlite"
            if sqlite:
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
                if parsed.database and parsed.database != ":memory:":
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                    # SQLAlchemy 1.4 opens a new file connection (and runs the pragmas) per
                    # session by default; a pool keeps them (measured: 3% of the action server).
                    kwargs["poolclass"] = QueuePool
            engine = create_engine(url, **kwargs)
            if sqlite:
                event.listen(engine, "connect", _sqlite_pragmas)
            schema.upgrade(engine)
            _engines[url] = engine
        return engine


def tracker_engine(path: Path, url: str | None = None) -> Engine | None:
    """An engine on Rasa's tracker database (for retention and forgetting): `url` when the
    tracker store is on a server (AFTERCARE_TRACKER_URL), else the SQLite file, or None
    before Rasa made it. Deleted rows are overwritten on disk in SQLite too."""
    if url is not None:
        return create_engine(url, future=True, pool_pre_ping=True, hide_parameters=True)
    if not path.exists():
        return None
    engine = create_engine(
        f"sqlite:///{path}", future=True, connect_args={"timeout": 30}, hide_parameters=True
    )
    event.listen(engine, "connect", secure_delete)
    return engine


def secure_delete(dbapi_connection, _record=None) -> None:
    """SQLite: overwrite deleted content on disk (a pool `connect` listener)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted rows (/forget) are overwritten on disk
    cursor.close()


def session_factory(url: str) -> sessionmaker:
    """A factory of sessions (one per unit of work) bound to the URL's engine."""
    return sessionmaker(bind=get_engine(url), future=True, expire_on_commit=False)
