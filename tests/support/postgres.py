"""The test session's PostgreSQL server: the cluster of ledger_bench/postgres.py (Debian's
`postgresql` package, a cluster in a temporary folder started with its own initdb and
pg_ctl on a free port, removed when the session ends), which `ledger bench multi` starts
too. Each test module or service gets a database of its own (`database_url`), so none sees
another's rows.

The `postgres_server` fixture (tests/conftest.py) skips the PostgreSQL variants when the
server is not installed, and fails them under CI=true, where `make test` installs it."""

from __future__ import annotations

import pytest

from ledger_bench.postgres import PostgresServer, postgres_server, why_unavailable

__all__ = ["STORES", "PostgresServer", "database_url", "postgres_server", "why_unavailable"]

# The stores a test that runs against each runs on, once per name (`test_x[postgresql]`).
STORES = ("sqlite", "postgresql")


def database_url(request: pytest.FixtureRequest, store: str) -> str | None:
    """The store URL of a new service or Store on `store`: a new database on the session's
    server (the `postgres_server` fixture) for "postgresql", None for "sqlite" (the caller's
    own SQLite file)."""
    if store == "sqlite":
        return None
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database(request.node.name)
