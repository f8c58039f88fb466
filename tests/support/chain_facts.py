"""Signed records as their parties hold them, and the RecordWritten the chain would emit
for each, for tests of what the store and the services know without a chain: records
are signed for support.submissions' made-up contract (DOMAIN), events are handed to
store/records.learn_written as the indexer hands them over."""

from __future__ import annotations

import time
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from ledger_api.domain.payloads import canonical_json, parse_payload, payload_hash, record_route_of
from ledger_api.domain.records import (
    ZERO_ADDRESS,
    ZERO_HASH,
    Record,
    RecordKind,
    consignment_key,
    record_id,
    sign_record,
)
from ledger_api.services.submission import Submission
from ledger_api.store import records
from ledger_api.store.db import Store
from ledger_api.store.records import WrittenFact
from ledger_api.store.tables import PartyRow

from .submissions import CHAIN_NONCE, DOMAIN


class Signed:
    """A signed record with its payload, as its party holds it."""

    def __init__(self, key: LocalAccount, payload: dict[str, Any], previous: bytes, nonce: int, counterparty: str):
        parsed = parse_payload(payload)
        self.payload = parsed
        self.canonical = canonical_json(parsed)
        self.record = Record(
            consignment=consignment_key(parsed.ucr),
            kind=RecordKind[parsed.kind],
            payload_hash=payload_hash(parsed),
            previous=previous,
            party=key.address,
            counterparty=counterparty,
            nonce=nonce,
            deadline=int(time.time()) + 3600,
            route=record_route_of(parsed),
        )
        self.signature = sign_record(self.record, DOMAIN, key.key)
        self.id = "0x" + record_id(self.record, DOMAIN).hex()

    @property
    def id_bytes(self) -> bytes:
        return bytes.fromhex(self.id[2:])

    @property
    def consignment(self) -> str:
        return "0x" + self.record.consignment.hex()

    def submission(self) -> Submission:
        return Submission(self.record, self.signature, self.payload)

    def fact(self, block: int) -> WrittenFact:
        """Its RecordWritten, in block `block`."""
        r = self.record
        return WrittenFact(
            record_id=self.id,
            consignment=self.consignment,
            kind=int(r.kind),
            party=r.party,
            counterparty=r.counterparty,
            previous="0x" + r.previous.hex(),
            payload_hash="0x" + r.payload_hash.hex(),
            nonce=r.nonce,
            block=block,
            block_hash="0x" + keccak(text=f"block {block}").hex(),
            tx_hash="0x" + keccak(text=f"tx of {self.id}").hex(),
        )


def signed(
    key: LocalAccount,
    payload: dict[str, Any],
    previous: bytes = ZERO_HASH,
    nonce: int = CHAIN_NONCE,
    counterparty: str = ZERO_ADDRESS,
) -> Signed:
    return Signed(key, payload, previous, nonce, counterparty)


def learn(store: Store, *facts: WrittenFact) -> None:
    """The indexer's part: records written on chain, in chain order."""
    with store.connection() as conn:
        records.learn_written(conn, list(facts))


def register_party(store: Store, key: LocalAccount, roles: int, country: str) -> None:
    """An active party in the store's index, as the indexer would have it."""
    with store.session() as session:
        session.add(
            PartyRow(
                address=key.address,
                country=country,
                roles=roles,
                status=1,
                is_authority=0,
                identifiers_hash="0x" + "00" * 32,
                registered_block=1,
                updated_block=1,
            )
        )
