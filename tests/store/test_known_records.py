"""What the store knows of records (store/records.py): records written on chain by anyone
become chain facts in their place, and this instance's records that wanted that place or
nonce fail, naming them, with what was built on them; a copy of a record is held only
once it matches the chain (its id under this ledger's domain, its payload's hash, its
party's signature, or its inclusion proof in a root anchored on chain); a reorg forgets
what was learnt above the fork. No chain here: events come as the indexer hands them over,
records are signed for a made-up contract (support/submissions.py). On each store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from sqlalchemy import select, update
from support.chain_facts import Signed, learn, signed
from support.payloads import custody, declaration, transit
from support.postgres import STORES, database_url
from support.submissions import CHAIN_NONCE, DOMAIN, chainless_submissions, register_exporters

from ledger_api.domain.merkle import MerkleTree
from ledger_api.domain.parties import Role
from ledger_api.domain.records import (
    LedgerDomain,
    consignment_key,
    sign_record,
)
from ledger_api.errors import HoldRefused
from ledger_api.store import records
from ledger_api.store.db import Store
from ledger_api.store.tables import BatchRow, PartyRow, RecordRow, RouteRow

UCR = "6NL123456789-KNOWN-0001"
EXPORTER = Account.from_key(keccak(text="known records exporter"))
CARRIER = Account.from_key(keccak(text="known records carrier"))


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store = Store(database_url(request, request.param) or f"sqlite:///{tmp_path / 'ledger.db'}")
    register_exporters(store, EXPORTER)
    with store.session() as session:
        session.add(
            PartyRow(
                address=CARRIER.address,
                country="NL",
                roles=int(Role.CARRIER),
                status=1,
                is_authority=0,
                identifiers_hash="0x" + "00" * 32,
                registered_block=1,
                updated_block=1,
            )
        )
    yield store
    store.close()


def row(store: Store, rid: str) -> RecordRow:
    with store.session() as session:
        found = session.get(RecordRow, rid)
        assert found is not None
        return found


@pytest.fixture
def declared(store: Store) -> Signed:
    """The exporter's declaration, accepted here and written on chain in block 10."""
    d = signed(EXPORTER, declaration(UCR))
    chainless_submissions(store).submit(d.submission())
    learn(store, d.fact(10))
    return d


def test_a_record_someone_wrote_on_chain_is_a_chain_fact_in_the_place_after_its_previous(
    store: Store, declared: Signed
):
    handover = signed(EXPORTER, custody(UCR, "HANDOVER"), declared.id_bytes, CHAIN_NONCE + 1, CARRIER.address)
    learn(store, handover.fact(11))
    fact = row(store, handover.id)
    assert (fact.origin, fact.status, fact.position, fact.block_number) == ("chain", "included", 1, 11)
    assert (fact.payload, fact.signature, fact.ucr, fact.deadline, fact.route) == (None, None, None, None, None)
    assert (fact.party, fact.counterparty, fact.nonce) == (EXPORTER.address, CARRIER.address, str(CHAIN_NONCE + 1))
    assert row(store, declared.id).status == "included"


def test_a_record_on_chain_in_the_place_of_ours_fails_ours_naming_it_and_what_was_built_on_ours(
    store: Store, declared: Signed
):
    submissions = chainless_submissions(store)
    ours = signed(EXPORTER, custody(UCR, "HANDOVER"), declared.id_bytes, CHAIN_NONCE + 1, CARRIER.address)
    on_ours = signed(EXPORTER, transit(UCR, ["SG"]), ours.id_bytes, CHAIN_NONCE + 2)
    submissions.submit(ours.submission())
    submissions.submit(on_ours.submission())
    # The exporter wrote another record straight to the contract, with the same nonce.
    theirs = signed(EXPORTER, transit(UCR, ["LK"]), declared.id_bytes, CHAIN_NONCE + 1)
    learn(store, theirs.fact(12))
    assert (row(store, ours.id).status, row(store, ours.id).error) == (
        "failed",
        f"record {theirs.id} was written on chain in its place",
    )
    assert (row(store, on_ours.id).status, row(store, on_ours.id).error) == (
        "failed",
        f"record {ours.id}, which it follows, failed",
    )
    assert (row(store, theirs.id).status, row(store, theirs.id).position) == ("included", 1)


def test_a_record_on_chain_with_the_nonce_of_ours_in_another_consignment_fails_ours(store: Store, declared: Signed):
    ours = signed(EXPORTER, declaration("6NL123456789-KNOWN-0002"), nonce=CHAIN_NONCE + 1)
    chainless_submissions(store).submit(ours.submission())
    theirs = signed(EXPORTER, declaration("6NL123456789-KNOWN-0003"), nonce=CHAIN_NONCE + 1)
    learn(store, theirs.fact(12))
    assert row(store, ours.id).status == "failed" and theirs.id in (row(store, ours.id).error or "")


def test_a_copy_of_a_record_on_chain_is_held_once_it_matches_the_chain(store: Store, declared: Signed):
    handover = signed(EXPORTER, custody(UCR, "HANDOVER"), declared.id_bytes, CHAIN_NONCE + 1, CARRIER.address)
    learn(store, handover.fact(11))
    other = signed(EXPORTER, custody(UCR, "HANDOVER", "NLAMS"), declared.id_bytes, CHAIN_NONCE + 1, CARRIER.address)
    refusals = {
        "NOT_ON_CHAIN": (other.record, other.signature, other.canonical, DOMAIN),
        "PAYLOAD_HASH_MISMATCH": (handover.record, handover.signature, other.canonical, DOMAIN),
        "WRONG_SIGNER": (
            handover.record,
            sign_record(handover.record, DOMAIN, CARRIER.key),
            handover.canonical,
            DOMAIN,
        ),
        "BAD_SIGNATURE": (handover.record, b"\x01" * 65, handover.canonical, DOMAIN),
    }
    # Under another ledger's domain the same fields are another record: not the one on chain.
    elsewhere = LedgerDomain(DOMAIN.chain_id, "0x" + "22" * 20)
    refusals["NOT_ON_CHAIN (another ledger)"] = (
        handover.record,
        sign_record(handover.record, elsewhere, EXPORTER.key),
        handover.canonical,
        elsewhere,
    )
    for expected, (record, signature, canonical, domain) in refusals.items():
        with pytest.raises(HoldRefused) as refused, store.connection() as conn:
            records.hold(conn, domain, record, signature, canonical, "peer")
        assert refused.value.code == expected.split()[0], expected
        assert row(store, handover.id).payload is None

    with store.connection() as conn:
        assert (
            records.hold(conn, DOMAIN, handover.record, handover.signature, handover.canonical, "peer") == handover.id
        )
    held = row(store, handover.id)
    assert (held.origin, held.payload, held.ucr, held.status) == ("peer", handover.canonical.decode(), UCR, "included")
    assert held.signature == "0x" + handover.signature.hex() and held.route == "[]"
    with store.connection() as conn:  # again: the same record, left as it is
        assert (
            records.hold(conn, DOMAIN, handover.record, handover.signature, handover.canonical, "local") == handover.id
        )
    assert row(store, handover.id).origin == "peer"


def _anchor(store: Store, tree: MerkleTree, block: int = 20) -> None:
    with store.connection() as conn:
        root = "0x" + tree.root.hex()
        records.learn_anchor(conn, root, "0x" + "ab" * 20, 3, block, "0x" + "cd" * 32, "0x" + "ef" * 32)


def test_a_batch_record_of_a_root_someone_anchored_is_held_by_its_inclusion_proof(store: Store):
    ucr = "6NL123456789-KNOWN-0010"
    d = signed(EXPORTER, declaration(ucr))
    h = signed(EXPORTER, custody(ucr, "HANDOVER"), d.id_bytes, CHAIN_NONCE + 1, CARRIER.address)
    tree = MerkleTree([d.id_bytes, h.id_bytes, keccak(text="a record of another consignment")])
    root = tree.root

    def hold(s: Signed, proof: list[bytes], at: bytes = root) -> str:
        with store.connection() as conn:
            return records.hold_batch_record(conn, DOMAIN, s.record, s.signature, s.canonical, at, proof, "peer")

    with pytest.raises(HoldRefused) as refused:
        hold(d, tree.proof(d.id_bytes))
    assert refused.value.code == "ROOT_NOT_ANCHORED"
    _anchor(store, tree)
    with pytest.raises(HoldRefused) as refused:
        hold(d, tree.proof(h.id_bytes))
    assert refused.value.code == "PROOF_INVALID"
    with pytest.raises(HoldRefused) as refused:
        hold(h, tree.proof(h.id_bytes))
    assert refused.value.code == "PREVIOUS_NOT_HELD"

    assert hold(d, tree.proof(d.id_bytes)) == d.id
    assert hold(h, tree.proof(h.id_bytes)) == h.id
    first, second = row(store, d.id), row(store, h.id)
    assert (first.mode, first.status, first.block_number, first.position, second.position) == (
        "batch",
        "included",
        20,
        0,
        1,
    )
    assert first.batch_root == "0x" + root.hex() and first.proof is not None
    with store.session() as session:
        routes = session.execute(select(RouteRow.country, RouteRow.record_id)).all()
        assert sorted(routes) == [("JP", d.id), ("NL", d.id)]
        foreign = session.get(BatchRow, "0x" + root.hex())
        assert foreign is not None and (foreign.anchored_by, foreign.count, foreign.accepted_at) == (
            "0x" + "ab" * 20,
            3,
            None,
        )
    with store.connection() as conn:
        assert records.route_countries(conn, "0x" + consignment_key(ucr).hex()) == {"NL", "JP"}


def test_a_reorg_forgets_what_was_learnt_from_the_chain_above_the_fork_and_keeps_what_this_instance_sent(
    store: Store, declared: Signed
):
    """Above the fork: a chain fact, a copy of one held since (its writer's transaction may
    never be mined again: it is learnt again if it is), the route it added, a root
    someone else anchored. This instance's own records are put back in flight instead."""
    handover = signed(EXPORTER, custody(UCR, "HANDOVER"), declared.id_bytes, CHAIN_NONCE + 1, CARRIER.address)
    learn(store, handover.fact(15))
    with store.connection() as conn:
        records.hold(conn, DOMAIN, handover.record, handover.signature, handover.canonical, "local")
    with store.session() as session:  # the declaration too was mined above the fork
        session.execute(update(RecordRow).where(RecordRow.id == declared.id).values(block_number=14))
    key = "0x" + consignment_key(UCR).hex()
    with store.connection() as conn:
        records.learn_route(conn, key, ["NL", "JP"], 10, declared.id)
        records.learn_route(conn, key, ["SG"], 15, handover.id)
    _anchor(store, MerkleTree([keccak(text="x"), keccak(text="y")]), block=16)
    with store.connection() as conn:
        records.forget_above(conn, 12)
    with store.session() as session:
        assert session.get(RecordRow, handover.id) is None
        assert session.get(RecordRow, declared.id) is not None  # sent from here: the indexer puts it back in flight
        assert sorted(session.scalars(select(RouteRow.country))) == ["JP", "NL"]
        assert session.scalars(select(BatchRow)).all() == []


def test_routes_learnt_together_keep_the_block_each_country_joined_at(store: Store) -> None:
    """A step's RouteExtended events are learnt in one go, in chain order: a country keeps
    the block and record it first joined with, whether it was on the route before the
    step or came twice within it; each consignment gets only its own countries."""
    first, second = "0x" + consignment_key(UCR).hex(), "0x" + consignment_key(UCR + "-2").hex()
    with store.connection() as conn:
        records.learn_route(conn, first, ["NL", "JP"], 10, "0x" + "01" * 32)
        records.learn_routes(
            conn,
            [
                records.RouteFact(first, ["JP", "SG"], 11, "0x" + "02" * 32),
                records.RouteFact(second, ["DE", "US"], 11, "0x" + "03" * 32),
                records.RouteFact(first, ["SG", "MY", "MY"], 12, "0x" + "04" * 32),
            ],
        )
    with store.session() as session:
        routes = {
            (r.consignment, r.country): (r.block_number, r.record_id[2:4]) for r in session.scalars(select(RouteRow))
        }
    assert routes == {
        (first, "NL"): (10, "01"),
        (first, "JP"): (10, "01"),
        (first, "SG"): (11, "02"),
        (first, "MY"): (12, "04"),
        (second, "DE"): (11, "03"),
        (second, "US"): (11, "03"),
    }
