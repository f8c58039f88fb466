"""Copies of signed records received from other instances, held only once the chain vouches
for them, and the routes that say who may ask for them: the four store functions the
payload exchange (services/payload_exchange.py) and the peer service
(services/peer_records.py) call, and nothing else does.

A stand-in, with the names and signatures of helper B's store/records.py (TASK-B: chain
facts in the store), which is not on this branch yet. There a record learnt from the
chain is a row without payload that `hold` completes; here, on main's schema, a record
another instance wrote is known only by its events (RecordWritten, RouteExtended,
RootAnchored in `events`), and `hold` inserts the checked copy as an included row, in the
block its event (or its root's anchor) was mined in. When B's module lands these four
become its: `hold`, `hold_batch_record`, `route_countries`, `log_refusal`.

HoldRefused codes, as B's:

    NOT_ON_CHAIN            no record with this id (under this ledger's EIP-712 domain) is on chain
    PAYLOAD_HASH_MISMATCH   keccak256(payload) is not the record's payloadHash
    BAD_SIGNATURE           the signature is malformed or malleable (high s)
    WRONG_SIGNER            the signature recovers to someone other than the record's party
    ROOT_NOT_ANCHORED       (batch) the root is not anchored on chain
    PROOF_INVALID           (batch) the inclusion proof does not lead from the record's id to the root
    PREVIOUS_NOT_HELD       the record before it in its consignment is not held yet
    PLACE_TAKEN             a live record holds its place in the consignment or its party's nonce
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from eth_utils.crypto import keccak
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from ledger_api.domain import merkle
from ledger_api.domain.records import (
    ZERO_HASH,
    LedgerDomain,
    Record,
    RecordKind,
    SignatureError,
    consignment_key,
    domain_separator,
    fast_record_id,
    fast_recover,
)
from ledger_api.errors import HoldRefused
from ledger_api.store.tables import EVENTS, RECORDS, REFUSALS, route_of, route_text

Origin = Literal["local", "chain", "peer"]

_c = RECORDS.c


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def hold(
    conn: Connection,
    domain: LedgerDomain,
    record: Record,
    signature: bytes,
    payload_canonical: bytes,
    origin: Origin,
) -> str:
    """Keeps a signed record and its payload once checked: its id, recomputed from its
    signed fields under `domain` (this ledger's EIP-712 domain), was written on chain
    (RecordWritten); keccak256 of `payload_canonical` is its payloadHash; `signature`
    recovers to its party. Returns the id; a record held already is left as it is."""
    rid = _hex(fast_record_id(record, domain_separator(domain)))
    if _held(conn, rid):
        return rid
    written = conn.execute(
        select(EVENTS.c.block_number, EVENTS.c.block_hash, EVENTS.c.tx_hash).where(
            EVENTS.c.name == "RecordWritten", EVENTS.c.record_id == rid
        )
    ).first()
    if written is None:
        raise HoldRefused("NOT_ON_CHAIN", f"no record {rid} is on chain under this ledger's domain")
    _check_copy(rid, record, signature, payload_canonical)
    _insert(conn, rid, record, signature, payload_canonical, written, mode="single", root=None)
    return rid


def hold_batch_record(
    conn: Connection,
    domain: LedgerDomain,
    record: Record,
    signature: bytes,
    payload_canonical: bytes,
    root: bytes,
    proof: Sequence[bytes],
    origin: Origin,
) -> str:
    """Keeps a batch record another instance anchored once checked: `proof` leads from its
    id (recomputed under `domain`) to `root`, anchored on chain (RootAnchored); its payload
    hashes to its payloadHash; its signature is its party's. Returns the id."""
    rid_bytes = fast_record_id(record, domain_separator(domain))
    rid = _hex(rid_bytes)
    if _held(conn, rid):
        return rid
    anchored = conn.execute(
        select(EVENTS.c.block_number, EVENTS.c.block_hash, EVENTS.c.tx_hash).where(
            EVENTS.c.name == "RootAnchored", EVENTS.c.args.contains(_hex(root))
        )
    ).first()
    if anchored is None:
        raise HoldRefused("ROOT_NOT_ANCHORED", f"root {_hex(root)} is not anchored on chain")
    if not merkle.verify(root, rid_bytes, proof):
        raise HoldRefused("PROOF_INVALID", f"the proof does not lead from record {rid} to root {_hex(root)}")
    _check_copy(rid, record, signature, payload_canonical)
    _insert(conn, rid, record, signature, payload_canonical, anchored, mode="batch", root=_hex(root))
    return rid


def _held(conn: Connection, rid: str) -> bool:
    return conn.execute(select(_c.id).where(_c.id == rid, _c.status != "failed")).first() is not None


def _check_copy(rid: str, record: Record, signature: bytes, payload_canonical: bytes) -> None:
    digest = keccak(payload_canonical)
    if digest != record.payload_hash:
        raise HoldRefused(
            "PAYLOAD_HASH_MISMATCH",
            f"the payload of record {rid} hashes to {_hex(digest)}, not to its payloadHash {_hex(record.payload_hash)}",
        )
    try:
        signer = fast_recover(bytes.fromhex(rid[2:]), signature)
    except SignatureError as exc:
        raise HoldRefused("BAD_SIGNATURE", f"the signature of record {rid}: {exc}") from exc
    if signer != record.party:
        raise HoldRefused("WRONG_SIGNER", f"record {rid} is signed by {signer}, not by its party {record.party}")


def _insert(
    conn: Connection,
    rid: str,
    record: Record,
    signature: bytes,
    payload_canonical: bytes,
    mined: Any,
    *,
    mode: str,
    root: str | None,
) -> None:
    """The checked copy as an included row, after the record before it (held: its position)."""
    if record.kind == RecordKind.DECLARATION and record.previous == ZERO_HASH:
        position = 0
    else:
        before = conn.scalar(select(_c.position).where(_c.id == _hex(record.previous), _c.status != "failed"))
        if before is None:
            raise HoldRefused("PREVIOUS_NOT_HELD", f"record {_hex(record.previous)} before {rid} is not held yet")
        position = before + 1
    ucr = _ucr_of(payload_canonical, record.consignment)
    if ucr is None:  # main's records need one (B's schema keeps such a copy, its UCR unknown): not the peer's fault
        raise HoldRefused("NO_UCR", f"the payload of record {rid} names no UCR of its consignment")
    try:  # the caller's transaction is this copy's alone: a refusal rolls it back
        conn.execute(
            insert(RECORDS),
            {
                "id": rid,
                "consignment": _hex(record.consignment),
                "ucr": ucr,
                "position": position,
                "kind": int(record.kind),
                "party": record.party,
                "counterparty": record.counterparty,
                "previous": _hex(record.previous),
                "payload_hash": _hex(record.payload_hash),
                "nonce": str(record.nonce),
                "deadline": str(record.deadline),
                "route": route_text(record.route),
                "signature": _hex(signature),
                "payload": payload_canonical.decode(),
                "mode": mode,
                "batch_root": root,
                "status": "included",
                "tx_hash": mined.tx_hash,
                "block_number": mined.block_number,
                "block_hash": mined.block_hash,
                "accepted_at": datetime.now(UTC),
            },
        )
    except IntegrityError as exc:
        raise HoldRefused("PLACE_TAKEN", f"a live record holds the place or the nonce of record {rid}") from exc


def _ucr_of(payload_canonical: bytes, consignment: bytes) -> str | None:
    try:
        ucr = json.loads(payload_canonical).get("ucr")
    except (ValueError, AttributeError):
        return None
    if isinstance(ucr, str) and len(ucr) <= 35 and consignment_key(ucr) == consignment:
        return ucr
    return None


def route_countries(conn: Connection, consignment: str) -> set[str]:
    """The countries on a consignment's route (0x key): those the chain added
    (RouteExtended) and those a held declaration or transit not failed signed (a batch
    consignment's route is only in its held records)."""
    countries: set[str] = set()
    for (args,) in conn.execute(
        select(EVENTS.c.args).where(EVENTS.c.name == "RouteExtended", EVENTS.c.args.contains(consignment))
    ):
        decoded = json.loads(args)
        if str(decoded.get("consignment", "")).lower() == consignment:
            countries.update(bytes.fromhex(c[2:]).decode("ascii", "replace") for c in decoded["countries"])
    rows = conn.execute(
        select(_c.kind, _c.route, _c.payload).where(
            _c.consignment == consignment,
            _c.kind.in_([int(RecordKind.DECLARATION), int(RecordKind.TRANSIT)]),
            _c.status != "failed",
            _c.payload.is_not(None),
        )
    ).all()
    for kind, route, payload in rows:
        countries.update(route_of(route))
        if kind == RecordKind.DECLARATION and route is None:  # a row stored before routes were signed
            declaration = json.loads(payload)
            countries.update({declaration.get("origin_country"), declaration.get("destination_country")} - {None})
    return countries


def log_refusal(conn: Connection, record_id: str, peer_authority: str, peer_url: str, reason: str) -> None:
    """Keeps a refused payload's trace: which record, which peer (authority and URL), why."""
    conn.execute(
        insert(REFUSALS),
        {
            "record_id": record_id,
            "peer_authority": peer_authority,
            "peer_url": peer_url,
            "reason": reason,
            "at": datetime.now(UTC),
        },
    )
