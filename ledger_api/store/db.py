"""Engine and sessions. SQLite by default (WAL, so readers never wait for the writer),
PostgreSQL by URL (`postgresql+psycopg://…`, the `postgres` extra): nothing else in the
package knows which. A Store brings its database to the newest schema when it opens
(store/migrations)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from ledger_api.store.migrations import upgrade_to_head

SQLITE_BUSY_TIMEOUT = 30.0
# How often a transaction opened with Store.writing asks again for SQLite's write lock
# while another connection holds it.
WRITE_LOCK_POLL_SECONDS = 0.0002


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
    _while_locked(lambda: cursor.execute("PRAGMA journal_mode=WAL"), SQLITE_BUSY_TIMEOUT, 0.02)


def _while_locked(attempt: Callable[[], object], seconds: float, pause: float) -> None:
    """`attempt` again every `pause` seconds while it finds the database locked, for at most
    `seconds`; then its error."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            attempt()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)


def _lock_for_writing(db: sqlite3.Connection) -> None:
    """Begins `db`'s transaction with SQLite's write lock, waiting for it at most the
    connection's busy timeout, as any of its statements would."""
    (timeout_ms,) = db.execute("PRAGMA busy_timeout").fetchone()
    db.execute("PRAGMA busy_timeout=0")  # a try that finds the lock taken returns at once
    try:
        _while_locked(lambda: db.execute("BEGIN IMMEDIATE"), timeout_ms / 1000, WRITE_LOCK_POLL_SECONDS)
    finally:
        db.execute(f"PRAGMA busy_timeout={int(timeout_ms)}")


# The read scope open in this thread or task (Store.reading): its store and connection.
_reading: ContextVar[tuple[Store, Connection] | None] = ContextVar("ledger_store_reading", default=None)


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

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One transaction on a Core connection, as `connection`, that holds the store's
        write lock from its start, for short transactions that write and contend with
        others often (posts). SQLite: `BEGIN IMMEDIATE`, asked again every 0.2 ms while
        another connection writes; a transaction that waits for the lock at its first
        write instead waits in SQLite's busy handler, which sleeps 1, 2, 5, 10... ms
        between tries, long after the lock was free. PostgreSQL: a plain transaction."""
        with self.engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                driver = connection.connection.driver_connection
                assert isinstance(driver, sqlite3.Connection)
                _lock_for_writing(driver)
            yield connection

    @contextmanager
    def reading(self) -> Iterator[None]:
        """A scope in which every `read()` of this store shares one read-only transaction,
        for a request made of several short reads (a verification: the caller's view, the
        country's authority, the cache's fingerprint, the flags' version).

        PostgreSQL: each transaction is a pool checkout with its ping, a BEGIN and a COMMIT,
        round trips to the server that such a request paid once per read. The one
        transaction is READ COMMITTED (the server's default): each statement sees what was
        committed before it, as separate transactions would; a write through it fails.
        SQLite: nothing changes (a read there waits on no server; one transaction would keep
        one snapshot throughout, and a read after another connection's write would not
        see it). A scope within a scope adds nothing."""
        if self.engine.dialect.name == "sqlite" or _reading.get() is not None:
            yield
            return
        with self.engine.connect().execution_options(postgresql_readonly=True) as connection, connection.begin():
            token = _reading.set((self, connection))
            try:
                yield
            finally:
                _reading.reset(token)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads: the transaction of the `reading()` scope open on this
        store, or one of its own as `connection()`."""
        bound = _reading.get()
        if bound is not None and bound[0] is self:
            yield bound[1]
            return
        with self.connection() as connection:
            yield connection

    def close(self) -> None:
        self.engine.dispose()
