"""Alembic's environment: run by alembic for `Store` (on the connection it locked,
config.attributes["connection"]) and for the `alembic` command line, which names the
store with `-x url=…` or LEDGER_DATABASE_URL (see ledger_api.store's docstring)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine

from ledger_api.store.migrations import locked
from ledger_api.store.tables import Base


def _run(connection: Connection) -> None:
    # render_as_batch: SQLite alters a table by copying it; batch operations do that there
    # and plain ALTERs on PostgreSQL, so one revision serves both.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("LEDGER_DATABASE_URL")
    if not url:
        raise SystemExit("which store? alembic -x url=sqlite:///path/to/ledger.db … (or set LEDGER_DATABASE_URL)")
    return url


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    elif context.is_offline_mode():
        context.configure(url=_url(), target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        engine = create_engine(_url())
        try:
            with locked(engine) as locked_connection:
                _run(locked_connection)
        finally:
            engine.dispose()


_main()
