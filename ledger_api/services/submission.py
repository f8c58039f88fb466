"""Submitting signed records: check everything the chain will check (and the payload,
which it cannot), then store the record, its payload and its outbox entry in one
transaction before answering. Nothing of a refused submission is stored; an accepted one
is durable and reaches the chain through the outbox.

The checks run against the consignment as the chain has it: its records on chain,
whoever wrote them, then this instance's records not yet on chain that still follow
(domain/custody.consignment_state). A record built on a head the chain has moved past is
refused (409 STALE_PREVIOUS) before it costs gas. A record its party wrote straight to
the contract, posted here with its payload, is held (200, the same id): checked against
its chain facts like any other copy (store/records.hold).

A refusal tells a signer that is no party to the consignment (no party or counterparty
of its records on chain or held here, nor customs of a country on its route) nothing of
it: no head, custodian, pending custodian or route in its message, and its write mode
only once the custody rules pass.

Submissions take the writers' lock one at a time. Posts of one record that wait for it
are stored together: whoever takes it stores every post queued by then, each checked as
if alone, in one transaction, so that they share one commit (an fsync of the log on
SQLite, a WAL flush on PostgreSQL) instead of queuing behind one each. A post answers
only once its record is committed; a refusal is its own post's alone.

While the chain cannot be reached, writes are still accepted and queued in the outbox, up
to `max_queued` writes not yet handed to the chain; beyond it a new write is refused with
WritesQueueFull (503, Retry-After) until the queue drains. Once one party holds
`max_pending_per_party` of them (a batch is one write, as on chain), its new writes are
refused with PartyQueueFull (429, Retry-After), which tells it of its own writes only, so
that one party cannot fill the queue for all. The writes waiting are counted afresh at
most every QUEUE_COUNT_SECONDS, and always before a refusal (_Waiting): a count is a scan
of the queue. A record whose deadline is
less than `min_deadline_margin` seconds away is refused (422 DEADLINE_TOO_CLOSE) before it
costs gas: it could revert for want of time, and a reverted write is paid for.

Two modes, fixed per consignment by its declaration:
- single: each record is its own `write` transaction; nonces are the party's on-chain
  nonces, in order;
- batch: records are anchored together as a Merkle root (`anchorRoot`); the contract does
  not check them, so the rules below are the whole check, and the verifier repeats it.
  Nonces must be unique per party among its batch records.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

from sqlalchemy import Connection

from ledger_api.domain.custody import (
    UNREGISTERED,
    ConsignmentState,
    CustodyRuleError,
    PartyStanding,
    apply,
    check_route_shape,
    consignment_state,
)
from ledger_api.domain.hashing import keccak256
from ledger_api.domain.merkle import MerkleTree
from ledger_api.domain.parties import Role
from ledger_api.domain.payloads import Payload, canonical_json, record_kind_of, record_route_of
from ledger_api.domain.records import (
    LedgerDomain,
    Record,
    SignatureError,
    consignment_key,
    domain_separator,
    fast_record_id,
    fast_recover,
)
from ledger_api.errors import (
    ConflictingSubmission,
    HoldRefused,
    InvalidSubmission,
    LedgerError,
    NotAuthorised,
    PartyQueueFull,
    WritesQueueFull,
)
from ledger_api.store import records as known
from ledger_api.store import submissions as stored_writes
from ledger_api.store.db import Store
from ledger_api.store.tables import route_text

log = logging.getLogger(__name__)

FORBIDDEN_CODES = {"MISSING_ROLE", "PARTY_NOT_ACTIVE", "COUNTERPARTY_NOT_CUSTODIAN", "NOT_ON_ROUTE"}

# Whole seconds a party over its share is told to wait: the relayer sends what waits
# every block or two.
_SHARE_RETRY_AFTER = 5


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


@dataclass
class _Consignment:
    """A consignment as a submission checks records against it."""

    state: ConsignmentState
    mode: str | None  # how it is written; None before its declaration
    parties: set[str]  # parties and counterparties of its records on chain or held here

    def knows(self, party: str, standing: PartyStanding) -> bool:
        """Whether `party` may hear of the consignment: a party to it, or customs of a
        country on its route."""
        customs_here = bool(standing.roles & Role.CUSTOMS) and self.state.on_route(standing.country)
        return party in self.parties or customs_here


@dataclass(frozen=True)
class Submission:
    """One signed record with its payload, as parsed from the request."""

    record: Record
    signature: bytes
    payload: Payload


@dataclass(frozen=True)
class Accepted:
    record_id: str
    created: bool


@dataclass(frozen=True)
class BatchAccepted:
    root: str
    record_ids: list[str]
    created: bool


class _RecordErrors:
    """The refusals of one record of a submission: its fields are named `records[i].…`
    when the submission carries many records, as they are in the request."""

    def __init__(self, index: int | None) -> None:
        self.prefix = "" if index is None else f"records[{index}]."

    def invalid(self, code: str, field: str, message: str) -> InvalidSubmission:
        return InvalidSubmission(code, self.prefix + field, message)

    def conflict(self, code: str, field: str, message: str) -> ConflictingSubmission:
        return ConflictingSubmission(code, self.prefix + field, message)

    def forbidden(self, code: str, field: str, message: str) -> NotAuthorised:
        return NotAuthorised(code, self.prefix + field, message)


@dataclass(frozen=True)
class _EntryPoint:
    """What sets one public way of submitting apart; the checks and the storing are the
    same for all (Submissions._accept)."""

    mode: Literal["single", "batch"]  # how its records are written; their consignments must be written so
    numbered: bool  # its errors name the record as records[i]
    queue_limit: bool  # refused while `max_queued` writes wait for the chain
    # The wording of its refusals: no record, the same record twice, a consignment in the other mode.
    empty: str
    duplicate: str
    other_mode: str


_POST = _EntryPoint(
    "single",
    numbered=False,
    queue_limit=True,
    empty="",  # a post always carries its record
    duplicate="",
    other_mode="this consignment is anchored in batches: post to /v1/records/batch",
)
_BATCH = _EntryPoint(
    "batch",
    numbered=True,
    queue_limit=True,
    empty="a batch needs at least one record",
    duplicate="the same record appears twice in the batch",
    other_mode="this consignment is written record by record: post to /v1/records",
)
_DOCUMENT = _EntryPoint(  # submit_many: the records an EPCIS document becomes
    "single",
    numbered=True,
    queue_limit=False,
    empty="at least one record is needed",
    duplicate="the same record appears twice",
    other_mode="this consignment is anchored in batches, not record by record",
)


@dataclass(frozen=True)
class _Work:
    """A submission checked alone (_check_alone), to be checked against the store and stored."""

    items: Sequence[Submission]
    entry: _EntryPoint
    errors: list[_RecordErrors]
    checked: list[tuple[bytes, bytes]]  # (record id, canonical payload) per item
    ids: list[str]
    tree: MerkleTree | None  # batch mode

    @property
    def root(self) -> str | None:
        return None if self.tree is None else _hex(self.tree.root)


# The queue limits count the writes waiting for the chain, a scan of every waiting row (and,
# past the share of one party, of its records): with a backlog of 10,000 (the node down,
# or the relayer behind) that scan was most of a post's work, and grew with the backlog. A
# count stands for this long, raised by each write stored here meanwhile (_Waiting).
QUEUE_COUNT_SECONDS = 0.25


class _Waiting:
    """Counts of the writes waiting for the chain, in all (key "") or one party's (key: its
    address), as the store last gave them, at most QUEUE_COUNT_SECONDS ago, plus the writes
    stored here since (also those of a transaction that then rolled back: a count only
    errs high, except for what other instances stored meanwhile). A limit is only ever
    enforced on a count taken afresh (`fresh`). Used under the writers' lock."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}

    def count(self, key: str, counted: Callable[[], int], *, fresh: bool = False) -> int:
        now = time.monotonic()
        held = self._counts.get(key)
        if fresh or held is None or now - held[1] > QUEUE_COUNT_SECONDS:
            held = (counted(), now)
            self._counts[key] = held
        return held[0]

    def add(self, added: Mapping[str, int]) -> None:
        for key, n in added.items():
            if (held := self._counts.get(key)) is not None:
                self._counts[key] = (held[0] + n, held[1])


@dataclass
class _Turn:
    """A post waiting to be stored by whoever holds the writers' lock (Submissions._in_group)."""

    work: _Work
    created: bool = False
    error: Exception | None = None
    done: bool = False


class Submissions:
    def __init__(
        self,
        store: Store,
        domain: LedgerDomain,
        chain_nonce: Callable[[str], int],
        wake_relayer: Callable[[], None] | None = None,  # new work in the outbox
        max_queued: int | None = None,
        max_pending_per_party: int | None = None,
        min_deadline_margin: int = 0,
    ) -> None:
        self.store = store
        self.max_queued = max_queued  # writes waiting for the chain above which new ones are refused
        self.max_pending_per_party = max_pending_per_party  # of those, what one party may hold
        self.min_deadline_margin = min_deadline_margin  # seconds a new record's deadline must be away
        self.domain = domain
        self.separator = domain_separator(domain)
        self.chain_nonce = chain_nonce
        self.wake_relayer = wake_relayer
        self._lock = threading.Lock()  # one writer at a time keeps consignment order simple
        self._queue_lock = threading.Lock()
        self._queue: list[_Turn] = []  # posts waiting for the writers' lock, in their order
        self._next_nonces: dict[str, int] = {}  # party -> its next single-mode nonce, as last seen
        self._waiting = _Waiting()

    # ------------------------------------------------------------ public

    def submit(self, item: Submission) -> Accepted:
        """One record of a single-mode consignment, its own `write` transaction. Posting
        the same record again creates nothing."""
        ids, _, created = self._accept([item], _POST)
        return Accepted(ids[0], created)

    def submit_batch(self, items: Sequence[Submission]) -> BatchAccepted:
        """Records of batch-mode consignments, all or nothing, anchored as one Merkle root.
        Posting the same batch again creates nothing."""
        ids, root, created = self._accept(items, _BATCH)
        assert root is not None
        return BatchAccepted(root, ids, created)

    def submit_many(self, items: Sequence[Submission]) -> list[Accepted]:
        """Many records of single-mode consignments, all or nothing (an EPCIS document):
        each its own `write` transaction, as if posted one by one in this order, but none
        stored unless every one passes. Posting the same records again creates nothing."""
        ids, _, created = self._accept(items, _DOCUMENT)
        return [Accepted(i, created) for i in ids]

    def modes(self, keys: set[bytes]) -> dict[bytes, str]:
        """How each of these consignments is written ("single" or "batch"), for those that exist."""
        with self.store.connection() as conn:
            found = stored_writes.modes(conn, [_hex(k) for k in keys])
        return {bytes.fromhex(c[2:]): m for c, m in found.items()}

    def queued_writes(self) -> int:
        """Writes not yet handed to the chain: outbox rows pending or signed."""
        with self.store.connection() as conn:
            return self._queued(conn)

    def next_nonce(self, party: str) -> int:
        """The nonce the party's next single-mode record must carry."""
        with self.store.connection() as conn:
            return self._next_nonce(conn, party)

    # ------------------------------------------------------------ the one path

    def _accept(self, items: Sequence[Submission], entry: _EntryPoint) -> tuple[list[str], str | None, bool]:
        """Checks `items` and stores them, all or nothing, in one transaction under the
        writers' lock (a post's, shared with the posts waiting for the lock with it:
        _in_group). Returns their ids, the batch root (batch mode), and whether they are
        new: False when the same submission was accepted before (the same records; in
        batch mode, the same root)."""
        if not items:
            raise InvalidSubmission("EMPTY_BATCH", "records", entry.empty)
        errors = [_RecordErrors(i if entry.numbered else None) for i in range(len(items))]
        checked = [self._check_alone(item, e) for item, e in zip(items, errors, strict=True)]
        ids = [_hex(rid) for rid, _ in checked]
        if len(set(ids)) != len(ids):
            raise InvalidSubmission("DUPLICATE_RECORD", "records", entry.duplicate)
        tree = MerkleTree([rid for rid, _ in checked]) if entry.mode == "batch" else None
        work = _Work(items, entry, errors, checked, ids, tree)
        if entry is _POST:
            created = self._in_group(work)  # woken by whoever committed it
        else:
            with self._lock, self.store.connection() as conn:
                created = self._store(conn, work)
            if created:
                self._wake()
        return ids, work.root, created

    def _in_group(self, work: _Work) -> bool:
        """Stores one post's record, committed together with the posts waiting for the
        writers' lock meanwhile: whoever takes the lock stores every post queued by then,
        in their order, in one transaction, and wakes the relayer once. A post answers
        only once its own record is committed, as alone; only the commit (an fsync of
        the log) is shared. Returns whether the record is new."""
        turn = _Turn(work)
        with self._queue_lock:
            self._queue.append(turn)
        with self._lock:
            if not turn.done:
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._serve(group)
        if turn.error is not None:
            raise turn.error
        return turn.created

    def _serve(self, group: list[_Turn]) -> None:
        """Stores `group` (under the writers' lock) in one transaction, as if each had
        been stored alone in turn: a post refused by a check wrote nothing, so the others
        go on. Anything else (a place taken meanwhile, a statement failing, the commit
        failing) rolls the group back and stores each post alone, in its own
        transaction, as before grouping. Each transaction holds the store's write lock
        from its start (Store.writing): posts contend for it with the relayer and the
        indexer many times a second."""
        try:
            if len(group) > 1:
                try:
                    with self.store.writing() as conn:
                        for turn in group:
                            try:
                                turn.created = self._store(conn, turn.work)
                            except LedgerError as exc:
                                if isinstance(exc, ConflictingSubmission) and exc.code == "CONCURRENT_WRITE":
                                    raise  # its statement failed: the transaction is not to be trusted
                                turn.error = exc
                except Exception:
                    log.warning("a group of %d posts is stored again one by one", len(group), exc_info=True)
                    for turn in group:
                        turn.created, turn.error = False, None
                else:
                    for turn in group:
                        turn.done = True
            for turn in group:
                if not turn.done:
                    try:
                        with self.store.writing() as conn:
                            turn.created = self._store(conn, turn.work)
                    except Exception as exc:  # handed to its own request, raised there
                        turn.error = exc
                    turn.done = True
        finally:
            for turn in group:
                if not turn.done:  # the post serving it was interrupted: whether it is stored is unknown
                    turn.error = RuntimeError("the post storing this one was interrupted; posting it again is safe")
                    turn.done = True
        if any(turn.created for turn in group):
            self._wake()

    def _store(self, conn: Connection, work: _Work) -> bool:
        """Checks `work` against the store and stores it, within the writers' lock, in
        `conn`'s transaction. Nothing is written before the last check passed: a refusal
        (a LedgerError other than CONCURRENT_WRITE) leaves the transaction as it found it.
        Returns whether the records are new."""
        items, entry, errors, checked = work.items, work.entry, work.errors, work.checked
        ids, tree, root = work.ids, work.tree, work.root
        stored = stored_writes.stored(conn, ids)
        if len(stored) == len(ids):
            if root is None and not all(stored.values()):
                self._hold(conn, items, checked, stored, errors)
                return False
            if root is None or stored_writes.batch_exists(conn, root):
                return False  # a replay is answered before the queue limit
        queued = 0
        if entry.queue_limit or self.max_pending_per_party is not None:
            queued = self._waiting.count("", lambda: self._queued(conn))
        if entry.queue_limit:
            self._refuse_if_queue_full(conn, queued)
        self._refuse_if_over_share(conn, items, queued)
        if stored:
            index = next(n for n, i in enumerate(ids) if i in stored)
            raise ConflictingSubmission(
                "RECORD_EXISTS",
                f"records[{index}]",
                f"record {ids[index]} was accepted before, in another submission",
            )
        now = time.time()
        for item, where in zip(items, errors, strict=True):
            if item.record.deadline < now:
                raise where.invalid("EXPIRED", "record.deadline", "the signature's deadline has passed")
            if item.record.deadline < now + self.min_deadline_margin:
                raise where.invalid(
                    "DEADLINE_TOO_CLOSE",
                    "record.deadline",
                    f"the signature's deadline is {item.record.deadline - now:.0f} s away; a record is taken "
                    f"with at least {self.min_deadline_margin} s left (LEDGER_MIN_DEADLINE_MARGIN_SECONDS), "
                    "for the relayer to get it mined before then: sign it again with a later deadline",
                )
        consignments = self._consignments(conn, {item.record.consignment for item in items})
        standings: dict[str, PartyStanding] = {}
        nonces: dict[str, int] = {}  # party -> its next single-mode nonce after the records before
        rows = []
        for i, (item, (rid, canonical), where) in enumerate(zip(items, checked, errors, strict=True)):
            record = item.record
            consignment = consignments.setdefault(record.consignment, _Consignment(ConsignmentState(), None, set()))
            # The custody rules first: a signer that is no party learns nothing more, its
            # write mode included, from a refusal.
            consignment.state = self._apply_rules(conn, consignment, record, rid, where, standings)
            if consignment.mode not in (None, entry.mode):
                raise where.conflict("MODE_MISMATCH", "record.consignment", entry.other_mode)
            consignment.mode = entry.mode
            consignment.parties.update((record.party, record.counterparty))
            if entry.mode == "single":
                expected = nonces.get(record.party)
                if expected is None:
                    expected = self._next_nonce(conn, record.party)
                if record.nonce != expected:
                    raise where.conflict(
                        "NONCE_MISMATCH", "record.nonce", f"the party's next nonce on the ledger is {expected}"
                    )
                nonces[record.party] = expected + 1
            rows.append(
                self._values(
                    item, rid, canonical, consignment.state.position, entry.mode, root, None if root is None else i
                )
                | ({} if tree is None else {"proof": json.dumps([_hex(p) for p in tree.proof(rid)])})
            )
        self._insert(conn, rows, batch=None if root is None else {"root": root, "count": len(items)})
        self._next_nonces.update(nonces)  # checked on use: a rollback is noticed
        # As the limits count them: a single record is a write, a batch one anchor (counted
        # once for each of its parties).
        parties = Counter(item.record.party for item in items)
        self._waiting.add({"": len(items), **parties} if root is None else {"": 1, **dict.fromkeys(parties, 1)})
        return True

    def _hold(
        self,
        conn: Connection,
        items: Sequence[Submission],
        checked: list[tuple[bytes, bytes]],
        stored: dict[str, bool],
        errors: list[_RecordErrors],
    ) -> None:
        """Records their parties wrote straight to the contract, posted with their payloads:
        held once checked against their chain facts (the others are held already)."""
        for item, (rid, canonical), where in zip(items, checked, errors, strict=True):
            if stored[_hex(rid)]:
                continue
            try:
                known.hold(conn, self.domain, item.record, item.signature, canonical, "local")
            except HoldRefused as exc:
                raise where.conflict(exc.code, "record", exc.message) from exc

    # ------------------------------------------------------------ checks

    def _queued(self, conn: Connection) -> int:
        return stored_writes.queued_writes(conn)

    def _refuse_if_queue_full(self, conn: Connection, queued: int) -> None:
        """A replay of an accepted write is answered before this; only new writes wait.
        `queued` as _Waiting has it: counted again before a refusal."""
        if self.max_queued is None:
            return
        if queued >= self.max_queued:
            queued = self._waiting.count("", lambda: self._queued(conn), fresh=True)
        if queued >= self.max_queued:
            raise WritesQueueFull(
                f"{queued:,} writes are waiting for the chain (the limit is {self.max_queued:,}): "
                "the chain node is unreachable or behind; retry later"
            )

    def _refuse_if_over_share(self, conn: Connection, items: Sequence[Submission], queued: int) -> None:
        """PartyQueueFull if a party of `items` already holds `max_pending_per_party` writes
        waiting for the chain, as the queue limit counts (one submission may take a party
        past it, so that one larger than the limit is not refused forever). The refusal
        speaks of that party's writes only. While the whole queue is below the limit no
        party can be at it: nothing is counted (the common case costs no query)."""
        limit = self.max_pending_per_party
        if limit is None or queued < limit:
            return
        for party in sorted({item.record.party for item in items}):
            held = self._waiting.count(party, partial(stored_writes.pending_of_party, conn, party))
            if held >= limit:
                held = self._waiting.count(party, partial(stored_writes.pending_of_party, conn, party), fresh=True)
            if held >= limit:
                raise PartyQueueFull(
                    f"{party} has {held:,} writes waiting for the chain, as many as one party may hold "
                    f"(the limit is {limit:,}, LEDGER_MAX_PENDING_PER_PARTY): retry once some of them are sent",
                    _SHARE_RETRY_AFTER,
                    limit,
                )

    def _check_alone(self, item: Submission, where: _RecordErrors) -> tuple[bytes, bytes]:
        """What can be checked without the store: payload, hash, consignment, kind, route,
        signature (the deadline only matters to a record not on chain yet: _accept).
        Returns the record id and the canonical payload."""
        record, payload = item.record, item.payload
        canonical = canonical_json(payload)
        digest = keccak256(canonical)  # payload_hash(payload), without serialising twice
        if digest != record.payload_hash:
            raise where.invalid(
                "PAYLOAD_HASH_MISMATCH",
                "record.payloadHash",
                f"does not match the payload's canonical JSON (RFC 8785) hash {_hex(digest)}",
            )
        if consignment_key(payload.ucr) != record.consignment:
            raise where.invalid(
                "CONSIGNMENT_MISMATCH", "record.consignment", f"is not keccak256 of the payload's UCR {payload.ucr!r}"
            )
        if record_kind_of(payload) != record.kind.name:
            raise where.invalid(
                "KIND_MISMATCH",
                "record.kind",
                f"a {record_kind_of(payload)} payload cannot go with a {record.kind.name} record",
            )
        try:
            check_route_shape(record)
        except CustodyRuleError as exc:
            raise where.invalid(exc.code, exc.field, exc.message) from exc
        route = record_route_of(payload)
        if record.route != route:
            raise where.invalid(
                "ROUTE_MISMATCH",
                "record.route",
                f"a {record.kind.name} record signs the route its payload names, {list(route)}, "
                f"not {list(record.route)}",
            )
        rid = fast_record_id(record, self.separator)
        try:
            signer = fast_recover(rid, item.signature)
        except SignatureError as exc:
            raise where.invalid("BAD_SIGNATURE", "signature", str(exc)) from exc
        if signer != record.party:
            raise where.invalid(
                "WRONG_SIGNER",
                "signature",
                f"the signature is by {signer}, not by the record's party {record.party} "
                "(or it was made for another chain or contract)",
            )
        return rid, canonical

    def _apply_rules(
        self,
        conn: Connection,
        consignment: _Consignment,
        record: Record,
        rid: bytes,
        where: _RecordErrors,
        standings: dict[str, PartyStanding],
    ) -> ConsignmentState:
        """Applies the custody rules to `record`, with the parties' standings from the index
        (kept in `standings` for the next records of the submission). A refusal names the
        consignment's facts only to a signer that may know them."""
        missing = {record.party, record.counterparty} - standings.keys()
        if missing:
            found = {
                address: PartyStanding(*standing)
                for address, standing in stored_writes.standings(conn, missing).items()
            }
            standings.update({address: found.get(address, UNREGISTERED) for address in missing})
        party, counterparty = standings[record.party], standings[record.counterparty]
        try:
            return apply(consignment.state, record, rid, party, counterparty)
        except CustodyRuleError as exc:
            message = exc.message if consignment.knows(record.party, party) else exc.public
            if exc.code in FORBIDDEN_CODES:
                raise where.forbidden(exc.code, exc.field, message) from exc
            raise where.conflict(exc.code, exc.field, message) from exc

    def _consignments(self, conn: Connection, keys: set[bytes]) -> dict[bytes, _Consignment]:
        """Those of `keys` that have records, as they stand: their records on chain, then
        this instance's records not yet on chain that still follow (one that no longer
        does, built on a head the chain moved past or on a record that failed, is doomed
        and moves nothing: the indexer fails it when the chain says so)."""
        rows = known.consignment_rows(conn, [_hex(k) for k in keys])
        out: dict[bytes, _Consignment] = {}
        for key in keys:
            mine = [r for r in rows if r.consignment == _hex(key)]
            if not mine:
                continue
            reading = known.reading(conn, mine)
            state = consignment_state(reading.on_chain, reading.pending).state
            out[key] = _Consignment(state, mine[0].mode, reading.parties)
        return out

    def _next_nonce(self, conn: Connection, party: str) -> int:
        """One more than the party's highest single-mode nonce not failed, or its nonce on
        chain before its first record. The last answer per party is kept and checked with
        one lookup on the (party, nonce, mode) index: the record before it is there and
        not failed, and none has it yet. The maximum over all the party's records, asked
        every time, grew with its history (docs/reliability.md)."""
        known = self._next_nonces.get(party)
        if known is not None:
            around = stored_writes.nonces_around(conn, party, [known - 1, known])
            if around.get(str(known - 1), "failed") != "failed" and str(known) not in around:
                return known
        last = stored_writes.highest_nonce(conn, party)
        if last is None:
            return self.chain_nonce(party)
        self._next_nonces[party] = last + 1
        return last + 1

    # ------------------------------------------------------------ storing

    def _values(
        self,
        item: Submission,
        rid: bytes,
        canonical: bytes,
        position: int,
        mode: str,
        root: str | None,
        index: int | None,
    ) -> dict[str, Any]:
        r = item.record
        return dict(
            id=_hex(rid),
            consignment=_hex(r.consignment),
            ucr=item.payload.ucr,
            position=position,
            kind=int(r.kind),
            party=r.party,
            counterparty=r.counterparty,
            previous=_hex(r.previous),
            payload_hash=_hex(r.payload_hash),
            nonce=str(r.nonce),
            deadline=str(r.deadline),
            route=route_text(r.route),
            signature=_hex(item.signature),
            signer=r.party,  # what the signature recovered to: anyone else's is refused (WRONG_SIGNER)
            payload=canonical.decode(),
            mode=mode,
            batch_root=root,
            batch_index=index,
            status="accepted",
            accepted_at=datetime.now(UTC),
        )

    def _insert(self, conn: Connection, rows: list[dict[str, Any]], batch: dict[str, Any] | None = None) -> None:
        """Stores accepted records with their outbox entries: a `write` transaction per
        single-mode record, or the batch and one `anchor` of its root. A place or nonce
        taken meanwhile (by another instance on the same store) refuses it all."""
        try:
            stored_writes.insert_accepted(conn, rows, batch)
        except stored_writes.PlaceTaken as exc:
            raise ConflictingSubmission(
                "CONCURRENT_WRITE",
                "record" if batch is None else "records",
                "another record took this place in the consignment, or this nonce",
            ) from exc

    def _wake(self) -> None:
        if self.wake_relayer is not None:
            self.wake_relayer()
