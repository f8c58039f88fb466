"""The indexer: follows every event of the deployed contracts into the store, whoever
sent the transaction, block by block, with block numbers and hashes, so that every read
is served from the index and never from a contract call per request. The chain is the
truth: what the store says of a record, a custodian, a head or a route follows from here.

- Each processed block's hash is kept. Before going on, the last one is compared with the
  chain's block at that height: a different hash (a reorg) or a shorter chain (a node
  that lost its last blocks) rewinds the index to the last block both agree on. Records
  learnt from the chain there (not held), route countries and roots anchored by others
  there are forgotten; this instance's records and batches mined there go back to
  `submitted`, and their outbox rows to `sent`, so the relayer sends them again.
- RecordWritten: a record this instance knows is included (a failed one too: the chain
  holds it after all, whoever sent it); an unknown one is stored as a chain fact (not
  held) after its previous record. This instance's records on their way that wanted its
  place in the consignment or its party's nonce fail, naming it, and so does what was
  built on them (store/records.py).
- A record is `confirmed` once its block has `confirmations` blocks on top, counting its
  own; until then it is `submitted` and its confirmations are shown.
- A record that `writeMany` refused (RecordRejected) is `failed`, with the contract's
  custom error decoded as its reason; it keeps the block of the rejection, so that a
  reorg puts it back in flight like a written one.
- RouteExtended fills `routes`; RootAnchored includes a known batch (whoever anchored
  it) or keeps an unknown root, with who anchored it and its record count.
- An authority's endpoint (EndpointPublished) becomes its current one in `endpoints`
  (store/peers.py); a reorg rebuilds them from the publications left.
- An intelligence flag (FlagShared, FlagWithdrawn) is kept in `flags` (store/flags.py):
  its chain facts only; a reorg forgets the flags and withdrawals above the fork.
- Every event of the contracts is kept in `events`.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from ledger_api.chain.abi import ContractAbi
from ledger_api.chain.rpc import Rpc, RpcError
from ledger_api.domain.intelligence import SharedFlag
from ledger_api.domain.parties import PARTY_EVENTS, PartyStatus
from ledger_api.store import flags, records
from ledger_api.store.db import Store
from ledger_api.store.peers import ENDPOINT_EVENT, endpoint_of_event, put_endpoint, rebuild_endpoints
from ledger_api.store.records import RouteFact, WrittenFact
from ledger_api.store.tables import BatchRow, BlockRow, EventRow, OutboxRow, PartyRow, RecordRow, StateRow

log = logging.getLogger(__name__)

CURSOR_KEY = "indexed_block"
STEP_BLOCKS = 500


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


@dataclass
class _Applied:
    """What a step's events say, gathered to be stored together once all are applied."""

    events: list[dict[str, Any]] = field(default_factory=list)  # rows of `events`
    written: list[WrittenFact] = field(default_factory=list)
    routes: list[RouteFact] = field(default_factory=list)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return _hex(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class Indexer:
    def __init__(
        self,
        store: Store,
        rpc: Rpc,
        abi: ContractAbi,
        addresses: dict[str, str],
        deploy_block: int,
        *,
        confirmations: int = 1,
    ) -> None:
        self.store, self.rpc, self.abi = store, rpc, abi
        self.names = {addr.lower(): name for name, addr in addresses.items()}
        self.deploy_block = deploy_block
        self.confirmations = confirmations
        self.head: int | None = None  # the chain's head as last seen
        self.updated = threading.Condition()
        self.wake = threading.Event()  # set by the relayer when a transaction was mined

    # ------------------------------------------------------------ loop

    def cursor(self, session: Session) -> int:
        row = session.get(StateRow, CURSOR_KEY)
        return int(row.value) if row else self.deploy_block - 1

    def step(self) -> int:
        """Indexes the next blocks; returns how many transactions of ours it applied (at
        least 1 when it did any work, 0 when there was none)."""
        with self.store.session() as session:
            cursor = self.cursor(session)
            following = cursor + 1
            # One round trip for every step, idle polls too (a round trip costs both processes
            # CPU): the head, the block after the cursor with its logs (the common case of a
            # step with work: one new block, as a node that mines on arrival makes for a lone
            # record, taken in as it came), and the indexed block as the chain has it now.
            calls: list[tuple[str, list[Any]]] = [
                ("eth_blockNumber", []),
                ("eth_getBlockByNumber", [hex(following), False]),
                ("eth_getLogs", [self._logs_filter(following, following)]),
            ]
            if cursor >= self.deploy_block:
                calls.append(("eth_getBlockByNumber", [hex(cursor), False]))
            answers = self.rpc.batch(calls)
            for answer in (answers[0], *answers[3:]):
                if isinstance(answer, RpcError):
                    raise answer
            head = int(answers[0], 16)
            self.head = head
            at_cursor = answers[3] if len(answers) > 3 else None
            if self._rewind_if_forked(session, cursor, head, at_cursor):
                return 1
        if head <= cursor:
            return 0
        next_block, next_logs = answers[1], answers[2]
        if head == following and isinstance(next_block, dict) and isinstance(next_logs, list):
            last, numbers, blocks, logs = following, [following], [next_block], next_logs
        else:
            last = min(head, cursor + STEP_BLOCKS)
            numbers = list(range(following, last + 1))
            blocks = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
            logs = self.rpc.call("eth_getLogs", self._logs_filter(following, last))
        by_number = {int(b["number"], 16): b for b in blocks if isinstance(b, dict)}
        if len(by_number) != len(numbers):
            return 0  # the chain moved under us; try again
        for entry in logs:
            if by_number[int(entry["blockNumber"], 16)]["hash"] != entry["blockHash"]:
                return 0  # a reorg between the two reads; try again
        with self.store.session() as session:
            if self.cursor(session) != cursor:
                return 0
            parent = session.get(BlockRow, cursor)
            first = by_number[numbers[0]]
            if parent is not None and first["parentHash"] != parent.hash:
                return 0  # forked at the boundary: the next step rewinds
            for n in numbers:
                b = by_number[n]
                session.add(
                    BlockRow(number=n, hash=b["hash"], parent_hash=b["parentHash"], timestamp=int(b["timestamp"], 16))
                )
            session.flush()
            applied = _Applied()
            rejected = False
            for entry in logs:
                rejected |= self._apply_log(session, entry, applied) == "RecordRejected"
            session.flush()
            conn = session.connection()
            # The events, the records written and the routes, in few statements rather than a few each.
            if applied.events:
                conn.execute(insert(EventRow), applied.events)
            records.learn_written(conn, applied.written)
            records.learn_routes(conn, applied.routes)
            if rejected:
                records.fail_built_on_failed(conn)  # nothing built on a rejected record can be written
            self._set_cursor(session, last)
            self._confirm(session, last)
        with self.updated:
            self.updated.notify_all()
        # Transactions, not events: one record's transaction emits several events, and a
        # count above 1 makes the loop pause for a backlog to gather (chain/loop.py), which
        # held up the next lone record's confirmation by that pause.
        return max(1, len({entry["transactionHash"] for entry in logs}))

    def _logs_filter(self, first: int, last: int) -> dict[str, Any]:
        return {"fromBlock": hex(first), "toBlock": hex(last), "address": list(self.names)}

    # ------------------------------------------------------------ reorgs

    def _rewind_if_forked(
        self, session: Session, cursor: int, head: int, at_cursor: dict[str, Any] | None = None
    ) -> bool:
        """`at_cursor`: block `cursor` as the chain gave it with `head` (None: not asked)."""
        if cursor < self.deploy_block:
            return False
        target = min(cursor, head)
        while target >= self.deploy_block:
            stored = session.get(BlockRow, target)
            if stored is None:
                break
            if target == cursor and at_cursor is not None:
                chain_block = at_cursor
            else:
                chain_block = self.rpc.call("eth_getBlockByNumber", hex(target), False)
            if chain_block is not None and chain_block["hash"] == stored.hash:
                break
            target -= 1
        if target == cursor:
            return False
        log.warning(
            "indexer: chain diverged after block %d (index was at %d, head %d); rewinding", target, cursor, head
        )
        self.rewind(session, target)
        return True

    def rewind(self, session: Session, to_block: int) -> None:
        """Forgets everything above `to_block` and puts what was mined there back in flight."""
        gone_txs = set(session.scalars(select(EventRow.tx_hash).where(EventRow.block_number > to_block)).all())
        records.forget_above(session.connection(), to_block)
        # This instance's records and batches left above the fork, whoever's transaction
        # wrote them there: one someone else wrote or anchored first (its own reverted) is
        # in flight again too, and its transaction sent again.
        ours_above = [
            *session.scalars(select(RecordRow.id).where(RecordRow.block_number > to_block, RecordRow.mode == "single")),
            *session.scalars(select(BatchRow.root).where(BatchRow.block_number > to_block)),
        ]
        session.execute(delete(EventRow).where(EventRow.block_number > to_block))
        session.execute(delete(BlockRow).where(BlockRow.number > to_block))
        session.execute(
            update(RecordRow)
            .where(RecordRow.block_number > to_block)
            .values(status="submitted", block_number=None, block_hash=None, error=None)  # a rejection too
        )
        session.execute(
            update(BatchRow)
            .where(BatchRow.block_number > to_block)
            .values(status="submitted", block_number=None, block_hash=None)
        )
        if gone_txs:
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.tx_hash.in_(gone_txs), OutboxRow.status.in_(["mined", "done"]))
                .values(status="sent", last_sent_at=None)
            )
        if ours_above:
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.ref.in_(ours_above), OutboxRow.status.in_(["mined", "done"]))
                .values(status="sent", last_sent_at=None)
            )
        # Sent rows whose receipt vanished are due at once.
        session.execute(update(OutboxRow).where(OutboxRow.status == "mined").values(status="sent", last_sent_at=None))
        self._rebuild_parties(session)
        rebuild_endpoints(session)
        flags.forget_above(session, to_block)
        self._set_cursor(session, to_block)

    # ------------------------------------------------------------ projections

    def _apply_log(self, session: Session, entry: dict[str, Any], applied: _Applied) -> str | None:
        """Applies what the event says; the event itself, a written record and a route are
        added to `applied`, for the caller to store them all at once. Returns the event's
        name."""
        decoded = self.abi.decode_log(entry)
        if decoded is None:
            return None
        spec, args = decoded
        block, block_hash, tx_hash = int(entry["blockNumber"], 16), entry["blockHash"], entry["transactionHash"]
        record_id = _hex(args["recordId"]) if "recordId" in args else None
        applied.events.append(
            {
                "block_number": block,
                "log_index": int(entry["logIndex"], 16),
                "block_hash": block_hash,
                "tx_hash": tx_hash,
                "contract": self.names.get(entry["address"].lower(), "?"),
                "name": spec.name,
                "args": json.dumps({k: _jsonable(v) for k, v in args.items()}),
                "record_id": record_id,
            }
        )
        if spec.name == "RecordWritten":
            assert record_id is not None
            applied.written.append(
                WrittenFact(
                    record_id=record_id,
                    consignment=_hex(args["consignment"]),
                    kind=int(args["kind"]),
                    party=args["party"],
                    counterparty=args["counterparty"],
                    previous=_hex(args["previous"]),
                    payload_hash=_hex(args["payloadHash"]),
                    nonce=int(args["nonce"]),
                    block=block,
                    block_hash=block_hash,
                    tx_hash=tx_hash,
                )
            )
        elif spec.name == "RecordRejected":
            reason = bytes(args["reason"])
            refusal = self.abi.decode_error(reason)
            error = str(refusal) if refusal else f"rejected by writeMany: 0x{reason.hex()}"
            log.warning("indexer: record %s was rejected on chain: %s", record_id, error)
            # Only a record not written: a rejection of one on chain already (sent twice)
            # says nothing about it.
            session.execute(
                update(RecordRow)
                .where(RecordRow.id == record_id, RecordRow.status.in_(["accepted", "submitted"]))
                .values(status="failed", error=error, block_number=block, block_hash=block_hash, tx_hash=tx_hash)
            )
        elif spec.name == "RouteExtended":
            assert record_id is not None
            countries = [bytes(c).decode("ascii", "replace") for c in args["countries"]]
            applied.routes.append(RouteFact(_hex(args["consignment"]), countries, block, record_id))
        elif spec.name == "RootAnchored":
            records.learn_anchor(
                session.connection(),
                _hex(args["root"]),
                args["anchoredBy"],
                int(args["recordCount"]),
                block,
                block_hash,
                tx_hash,
            )
        elif spec.name in PARTY_EVENTS:
            self._apply_party_event(session, spec.name, args, block)
        elif spec.name == ENDPOINT_EVENT:
            put_endpoint(session, endpoint_of_event(args, block))
        elif spec.name == "FlagShared":
            flags.put_shared(session, SharedFlag.from_event(args, block))
        elif spec.name == "FlagWithdrawn":
            flags.put_withdrawn(session, int(args["id"]), str(args["by"]), block)
        return str(spec.name)

    def _apply_party_event(self, session: Session, name: str, args: dict[str, Any], block: int) -> None:
        if name == "AuthorityRegistered":
            row = session.get(PartyRow, args["authority"])
            if row is not None:
                row.is_authority = 1
            return
        party = session.get(PartyRow, args["party"])
        if name == "PartyRegistered":
            session.merge(
                PartyRow(
                    address=args["party"],
                    country=args["country"].decode("ascii", "replace"),
                    roles=args["roles"],
                    status=PartyStatus.ACTIVE,
                    is_authority=0,
                    identifiers_hash=_hex(args["identifiersHash"]),
                    registered_block=block,
                    updated_block=block,
                )
            )
        elif party is not None and name == "PartyRolesChanged":
            party.roles, party.updated_block = args["roles"], block
        elif party is not None and name == "PartyStatusChanged":
            party.status, party.updated_block = args["status"], block

    def _rebuild_parties(self, session: Session) -> None:
        session.execute(delete(PartyRow))
        session.flush()
        events = session.scalars(
            select(EventRow).where(EventRow.name.in_(PARTY_EVENTS)).order_by(EventRow.block_number, EventRow.log_index)
        ).all()
        for event in events:
            args = json.loads(event.args)
            for key in ("country",):
                if key in args:
                    args[key] = bytes.fromhex(args[key][2:])
            if "identifiersHash" in args:
                args["identifiersHash"] = bytes.fromhex(args["identifiersHash"][2:])
            self._apply_party_event(session, event.name, args, event.block_number)
            session.flush()

    def _confirm(self, session: Session, indexed_head: int) -> None:
        """Outbox rows whose transaction is deep enough are done."""
        deep = indexed_head - self.confirmations + 1
        # Correlated, so each in-flight row is one lookup by tx_hash: `tx_hash IN (SELECT …)`
        # would list every event ever indexed on every step, inside the write transaction.
        deep_event = (
            select(EventRow.block_number)
            .where(EventRow.tx_hash == OutboxRow.tx_hash, EventRow.block_number <= deep)
            .exists()
        )
        session.execute(
            update(OutboxRow).where(OutboxRow.status.in_(["sent", "mined"]), deep_event).values(status="done")
        )

    def _set_cursor(self, session: Session, block: int) -> None:
        session.merge(StateRow(key=CURSOR_KEY, value=str(block)))

    def confirmations_of(self, block_number: int | None, indexed_head: int) -> int:
        return 0 if block_number is None else max(0, indexed_head - block_number + 1)
