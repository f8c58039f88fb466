"""Store.writing (store/db.py): a transaction that holds the store's write lock from its
start, as the posts' transactions do. On SQLite it waits for the lock by asking again
every 0.2 ms rather than in SQLite's busy handler, and gives up after the busy timeout as
any statement would; on PostgreSQL it is a plain transaction."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from support.postgres import STORES, database_url

from ledger_api.store import db
from ledger_api.store.db import Store
from ledger_api.store.tables import StateRow


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite"


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{path}")
    yield opened
    opened.close()


@pytest.fixture
def other(path: Path, store: Store) -> Iterator[sqlite3.Connection]:
    """Another connection to the same file (another process's, as the worker's), which
    waits for no lock: a statement that finds it taken fails at once."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    yield conn
    conn.close()


def _taken(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return True
    conn.execute("ROLLBACK")
    return False


def test_the_write_lock_is_held_from_the_start_before_any_statement(store: Store, other: sqlite3.Connection):
    with store.connection():
        assert not _taken(other), "a plain transaction takes the lock only at its first write"
    with store.writing():
        assert _taken(other)
    assert not _taken(other)


def test_it_waits_while_another_connection_writes_and_begins_once_that_commits(store: Store, other: sqlite3.Connection):
    other.execute("BEGIN IMMEDIATE")
    wrote = threading.Event()

    def write() -> None:
        with store.writing() as conn:
            conn.execute(StateRow.__table__.insert(), {"key": "k", "value": "v"})
        wrote.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert not wrote.wait(0.3), "it wrote while another connection held the lock"
    other.execute("COMMIT")
    assert wrote.wait(10)
    writer.join()
    with store.connection() as conn:
        assert conn.execute(select(StateRow.value).where(StateRow.key == "k")).scalar_one() == "v"


def test_the_connection_keeps_the_busy_timeout_for_its_other_statements(store: Store):
    with store.writing() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30_000


def test_it_gives_up_after_the_connections_busy_timeout_and_keeps_that_timeout(
    path: Path, other: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT", 0.05)
    impatient = Store(f"sqlite:///{path}")
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="locked"), impatient.writing():
            pytest.fail("began while another connection held the write lock")
        other.execute("ROLLBACK")
        with impatient.writing() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 50
    finally:
        impatient.close()


@pytest.mark.parametrize("kind", STORES)
def test_what_it_writes_commits_and_an_error_rolls_it_back(kind: str, request: pytest.FixtureRequest, tmp_path: Path):
    opened = Store(database_url(request, kind) or f"sqlite:///{tmp_path / 'own.sqlite'}")
    try:
        with opened.writing() as conn:
            conn.execute(StateRow.__table__.insert(), {"key": "kept", "value": "1"})
        with pytest.raises(RuntimeError), opened.writing() as conn:
            conn.execute(StateRow.__table__.insert(), {"key": "lost", "value": "1"})
            raise RuntimeError("refused")
        with opened.connection() as conn:
            assert set(conn.execute(select(StateRow.key)).scalars()) >= {"kept"}
            assert "lost" not in set(conn.execute(select(StateRow.key)).scalars())
    finally:
        opened.close()
