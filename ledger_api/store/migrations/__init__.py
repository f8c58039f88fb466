"""The store's schema migrations (Alembic), run when a Store opens, under a lock.

Revision 0001 is the baseline (baseline.py): the tables of the day migrations began, and
the bringing of a store made before that day (no alembic_version table) to them, rows
kept. Every later change of tables.py is a revision in versions/; how to add one is in
the docstring of ledger_api.store.

The lock: instances started at the same moment on one empty database would otherwise
create the same tables side by side, and one of them fail (PostgreSQL's
`duplicate key … pg_type_typname_nsp_index`). On PostgreSQL a transaction-scoped
advisory lock of a fixed key, on SQLite BEGIN EXCLUSIVE: the second instance waits, then
finds the store at head. The migrations run in that same transaction, so one that fails
half way leaves the store as it was (PostgreSQL and SQLite both roll DDL back).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

LOCATION = Path(__file__).resolve().parent
# pg_advisory_xact_lock's key: any fixed bigint, the same in every instance ("ledger" in ASCII).
ADVISORY_LOCK_KEY = 0x6C6564676572
# Alembic's `context` and `op` are module globals: two migrations in one process at once,
# even on two databases, would run in each other's context.
_ONE_IN_THIS_PROCESS = threading.Lock()


def config() -> Config:
    """Alembic's configuration, built here: a deployment needs no alembic.ini."""
    cfg = Config()
    cfg.set_main_option("script_location", str(LOCATION))
    return cfg


@functools.cache
def head() -> str | None:
    """The newest revision (read from versions/ once a process)."""
    return ScriptDirectory.from_config(config()).get_current_head()


def current(engine: Engine) -> str | None:
    """The revision the store is at; None for an empty store or one made before migrations."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def locked(engine: Engine) -> Iterator[Connection]:
    """One transaction on `engine` beside which no other migration of the store runs."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        elif connection.dialect.name == "sqlite":
            # pysqlite opens no transaction before DDL by itself: this one holds the schema
            # changes together, and waits (the busy timeout) for another instance's.
            connection.exec_driver_sql("BEGIN EXCLUSIVE")
        yield connection


def upgrade_to_head(engine: Engine) -> None:
    """Brings the store to the newest revision; a store already there takes no lock."""
    if current(engine) == head():
        return
    cfg = config()
    with _ONE_IN_THIS_PROCESS, locked(engine) as connection:
        cfg.attributes["connection"] = connection  # env.py runs on it, inside the lock
        command.upgrade(cfg, "head")
