"""Reads, all from the store and the chain index: a record with its status,
confirmations and inclusion proof; a consignment's history and custody; a party.

A consignment's custodian, pending handover and route are those of its records on chain,
whoever wrote them, then of this instance's records not yet on chain that still follow
(domain/custody.consignment_state, as submission reads them). A record learnt from the
chain whose payload is not held here is listed with its chain facts: `held` false, and
no payload, signature, route or deadline."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ledger_api.domain.custody import consignment_state
from ledger_api.domain.merkle import MerkleTree
from ledger_api.domain.parties import PartyName, role_names, status_name
from ledger_api.domain.records import ZERO_ADDRESS, RecordKind, consignment_key
from ledger_api.errors import NotFound
from ledger_api.store import index
from ledger_api.store import records as known
from ledger_api.store.db import Store
from ledger_api.store.directory import names_of
from ledger_api.store.tables import RecordRow, route_of


@dataclass(frozen=True)
class RecordView:
    """A record as the API shows it (api/schemas.py RecordOut has the same fields)."""

    id: str
    status: str  # accepted | submitted | confirmed | failed
    ucr: str | None  # None: no held record of its consignment names it
    consignment: str
    position: int
    kind: str
    party: str
    counterparty: str | None
    previous: str
    payload_hash: str
    nonce: str
    route: list[str] | None  # None when not held
    signature: str | None
    payload: dict[str, Any] | None
    held: bool  # its signed record and payload are here (False: only its chain facts)
    mode: str
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None
    confirmations: int
    batch_root: str | None
    inclusion_proof: list[str] | None
    error: str | None
    accepted_at: str | None  # when it was held here


@dataclass(frozen=True)
class ConsignmentView:
    ucr: str
    consignment: str
    mode: str
    custodian: str
    pending_custodian: str | None
    exporter: str
    route: list[str]  # origin, destination, then the transit countries in the order added
    records: list[RecordView]
    parties: dict[str, PartyName]  # the registered parties its records name, by address


@dataclass(frozen=True)
class PartyView:
    address: str
    country: str
    roles: list[str]
    status: str
    is_authority: bool
    identifiers_hash: str
    registered_block: int
    updated_block: int
    next_nonce: int
    name: str | None
    identifiers: dict[str, str] | None


class Queries:
    def __init__(self, store: Store, confirmations: int, next_nonce: Callable[[str], int]) -> None:
        self.store = store
        self.confirmations = confirmations
        self.next_nonce = next_nonce

    def record(self, record_id: str) -> RecordView:
        with self.store.session() as session:
            row = known.record(session, record_id.lower())
            if row is None:
                raise NotFound(f"no record {record_id}")
            proof = None
            if row.proof is not None:  # kept at acceptance, or received with another instance's batch record
                proof = json.loads(row.proof)
            elif row.batch_root is not None:
                ids = known.batch_member_ids(session, row.batch_root)
                tree = MerkleTree([bytes.fromhex(i[2:]) for i in ids])
                proof = ["0x" + p.hex() for p in tree.proof(bytes.fromhex(row.id[2:]))]
            ucr = row.ucr or known.consignment_ucr(session, row.consignment)
            return self._view(row, ucr, self._head(session), proof)

    def record_status(self, record_id: str) -> str | None:
        """The record's status as record() tells it, None if there is no such record: two
        indexed reads, for a wait that looks often."""
        with self.store.session() as session:
            found = known.status(session.connection(), record_id.lower())
            if found is None:
                return None
            return self._status(*found, self._head(session))

    def consignment(self, ucr: str) -> ConsignmentView:
        key = "0x" + consignment_key(ucr).hex()
        with self.store.session() as session:
            rows = known.consignment_records(session, key)
            if not rows:
                raise NotFound(f"no consignment {ucr}")
            head = self._head(session)
            views = [self._view(r, ucr, head, None) for r in rows]
            parties = names_of(session, [a for r in rows for a in (r.party, r.counterparty)])
            conn = session.connection()
            reading = known.reading(conn, known.consignment_rows(conn, [key]))
        state = consignment_state(reading.on_chain, reading.pending).state
        pending = state.pending_custodian
        live = [r for r in rows if r.status != "failed"] or list(rows)
        return ConsignmentView(
            ucr=ucr,
            consignment=key,
            mode=live[0].mode,
            custodian=state.custodian,
            pending_custodian=None if pending == ZERO_ADDRESS else pending,
            exporter=state.exporter,
            route=list(state.route),
            records=views,
            parties=parties,
        )

    def party(self, address: str) -> PartyView:
        with self.store.session() as session:
            row = index.party(session, address)
            if row is None:
                raise NotFound(f"no party {address}")
            named = names_of(session, [address])[address]
            return PartyView(
                address=row.address,
                country=row.country,
                roles=role_names(row.roles),
                status=status_name(row.status),
                is_authority=bool(row.is_authority),
                identifiers_hash=row.identifiers_hash,
                registered_block=row.registered_block,
                updated_block=row.updated_block,
                next_nonce=self.next_nonce(row.address),
                name=named.name,
                identifiers=named.identifiers,
            )

    def indexed_block(self) -> int:
        with self.store.session() as session:
            return self._head(session)

    # ------------------------------------------------------------ helpers

    def _head(self, session: Session) -> int:
        return index.indexed_block(session) or 0

    def _status(self, stored: str, block_number: int | None, head: int) -> str:
        """An included record is confirmed once its block has enough on top, counting its own."""
        if stored != "included":
            return stored
        return "confirmed" if _confirmations(block_number, head) >= self.confirmations else "submitted"

    def _view(self, row: RecordRow, ucr: str | None, head: int, proof: list[str] | None) -> RecordView:
        return RecordView(
            id=row.id,
            status=self._status(row.status, row.block_number, head),
            ucr=row.ucr or ucr,
            consignment=row.consignment,
            position=row.position,
            kind=RecordKind(row.kind).name,
            party=row.party,
            counterparty=None if row.counterparty == ZERO_ADDRESS else row.counterparty,
            previous=row.previous,
            payload_hash=row.payload_hash,
            nonce=row.nonce,
            route=None if row.payload is None else list(route_of(row.route)),
            signature=row.signature,
            payload=None if row.payload is None else json.loads(row.payload),
            held=row.payload is not None,
            mode=row.mode,
            tx_hash=row.tx_hash,
            block_number=row.block_number,
            block_hash=row.block_hash,
            confirmations=_confirmations(row.block_number, head),
            batch_root=row.batch_root,
            inclusion_proof=proof,
            error=row.error,
            accepted_at=None if row.accepted_at is None else row.accepted_at.isoformat(),
        )


def _confirmations(block_number: int | None, head: int) -> int:
    return 0 if block_number is None else max(0, head - block_number + 1)
