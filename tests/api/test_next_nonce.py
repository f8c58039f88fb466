"""The nonce a party's next single-mode record must carry, as submissions check it. It is
remembered between posts (asking the maximum over all the party's records every time
grew with its history), and the remembered value must still give way to the store: the
party's last record failed on chain, a write that was never committed, another service
instance that accepted the next record. No chain here: the party's nonce on chain is a
stub, and the records are signed for a made-up contract."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from payload_examples import declaration
from sqlalchemy import delete, update

from api.conftest import ROLES
from ledger_api.domain.payloads import parse_payload, payload_hash
from ledger_api.domain.records import (
    ZERO_ADDRESS,
    LedgerDomain,
    Record,
    RecordKind,
    consignment_key,
    sign_record,
)
from ledger_api.errors import ConflictingSubmission
from ledger_api.services.submission import Submission, Submissions
from ledger_api.store.db import Store
from ledger_api.store.tables import PartyRow, RecordRow

DOMAIN = LedgerDomain(31337, "0x" + "11" * 20)
CHAIN_NONCE = 5  # what the chain says before the party's first record


@pytest.fixture
def exporter() -> LocalAccount:
    return Account.from_key(keccak(text="next nonce exporter"))


@pytest.fixture
def store(tmp_path: Path, exporter: LocalAccount) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    register_exporters(store, exporter)
    return store


def register_exporters(store: Store, *keys: LocalAccount) -> None:
    """Active NL exporters in the store's index, as the indexer would have them."""
    with store.session() as session:
        for key in keys:
            session.add(
                PartyRow(
                    address=key.address,
                    country="NL",
                    roles=ROLES["EXPORTER"],
                    status=1,
                    is_authority=0,
                    identifiers_hash="0x" + "00" * 32,
                    registered_block=1,
                    updated_block=1,
                )
            )


def _submissions(store: Store) -> Submissions:
    return Submissions(store, DOMAIN, lambda _party: CHAIN_NONCE)


def _declaration(key: LocalAccount, n: int, nonce: int) -> Submission:
    payload = parse_payload(declaration(f"6NL123456789-NN-{n:04d}"))
    record = Record(
        consignment=consignment_key(payload.ucr),
        kind=RecordKind.DECLARATION,
        payload_hash=payload_hash(payload),
        previous=bytes(32),
        party=key.address,
        counterparty=ZERO_ADDRESS,
        nonce=nonce,
        deadline=int(time.time()) + 3600,
    )
    return Submission(record, sign_record(record, DOMAIN, key.key), payload)


def _set_status(store: Store, party: str, nonce: int, status: str) -> None:
    with store.session() as session:
        session.execute(
            update(RecordRow).where(RecordRow.party == party, RecordRow.nonce == str(nonce)).values(status=status)
        )


def test_the_next_nonce_follows_accepted_records_and_refuses_any_other(store: Store, exporter: LocalAccount):
    submissions = _submissions(store)
    assert submissions.next_nonce(exporter.address) == CHAIN_NONCE
    for n in range(3):
        submissions.submit(_declaration(exporter, n, CHAIN_NONCE + n))
        assert submissions.next_nonce(exporter.address) == CHAIN_NONCE + n + 1
    for wrong in (CHAIN_NONCE + 2, CHAIN_NONCE + 4):
        with pytest.raises(ConflictingSubmission) as refused:
            submissions.submit(_declaration(exporter, 10 + wrong, wrong))
        assert refused.value.code == "NONCE_MISMATCH"


def test_a_failed_last_record_gives_its_nonce_back(store: Store, exporter: LocalAccount):
    submissions = _submissions(store)
    for n in range(3):
        submissions.submit(_declaration(exporter, n, CHAIN_NONCE + n))
    _set_status(store, exporter.address, CHAIN_NONCE + 2, "failed")  # as the relayer marks a revert
    assert submissions.next_nonce(exporter.address) == CHAIN_NONCE + 2


def test_a_remembered_nonce_whose_record_is_not_in_the_store_is_asked_again(store: Store, exporter: LocalAccount):
    submissions = _submissions(store)
    for n in range(3):
        submissions.submit(_declaration(exporter, n, CHAIN_NONCE + n))
    with store.session() as session:  # as if the last write's transaction had never committed
        session.execute(delete(RecordRow).where(RecordRow.nonce == str(CHAIN_NONCE + 2)))
    assert submissions.next_nonce(exporter.address) == CHAIN_NONCE + 2


def test_a_record_accepted_by_another_instance_moves_the_next_nonce_of_this_one(store: Store, exporter: LocalAccount):
    here, there = _submissions(store), _submissions(store)
    here.submit(_declaration(exporter, 0, CHAIN_NONCE))
    assert here.next_nonce(exporter.address) == CHAIN_NONCE + 1
    there.submit(_declaration(exporter, 1, CHAIN_NONCE + 1))
    assert here.next_nonce(exporter.address) == CHAIN_NONCE + 2
    here.submit(_declaration(exporter, 2, CHAIN_NONCE + 2))
