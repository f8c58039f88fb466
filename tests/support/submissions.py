"""Records handed straight to the submission service (no HTTP), and the parties that may
sign them: registered on chain by an authority, or in a chainless store as the indexer
would have them. Without a chain, records are signed for a made-up contract (DOMAIN) and
the party's nonce on chain is a stub (CHAIN_NONCE)."""

from __future__ import annotations

import time
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import select, update

from ledger_api.chain.contracts import Contracts
from ledger_api.chain.deploy import Manifest
from ledger_api.domain.parties import Role, identifiers_hash
from ledger_api.domain.payloads import parse_payload, payload_hash, record_route_of
from ledger_api.domain.records import (
    ZERO_ADDRESS,
    ZERO_HASH,
    LedgerDomain,
    Record,
    RecordKind,
    consignment_key,
    sign_record,
)
from ledger_api.services.submission import Submission, Submissions
from ledger_api.store.db import Store
from ledger_api.store.tables import PartyRow, RecordRow

from .payloads import declaration

DOMAIN = LedgerDomain(31337, "0x" + "11" * 20)
CHAIN_NONCE = 5  # what the chain says before a party's first record


def signed_declaration(domain: LedgerDomain, key: LocalAccount, ucr: str, nonce: int = 0) -> Submission:
    """The declaration of a new consignment signed by `key`, as the submission service takes it."""
    payload = parse_payload(declaration(ucr))
    record = Record(
        consignment=consignment_key(payload.ucr),
        kind=RecordKind.DECLARATION,
        payload_hash=payload_hash(payload),
        previous=ZERO_HASH,
        party=key.address,
        counterparty=ZERO_ADDRESS,
        nonce=nonce,
        deadline=int(time.time()) + 3600,
        route=record_route_of(payload),
    )
    return Submission(record, sign_record(record, domain, key.key), payload)


# ---------------------------------------------------------------- on chain


def register_exporter(contracts: Contracts, manifest: Manifest, account: LocalAccount) -> None:
    """The first authority registers `account` as an exporter, and the transaction is mined."""
    authority = manifest.authorities[0]["address"]
    call = contracts.registry.functions.registerParty(account.address, int(Role.EXPORTER), identifiers_hash({"n": "x"}))
    contracts.w3.eth.wait_for_transaction_receipt(call.transact({"from": authority}))


# ---------------------------------------------------------------- without a chain


def register_exporters(store: Store, *keys: LocalAccount) -> None:
    """Active NL exporters in the store's index, as the indexer would have them."""
    with store.session() as session:
        for key in keys:
            session.add(
                PartyRow(
                    address=key.address,
                    country="NL",
                    roles=int(Role.EXPORTER),
                    status=1,
                    is_authority=0,
                    identifiers_hash="0x" + "00" * 32,
                    registered_block=1,
                    updated_block=1,
                )
            )


def chainless_submissions(store: Store) -> Submissions:
    """The submission service on `store`, every party's nonce on chain CHAIN_NONCE."""
    return Submissions(store, DOMAIN, lambda _party: CHAIN_NONCE)


def set_status(store: Store, party: str, nonce: int, status: str) -> None:
    """The stored status of `party`'s record of `nonce`, set as the relayer or indexer would."""
    with store.session() as session:
        session.execute(
            update(RecordRow).where(RecordRow.party == party, RecordRow.nonce == str(nonce)).values(status=status)
        )


def numbered_declaration(key: LocalAccount, n: int, nonce: int) -> Submission:
    """The declaration of consignment number `n` (6NL123456789-NN-nnnn), signed for DOMAIN."""
    return signed_declaration(DOMAIN, key, f"6NL123456789-NN-{n:04d}", nonce)


def step_until_settled(rt: Any, ids: list[str]) -> dict[str, RecordRow]:
    """Steps a stepped runtime's relayer and indexer until each record of `ids` is included,
    confirmed or failed: their rows then."""
    rows: dict[str, RecordRow] = {}
    for _ in range(50):
        rt.relayer.step()
        rt.indexer.step()
        with rt.store.session() as session:
            rows = {r.id: r for r in session.scalars(select(RecordRow).where(RecordRow.id.in_(ids)))}
        if all(r.status in ("included", "confirmed", "failed") for r in rows.values()):
            return rows
    raise AssertionError(f"records not settled: {[(r.id, r.status) for r in rows.values()]}")
