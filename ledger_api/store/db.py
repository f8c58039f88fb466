"""Engine and sessions. SQLite by default (WAL, so readers never wait for the writer),
PostgreSQL by URL (`postgresql+psycopg://…`, the `postgres` extra): nothing else in the
package knows which. A Store brings its database to the newest schema when it opens
(store/migrations)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from ledger_api.store.migrations import upgrade_to_head

SQLITE_BUSY_TIMEOUT = 30.0


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            _write_ahead_log(cursor)
            # FULL: an accepted submission survives a power cut, not only a process crash.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def _write_ahead_log(cursor: sqlite3.Cursor) -> None:
    """WAL mode, which the file keeps once set. Setting it on a new file takes a lock that
    SQLite does not wait for: of instances opening one new store at once (tests/store),
    one could fail here with `database is locked`, so this waits as the busy timeout would."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class Store:
    """Opens sessions; each unit of work is one transaction."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        try:
            upgrade_to_head(self.engine)
        except BaseException:
            self.engine.dispose()
            raise
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """One transaction on a Core connection, for hot paths that need no ORM objects."""
        with self.engine.begin() as connection:
            yield connection

    def close(self) -> None:
        self.engine.dispose()
