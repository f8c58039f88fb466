"""Worklist lines are computed outside requests (services/worklist.py): the refresher keeps
the lines of every country whose worklist was asked for, recomputing only the lines of the
consignments whose records or registry facts changed since its last pass; a request
computes a handful of stale lines at most and says how many are still being computed.
No chain: records are accepted through the submission service and placed on routes and in
blocks as the indexer would (support/submissions.py). On each store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from sqlalchemy import update
from support.postgres import STORES, database_url
from support.submissions import CHAIN_NONCE, DOMAIN, chainless_submissions, numbered_declaration, register_exporters

from ledger_api.domain.records import consignment_key
from ledger_api.domain.worklist import Filters
from ledger_api.services import worklist as service
from ledger_api.services.verification import EvidenceReader, VerificationEvidence
from ledger_api.services.worklist import Worklist
from ledger_api.settings import Settings
from ledger_api.store import records
from ledger_api.store.db import Store
from ledger_api.store.risk_rules_file import load_rules
from ledger_api.store.tables import BlockRow, EventRow, RecordRow, StateRow

EXPORTER = Account.from_key(keccak(text="worklist refresher exporter"))
OTHER = Account.from_key(keccak(text="worklist refresher, a party to nothing here"))
EVERYTHING = Filters(awaiting=None)


class CountingReader:
    """The evidence reader, counting the consignments whose evidence is gathered: one a
    line computed."""

    def __init__(self, reader: EvidenceReader) -> None:
        self.reader = reader
        self.gathered: list[str] = []

    def gather(self, ucr: str, country: str, at_block: int | None = None) -> VerificationEvidence:
        self.gathered.append(ucr)
        return self.reader.gather(ucr, country, at_block)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store = Store(database_url(request, request.param) or f"sqlite:///{tmp_path / 'ledger.db'}")
    register_exporters(store, EXPORTER)
    yield store
    store.close()


def _declare(store: Store, first: int, count: int) -> list[str]:
    """Declarations of consignments first… (NL -> JP), accepted here."""
    submissions = chainless_submissions(store)
    ucrs = []
    for n in range(first, first + count):
        submission = numbered_declaration(EXPORTER, n, CHAIN_NONCE + n - 1)
        result = submissions.submit(submission)
        if n % 2:  # half of them with the route the chain would show, half by their signed route alone
            with store.connection() as conn:
                key = "0x" + submission.record.consignment.hex()
                records.learn_route(conn, key, submission.record.route, 1, result.record_id)
        ucrs.append(submission.payload.ucr)
    return ucrs


def _index_block(store: Store, number: int) -> None:
    """The indexer has reached block `number`."""
    with store.session() as session:
        session.merge(BlockRow(number=number, hash=f"0x{number:064x}", parent_hash="0x" + "00" * 32, timestamp=number))
        session.merge(StateRow(key="indexed_block", value=str(number)))


def _include(store: Store, ucr: str, block: int) -> None:
    _index_block(store, block)
    with store.session() as session:
        session.execute(
            update(RecordRow)
            .where(RecordRow.consignment == "0x" + consignment_key(ucr).hex())
            .values(status="included", block_number=block, block_hash=f"0x{block:064x}")
        )


def _event(store: Store, block: int, name: str, args: dict[str, Any]) -> None:
    _index_block(store, block)
    with store.session() as session:
        session.add(
            EventRow(
                block_number=block,
                log_index=0,
                block_hash=f"0x{block:064x}",
                tx_hash="0x" + keccak(text=f"tx {block}").hex(),
                contract="PartyRegistry",
                name=name,
                args=json.dumps(args),
                record_id=None,
            )
        )


@pytest.fixture
def worklist(store: Store) -> tuple[Worklist, CountingReader]:
    reader = CountingReader(EvidenceReader(store, DOMAIN, {}, 1))
    return Worklist(store, reader, load_rules(Settings().risk_rules)), reader  # type: ignore[arg-type]


def _page_ucrs(wl: Worklist) -> tuple[list[str], int]:
    page = wl.page("JP", EVERYTHING, None, 200)
    return sorted(e.ucr for e in page.entries), page.pending


def test_a_request_computes_a_handful_of_lines_and_the_refresher_the_rest(store: Store, worklist):
    wl, reader = worklist
    ucrs = _declare(store, 1, 20)
    shown, pending = _page_ucrs(wl)
    assert len(shown) == len(reader.gathered) == service.REQUEST_LINES
    assert pending == 20 - service.REQUEST_LINES
    assert _page_ucrs(wl) == (shown, pending)  # the next request leaves the lines never computed to the refresher
    assert len(reader.gathered) == service.REQUEST_LINES

    assert wl.step() == 20 - service.REQUEST_LINES  # the lines the request left, no line twice
    assert sorted(reader.gathered) == ucrs
    assert _page_ucrs(wl) == (ucrs, 0)
    assert len(reader.gathered) == 20  # the page read the stored lines
    assert wl.step() == 0  # nothing changed since its pass


def test_the_refresher_recomputes_only_the_lines_of_consignments_whose_records_changed(store: Store, worklist):
    wl, reader = worklist
    ucrs = _declare(store, 1, 12)
    _page_ucrs(wl)
    wl.step()
    reader.gathered.clear()

    _include(store, ucrs[4], 2)  # one consignment's declaration is now on chain
    (new,) = _declare(store, 13, 1)  # and one more was declared
    assert wl.step() == 2
    assert sorted(reader.gathered) == sorted([ucrs[4], new])
    assert _page_ucrs(wl) == (sorted([*ucrs, new]), 0)
    assert wl.step() == 0


def test_a_registry_event_about_a_party_recomputes_the_lines_naming_it_and_no_other(store: Store, worklist):
    wl, reader = worklist
    ucrs = _declare(store, 1, 6)
    _page_ucrs(wl)
    wl.step()
    reader.gathered.clear()

    _event(store, 2, "PartyStatusChanged", {"party": OTHER.address, "status": 2})
    assert wl.step() == 0 and reader.gathered == []
    _event(store, 3, "PartyStatusChanged", {"party": EXPORTER.address, "status": 2})
    assert wl.step() == 6
    assert sorted(reader.gathered) == ucrs
    assert wl.step() == 0


def test_a_request_computes_the_line_of_a_record_just_written_before_the_refresher_passes(store: Store, worklist):
    wl, reader = worklist
    ucrs = _declare(store, 1, 30)
    _page_ucrs(wl)
    while wl.step():
        pass
    reader.gathered.clear()

    (new,) = _declare(store, 31, 1)
    shown, pending = _page_ucrs(wl)
    assert new in shown and pending == 0
    assert reader.gathered == [new]  # the one line that changed, not the other thirty
    assert wl.step() == 0  # the refresher finds it current
    assert shown == sorted([*ucrs, new])
