"""The store's schema is what its migrations build, on SQLite and on PostgreSQL: the
revisions in ledger_api/store/migrations/versions must add up to tables.py (a change of
tables.py without its revision fails here), a store made before migrations is brought to
them with its rows, and instances that open one empty database at the same moment all
start, on one schema (the migrations run under a lock)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, func, inspect, select
from sqlalchemy.schema import CreateIndex, CreateTable
from support.postgres import STORES, database_url

from ledger_api.settings import PROJECT_ROOT
from ledger_api.store import migrations
from ledger_api.store.db import Store
from ledger_api.store.migrations import baseline
from ledger_api.store.tables import ONE_RECORD_PER_PLACE, RECORDS, Base, RecordRow


@pytest.fixture(params=STORES)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a database with nothing in it, on each store."""
    return database_url(request, request.param) or f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def engine(empty_database: str) -> Iterator[Engine]:
    engine = create_engine(empty_database)
    yield engine
    engine.dispose()


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def _live_only(engine: Engine, index: str) -> bool:
    """Whether the unique index `index` on records spares failed records (tables.py's WHERE)."""
    (found,) = [i for i in inspect(engine).get_indexes("records") if i["name"] == index]
    where = str(found.get("dialect_options", {}).get(f"{engine.dialect.name}_where", ""))
    return bool(found["unique"]) and "status" in where and "failed" in where


def test_the_migrations_build_exactly_the_tables_the_store_declares(empty_database: str, engine: Engine):
    Store(empty_database).close()
    assert migrations.current(engine) == migrations.head()
    assert _differences(engine) == []
    assert all(_live_only(engine, index.name) for index in ONE_RECORD_PER_PLACE if index.name)


def test_a_change_to_the_tables_without_its_migration_is_caught(empty_database: str, engine: Engine):
    """The check above can fail: a column tables.py would have and no revision adds."""
    Store(empty_database).close()
    from sqlalchemy import Column, MetaData, String

    declared = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(declared)
    declared.tables["state"].append_column(Column("note", String(20)))
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), declared)
    assert [(d[0], d[2], d[3].name) for d in differences] == [("add_column", "state", "note")]


def _store_made_before_migrations(engine: Engine) -> None:
    """A store as the service made it before migrations (the frozen baseline shape), in the shape of before 2026-11-29:
    the two places of a record as table constraints, no credentials table, no
    records_by_party_nonce index; with three records, the last one failed."""
    table = str(CreateTable(baseline.RECORDS).compile(engine)).rstrip().rstrip(")")
    table += (
        ",\n\tCONSTRAINT one_record_per_position UNIQUE (consignment, position),"
        "\n\tCONSTRAINT one_record_per_party_nonce UNIQUE (party, nonce, mode)\n)"
    )
    with engine.begin() as conn:
        conn.exec_driver_sql(table)
        for index in baseline.RECORDS.indexes - set(baseline.ONE_RECORD_PER_PLACE):
            if index.name != "records_by_party_nonce":
                conn.exec_driver_sql(str(CreateIndex(index).compile(engine)))
        for table_ in baseline.METADATA.sorted_tables:
            if table_.name not in ("records", "credentials"):
                table_.create(conn)
        for n, status in enumerate(("included", "included", "failed")):
            conn.execute(baseline.RECORDS.insert(), _record(n, status))


def _record(n: int, status: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "id": f"0x{n:064x}",
        "consignment": f"0x{n:064x}",
        "ucr": f"UCR{n}",
        "position": 0,
        "kind": 0,
        "party": "0x" + "ab" * 20,
        "counterparty": "0x" + "00" * 20,
        "previous": "0x" + "00" * 32,
        "payload_hash": "0x" + "cd" * 32,
        "nonce": str(n),
        "deadline": "9999999999",
        "signature": "0x" + "ef" * 65,
        "payload": "{}",
        "mode": "single",
        "status": status,
        "accepted_at": datetime.now(UTC),
    }


def test_a_store_made_before_migrations_is_brought_to_them_with_its_rows(empty_database: str, engine: Engine):
    _store_made_before_migrations(engine)
    assert migrations.current(engine) is None

    store = Store(empty_database)
    try:
        assert migrations.current(engine) == migrations.head()
        assert _differences(engine) == []
        assert inspect(engine).get_unique_constraints("records") == []
        with store.session() as session:
            assert session.scalar(select(func.count()).select_from(RecordRow)) == 3
            assert session.scalar(select(RecordRow.status).where(RecordRow.nonce == "2")) == "failed"
            # The failed record's nonce is free again; a live one's is not.
            session.execute(RECORDS.insert(), {**_record(3, "accepted"), "nonce": "2"})
        Store(empty_database).close()  # opened again: nothing left to migrate, nothing lost
        with store.session() as session:
            assert session.scalar(select(func.count()).select_from(RecordRow)) == 4
    finally:
        store.close()


# An instance as far as its store goes: opens a Store on each URL it reads, says how it went.
_INSTANCE = """
import sys
from ledger_api.store.db import Store
from ledger_api.store.migrations import baseline
print("ready", flush=True)
for url in sys.stdin:
    try:
        Store(url.strip()).close()
        print("opened", flush=True)
    except Exception as exc:
        print("failed", repr(exc).replace(chr(10), " "), flush=True)
"""


@contextmanager
def _instances(count: int) -> Iterator[list[subprocess.Popen[str]]]:
    """`count` processes running _INSTANCE, once each has imported the store."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _INSTANCE],
            cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        for process in processes:
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
        yield processes
    finally:
        for process in processes:
            assert process.stdin is not None
            process.stdin.close()
            process.wait(timeout=60)


@pytest.mark.parametrize("store", STORES)
def test_instances_opening_one_empty_database_at_the_same_moment_all_start_on_one_schema(
    request: pytest.FixtureRequest, tmp_path: Path, store: str
):
    """Without the lock, two PostgreSQL instances failed one time in three
    (`duplicate key … pg_type_typname_nsp_index`): ten rounds of three instances (processes)
    opening a new empty database at once."""
    with _instances(3) as instances:
        for round_ in range(10):
            url = database_url(request, store) or f"sqlite:///{tmp_path / f'{round_}.db'}"
            for instance in instances:  # as close to the same moment as three pipes allow
                assert instance.stdin is not None
                instance.stdin.write(url + "\n")
                instance.stdin.flush()
            answers = [instance.stdout.readline().strip() for instance in instances if instance.stdout is not None]
            assert answers == ["opened"] * 3, f"round {round_}: {answers}"
            engine = create_engine(url)
            try:
                assert migrations.current(engine) == migrations.head()
                assert _differences(engine) == []
            finally:
                engine.dispose()
