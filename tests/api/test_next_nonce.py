"""The nonce a party's next single-mode record must carry, as submissions check it. It is
remembered between posts (asking the maximum over all the party's records every time
grew with its history), and the remembered value must still give way to the store: the
party's last record failed on chain, a write that was never committed, another service
instance that accepted the next record. No chain here: the party's nonce on chain is a
stub, and the records are signed for a made-up contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from sqlalchemy import delete
from support.postgres import STORES, database_url
from support.submissions import CHAIN_NONCE, chainless_submissions, numbered_declaration, register_exporters, set_status

from ledger_api.errors import ConflictingSubmission
from ledger_api.store.db import Store
from ledger_api.store.tables import RecordRow


@pytest.fixture
def exporter() -> LocalAccount:
    return Account.from_key(keccak(text="next nonce exporter"))


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path, exporter: LocalAccount) -> Iterator[Store]:
    store = Store(database_url(request, request.param) or f"sqlite:///{tmp_path / 'ledger.db'}")
    register_exporters(store, exporter)
    yield store
    store.close()


def test_the_next_nonce_follows_accepted_records_and_refuses_any_other(store: Store, exporter: LocalAccount):
    submissions = chainless_submissions(store)
    assert submissions.next_nonce(exporter.address) == CHAIN_NONCE
    for n in range(3):
        submissions.submit(numbered_declaration(exporter, n, CHAIN_NONCE + n))
        assert submissions.next_nonce(exporter.address) == CHAIN_NONCE + n + 1
    for wrong in (CHAIN_NONCE + 2, CHAIN_NONCE + 4):
        with pytest.raises(ConflictingSubmission) as refused:
            submissions.submit(numbered_declaration(exporter, 10 + wrong, wrong))
        assert refused.value.code == "NONCE_MISMATCH"


def test_a_failed_last_record_gives_its_nonce_back(store: Store, exporter: LocalAccount):
    submissions = chainless_submissions(store)
    for n in range(3):
        submissions.submit(numbered_declaration(exporter, n, CHAIN_NONCE + n))
    set_status(store, exporter.address, CHAIN_NONCE + 2, "failed")  # as the relayer marks a revert
    assert submissions.next_nonce(exporter.address) == CHAIN_NONCE + 2


def test_a_remembered_nonce_whose_record_is_not_in_the_store_is_asked_again(store: Store, exporter: LocalAccount):
    submissions = chainless_submissions(store)
    for n in range(3):
        submissions.submit(numbered_declaration(exporter, n, CHAIN_NONCE + n))
    with store.session() as session:  # as if the last write's transaction had never committed
        session.execute(delete(RecordRow).where(RecordRow.nonce == str(CHAIN_NONCE + 2)))
    assert submissions.next_nonce(exporter.address) == CHAIN_NONCE + 2


def test_a_record_accepted_by_another_instance_moves_the_next_nonce_of_this_one(store: Store, exporter: LocalAccount):
    here, there = chainless_submissions(store), chainless_submissions(store)
    here.submit(numbered_declaration(exporter, 0, CHAIN_NONCE))
    assert here.next_nonce(exporter.address) == CHAIN_NONCE + 1
    there.submit(numbered_declaration(exporter, 1, CHAIN_NONCE + 1))
    assert here.next_nonce(exporter.address) == CHAIN_NONCE + 2
    here.submit(numbered_declaration(exporter, 2, CHAIN_NONCE + 2))
