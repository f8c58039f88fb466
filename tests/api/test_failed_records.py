"""A record that failed on chain (its transaction reverted) took neither its place in the
consignment nor its party's nonce: the contract moved neither. The next record takes both
again. Until 2026-11-29 the store held them as table constraints, failed records included,
and a party whose last record reverted got 409 CONCURRENT_WRITE for good; stores made then
are migrated on open. No chain here (support/submissions.py)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from sqlalchemy import create_engine, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateIndex, CreateTable
from support.payloads import custody
from support.postgres import STORES, database_url
from support.submissions import (
    CHAIN_NONCE,
    DOMAIN,
    chainless_submissions,
    numbered_declaration,
    register_exporters,
    set_status,
)

from ledger_api.domain.payloads import parse_payload, payload_hash
from ledger_api.domain.records import Record, RecordKind, consignment_key, sign_record
from ledger_api.services.submission import _NONCES_AROUND, Submission
from ledger_api.store import records as known_records
from ledger_api.store.db import Store
from ledger_api.store.migrations import baseline
from ledger_api.store.records import WrittenFact
from ledger_api.store.tables import ONE_RECORD_PER_PLACE, RECORDS, RecordRow


def _exporter(label: str) -> LocalAccount:
    return Account.from_key(keccak(text=f"failed records {label}"))


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The partial unique indexes are each dialect's own (tables.py): both are held here."""
    store = Store(database_url(request, request.param) or f"sqlite:///{tmp_path / 'ledger.db'}")
    register_exporters(store, _exporter("a"), _exporter("b"))
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    """For what only SQLite has: the files of stores made before, its query plans."""
    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    register_exporters(store, _exporter("a"), _exporter("b"))
    return store


def test_a_party_whose_last_record_failed_posts_again_with_the_same_nonce(store: Store):
    a = _exporter("a")
    submissions = chainless_submissions(store)
    for n in range(3):
        submissions.submit(numbered_declaration(a, n, CHAIN_NONCE + n))
    set_status(store, a.address, CHAIN_NONCE + 2, "failed")  # as the relayer marks a revert
    again = submissions.submit(numbered_declaration(a, 3, CHAIN_NONCE + 2))  # another consignment, same nonce
    assert again.created
    assert submissions.next_nonce(a.address) == CHAIN_NONCE + 3


def test_the_place_of_a_failed_record_in_its_consignment_is_free_again(store: Store):
    a, b = _exporter("a"), _exporter("b")
    submissions = chainless_submissions(store)
    submissions.submit(numbered_declaration(a, 0, CHAIN_NONCE))  # consignment 0, position 0
    set_status(store, a.address, CHAIN_NONCE, "failed")
    declared = submissions.submit(numbered_declaration(b, 0, CHAIN_NONCE))  # the same consignment, another party
    with store.session() as session:
        positions = session.execute(select(RecordRow.status, RecordRow.position).where(RecordRow.ucr.like("%0000")))
        assert sorted(positions) == [("accepted", 0), ("failed", 0)]
    assert declared.created


def test_two_live_records_still_never_share_a_place_or_a_nonce(store: Store):
    a = _exporter("a")
    chainless_submissions(store).submit(numbered_declaration(a, 0, CHAIN_NONCE))
    with store.session() as session:
        row = {c.name: v for c, v in zip(RECORDS.columns, session.execute(select(RECORDS)).one(), strict=True)}
    for changed in ({"nonce": str(CHAIN_NONCE + 9)}, {"ucr": "other", "consignment": "0x" + "ab" * 32}):
        # A copy differing in its id and one of the two: the other still clashes.
        with pytest.raises(IntegrityError), store.connection() as conn:
            conn.execute(insert(RECORDS), {**row, "id": "0x" + "cd" * 32, **changed})


def test_the_indexer_fails_a_live_record_whose_nonce_the_chain_gave_to_a_failed_one(store: Store):
    """A reverted transaction mined again after a reorg: the chain holds the record the
    store had as failed, so the one accepted into its nonce since can never be written."""
    a = _exporter("a")
    submissions = chainless_submissions(store)
    item = numbered_declaration(a, 0, CHAIN_NONCE)
    first = submissions.submit(item)
    set_status(store, a.address, CHAIN_NONCE, "failed")
    second = submissions.submit(numbered_declaration(a, 1, CHAIN_NONCE))
    r = item.record
    written = WrittenFact(
        record_id=first.record_id,
        consignment="0x" + r.consignment.hex(),
        kind=int(r.kind),
        party=r.party,
        counterparty=r.counterparty,
        previous="0x" + r.previous.hex(),
        payload_hash="0x" + r.payload_hash.hex(),
        nonce=r.nonce,
        block=7,
        block_hash="0x" + "07" * 32,
        tx_hash="0x" + "70" * 32,
    )
    with store.connection() as conn:  # as the indexer hands RecordWritten over
        known_records.learn_written(conn, [written])
    with store.session() as session:
        status = dict(session.execute(select(RecordRow.id, RecordRow.status)).all())
        error = session.scalar(select(RecordRow.error).where(RecordRow.id == second.record_id))
    assert status == {first.record_id: "included", second.record_id: "failed"}
    assert error == f"record {first.record_id} was written on chain in its place"


def _store_of_before(path: Path) -> None:
    """A store as the service made it before: the two places as table constraints."""
    engine = create_engine(f"sqlite:///{path}")
    table = str(CreateTable(RECORDS).compile(engine)).rstrip().rstrip(")")
    table += (
        ",\n\tCONSTRAINT one_record_per_position UNIQUE (consignment, position),"
        "\n\tCONSTRAINT one_record_per_party_nonce UNIQUE (party, nonce, mode)\n)"
    )
    with engine.begin() as conn:
        conn.exec_driver_sql(table)
        for index in RECORDS.indexes - set(ONE_RECORD_PER_PLACE):
            conn.exec_driver_sql(str(CreateIndex(index).compile(engine)))
    engine.dispose()


def _copy_rows(source: Store, path: Path) -> None:
    with source.connection() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(RECORDS))]
    with sqlite3.connect(path) as target:
        columns = list(rows[0])
        target.executemany(
            f"INSERT INTO records ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            [tuple(str(r[c]) if c == "accepted_at" else r[c] for c in columns) for r in rows],
        )


def test_a_store_made_before_is_migrated_on_open_with_its_records(sqlite_store: Store, tmp_path: Path):
    store = sqlite_store
    a = _exporter("a")
    submissions = chainless_submissions(store)
    for n in range(3):
        submissions.submit(numbered_declaration(a, n, CHAIN_NONCE + n))
    set_status(store, a.address, CHAIN_NONCE + 2, "failed")
    old = tmp_path / "before.db"
    _store_of_before(old)
    _copy_rows(store, old)
    assert len(inspect(create_engine(f"sqlite:///{old}")).get_unique_constraints("records")) == 2

    migrated = Store(f"sqlite:///{old}")
    inspector = inspect(migrated.engine)
    assert inspector.get_unique_constraints("records") == []
    assert {i["name"] for i in inspector.get_indexes("records") if i["unique"]} == {
        "one_record_per_position",
        "one_record_per_party_nonce",
    }
    with migrated.session() as session:
        assert session.scalar(select(func.count()).select_from(RecordRow)) == 3
        assert session.scalar(select(RecordRow.status).where(RecordRow.nonce == str(CHAIN_NONCE + 2))) == "failed"
    register_exporters(migrated, a)  # parties were not copied
    assert chainless_submissions(migrated).submit(numbered_declaration(a, 3, CHAIN_NONCE + 2)).created
    Store(f"sqlite:///{old}")  # opened again: nothing left to migrate, nothing lost
    with migrated.session() as session:
        assert session.scalar(select(func.count()).select_from(RecordRow)) == 4


def test_a_migration_that_fails_half_way_leaves_the_store_as_it_was(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    store = sqlite_store
    chainless_submissions(store).submit(numbered_declaration(_exporter("a"), 0, CHAIN_NONCE))
    old = tmp_path / "before.db"
    _store_of_before(old)
    _copy_rows(store, old)

    class Broken:
        columns = RECORDS.columns

        def create(self, _connection: object) -> None:
            raise OSError("disk gone")

    monkeypatch.setattr(baseline, "RECORDS", Broken())
    with pytest.raises(OSError, match="disk gone"):
        Store(f"sqlite:///{old}")
    with sqlite3.connect(old) as raw:
        tables = {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "records" in tables and "records_before_migration" not in tables
        assert raw.execute("SELECT count(*) FROM records").fetchone() == (1,)
    assert len(inspect(create_engine(f"sqlite:///{old}")).get_unique_constraints("records")) == 2


def test_the_next_nonce_lookup_searches_an_index_however_long_the_partys_history(sqlite_store: Store):
    store = sqlite_store
    """The unique index over live records cannot serve it (it asks about failed ones too):
    without an index of its own a post read all its party's records, and posts slowed by a
    quarter (commit 72d712e)."""
    statement = _NONCES_AROUND.params(party="0x" + "ab" * 20, nonces=["6", "7"])
    sql = str(statement.compile(store.engine, compile_kwargs={"literal_binds": True, "render_postcompile": True}))
    with store.connection() as conn:
        plan = " ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    assert "USING INDEX records_by_party_nonce (party=? AND nonce=?" in plan, plan


def test_a_store_made_before_records_signed_a_route_gets_the_column_and_keeps_its_rows(store: Store, tmp_path: Path):
    a = _exporter("a")
    chainless_submissions(store).submit(numbered_declaration(a, 0, CHAIN_NONCE))
    old = tmp_path / "before-routes.db"
    _store_of_before(old)
    _copy_rows(store, old)
    with sqlite3.connect(old) as raw:  # the table as it was: no route column
        raw.execute("ALTER TABLE records DROP COLUMN route")
    migrated = Store(f"sqlite:///{old}")
    assert "route" in {c["name"] for c in inspect(migrated.engine).get_columns("records")}
    with migrated.session() as session:
        row = session.scalars(select(RecordRow)).one()
        assert row.route is None and row.to_record().route == ()  # read as no route
    register_exporters(migrated, a)
    assert chainless_submissions(migrated).submit(numbered_declaration(a, 1, CHAIN_NONCE + 1)).created
    with migrated.session() as session:
        routes = sorted(r for r in session.scalars(select(RecordRow.route)) if r is not None)
    assert routes == ['["NL", "JP"]']


def test_a_record_built_on_one_that_failed_since_no_longer_holds_its_consignment(store: Store):
    """The handover chained to a declaration that failed on chain can never be written: the
    consignment is judged without it, and may be declared again (it answered 500 before)."""
    a, b = _exporter("a"), _exporter("b")
    submissions = chainless_submissions(store)
    declared = submissions.submit(numbered_declaration(a, 0, CHAIN_NONCE))
    payload = parse_payload(custody("6NL123456789-NN-0000", "HANDOVER"))
    handover = Record(
        consignment=consignment_key(payload.ucr),
        kind=RecordKind.HANDOVER,
        payload_hash=payload_hash(payload),
        previous=bytes.fromhex(declared.record_id[2:]),
        party=a.address,
        counterparty=b.address,
        nonce=CHAIN_NONCE + 1,
        deadline=int(time.time()) + 600,
    )
    submissions.submit(Submission(handover, sign_record(handover, DOMAIN, a.key), payload))
    set_status(store, a.address, CHAIN_NONCE, "failed")
    again = submissions.submit(numbered_declaration(b, 0, CHAIN_NONCE))
    assert again.created
    with store.session() as session:
        places = sorted(session.execute(select(RecordRow.position, RecordRow.kind, RecordRow.status)).all())
    assert places == [(0, 0, "accepted"), (0, 0, "failed"), (1, 1, "accepted")]
