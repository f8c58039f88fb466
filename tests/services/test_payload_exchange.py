"""The payload exchange's choices, without a chain or a peer: what it asks for (records on
chain not held here, of consignments on its authority's route), whom it asks first (the
instance whose relayer sent the record), never itself, with a signed token for each
request, how long it waits before asking again, and what a copy the chain contradicts
leaves behind (nothing held, a refusal row naming the peer)."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account import Account
from eth_utils.crypto import keccak
from sqlalchemy import select

from ledger_api.domain import peer_tokens
from ledger_api.domain.endpoints import Endpoint
from ledger_api.domain.exchange import ServedRecord
from ledger_api.domain.receipts import SigningKey
from ledger_api.domain.records import (
    ZERO_ADDRESS,
    ZERO_HASH,
    LedgerDomain,
    Record,
    RecordKind,
    consignment_key,
    domain_separator,
    fast_record_id,
    sign_record,
)
from ledger_api.services.payload_exchange import BACKOFF, PayloadExchange
from ledger_api.store.db import Store
from ledger_api.store.peers import put_endpoint
from ledger_api.store.tables import BlockRow, EventRow, PayloadRefusalRow, RecordRow, RouteRow

DOMAIN = LedgerDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
NL, JP, SG = (Account.create().address for _ in range(3))
JP_RELAYER, SG_RELAYER, NL_RELAYER = (Account.create().address for _ in range(3))
PARTY = Account.create()
UCR = "6JP7010001008-UNIT-0001"
TX = "0x" + "ab" * 32


class Peers:
    """Answers each request from what a test says its URL serves; keeps who was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, dict[str, Any]]] = []
        self.serves: dict[str, list[ServedRecord] | None] = {}

    def records(
        self, base_url: str, path: str, authorization: Callable[[str], str], timeout: float | None = None
    ) -> list[ServedRecord] | None:
        token = authorization(path).split(" ", 1)[1]
        payload = token.split(".")[1]
        claims = json.loads(_b64(payload))
        self.asked.append((base_url, path, claims))
        return self.serves.get(base_url)


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield store
    store.close()


def _publish(store: Store, authority: str, country: str, url: str, relayer: str) -> None:
    key = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    with store.session() as session:
        put_endpoint(session, Endpoint(authority, country, url, "0x" + key.hex(), "0x" + "00" * 32, relayer, 1))


def _declaration(payload: dict[str, Any]) -> tuple[Record, bytes, str]:
    record = Record(
        consignment=consignment_key(UCR),
        kind=RecordKind.DECLARATION,
        payload_hash=_keccak(rfc8785.dumps(payload)),
        previous=ZERO_HASH,
        party=PARTY.address,
        counterparty=ZERO_ADDRESS,
        nonce=0,
        deadline=2_000_000_000,
        route=("JP", "NL"),
    )
    rid = "0x" + fast_record_id(record, domain_separator(DOMAIN)).hex()
    return record, sign_record(record, DOMAIN, PARTY.key), rid


def _keccak(data: bytes) -> bytes:
    return keccak(data)


def _on_chain(store: Store, record: Record, rid: str, countries: tuple[str, ...]) -> None:
    """What the indexer keeps of a record another instance's relayer wrote: its events, its
    row without payload (a chain fact) and its route."""
    consignment = "0x" + record.consignment.hex()
    with store.session() as session:
        session.add(BlockRow(number=5, hash="0x" + "05" * 32, parent_hash="0x" + "04" * 32, timestamp=0))
        session.flush()
        common = {"block_number": 5, "block_hash": "0x" + "05" * 32, "tx_hash": TX, "contract": "ConsignmentLedger"}
        session.add(
            EventRow(
                log_index=0,
                name="RecordWritten",
                record_id=rid,
                args=json.dumps({"consignment": consignment, "recordId": rid, "party": record.party}),
                **common,
            )
        )
        session.add(
            RecordRow(
                id=rid,
                consignment=consignment,
                position=0,
                kind=int(record.kind),
                party=record.party,
                counterparty=record.counterparty,
                previous="0x" + record.previous.hex(),
                payload_hash="0x" + record.payload_hash.hex(),
                nonce=str(record.nonce),
                mode="single",
                status="included",
                tx_hash=TX,
                block_number=5,
                block_hash="0x" + "05" * 32,
                origin="chain",
            )
        )
        for country in countries:
            session.add(RouteRow(consignment=consignment, country=country, block_number=5, record_id=rid))
        routes = ["0x" + c.encode().hex() for c in countries]
        session.add(
            EventRow(
                log_index=1,
                name="RouteExtended",
                record_id=rid,
                args=json.dumps({"consignment": consignment, "recordId": rid, "countries": routes}),
                **common,
            )
        )


def _exchange(store: Store, peers: Peers, clock: Clock, country: str = "NL") -> PayloadExchange:
    key = SigningKey.from_private(Ed25519PrivateKey.generate())
    return PayloadExchange(
        store,
        DOMAIN,
        NL,
        lambda: country,
        lambda: key,
        peers,
        lambda tx: SG_RELAYER if tx == TX else None,
        clock=clock,
        monotonic=clock,
    )


def _served(record: Record, signature: bytes, payload: dict[str, Any], rid: str) -> ServedRecord:
    return ServedRecord(rid, UCR, record, signature, rfc8785.dumps(payload), "single", None, None)


def test_the_instance_whose_relayer_sent_the_record_is_asked_first_then_the_others_never_itself(store: Store):
    peers, clock = Peers(), Clock()
    for authority, country, url, relayer in (
        (NL, "NL", "http://nl.example", NL_RELAYER),
        (JP, "JP", "http://jp.example", JP_RELAYER),
        (SG, "SG", "http://sg.example", SG_RELAYER),
    ):
        _publish(store, authority, country, url, relayer)
    record, _, rid = _declaration({"ucr": UCR})
    _on_chain(store, record, rid, ("JP", "NL"))

    assert _exchange(store, peers, clock).step() == 0

    assert [url for url, _, _ in peers.asked] == ["http://sg.example", "http://jp.example"]
    path = f"/v1/peer/consignments/0x{record.consignment.hex()}/records"
    assert all(p == path for _, p, _ in peers.asked)
    claims = [c for _, _, c in peers.asked]
    assert [(c["iss"], c["aud"], c["htm"], c["htu"]) for c in claims] == [(NL, SG, "GET", path), (NL, JP, "GET", path)]
    assert len({c["jti"] for c in claims}) == 2
    assert all(0 < c["exp"] - c["iat"] <= peer_tokens.MAX_LIFETIME for c in claims)


def test_a_record_not_obtained_is_asked_for_again_after_a_growing_pause(store: Store):
    peers, clock = Peers(), Clock()
    _publish(store, JP, "JP", "http://jp.example", JP_RELAYER)
    record, _, rid = _declaration({"ucr": UCR})
    _on_chain(store, record, rid, ("JP", "NL"))
    exchange = _exchange(store, peers, clock)

    asked_at = []
    for _ in range(40):
        before = len(peers.asked)
        exchange.step()
        if len(peers.asked) > before:
            asked_at.append(clock.now)
        clock.now += 0.5
    pauses = [b - a for a, b in itertools.pairwise(asked_at)]
    assert pauses[:3] == list(BACKOFF[:3])


def test_records_of_consignments_off_this_authoritys_route_are_not_asked_for(store: Store):
    peers, clock = Peers(), Clock()
    _publish(store, JP, "JP", "http://jp.example", JP_RELAYER)
    record, _, rid = _declaration({"ucr": UCR})
    _on_chain(store, record, rid, ("JP", "SG"))

    assert _exchange(store, peers, clock).step() == 0
    report = _exchange(store, peers, clock).fetch_missing(record.consignment, 1.0)

    assert peers.asked == []
    assert (report.jurisdiction, report.missing) == (False, 1)


def test_a_copy_that_hashes_to_another_payload_is_refused_kept_nowhere_and_names_the_peer(store: Store):
    peers, clock = Peers(), Clock()
    _publish(store, SG, "SG", "http://sg.example", SG_RELAYER)
    payload = {"ucr": UCR, "seals": ["JP-SEAL-1"]}
    record, signature, rid = _declaration(payload)
    _on_chain(store, record, rid, ("JP", "NL"))
    peers.serves["http://sg.example"] = [_served(record, signature, dict(payload, seals=["X"]), rid)]

    report = _exchange(store, peers, clock).fetch_missing(record.consignment, 1.0)

    assert (report.held, report.missing) == (0, 1)
    with store.session() as session:
        row = session.get(RecordRow, rid)
        assert row is not None and row.payload is None  # the chain fact alone
        refusals = session.scalars(select(PayloadRefusalRow)).all()
    assert [(r.record_id, r.peer_authority, r.peer_url) for r in refusals] == [(rid, SG, "http://sg.example")]
    assert refusals[0].reason.startswith("PAYLOAD_HASH_MISMATCH")


def test_a_copy_the_chain_vouches_for_is_held_with_its_block(store: Store):
    peers, clock = Peers(), Clock()
    _publish(store, SG, "SG", "http://sg.example", SG_RELAYER)
    payload = {"ucr": UCR, "seals": ["JP-SEAL-1"]}
    record, signature, rid = _declaration(payload)
    _on_chain(store, record, rid, ("JP", "NL"))
    peers.serves["http://sg.example"] = [_served(record, signature, payload, rid)]

    report = _exchange(store, peers, clock).fetch_missing(record.consignment, 1.0)

    assert (report.held, report.missing) == (1, 0)
    with store.session() as session:
        row = session.get(RecordRow, rid)
        assert row is not None
        assert (row.status, row.block_number, row.tx_hash, row.payload) == (
            "included",
            5,
            TX,
            rfc8785.dumps(payload).decode(),
        )
        assert session.scalars(select(PayloadRefusalRow)).all() == []
