"""The facts a verification is made of: a consignment's records as indexed, the parties'
role and status history, and the exporter's AEO recognition. Gathered by the service
from its index (or read from an evidence bundle), then handed to the pure checks in
verification.py and the risk rules in risk.py: nothing here does I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger_api.domain.recognition import Recognition
from ledger_api.domain.records import LedgerDomain, Record


@dataclass(frozen=True)
class PayloadRefusal:
    """A copy of a record's payload a peer served that did not match the chain."""

    peer_authority: str  # the serving instance's authority (address)
    peer_url: str
    reason: str


@dataclass(frozen=True)
class RecordFact:
    """One record of the consignment, in hash-chain order, with where it stands on chain.

    A record not held (`held` False) is known from the chain alone (RecordWritten): its
    `record` carries the chain's facts, the route the chain says it added (RouteExtended)
    and deadline 0; it has no signature and no payload, and `refusals` lists the copies
    peers served of it that did not match the chain."""

    id: str  # 0x… EIP-712 digest, as the chain knows it
    record: Record  # the signed message (not held: its chain facts)
    signature: bytes | None
    payload: dict[str, Any] | None  # the stored payload (canonical JSON parsed), None if missing
    payload_canonical: bytes | None  # the exact bytes whose keccak256 must be record.payload_hash
    mode: str  # "single" (its own transaction) or "batch" (leaf of a Merkle root)
    block_number: int | None  # block of its transaction (single) or of its root's anchor (batch)
    block_hash: str | None
    block_timestamp: int | None  # unix seconds
    confirmations: int
    batch_root: str | None = None
    inclusion_proof: list[str] | None = None  # sibling hashes, leaf to root (batch mode)
    root_anchored_block: int | None = None  # where the chain says the root was anchored (batch)
    written_on_chain: bool | None = None  # single mode: a RecordWritten event with this id exists
    held: bool = True  # the signed record and its payload are known, not only its chain facts
    refusals: tuple[PayloadRefusal, ...] = ()
    # Whom `signature` recovered to when the verifying service held the record (it refuses a
    # copy whose signature recovers to anyone but its party): RECORD_SIGNATURE takes it
    # instead of recovering again, once the record's id is re-derived from its fields.
    # None (an evidence bundle, a record held before it was kept): recovered here.
    signer: str | None = None


@dataclass(frozen=True)
class PartyCheckpoint:
    """A party's roles and status from `from_block` on (PartyRegistry history)."""

    from_block: int
    roles: int
    status: int  # 0 none, 1 active, 2 suspended, 3 revoked


@dataclass(frozen=True)
class PartyFact:
    address: str
    country: str
    registered_block: int
    history: tuple[PartyCheckpoint, ...]  # ordered by from_block

    def at(self, block: int) -> PartyCheckpoint | None:
        """Roles and status as of the end of `block`, or None before registration."""
        current = None
        for checkpoint in self.history:
            if checkpoint.from_block <= block:
                current = checkpoint
            else:
                break
        return current


@dataclass(frozen=True)
class VerificationInput:
    ucr: str
    consignment: bytes  # keccak256(ucr)
    domain: LedgerDomain
    records: tuple[RecordFact, ...]  # hash-chain order: declaration first
    parties: dict[str, PartyFact]  # by checksummed address
    verifying_country: str
    as_of_block: int
    confirmations_required: int
    recognition: Recognition | None = None  # the exporter's, by the verifying country
    chain_id: int = 0
    contracts: dict[str, str] = field(default_factory=dict)
    # The consignment's head on chain as of the block (the id of its last RecordWritten),
    # None when not known (a consignment anchored in batches has none on chain).
    chain_head: str | None = None
