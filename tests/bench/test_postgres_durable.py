"""The PostgreSQL cluster `ledger bench multi` starts is durable, as the SQLite store it is
compared with is (synchronous=FULL); the tests' cluster is not (durability is not what
they measure)."""

from __future__ import annotations

import psycopg

from ledger_bench import postgres
from ledger_bench.postgres import SUPERUSER, PostgresServer


def _durability(server: PostgresServer) -> list[str]:
    with psycopg.connect(host="127.0.0.1", port=server.port, user=SUPERUSER, dbname="postgres") as conn:
        shown = [
            conn.execute(f"SHOW {name}").fetchone() for name in ("fsync", "synchronous_commit", "full_page_writes")
        ]
    return [str(row[0]) for row in shown if row is not None]


def test_the_benchmarks_cluster_commits_durably_and_the_tests_does_not(postgres_server: PostgresServer):
    assert _durability(postgres_server) == ["off", "off", "off"]
    with postgres.postgres_server(durable=True) as durable:
        assert _durability(durable) == ["on", "on", "on"]
