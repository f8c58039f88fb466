"""Engine and sessions. SQLite by default (WAL, so readers never wait for the writer),
PostgreSQL by URL: nothing else in the package knows which."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from ledger_api.store.tables import ONE_RECORD_PER_PLACE, RECORDS, Base


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: an accepted submission survives a power cut, not only a process crash.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    else:
        engine = create_engine(url, pool_pre_ping=True)
    with engine.begin() as connection:
        _add_the_route_column(connection)  # first: the rebuild below copies every column
        _free_the_places_of_failed_records(connection)
    Base.metadata.create_all(engine)
    with engine.begin() as connection:  # create_all adds no index to a table that exists
        for index in RECORDS.indexes:
            index.create(connection, checkfirst=True)
    return engine


def _free_the_places_of_failed_records(connection: Connection) -> None:
    """Stores made before 2026-11-29 hold a record's consignment place and party nonce as
    table constraints, failed records included, which locked a party out once its last
    record reverted. They become unique indexes over the records not failed (tables.py).
    SQLite cannot drop a table constraint, so there the table is rebuilt, rows kept."""
    inspector = inspect(connection)
    if not inspector.has_table("records"):
        return
    names = {index.name for index in ONE_RECORD_PER_PLACE}
    if not names & {c["name"] for c in inspector.get_unique_constraints("records")}:
        return
    if connection.dialect.name == "sqlite":
        # pysqlite leaves DDL outside transactions unless one is open: open it, so that a
        # crash half-way leaves the old table as it was.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        connection.exec_driver_sql("ALTER TABLE records RENAME TO records_before_migration")
        for old in inspector.get_indexes("records_before_migration"):
            connection.exec_driver_sql(f'DROP INDEX "{old["name"]}"')
        RECORDS.create(connection)  # with its indexes
        columns = ", ".join(f'"{column.name}"' for column in RECORDS.columns)
        connection.exec_driver_sql(f"INSERT INTO records ({columns}) SELECT {columns} FROM records_before_migration")
        connection.exec_driver_sql("DROP TABLE records_before_migration")
    else:  # PostgreSQL: written to the same plan, not run here (no server on this machine)
        for name in names:
            connection.exec_driver_sql(f'ALTER TABLE records DROP CONSTRAINT IF EXISTS "{name}"')
        for index in ONE_RECORD_PER_PLACE:
            index.create(connection, checkfirst=True)


def _add_the_route_column(connection: Connection) -> None:
    """Stores made before records carried a signed route (2026-12) lack its column:
    added, NULL in the old rows (read as no route)."""
    inspector = inspect(connection)
    if inspector.has_table("records") and "route" not in {c["name"] for c in inspector.get_columns("records")}:
        connection.exec_driver_sql("ALTER TABLE records ADD COLUMN route TEXT")


class Store:
    """Opens sessions; each unit of work is one transaction."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
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
