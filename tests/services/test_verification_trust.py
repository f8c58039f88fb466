"""What a verification takes from the store as checked when a record was held, and what it
re-derives every time (services/verification.py): the signer a held record's signature
recovered to is kept with it and taken as is; its id (from its signed fields) and its
payload's hash are re-derived, so a stored payload or party changed after the record was
held is still caught. An evidence bundle carries no kept signer: it recovers every
signature again. No chain: a declaration accepted through the submission service and
placed in a block as the indexer would. On each store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from sqlalchemy import update
from support.postgres import STORES, database_url
from support.submissions import CHAIN_NONCE, DOMAIN, chainless_submissions, numbered_declaration, register_exporters

from ledger_api.domain.canonical import dumps
from ledger_api.domain.evidence import from_bundle
from ledger_api.domain.verification import verify
from ledger_api.services.verification import EvidenceReader
from ledger_api.store.db import Store
from ledger_api.store.tables import BlockRow, RecordRow, StateRow

EXPORTER = Account.from_key(keccak(text="verification trust exporter"))
SOMEONE = Account.from_key(keccak(text="verification trust, someone else"))


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store = Store(database_url(request, request.param) or f"sqlite:///{tmp_path / 'ledger.db'}")
    register_exporters(store, EXPORTER)
    yield store
    store.close()


@pytest.fixture
def held(store: Store) -> tuple[str, str]:
    """A declaration held here and included in block 2: its UCR and id."""
    submission = numbered_declaration(EXPORTER, 1, CHAIN_NONCE)
    rid = chainless_submissions(store).submit(submission).record_id
    with store.session() as session:
        session.merge(BlockRow(number=2, hash="0x" + "02" * 32, parent_hash="0x" + "01" * 32, timestamp=2))
        session.merge(StateRow(key="indexed_block", value="2"))
        session.execute(
            update(RecordRow)
            .where(RecordRow.id == rid)
            .values(status="included", block_number=2, block_hash="0x" + "02" * 32)
        )
    return submission.payload.ucr, rid


def _change(store: Store, rid: str, **values: object) -> None:
    """Changes a stored record behind the service's back."""
    with store.session() as session:
        session.execute(update(RecordRow).where(RecordRow.id == rid).values(**values))


def _checks(store: Store, ucr: str) -> dict[str, str]:
    gathered = EvidenceReader(store, DOMAIN, {}, 1).gather(ucr, "NL")
    return {c.name: c.reason.code for c in verify(gathered.input).checks}


def test_a_held_record_keeps_whom_its_signature_recovered_to_and_the_verdict_takes_it(store: Store, held):
    ucr, rid = held
    with store.session() as session:
        assert session.get(RecordRow, rid).signer == EXPORTER.address  # type: ignore[union-attr]
    gathered = EvidenceReader(store, DOMAIN, {}, 1).gather(ucr, "NL")
    (fact,) = gathered.input.records
    assert fact.signer == EXPORTER.address
    assert verify(gathered.input).check("RECORD_SIGNATURE").reason.code == "OK"


def test_a_stored_payload_changed_after_it_was_held_fails_payload_integrity(store: Store, held):
    ucr, rid = held
    with store.session() as session:
        payload = json.loads(session.get(RecordRow, rid).payload)  # type: ignore[union-attr, arg-type]
    payload["seals"] = ["NL-SEAL-FORGED"]
    _change(store, rid, payload=dumps(payload).decode())
    checks = _checks(store, ucr)
    assert checks["PAYLOAD_INTEGRITY"] == "PAYLOAD_HASH_MISMATCH"
    assert checks["RECORD_SIGNATURE"] == "OK"  # the record the chain knows is still signed by its party


def test_a_stored_party_changed_after_it_was_held_fails_record_signature_though_its_signer_is_changed_too(
    store: Store, held
):
    ucr, rid = held
    _change(store, rid, party=SOMEONE.address, signer=SOMEONE.address)
    assert _checks(store, ucr)["RECORD_SIGNATURE"] == "RECORD_ID_MISMATCH"


def test_a_record_held_before_signers_were_kept_has_its_signature_recovered(store: Store, held):
    ucr, rid = held
    _change(store, rid, signer=None)
    assert _checks(store, ucr)["RECORD_SIGNATURE"] == "OK"
    with store.session() as session:
        signature = bytearray(bytes.fromhex(session.get(RecordRow, rid).signature[2:]))  # type: ignore[union-attr, index]
    signature[5] ^= 1
    _change(store, rid, signature="0x" + signature.hex())
    assert _checks(store, ucr)["RECORD_SIGNATURE"] in ("SIGNER_MISMATCH", "SIGNATURE_INVALID")


def test_the_evidence_bundle_carries_no_kept_signer_and_recovers_every_signature_again(store: Store, held):
    ucr, _ = held
    gathered = EvidenceReader(store, DOMAIN, {}, 1).gather(ucr, "NL")
    bundle = json.loads(dumps(gathered.bundle()))
    assert "signer" not in bundle["records"][0]
    (fact,) = from_bundle(bundle).records
    assert fact.signer is None
    assert verify(from_bundle(bundle)).check("RECORD_SIGNATURE") == verify(gathered.input).check("RECORD_SIGNATURE")
    signature = bytearray(bytes.fromhex(bundle["records"][0]["signature"][2:]))
    signature[5] ^= 1
    bundle["records"][0]["signature"] = "0x" + signature.hex()
    assert verify(from_bundle(bundle)).check("RECORD_SIGNATURE").reason.code in ("SIGNER_MISMATCH", "SIGNATURE_INVALID")
