"""Records and routes as the chain and this instance know them: every SQL statement about
chain facts, held copies and consignments' routes, for the indexer, submission, the reads
and the peer fetcher.

A record row is known in one of three ways (`records.origin`):
- "local": posted here, its signed record and payload held;
- "chain": learnt from the chain (a RecordWritten of anyone's): its chain facts only (id,
  consignment, kind, party, counterparty, previous, payload hash, nonce, block), not held;
- "peer": fetched from another instance and checked against the chain before it was kept.

The chain decides: a record written on chain takes its place in its consignment and its
party's nonce, and this instance's live records that wanted either fail, naming it
(`learn_written`); what was built on a failed record fails too (`fail_built_on_failed`),
so that nothing built on a displaced head is ever sent.

Holding a copy (`hold`, `hold_batch_record`) checks it against the chain first and raises
HoldRefused with one of these codes:

    NOT_ON_CHAIN            no record with this id (under this ledger's EIP-712 domain) is on chain
    PAYLOAD_HASH_MISMATCH   keccak256(payload) is not the record's payloadHash
    BAD_SIGNATURE           the signature is malformed or malleable (high s)
    WRONG_SIGNER            the signature recovers to someone other than the record's party
    ROOT_NOT_ANCHORED       (batch) the root is not anchored on chain
    PROOF_INVALID           (batch) the inclusion proof does not lead from the record's id to the root
    PREVIOUS_NOT_HELD       (batch) the record before it in its consignment is not held yet
    PLACE_TAKEN             (batch) a live record holds its place in the consignment or its party's nonce
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Row, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from ledger_api.domain import merkle
from ledger_api.domain.hashing import keccak256
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
from ledger_api.store.tables import (
    BATCHES,
    BLOCKS,
    EVENTS,
    OUTBOX,
    RECORDS,
    REFUSALS,
    ROUTES,
    RecordRow,
    record_of,
    route_of,
    route_text,
)

log = logging.getLogger(__name__)

Origin = Literal["local", "chain", "peer"]
KnownRow = Row[*tuple[Any, ...]]  # a row of consignment_rows
LIVE_NOT_ON_CHAIN = ("accepted", "submitted")  # this instance's records on their way

_c = RECORDS.c


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


# ---------------------------------------------------------------- learning from the chain


@dataclass(frozen=True)
class WrittenFact:
    """A RecordWritten event: what the chain says of a record, whoever wrote it."""

    record_id: str
    consignment: str
    kind: int
    party: str
    counterparty: str
    previous: str
    payload_hash: str
    nonce: int
    block: int
    block_hash: str
    tx_hash: str


def learn_written(conn: Connection, facts: Sequence[WrittenFact]) -> None:
    """Records written on chain, in chain order. A known one is included (a failed one
    too: the chain holds it after all); an unknown one becomes a chain fact at the place
    after its previous record. Either way this instance's live records that wanted its
    place or its party's nonce fail, naming it, and so does what was built on them."""
    if not facts:
        return
    known: dict[str, str] = {}
    ids = [f.record_id for f in facts]
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        known.update({rid: status for rid, status in conn.execute(select(_c.id, _c.status).where(_c.id.in_(chunk)))})
    displaced = 0
    for fact in facts:
        if known.get(fact.record_id) == "failed":
            log.warning("indexer: record %s, failed, is on chain after all", fact.record_id)
            row = conn.execute(
                select(_c.consignment, _c.position, _c.party, _c.nonce, _c.mode).where(_c.id == fact.record_id)
            ).one()
            displaced += _displace(conn, fact.record_id, row.consignment, row.position, row.party, row.nonce, row.mode)
    written = [
        {"rid": f.record_id, "block": f.block, "hash": f.block_hash, "tx": f.tx_hash}
        for f in facts
        if f.record_id in known
    ]
    if written:  # one executemany: a burst of this instance's own records is the common case
        conn.execute(
            update(RECORDS)
            .where(_c.id == bindparam("rid"))
            .values(
                status="included",
                block_number=bindparam("block"),
                block_hash=bindparam("hash"),
                tx_hash=bindparam("tx"),
                error=None,
            ),
            written,
        )
    for fact in facts:
        if fact.record_id not in known:
            displaced += _insert_chain_fact(conn, fact)
    if displaced:
        fail_built_on_failed(conn)


_CHUNK = 900  # ids per IN list: well below any database's limit of bound parameters


def _insert_chain_fact(conn: Connection, fact: WrittenFact) -> int:
    """Stores an unknown record written on chain; returns how many records it displaced."""
    if fact.kind == RecordKind.DECLARATION:
        position = 0
    else:
        before = conn.scalar(select(_c.position).where(_c.id == fact.previous))
        if before is None:  # cannot be while the index starts at the deployment: every head was written
            log.warning("indexer: record %s names previous %s, unknown here", fact.record_id, fact.previous)
            before = conn.scalar(
                select(func.max(_c.position)).where(_c.consignment == fact.consignment, _c.status == "included")
            )
        position = 0 if before is None else before + 1
    nonce = str(fact.nonce)
    displaced = _displace(conn, fact.record_id, fact.consignment, position, fact.party, nonce, "single")
    taken = conn.scalar(
        select(_c.id).where(_c.consignment == fact.consignment, _c.position == position, _c.status != "failed")
    ) or conn.scalar(
        select(_c.id).where(_c.party == fact.party, _c.nonce == nonce, _c.mode == "single", _c.status != "failed")
    )
    if taken is not None:
        # A record on chain where a live record is: a batch record of a consignment this
        # instance anchors in batches, whose key someone also wrote to the contract. The
        # event stays in `events`; the batch history stays this consignment's here.
        log.warning("indexer: record %s on chain where record %s is: not stored", fact.record_id, taken)
        return displaced
    conn.execute(
        insert(RECORDS),
        {
            "id": fact.record_id,
            "consignment": fact.consignment,
            "position": position,
            "kind": fact.kind,
            "party": fact.party,
            "counterparty": fact.counterparty,
            "previous": fact.previous,
            "payload_hash": fact.payload_hash,
            "nonce": nonce,
            "mode": "single",
            "origin": "chain",
            "status": "included",
            "block_number": fact.block,
            "block_hash": fact.block_hash,
            "tx_hash": fact.tx_hash,
        },
    )
    return displaced


def _displace(
    conn: Connection, record_id: str, consignment: str, position: int, party: str, nonce: str, mode: str
) -> int:
    """This instance's records on their way that wanted the place or the nonce of
    `record_id`, now on chain, can never be written: failed, naming it. Returns how many."""
    error = f"record {record_id} was written on chain in its place"
    count = 0
    for where in (
        and_(_c.consignment == consignment, _c.position == position),
        and_(_c.party == party, _c.nonce == nonce, _c.mode == mode),
    ):
        result = conn.execute(
            update(RECORDS)
            .where(where, _c.id != record_id, _c.status.in_(LIVE_NOT_ON_CHAIN))
            .values(status="failed", error=error)
        )
        count += result.rowcount
    return count


def displace_by(conn: Connection, written: Any) -> None:
    """`_displace` for records the store has as failed that the chain holds after all
    (`written`: a condition on RECORDS, e.g. its batch root): a reverted transaction
    mined again after a reorg, a root someone else anchored first."""
    displaced = 0
    for r in conn.execute(
        select(_c.id, _c.party, _c.nonce, _c.mode, _c.consignment, _c.position).where(written, _c.status == "failed")
    ).all():
        log.warning("indexer: record %s, failed, is on chain after all", r.id)
        displaced += _displace(conn, r.id, r.consignment, r.position, r.party, r.nonce, r.mode)
    if displaced:
        fail_built_on_failed(conn)


def fail_built_on_failed(conn: Connection) -> list[str]:
    """Records on their way whose previous record failed can never be written: they fail
    too, naming it, and what was built on them in turn. Returns their ids."""
    before = RECORDS.alias("before")
    failed: list[str] = []
    while True:
        rows = conn.execute(
            select(_c.id, _c.previous)
            .select_from(RECORDS.join(before, before.c.id == _c.previous))
            .where(_c.status.in_(LIVE_NOT_ON_CHAIN), before.c.status == "failed")
        ).all()
        if not rows:
            return failed
        conn.execute(
            update(RECORDS).where(_c.id == bindparam("rid")).values(status="failed", error=bindparam("why")),
            [{"rid": r.id, "why": f"record {r.previous}, which it follows, failed"} for r in rows],
        )
        failed.extend(r.id for r in rows)


@dataclass(frozen=True)
class RouteFact:
    """Countries joining a consignment's route (a RouteExtended event, or a held batch
    declaration or transit), with the block and the record that added them."""

    consignment: str
    countries: Sequence[str]
    block: int
    record_id: str


def learn_route(conn: Connection, consignment: str, countries: Iterable[str], block: int, record_id: str) -> None:
    """One record's countries joining its consignment's route (learn_routes)."""
    learn_routes(conn, [RouteFact(consignment, list(countries), block, record_id)])


def learn_routes(conn: Connection, facts: Sequence[RouteFact]) -> None:
    """Countries joining consignments' routes, in chain order; those on a route already
    keep the block they joined at. One read and one insert for all of them: the indexer
    learns a block's routes together, as it learns its records (a read and an insert per
    event were a seventh of the worker's time under a stream, docs/benchmarks.md)."""
    if not facts:
        return
    keys = list(dict.fromkeys(f.consignment for f in facts))
    present: set[tuple[str, str]] = set()
    for start in range(0, len(keys), _CHUNK):
        on_routes = select(ROUTES.c.consignment, ROUTES.c.country).where(
            ROUTES.c.consignment.in_(keys[start : start + _CHUNK])
        )
        present.update((consignment, country) for consignment, country in conn.execute(on_routes))
    rows = []
    for fact in facts:
        for country in fact.countries:
            if (fact.consignment, country) not in present:
                present.add((fact.consignment, country))
                rows.append(
                    {
                        "consignment": fact.consignment,
                        "country": country,
                        "block_number": fact.block,
                        "record_id": fact.record_id,
                    }
                )
    if rows:
        conn.execute(insert(ROUTES), rows)


def learn_anchor(
    conn: Connection, root: str, anchored_by: str, count: int, block: int, block_hash: str, tx_hash: str
) -> None:
    """A root anchored on chain (RootAnchored): a known batch and its records are
    included, whoever anchored it (a root someone anchored before the relayer did is
    this instance's all the same); an unknown root is kept, its leaves not held."""
    values = {"status": "included", "block_number": block, "block_hash": block_hash, "tx_hash": tx_hash}
    known = conn.execute(update(BATCHES).where(BATCHES.c.root == root).values(**values, anchored_by=anchored_by))
    if known.rowcount == 0:
        conn.execute(insert(BATCHES), {"root": root, "count": count, "anchored_by": anchored_by, **values})
        return
    displace_by(conn, _c.batch_root == root)
    conn.execute(update(RECORDS).where(_c.batch_root == root).values(**values, error=None))


def forget_above(conn: Connection, block: int) -> None:
    """A reorg's part of the records: what was learnt from the chain above `block` is
    forgotten: the records this instance did not send there (chain facts, and the copies
    of them held since: posted by their party or fetched from a peer; the chain shows
    them again if their writer's transaction is mined again, and a copy is then held
    again), the route countries added there, and the roots others anchored there. The
    records this instance sent (an outbox row names them or their batch) are the
    indexer's to put back in flight."""
    sent = select(OUTBOX.c.id).where(or_(OUTBOX.c.ref == _c.id, OUTBOX.c.ref == _c.batch_root)).exists()
    conn.execute(delete(ROUTES).where(ROUTES.c.block_number > block))
    conn.execute(delete(RECORDS).where(_c.block_number > block, ~sent))
    conn.execute(delete(BATCHES).where(BATCHES.c.block_number > block, BATCHES.c.accepted_at.is_(None)))


# ---------------------------------------------------------------- holding copies


def hold(
    conn: Connection,
    domain: LedgerDomain,
    record: Record,
    signature: bytes,
    payload_canonical: bytes,
    origin: Origin,
) -> str:
    """Attaches a signed record and its payload to the chain fact of its id, once checked:
    its id, recomputed from its signed fields under `domain` (this ledger's EIP-712
    domain), is a record on chain (single mode: RecordWritten); keccak256 of
    `payload_canonical` is its payloadHash; `signature` recovers to its party. Returns the
    id; a record held already is left as it is (the same id: the same signed record).
    HoldRefused (NOT_ON_CHAIN, PAYLOAD_HASH_MISMATCH, BAD_SIGNATURE, WRONG_SIGNER) else.
    `origin`: "local" (its party posted it) or "peer" (fetched from another instance)."""
    rid = _hex(fast_record_id(record, domain_separator(domain)))
    row = conn.execute(select(_c.payload, _c.status, _c.mode).where(_c.id == rid)).first()
    if row is None or row.mode != "single" or row.status != "included":
        raise HoldRefused("NOT_ON_CHAIN", f"no record {rid} is on chain under this ledger's domain")
    if row.payload is not None:
        return rid
    _check_copy(rid, record, signature, payload_canonical)
    conn.execute(
        update(RECORDS).where(_c.id == rid).values(**_held_values(record, signature, payload_canonical, origin))
    )
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
    """Keeps a batch record whose batch another instance anchored, once checked: `proof`
    leads from its id (recomputed under `domain`) to `root`, a root anchored on chain;
    keccak256 of `payload_canonical` is its payloadHash; `signature` recovers to its
    party; the record before it in its consignment is held (hold a consignment's records
    in their order). It is kept included at the root's block, with its proof. Returns the
    id; a record held already is left as it is. HoldRefused (ROOT_NOT_ANCHORED,
    PROOF_INVALID, PAYLOAD_HASH_MISMATCH, BAD_SIGNATURE, WRONG_SIGNER, PREVIOUS_NOT_HELD,
    PLACE_TAKEN) else. The custody rules are not asked: the contract does not check batch
    records either, the verifier does."""
    rid_bytes = fast_record_id(record, domain_separator(domain))
    rid = _hex(rid_bytes)
    if conn.execute(select(_c.id).where(_c.id == rid, _c.payload.is_not(None))).first() is not None:
        return rid
    batch = conn.execute(select(BATCHES).where(BATCHES.c.root == _hex(root), BATCHES.c.status == "included")).first()
    if batch is None:
        raise HoldRefused("ROOT_NOT_ANCHORED", f"root {_hex(root)} is not anchored on chain")
    if not merkle.verify(root, rid_bytes, proof):
        raise HoldRefused("PROOF_INVALID", f"the proof does not lead from record {rid} to root {_hex(root)}")
    _check_copy(rid, record, signature, payload_canonical)
    consignment = _hex(record.consignment)
    if record.kind == RecordKind.DECLARATION and record.previous == ZERO_HASH:
        position = 0
    else:
        before = conn.scalar(
            select(_c.position).where(_c.id == _hex(record.previous), _c.payload.is_not(None), _c.status != "failed")
        )
        if before is None:
            raise HoldRefused("PREVIOUS_NOT_HELD", f"record {_hex(record.previous)} before {rid} is not held yet")
        position = before + 1
    nonce = str(record.nonce)
    taken = conn.scalar(
        select(_c.id).where(
            _c.status != "failed",
            or_(
                and_(_c.consignment == consignment, _c.position == position),
                and_(_c.party == record.party, _c.nonce == nonce, _c.mode == "batch"),
            ),
        )
    )
    if taken is not None:
        raise HoldRefused("PLACE_TAKEN", f"record {taken} holds the place or the nonce of record {rid}")
    conn.execute(
        insert(RECORDS),
        {
            "id": rid,
            "consignment": consignment,
            "position": position,
            "kind": int(record.kind),
            "party": record.party,
            "counterparty": record.counterparty,
            "previous": _hex(record.previous),
            "payload_hash": _hex(record.payload_hash),
            "nonce": nonce,
            "mode": "batch",
            "batch_root": _hex(root),
            "proof": json.dumps([_hex(p) for p in proof]),
            "status": "included",
            "block_number": batch.block_number,
            "block_hash": batch.block_hash,
            "tx_hash": batch.tx_hash,
            **_held_values(record, signature, payload_canonical, origin),
        },
    )
    if record.kind in (RecordKind.DECLARATION, RecordKind.TRANSIT):
        learn_route(conn, consignment, record.route, batch.block_number, rid)
    return rid


def _check_copy(rid: str, record: Record, signature: bytes, payload_canonical: bytes) -> None:
    """HoldRefused unless the payload hashes to the record's payloadHash and the signature
    recovers to its party (what `_held_values` then keeps as its signer)."""
    digest = keccak256(payload_canonical)
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


def _held_values(record: Record, signature: bytes, payload_canonical: bytes, origin: Origin) -> dict[str, Any]:
    return {
        "ucr": _ucr_of(payload_canonical, record.consignment),
        "deadline": str(record.deadline),
        "route": route_text(record.route),
        "signature": _hex(signature),
        "signer": record.party,  # what the signature recovered to (_check_copy)
        "payload": payload_canonical.decode(),
        "origin": origin,
        "accepted_at": datetime.now(UTC),
    }


def _ucr_of(payload_canonical: bytes, consignment: bytes) -> str | None:
    """The payload's UCR, if it is the consignment's: a payload that does not validate is
    held all the same (its hash is on chain; the verifier says what is wrong with it)."""
    try:
        ucr = json.loads(payload_canonical).get("ucr")
    except (ValueError, AttributeError):
        return None
    if isinstance(ucr, str) and len(ucr) <= 35 and consignment_key(ucr) == consignment:
        return ucr
    return None


# ---------------------------------------------------------------- reading


# What a consignment's reading needs of each record not failed, in its order.
_READING = select(
    _c.id,
    _c.consignment,
    _c.mode,
    _c.kind,
    _c.party,
    _c.counterparty,
    _c.previous,
    _c.payload_hash,
    _c.nonce,
    _c.deadline,
    _c.route,
    _c.status,
    _c.block_number,
    _c.payload.is_not(None).label("held"),
).order_by(_c.consignment, _c.position)


_NOT_FAILED = _c.status != "failed"
# Built once: a statement built per call is compiled per call too (its cache key is
# generated every time), and every single post reads its consignment.
_READING_ONE = _READING.where(_c.consignment == bindparam("key"), _NOT_FAILED)
_READING_MANY = _READING.where(_c.consignment.in_(bindparam("keys", expanding=True)), _NOT_FAILED)


def consignment_rows(conn: Connection, keys: Collection[str]) -> Sequence[KnownRow]:
    """The records not failed of the consignments `keys` (0x hex), in consignment and
    hash-chain order, with what their reading needs (`held`: the payload is here). One
    key, a single post's, is looked up plainly: an IN list is rendered into the statement
    again on every execution."""
    if len(keys) == 1:
        return conn.execute(_READING_ONE, {"key": next(iter(keys))}).all()
    return conn.execute(_READING_MANY, {"keys": list(keys)}).all()


@dataclass(frozen=True)
class Reading:
    """A consignment's records split as domain/custody.consignment_state reads them."""

    on_chain: list[tuple[Record, bytes]]
    pending: list[tuple[Record, bytes]]
    parties: set[str]  # parties and counterparties of its records


def reading(conn: Connection, rows: Sequence[KnownRow]) -> Reading:
    """The records of one consignment's `rows` (consignment_rows) as signed messages: a
    record not held is its chain facts, with the route the chain says it added
    (RouteExtended) and no deadline."""
    added = added_routes(conn, [r.id for r in rows if not r.held])
    on_chain: list[tuple[Record, bytes]] = []
    pending: list[tuple[Record, bytes]] = []
    parties: set[str] = set()
    for r in rows:
        record = record_of(r)
        if not r.held:
            record = replace(record, route=added.get(r.id, ()))
        (on_chain if r.status == "included" else pending).append((record, bytes.fromhex(r.id[2:])))
        parties.update((r.party, r.counterparty))
    return Reading(on_chain, pending, parties)


def added_routes(conn: Connection, record_ids: Collection[str]) -> dict[str, tuple[str, ...]]:
    """The countries each record added to its consignment's route, in their order, as the
    chain says (RouteExtended)."""
    if not record_ids:
        return {}
    rows = conn.execute(
        select(EVENTS.c.record_id, EVENTS.c.args).where(
            EVENTS.c.name == "RouteExtended", EVENTS.c.record_id.in_(list(record_ids))
        )
    ).all()
    return {
        rid: tuple(bytes.fromhex(c[2:]).decode("ascii", "replace") for c in json.loads(args)["countries"])
        for rid, args in rows
    }


_CHAIN_HEAD = (
    select(EVENTS.c.record_id)
    .select_from(EVENTS.join(RECORDS, _c.id == EVENTS.c.record_id))
    .where(
        EVENTS.c.name == "RecordWritten",
        _c.consignment == bindparam("key"),
        EVENTS.c.block_number <= bindparam("as_of"),
    )
    .order_by(EVENTS.c.block_number.desc(), EVENTS.c.log_index.desc())
    .limit(1)
)


def chain_head(conn: Connection, consignment: str, as_of: int) -> str | None:
    """The id of the consignment's (0x key) last record written on chain by block `as_of`
    (its last RecordWritten, by block and log index): its head on chain, whoever wrote
    it, whether or not the records before it are known here."""
    return conn.scalar(_CHAIN_HEAD, {"key": consignment, "as_of": as_of})


def route_countries(conn: Connection, consignment: str) -> set[str]:
    """The countries on a consignment's route (0x key): those the chain added and those a
    held declaration or transit not failed signed (a transit accepted and not yet on
    chain counts: its country's customs may act on it already; a batch consignment's
    route is only in its held records)."""
    countries = set(conn.scalars(select(ROUTES.c.country).where(ROUTES.c.consignment == consignment)))
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


# ---------------------------------------------------------------- peers' refusals


@dataclass(frozen=True)
class Refusal:
    """A payload a peer served that did not match the chain."""

    peer_authority: str
    peer_url: str
    reason: str


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


def refusals_of(conn: Connection, record_ids: Collection[str]) -> dict[str, tuple[Refusal, ...]]:
    """The refusals logged for each of `record_ids`, oldest first."""
    if not record_ids:
        return {}
    out: dict[str, list[Refusal]] = {}
    for row in conn.execute(
        select(REFUSALS.c.record_id, REFUSALS.c.peer_authority, REFUSALS.c.peer_url, REFUSALS.c.reason)
        .where(REFUSALS.c.record_id.in_(list(record_ids)))
        .order_by(REFUSALS.c.id)
    ):
        out.setdefault(row.record_id, []).append(Refusal(row.peer_authority, row.peer_url, row.reason))
    return {rid: tuple(found) for rid, found in out.items()}


_PARTIES_OF = select(RECORDS.c.party, RECORDS.c.counterparty).where(
    RECORDS.c.consignment == bindparam("key"), RECORDS.c.status != "failed"
)
_CONSIGNMENT_OF = select(RECORDS.c.consignment, RECORDS.c.party).where(RECORDS.c.id == bindparam("id"))


def consignment_parties(conn: Connection, key: str) -> Sequence[Row[str, str | None]]:
    """(party, counterparty) of each record of the consignment `key` that did not fail."""
    return conn.execute(_PARTIES_OF, {"key": key}).all()


def record_consignment(conn: Connection, record_id: str) -> Row[str, str] | None:
    """The consignment and party of a record (None if there is no such record)."""
    return conn.execute(_CONSIGNMENT_OF, {"id": record_id}).first()


def record(session: Session, record_id: str) -> RecordRow | None:
    return session.get(RecordRow, record_id)


_STATUS_OF = select(RECORDS.c.status, RECORDS.c.block_number).where(RECORDS.c.id == bindparam("id"))


def status(conn: Connection, record_id: str) -> tuple[str, int | None] | None:
    """A record's stored status and block alone (None: no such record): what a wait for it polls."""
    row = conn.execute(_STATUS_OF, {"id": record_id}).first()
    return None if row is None else (row.status, row.block_number)


def batch_member_ids(session: Session | Connection, root: str) -> Sequence[str]:
    """The ids of a batch's records, in the batch's order (its Merkle tree's leaves)."""
    return session.scalars(
        select(RecordRow.id).where(RecordRow.batch_root == root).order_by(RecordRow.batch_index)
    ).all()


def consignment_ucr(session: Session, consignment: str) -> str | None:
    """The UCR of a consignment (its key, 0x hex) as a held record names it."""
    return session.scalar(
        select(RecordRow.ucr).where(RecordRow.consignment == consignment, RecordRow.ucr.is_not(None)).limit(1)
    )


def consignment_records(session: Session, consignment: str) -> Sequence[RecordRow]:
    """A consignment's records in hash-chain order; a failed record shares its place with
    the one that took it, and comes first."""
    return session.scalars(
        select(RecordRow)
        .where(RecordRow.consignment == consignment)
        .order_by(RecordRow.position, RecordRow.status != "failed", RecordRow.accepted_at)
    ).all()


def live_consignment_records(session: Session, consignment: str) -> Sequence[RecordRow]:
    """A consignment's records that did not fail, in hash-chain order."""
    return session.scalars(
        select(RecordRow)
        .where(RecordRow.consignment == consignment, RecordRow.status != "failed")
        .order_by(RecordRow.position)
    ).all()


def live_batch_records(session: Session, root: str) -> Sequence[RecordRow]:
    """A batch's records that did not fail, in the batch's order."""
    return session.scalars(
        select(RecordRow)
        .where(RecordRow.batch_root == root, RecordRow.status != "failed")
        .order_by(RecordRow.batch_index)
    ).all()


# What a verification reads of each record, on every request (its places: the cached
# outcome's key) and on a cold one (the live records with what their facts need): Core
# statements built once, where ORM objects cost more than the reads.
_PLACES = (
    select(_c.id, _c.status, _c.block_number, _c.payload.is_not(None))
    .where(_c.consignment == bindparam("key"))
    .order_by(_c.position, _c.id)
)
_WRITTEN = (
    select(EVENTS.c.record_id)
    .where(
        EVENTS.c.record_id == _c.id,
        EVENTS.c.name == "RecordWritten",
        EVENTS.c.block_number <= bindparam("as_of"),
    )
    .exists()
)
_VERIFYING = (
    select(
        _c.id,
        _c.consignment,
        _c.kind,
        _c.party,
        _c.counterparty,
        _c.previous,
        _c.payload_hash,
        _c.nonce,
        _c.deadline,
        _c.route,
        _c.signature,
        _c.signer,
        _c.payload,
        _c.mode,
        _c.batch_root,
        _c.proof,
        _c.block_number,
        _c.block_hash,
        # The chain facts of each record, as of a block: its block's time, its batch's
        # anchoring block, whether its RecordWritten is indexed (single records).
        BLOCKS.c.timestamp.label("block_timestamp"),
        BATCHES.c.block_number.label("root_block"),
        _WRITTEN.label("written"),
    )
    .select_from(
        RECORDS.outerjoin(BLOCKS, BLOCKS.c.number == _c.block_number).outerjoin(
            BATCHES, BATCHES.c.root == _c.batch_root
        )
    )
    .where(_c.consignment == bindparam("key"), _c.status != "failed")
    .order_by(_c.position)
)


def record_places(conn: Connection, consignment: str) -> Sequence[Row[str, str, int | None, bool]]:
    """(id, status, block number, held) of each of a consignment's records, in hash-chain
    order (a failed record shares its place; ties by id)."""
    return conn.execute(_PLACES, {"key": consignment}).all()


def verifying_rows(conn: Connection, consignment: str, as_of: int) -> Sequence[KnownRow]:
    """A consignment's records that did not fail, in hash-chain order, with what a
    verification reads of them as of block `as_of` (`record_of` reads each as its signed
    record): `block_timestamp` (of its block, if indexed), `root_block` (the block that
    anchored its batch root, if any: compare with `as_of`), `written` (its RecordWritten
    is indexed by `as_of`)."""
    return conn.execute(_VERIFYING, {"key": consignment, "as_of": as_of}).all()


def refusal_count(conn: Connection, record_ids: Collection[str]) -> int:
    """How many refusals of a payload by a peer the records `record_ids` have."""
    statement = select(func.count()).select_from(REFUSALS).where(REFUSALS.c.record_id.in_(list(record_ids)))
    return conn.scalar(statement) or 0
