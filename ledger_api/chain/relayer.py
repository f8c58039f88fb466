"""The relayer: turns the outbox into transactions and sees them onto the chain exactly
once, whatever the node forgets.

- Signing: each pending row gets the relayer's next nonce and is signed, and the raw
  transaction is stored (committed) before it is ever sent. A resend is therefore the very
  same transaction: it can be mined once at most, because its nonce can be used once.
- Packing: single records waiting together go out in one `writeMany` transaction (a
  "pack" row carrying their ids; their own rows become `packed`): the contract checks each
  as `write` does and rejects a bad one alone (RecordRejected, which the indexer turns into
  that record's failure), so one transaction's base cost is shared and the node mines
  more records per block. A lone record still goes as its own `write`, at once. Only
  consecutive write rows are packed, at most PACK_MAX, in the order they were accepted:
  the records of a consignment keep their order, and with the other actions too.
- Sending: signed rows go out in nonce order, in one JSON-RPC batch.
- Reconciling: rows without a receipt are sent again after `resend_after` (anvil drops
  transactions under bursts and loses its last blocks on a crash); a row whose nonce was
  taken by another transaction (someone else used the relayer key) and that has no receipt
  is signed again with a new nonce: the old one can no longer be mined. "Taken" is judged
  only after the row has looked so for `TAKEN_GRACE` seconds: under a burst anvil reports
  an account nonce past a transaction whose receipt it does not show yet, and re-signing
  that one would send the same call twice (the second reverts, and a record that is on
  chain would be marked failed).
- A write, pack or anchor that reverted is not failed at once: anyone may replay the
  relayer's `write` call or anchor the same root first, and then the chain holds the
  record or root although this transaction reverted. It waits, `reverted`, until the
  index has passed the revert's block: done if the index shows its records or root on
  chain (the indexer's chain fact wins), else failed, and with it only its records the
  chain does not hold. A status never moves from confirmed to failed. (Inside a pack,
  writeMany rejects a record written already on its own: RecordRejected, which the
  indexer ignores for a record on chain.)
- A write whose record failed before it was signed (displaced by a record on chain, or
  built on one that failed) is never sent.
- Confirmation is the indexer's business: it marks rows done, and a reorg or a node that
  lost blocks puts them back to `sent`, to be sent again. A row mined but not yet indexed
  whose receipt vanishes (its block was lost above the indexer's cursor) is put back to
  `sent` here, since no indexer rewind will ever see it.

One relayer per key: two services sharing a relayer key would fight over nonces.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from ledger_api.chain.abi import ContractAbi
from ledger_api.chain.loop import run_steps
from ledger_api.chain.rpc import Rpc, RpcError
from ledger_api.chain.txsign import LegacySigner
from ledger_api.store import records as known_records
from ledger_api.store.db import Store
from ledger_api.store.tables import RECORDS, BatchRow, OutboxRow, RecordRow, StateRow

log = logging.getLogger(__name__)

GAS = {"write": 300_000, "anchor": 120_000, "forward": 400_000}
PACK_MAX = 50  # records per writeMany transaction
# A pack's gas limit: each record is a `write` called by the ledger itself, which must
# never run out of gas (that would revert the whole pack); only gas used is paid.
PACK_GAS_BASE, PACK_GAS_PER_RECORD = 60_000, 250_000
NONCE_KEY = "relayer_nonce"
INDEXED_KEY = "indexed_block"  # the indexer's cursor (indexer.CURSOR_KEY)
GAS_PRICE_TTL = 30.0  # seconds between two asks of the node's gas price
TAKEN_GRACE = 10.0  # seconds a row must look "nonce taken, no receipt" before it is re-signed


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


class Relayer:
    def __init__(
        self,
        store: Store,
        rpc: Rpc,
        abi: ContractAbi,
        account: LocalAccount,
        chain_id: int,
        addresses: dict[str, str],
        *,
        resend_after: float = 2.0,
    ) -> None:
        self.store, self.rpc, self.abi, self.account = store, rpc, abi, account
        self.chain_id, self.addresses = chain_id, addresses
        self._signer = LegacySigner(bytes(account.key), chain_id)
        self.resend_after = timedelta(seconds=resend_after)
        self.wake = threading.Event()
        self.mined = threading.Event()  # set when a transaction was mined: the indexer waits on it
        self._gas_price: tuple[int, float] | None = None  # price, when asked
        self._taken_since: dict[int, float] = {}  # outbox row id -> when it first looked taken
        self._mined_checked_at = 0.0
        self._dev_node: bool | None = None  # anvil: mines on arrival only; learnt from web3_clientVersion

    # ------------------------------------------------------------ loop

    def run(self, stop: threading.Event, idle: float = 0.02) -> None:
        run_steps("relayer", self.step, stop, self.wake, idle)

    def step(self) -> int:
        """One round; returns the most rows one part of it handled (0: nothing to do)."""
        signed = self._sign_pending()
        sent = self._send_due()
        mined = self._reconcile()
        settled = self._settle_reverted()
        return max(signed, sent, mined, settled)

    # ------------------------------------------------------------ signing

    def _gas(self) -> int:
        """Twice the node's suggested price (room for the base fee to rise over a few blocks
        of an EIP-1559 chain), asked again every GAS_PRICE_TTL seconds so the relayer
        follows the chain's fees. No floor: a consortium chain that charges nothing
        (min gas price 0, as Besu and Quorum are often run) gets transactions priced 0."""
        now = time.monotonic()
        if self._gas_price is None or now - self._gas_price[1] > GAS_PRICE_TTL:
            self._gas_price = (2 * int(self.rpc.call("eth_gasPrice"), 16), now)
        return self._gas_price[0]

    def _next_nonce(self, session: Session) -> int:
        row = session.get(StateRow, NONCE_KEY)
        if row is None:
            chain_nonce = int(self.rpc.call("eth_getTransactionCount", self.account.address, "pending"), 16)
            row = StateRow(key=NONCE_KEY, value=str(chain_nonce))
            session.add(row)
        return int(row.value)

    def _calldata(self, session: Session, row: OutboxRow, records: dict[str, RecordRow]) -> tuple[str, bytes]:
        if row.action == "pack":
            packed = [records[rid] for rid in json.loads(row.payload or "[]")]
            signatures = [r.signature for r in packed]
            assert None not in signatures  # a pack carries records accepted here
            data = self.abi.encode_call(
                "ConsignmentLedger",
                "writeMany",
                [r.to_record().as_tuple() for r in packed],
                [bytes.fromhex(sig[2:]) for sig in signatures if sig is not None],
            )
            return self.addresses["ConsignmentLedger"], data
        if row.action == "write":
            record = records[row.ref]
            assert record.signature is not None  # a write carries a record accepted here
            data = self.abi.encode_call(
                "ConsignmentLedger", "write", record.to_record().as_tuple(), bytes.fromhex(record.signature[2:])
            )
            return self.addresses["ConsignmentLedger"], data
        if row.action == "anchor":
            batch = session.get(BatchRow, row.ref)
            assert batch is not None
            return self.addresses["ConsignmentLedger"], self.abi.encode_call(
                "ConsignmentLedger", "anchorRoot", bytes.fromhex(batch.root[2:]), batch.count
            )
        if row.action == "forward":
            request = json.loads(row.payload or "{}")
            req = (
                request["from"],
                request["to"],
                0,
                int(request["gas"]),
                int(request["deadline"]),
                bytes.fromhex(request["data"][2:]),
                bytes.fromhex(request["signature"][2:]),
            )
            return self.addresses["LedgerForwarder"], self.abi.encode_call("LedgerForwarder", "execute", req)
        raise ValueError(f"unknown outbox action {row.action}")

    def _sign_pending(self, limit: int = 1000) -> int:
        with self.store.session() as session:
            pending = session.scalars(
                select(OutboxRow).where(OutboxRow.status == "pending").order_by(OutboxRow.id).limit(limit)
            ).all()
            if not pending:
                return 0
            nonce = self._next_nonce(session)
            gas_price = self._gas()
            txs = self._packed(session, self._drop_failed(session, pending))
            refs = [rid for row in txs for rid in _record_ids(row)]
            records = {r.id: r for r in session.scalars(select(RecordRow).where(RecordRow.id.in_(refs)))}
            for row in txs:
                to, data = self._calldata(session, row, records)
                gas = PACK_GAS_BASE + PACK_GAS_PER_RECORD * len(_record_ids(row)) if row.action == "pack" else None
                raw, tx_hash = self._signer.sign(
                    nonce=nonce, gas_price=gas_price, gas=gas or GAS[row.action], to=to, data=data
                )
                row.raw_tx, row.tx_hash = _hex(raw), _hex(tx_hash)
                row.relayer_nonce = nonce
                row.status = "signed"
                nonce += 1
            state = session.get(StateRow, NONCE_KEY)
            assert state is not None
            state.value = str(nonce)
            return len(pending)

    def _drop_failed(self, session: Session, rows: Sequence[OutboxRow]) -> list[OutboxRow]:
        """The pending rows worth a transaction: a write whose record failed before it was
        signed (displaced by a record on chain, or built on one that failed) would only
        revert, so it fails here with its record's reason, never sent."""
        writes = [row.ref for row in rows if row.action == "write"]
        failed = dict(
            session.execute(
                select(RecordRow.id, RecordRow.error).where(RecordRow.id.in_(writes), RecordRow.status == "failed")
            ).all()
            if writes
            else []
        )
        kept: list[OutboxRow] = []
        for row in rows:
            if row.action == "write" and row.ref in failed:
                row.status, row.error = "failed", failed[row.ref]
            else:
                kept.append(row)
        return kept

    def _packed(self, session: Session, rows: Sequence[OutboxRow]) -> list[OutboxRow]:
        """The transactions these pending rows make, in order: runs of consecutive write
        rows become packs (a new row each; theirs turn `packed`), a run of one stays a
        `write`, the rest stay as they are."""
        txs: list[OutboxRow] = []
        run: list[OutboxRow] = []

        def close_run() -> None:
            for i in range(0, len(run), PACK_MAX):
                chunk = run[i : i + PACK_MAX]
                if len(chunk) == 1:
                    txs.append(chunk[0])
                    continue
                pack = OutboxRow(
                    action="pack",
                    ref=f"pack:{chunk[0].id}",
                    payload=json.dumps([r.ref for r in chunk]),
                    status="pending",
                    attempts=0,
                )
                session.add(pack)
                for r in chunk:
                    r.status = "packed"
                txs.append(pack)
            run.clear()

        for row in rows:
            if row.action == "write":
                run.append(row)
                continue
            close_run()
            txs.append(row)
        close_run()
        session.flush()  # the packs' ids, before their nonces
        return txs

    # ------------------------------------------------------------ sending

    def _send_due(self) -> int:
        now = datetime.now(UTC)
        with self.store.session() as session:
            rows = session.scalars(
                select(OutboxRow)
                .where(
                    (OutboxRow.status == "signed")
                    | (
                        (OutboxRow.status == "sent")
                        & (OutboxRow.last_sent_at.is_(None) | (OutboxRow.last_sent_at < now - self.resend_after))
                    )
                )
                .order_by(OutboxRow.relayer_nonce)
                .limit(1000)
            ).all()
            if not rows:
                return 0
            results = self.rpc.batch([("eth_sendRawTransaction", [r.raw_tx]) for r in rows])
            self._mark_submitted(session, [row for row in rows if row.status == "signed"])
            for row, result in zip(rows, results, strict=True):
                if isinstance(result, RpcError) and not _harmless_send_error(result):
                    row.error = result.error_message
                    log.warning("relayer: sending nonce %s: %s", row.relayer_nonce, result.error_message)
                row.status = "sent"
                row.attempts += 1
                row.last_sent_at = now
            return len(rows)

    def _mark_submitted(self, session: Session, rows: Sequence[OutboxRow]) -> None:
        """The records of rows sent for the first time now have a transaction."""
        writes = [
            {"ref": rid, "tx": row.tx_hash}
            for row in rows
            if row.action in ("write", "pack")
            for rid in _record_ids(row)
        ]
        if writes:  # one executemany, not one ORM statement per row
            session.execute(
                update(RECORDS)
                .where(RECORDS.c.id == bindparam("ref"), RECORDS.c.status == "accepted")
                .values(status="submitted", tx_hash=bindparam("tx")),
                writes,
            )
        for row in rows:
            if row.action == "anchor":
                session.execute(
                    update(BatchRow).where(BatchRow.root == row.ref).values(status="submitted", tx_hash=row.tx_hash)
                )
                session.execute(
                    update(RecordRow)
                    .where(RecordRow.batch_root == row.ref, RecordRow.status == "accepted")
                    .values(status="submitted", tx_hash=row.tx_hash)
                )

    # ------------------------------------------------------------ reconciling

    def _reconcile(self) -> int:
        # Mined rows only wait for the indexer; their receipts are looked at again only to
        # notice a block lost in a node restart, so every `resend_after`, not every step:
        # under a burst thousands of them would otherwise be asked for many times a second.
        statuses = ["sent"]
        if time.monotonic() - self._mined_checked_at >= self.resend_after.total_seconds():
            statuses.append("mined")
            self._mined_checked_at = time.monotonic()
        with self.store.session() as session:
            rows = session.scalars(
                select(OutboxRow).where(OutboxRow.status.in_(statuses)).order_by(OutboxRow.relayer_nonce).limit(2000)
            ).all()
            if not rows:
                return 0
            # The nonce first, the receipts after: a transaction of ours mined in between
            # then shows its receipt, and is never mistaken for one whose nonce was taken.
            chain_nonce = int(self.rpc.call("eth_getTransactionCount", self.account.address, "latest"), 16)
            receipts = self.rpc.batch([("eth_getTransactionReceipt", [r.tx_hash]) for r in rows])
            changed = 0
            mined: list[int] = []
            for row, receipt in zip(rows, receipts, strict=True):
                if isinstance(receipt, RpcError):
                    continue
                if receipt is None and row.status == "mined":
                    # Its block is gone (the node restarted without its last blocks) before
                    # the indexer confirmed it: in flight again, and due at once.
                    log.warning("relayer: nonce %s lost its receipt; sending again", row.relayer_nonce)
                    row.status, row.last_sent_at = "sent", None
                    changed += 1
                    continue
                if receipt is None:
                    if row.relayer_nonce is not None and row.relayer_nonce < chain_nonce:
                        # Our nonce looks used by another transaction and ours has no receipt:
                        # if that lasts, it can never be mined, so sign the same call again.
                        since = self._taken_since.setdefault(row.id, time.monotonic())
                        if time.monotonic() - since < TAKEN_GRACE:
                            continue
                        del self._taken_since[row.id]
                        log.warning("relayer: nonce %s taken by another transaction; re-signing", row.relayer_nonce)
                        row.status, row.relayer_nonce, row.raw_tx = "pending", None, None
                        changed += 1
                    continue
                self._taken_since.pop(row.id, None)
                if row.status == "mined":
                    continue
                changed += 1
                self.mined.set()
                if int(receipt["status"], 16) == 1:
                    mined.append(row.id)
                elif row.action in ("write", "pack", "anchor"):
                    row.status = "reverted"  # failed or not: the index decides (_settle_reverted)
                    row.error = self._revert_reason(row, receipt)
                else:
                    row.status = "failed"
                    row.error = self._revert_reason(row, receipt)
                    self._mark_failed(session, row)
            if mined:
                # Only from `sent`: the indexer may have marked them done meanwhile.
                session.execute(
                    update(OutboxRow).where(OutboxRow.id.in_(mined), OutboxRow.status == "sent").values(status="mined")
                )
            if self._nudge_if_stalled(rows, receipts, chain_nonce):
                changed += 1
            return changed

    def _nudge_if_stalled(self, rows: Sequence[OutboxRow], receipts: list[Any], chain_nonce: int) -> bool:
        """anvil's automine mines when a transaction arrives. A backlog sent at once fills a
        block, and what the block left behind waits in the node's pool for the next arrival,
        which may never come: a resend of a known transaction is no arrival. When the next
        nonce the chain expects is ours, sent more than once, unmined yet held by the node,
        a development node in automine mode is asked to mine a block. With automine off,
        whoever turned it off (interval mining, a test holding blocks back) decides when
        blocks come. A production chain mines on its own."""
        stalled = next(
            (
                row
                for row, receipt in zip(rows, receipts, strict=True)
                if row.status == "sent" and receipt is None and row.relayer_nonce == chain_nonce and row.attempts >= 2
            ),
            None,
        )
        if stalled is None:
            return False
        if self._dev_node is None:
            self._dev_node = str(self.rpc.call("web3_clientVersion")).lower().startswith("anvil/")
        if not self._dev_node or not self.rpc.call("anvil_getAutomine"):
            return False
        if self.rpc.call("eth_getTransactionByHash", stalled.tx_hash) is None:
            return False  # dropped: the next resend brings it back
        log.warning("relayer: nonce %s waits unmined in the node's pool; asking the dev node to mine", chain_nonce)
        self.rpc.call("evm_mine")
        return True

    def _revert_reason(self, row: OutboxRow, receipt: dict[str, Any]) -> str:
        """Replays the reverted call to read its custom error (receipts carry none)."""
        tx = self.rpc.call("eth_getTransactionByHash", row.tx_hash)
        block = hex(int(receipt["blockNumber"], 16) - 1)
        try:
            self.rpc.call("eth_call", {"from": tx["from"], "to": tx["to"], "data": tx["input"]}, block)
        except RpcError as exc:
            data = exc.data if isinstance(exc.data, str) else None
            decoded = self.abi.decode_error(bytes.fromhex(data[2:])) if data and data.startswith("0x") else None
            return str(decoded) if decoded else exc.error_message
        return "reverted"

    def _settle_reverted(self) -> int:
        """Writes, packs and anchors that reverted, once the index has passed the revert's
        block: done if the index shows their records or root on chain (someone wrote the
        same record or anchored the same root first: that is success), failed if not. One
        whose receipt vanished (a reorg) is in flight again."""
        with self.store.session() as session:
            rows = session.scalars(select(OutboxRow).where(OutboxRow.status == "reverted")).all()
            if not rows:
                return 0
            cursor = session.get(StateRow, INDEXED_KEY)
            indexed = int(cursor.value) if cursor is not None else -1
            receipts = self.rpc.batch([("eth_getTransactionReceipt", [r.tx_hash]) for r in rows])
            settled = 0
            for row, receipt in zip(rows, receipts, strict=True):
                if isinstance(receipt, RpcError):
                    continue
                if receipt is None:
                    row.status, row.last_sent_at = "sent", None
                elif int(receipt["blockNumber"], 16) > indexed:
                    continue
                elif self._on_chain(session, row):
                    log.info("relayer: %s %s reverted, but the chain holds it: done", row.action, row.ref)
                    row.status = "done"
                else:
                    row.status = "failed"
                    self._mark_failed(session, row)
                settled += 1
            return settled

    def _on_chain(self, session: Session, row: OutboxRow) -> bool:
        """Whether the index shows every record of a write or pack, or the root of an
        anchor, on chain."""
        if row.action in ("write", "pack"):
            ids = _record_ids(row)
            included = session.scalar(
                select(func.count()).select_from(RecordRow).where(RecordRow.id.in_(ids), RecordRow.status == "included")
            )
            return included == len(ids)
        batch = session.get(BatchRow, row.ref)
        return batch is not None and batch.status == "included"

    def _mark_failed(self, session: Session, row: OutboxRow) -> None:
        values = {"status": "failed", "error": row.error}
        # A record failed already (displaced by one on chain before its write was sent)
        # keeps the reason that names the record in its place; one on chain (written by
        # someone else first, or by this pack before a later one ran out of gas) is not failed.
        live = RecordRow.status.not_in(["failed", "included"])
        if row.action in ("write", "pack"):
            # A pack reverts as a whole only when a record ran out of gas in it.
            session.execute(update(RecordRow).where(RecordRow.id.in_(_record_ids(row)), live).values(**values))
        elif row.action == "anchor":
            session.execute(update(BatchRow).where(BatchRow.root == row.ref).values(status="failed"))
            session.execute(update(RecordRow).where(RecordRow.batch_root == row.ref, live).values(**values))
        known_records.fail_built_on_failed(session.connection())  # what was built on it can never be written
        log.error("relayer: %s %s reverted: %s", row.action, row.ref, row.error)


def _record_ids(row: OutboxRow) -> list[str]:
    """The records a write or pack row carries."""
    if row.action == "write":
        return [row.ref]
    if row.action == "pack":
        return list(json.loads(row.payload or "[]"))
    return []


def _harmless_send_error(error: RpcError) -> bool:
    """The node has it already, or mined it: nothing to do but wait for the receipt."""
    text = error.error_message.lower()
    return "already known" in text or "nonce too low" in text or "already imported" in text


def wait_idle(relayer: Relayer, timeout: float = 30.0) -> None:
    """For tests and the demo: step until nothing is left to sign or send."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and relayer.step():
        pass
