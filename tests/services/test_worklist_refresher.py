"""Worklist lines are computed outside requests (services/worklist.py): the refresher keeps
the lines of every country whose worklist was asked for, recomputing only the lines of the
consignments whose records or registry facts changed since its last pass; a request
computes a handful of stale lines at most and says how many are still being computed; the
very first request computes a handful of the lines it lacks without fingerprinting the
route; a line whose flag expires is recomputed once the index head's block time passes the
expiry, with no new record; with no country asked for, the refresher leaves the store alone.
No chain: records are accepted through the submission service and placed on routes and in
blocks as the indexer would (support/submissions.py). On each store."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from sqlalchemy import event, update
from support.postgres import STORES, database_url
from support.submissions import CHAIN_NONCE, DOMAIN, chainless_submissions, numbered_declaration, register_exporters

from ledger_api.domain.intelligence import HeldFlag, SharedFlag, parse_flag_content
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


def test_the_first_request_computes_a_handful_of_the_lines_it_lacks_without_fingerprinting_the_route(
    store: Store, worklist, monkeypatch: pytest.MonkeyPatch
):
    wl, _ = worklist
    _declare(store, 1, 20)
    looked_up: list[int | None] = []
    fingerprints = service.sql.fingerprints

    def counted(session: Any, country: str, among: Any) -> Any:
        looked_up.append(None if among is None or not isinstance(among, list) else len(among))
        return fingerprints(session, country, among)

    monkeypatch.setattr(service.sql, "fingerprints", counted)
    shown, pending = _page_ucrs(wl)
    assert (len(shown), pending) == (service.REQUEST_LINES, 20 - service.REQUEST_LINES)
    assert looked_up == [service.REQUEST_LINES]  # the handful it computed, by key: not the whole route


def test_a_pass_over_more_lines_than_a_step_computes_looks_at_the_route_once_and_moves_the_mark_at_its_end(
    store: Store, worklist, monkeypatch: pytest.MonkeyPatch
):
    wl, reader = worklist
    ucrs = _declare(store, 1, 20)
    _page_ucrs(wl)  # the first request: 8 lines
    monkeypatch.setattr(service, "STEP_LINES", 5)
    whole_route: list[str] = []
    fingerprints = service.sql.fingerprints

    def counted(session: Any, country: str, among: Any) -> Any:
        if among is None:
            whole_route.append(country)
        return fingerprints(session, country, among)

    monkeypatch.setattr(service.sql, "fingerprints", counted)
    (new,) = _declare(store, 21, 1)  # declared while the pass is under way: the next pass's
    assert [wl.step(), wl.step()] == [5, 5]
    with store.session() as session:
        assert service.sql.served_countries(session)["JP"] is None  # not current yet: no mark
    (late,) = _declare(store, 22, 1)
    assert wl.step() == 3  # the pass's last lines, from its list
    assert whole_route == ["JP"]  # the route fingerprinted once for the whole pass
    with store.session() as session:
        assert service.sql.served_countries(session)["JP"] is not None
    assert wl.step() == 1 and reader.gathered[-1] == late  # what came after the pass's mark
    assert wl.step() == 0
    assert _page_ucrs(wl) == (sorted([*ucrs, new, late]), 0)


def test_with_no_country_asked_for_the_refresher_looks_once_in_a_while_and_queries_nothing_else(store: Store, worklist):
    wl, _ = worklist
    _declare(store, 1, 3)
    statements: list[str] = []

    def executed(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", executed)
    try:
        assert wl.step() == 0
        (looked,) = statements  # one query: whether a worklist was asked for
        assert "state" in looked.lower() and "worklist_entries" not in looked.lower()
        for _ in range(20):  # the loop's idle steps: nothing until IDLE_LOOK_SECONDS passed
            assert wl.step() == 0
        assert statements == [looked]
        _page_ucrs(wl)  # a request in this process serves a country and wakes it at once
        statements.clear()
        assert wl.step() == 0  # the request computed all three lines: nothing left to compute
        assert len(statements) > 1  # it looked at the served country
    finally:
        event.remove(store.engine, "before_cursor_execute", executed)


class HeldFlags:
    """The intelligence flags the authority holds (services/verification.FlagSource)."""

    def __init__(self, flags: Sequence[HeldFlag]) -> None:
        self.flags = list(flags)

    def held(self) -> Sequence[HeldFlag]:
        return self.flags

    def version(self) -> object:
        return len(self.flags)

    def used(self, reasons: Sequence[str], *, worklist: bool = False) -> None:
        pass


def _flag_on(ucr: str, valid_from: int, valid_until: int) -> HeldFlag:
    """A flag German customs shared with Japan's at block 1, naming consignment `ucr`."""
    author = to_checksum_address("0x" + "de" * 20)
    content = parse_flag_content(
        {
            "schema_version": "1",
            "author": author,
            "subject": {"type": "CONSIGNMENT", "ucr": ucr},
            "subject_salt": "0x" + "5a" * 32,
            "category": "SANCTIONED_PARTY",
            "severity": "HIGH",
            "text": "t",
            "valid_from": valid_from,
            "valid_until": valid_until,
        }
    )
    shared = SharedFlag(
        flag_id=7,
        author=author,
        author_country="DE",
        content_hash=b"\x01" * 32,
        subject_hash=content.subject_hash,
        category=content.category,
        severity=content.severity,
        valid_from=valid_from,
        valid_until=valid_until,
        recipients=(to_checksum_address("0x" + "1a" * 20),),
        block_number=1,
    )
    return HeldFlag(shared, content)


def test_a_line_whose_flag_expires_is_recomputed_once_the_head_passes_the_expiry_and_no_other_line(store: Store):
    ucrs = _declare(store, 1, 4)
    _index_block(store, 10)  # blocks' times are their numbers here
    reader = CountingReader(EvidenceReader(store, DOMAIN, {}, 1))
    flags = HeldFlags([_flag_on(ucrs[0], 5, 50)])
    wl = Worklist(store, reader, load_rules(Settings().risk_rules), flags=flags, own_country=lambda: "JP")  # type: ignore[arg-type]

    def line(ucr: str) -> Any:
        return next(e for e in wl.page("JP", EVERYTHING, None, 200).entries if e.ucr == ucr)

    wl.page("JP", EVERYTHING, None, 200)
    while wl.step():
        pass
    flagged = line(ucrs[0])
    assert "R010" in [rule for rule, _ in flagged.fired] and flagged.expires_at == 50
    assert line(ucrs[1]).expires_at is None  # a flag naming another consignment is none of its business
    reader.gathered.clear()

    _index_block(store, 30)  # later, the flag still valid: nothing to recompute
    assert wl.step() == 0 and reader.gathered == []
    _index_block(store, 60)  # past the flag's validity, and no record of the consignment changed
    assert wl.step() == 1 and reader.gathered == [ucrs[0]]
    expired = line(ucrs[0])
    assert "R010" not in [rule for rule, _ in expired.fired] and expired.expires_at is None
    assert (expired.lane, expired.score) != (flagged.lane, flagged.score)
    assert wl.step() == 0
