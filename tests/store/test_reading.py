"""Store.reading and Store.read (store/db.py): the reads of one request share one read-only
transaction on PostgreSQL (one pool checkout, ping, BEGIN and COMMIT instead of one per
read); on SQLite the scope changes nothing. On both, each read sees what was committed
before it, as separate transactions would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import DBAPIError
from support.postgres import STORES, database_url

from ledger_api.store.db import Store
from ledger_api.store.tables import StateRow


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = Store(database_url(request, request.param) or f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    yield opened
    opened.close()


def _value(store: Store, key: str) -> str | None:
    with store.read() as conn:
        return conn.scalar(select(StateRow.value).where(StateRow.key == key))


def test_a_read_in_the_scope_sees_what_another_transaction_committed_before_it(store: Store):
    with store.reading():
        assert _value(store, "probe") is None
        with store.connection() as conn:
            conn.execute(insert(StateRow).values(key="probe", value="written"))
        assert _value(store, "probe") == "written"
    with store.connection() as conn:
        conn.execute(delete(StateRow).where(StateRow.key == "probe"))


def test_on_postgresql_the_reads_of_a_scope_share_one_read_only_transaction(postgresql_store: Store):
    def transaction() -> tuple[object, object, object]:
        with postgresql_store.read() as conn:
            row = conn.execute(text("SELECT pg_backend_pid(), now(), current_setting('transaction_read_only')")).one()
            return row[0], row[1], row[2]

    with postgresql_store.reading():
        first = transaction()
        time.sleep(0.01)
        with postgresql_store.reading():  # a scope within a scope joins it
            second = transaction()
        assert postgresql_store.engine.pool.checkedout() == 1
    assert first == second, "now() is the transaction's start: two reads, one transaction"
    assert first[2] == "on"
    assert postgresql_store.engine.pool.checkedout() == 0, "the scope's connection goes back to the pool with it"
    time.sleep(0.01)
    alone = transaction()
    assert alone[1] != first[1], "outside a scope a read is a transaction of its own"
    assert alone[0] == first[0] and alone[2] == "off", "the pool's connection is read-write again after the scope"


def test_on_postgresql_a_write_through_a_scopes_read_fails(postgresql_store: Store):
    with (
        pytest.raises(DBAPIError, match="read-only transaction"),
        postgresql_store.reading(),
        postgresql_store.read() as conn,
    ):
        conn.execute(insert(StateRow).values(key="probe", value="written"))
    assert _value(postgresql_store, "probe") is None


def test_a_scope_is_joined_only_by_reads_of_its_own_store(postgresql_store: Store, request: pytest.FixtureRequest):
    url = database_url(request, "postgresql")
    assert url is not None
    other = Store(url)
    try:
        with postgresql_store.reading(), other.read() as conn:
            assert conn.scalar(text("SELECT current_setting('transaction_read_only')")) == "off"
    finally:
        other.close()
