"""The relayer: turns the outbox into transactions and sees them onto the chain exactly
once, whatever the node forgets.

- Signing: each pending row gets the relayer's next nonce and is signed at the chain's
  fees of now (EIP-1559 where it has a base fee, legacy where not), and the raw
  transaction is stored (committed) before it is ever sent. A resend is therefore the very
  same transaction: it can be mined once at most, because its nonce can be used once.
- Preflight: each write and pack is called (`eth_call`) against the latest block right
  before it is signed and, in the same step, first sent (chain/preflight.py): a record
  whose write would revert for good (its party suspended or revoked on chain since it was
  accepted, not yet indexed; an expired deadline) fails with the contract's reason and is
  never sent; a pack goes without it. That call is the signer's standing re-checked just
  before sending.
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
- Replacing: a sent transaction unmined for `replace_after` seconds while the chain's
  fees rose past what it offers is signed again with the same nonce and call, offering
  the fees of now and at least 10 % more (what nodes require to replace one). Its row
  keeps every hash signed for the nonce: whichever is mined is the row's transaction
  (only one can be), and a record on chain is never failed for the other.
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

One relayer per key: two services sharing a relayer key would fight over nonces. On a
shared store the writers elect one (chain/election.py) and its transactions are fenced by
the lease (store/leases.py), packs as well as single writes; pending rows are claimed with
SKIP LOCKED and the nonce is kept per relayer key (store/outbox.py).
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
from sqlalchemy.orm import Session

from ledger_api.chain import preflight
from ledger_api.chain.abi import ContractAbi
from ledger_api.chain.rpc import Rpc, RpcError
from ledger_api.chain.txsign import Fees, TxSigner, fees_of, resign
from ledger_api.store import outbox
from ledger_api.store.db import Store
from ledger_api.store.tables import OutboxRow, RecordRow

log = logging.getLogger(__name__)

GAS = {"write": 300_000, "anchor": 120_000, "forward": 400_000}
PACK_MAX = 50  # records per writeMany transaction
# A pack's gas limit: each record is a `write` called by the ledger itself, which must
# never run out of gas (that would revert the whole pack); only gas used is paid.
PACK_GAS_BASE, PACK_GAS_PER_RECORD = 60_000, 250_000
GAS_PRICE_TTL = 30.0  # seconds between two asks of the node's fees
TAKEN_GRACE = 10.0  # seconds a row must look "nonce taken, no receipt" before it is re-signed
REPLACE_AFTER = 30.0  # seconds a sent transaction waits unmined before fees that rose replace it


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
        replace_after: float = REPLACE_AFTER,
        own_node: bool = False,
    ) -> None:
        self.store, self.rpc, self.abi, self.account = store, rpc, abi, account
        # The node is the service's own (the embedded anvil): only then may it be asked to
        # mine. An external chain, a development one included, has no evm_*/anvil_* calls
        # made to it: a consortium chain has none, and its blocks are not ours to make.
        self.own_node = own_node
        self.chain_id, self.addresses = chain_id, addresses
        self._signer = TxSigner(bytes(account.key), chain_id)
        self.resend_after = timedelta(seconds=resend_after)
        self.replace_after = replace_after
        self.wake = threading.Event()
        self.mined = threading.Event()  # set when transactions were sent or mined: the indexer waits on it
        self._fees_asked: tuple[Fees, float] | None = None  # fees, when asked
        self._taken_since: dict[int, float] = {}  # outbox row id -> when it first looked taken
        self._unmined_since: dict[int, float] = {}  # outbox row id -> when its transaction was first seen unmined
        self._mined_checked_at = 0.0
        self._dev_node: bool | None = None  # anvil: mines on arrival only; learnt from web3_clientVersion

    # ------------------------------------------------------------ loop

    def step(self) -> int:
        """One round; returns the most rows one part of it handled (0: nothing to do)."""
        signed = self._sign_pending()
        sent = self._send_due()
        if sent:
            # A node that mines on arrival (anvil, a dev chain) has mined them by now: the
            # indexer looks at once rather than after this step's receipts. Elsewhere it
            # finds no new block and waits as before.
            self.mined.set()
        mined = self._reconcile()
        settled = self._settle_reverted()
        return max(signed, sent, mined, settled)

    # ------------------------------------------------------------ signing

    def _fees(self) -> Fees:
        """What to offer per gas, asked of the node again every GAS_PRICE_TTL seconds so the
        relayer follows the chain's fees. Where the latest block has a base fee, EIP-1559:
        the node's suggested tip, never above its gas price (a chain run without fees
        suggests a tip all the same, and prices gas at 0), and a fee cap of twice the base
        fee plus that tip, room for the base fee to rise over a few blocks; elsewhere a
        legacy price of twice the node's. No floor: a consortium chain that charges nothing
        (min gas price 0, as Besu and Quorum are often run) gets transactions priced 0."""
        now = time.monotonic()
        if self._fees_asked is None or now - self._fees_asked[1] > GAS_PRICE_TTL:
            price, block, tip = self.rpc.batch(
                [("eth_gasPrice", []), ("eth_getBlockByNumber", ["latest", False]), ("eth_maxPriorityFeePerGas", [])]
            )
            for answer in (price, block):
                if isinstance(answer, RpcError):
                    raise answer
            gas_price = int(price, 16)
            base = block.get("baseFeePerGas") if isinstance(block, dict) else None
            if base is None:
                fees = Fees(2 * gas_price)
            else:
                base_fee = int(base, 16)
                # A node without eth_maxPriorityFeePerGas prices gas as base fee plus tip.
                suggested = max(0, gas_price - base_fee) if isinstance(tip, RpcError) else int(tip, 16)
                fees = Fees(2 * base_fee + min(suggested, gas_price), min(suggested, gas_price))
            self._fees_asked = (fees, now)
        return self._fees_asked[0]

    def _next_nonce(self, session: Session) -> int:
        return outbox.next_relayer_nonce(
            session,
            self.account.address,
            lambda: int(self.rpc.call("eth_getTransactionCount", self.account.address, "pending"), 16),
        )

    def _calldata(
        self, session: Session, row: OutboxRow, records: dict[str, RecordRow], called: dict[tuple[str, ...], bytes]
    ) -> tuple[str, bytes]:
        """The row's transaction: to whom, with what calldata. `called`: the calldata the
        preflight encoded, by the records it carries (encoding a pack again cost the
        relayer as much as the preflight's encoding did)."""
        if row.action == "pack":
            ids = json.loads(row.payload or "[]")
            data = called.get(tuple(ids)) or self._write_many_call([records[rid] for rid in ids])
            return self.addresses["ConsignmentLedger"], data
        if row.action == "write":
            data = called.get((row.ref,)) or self._write_call(records[row.ref])
            return self.addresses["ConsignmentLedger"], data
        if row.action == "anchor":
            batch = outbox.batch(session, row.ref)
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

    def _write_many_call(self, packed: Sequence[RecordRow]) -> bytes:
        signatures = [r.signature for r in packed]
        assert None not in signatures  # a pack carries records accepted here
        return self.abi.encode_call(
            "ConsignmentLedger",
            "writeMany",
            [r.to_record().as_tuple() for r in packed],
            [bytes.fromhex(sig[2:]) for sig in signatures if sig is not None],
        )

    def _write_call(self, record: RecordRow) -> bytes:
        assert record.signature is not None  # a write carries a record accepted here
        return self.abi.encode_call(
            "ConsignmentLedger", "write", record.to_record().as_tuple(), bytes.fromhex(record.signature[2:])
        )

    def _sign_pending(self, limit: int = 1000) -> int:
        with self.store.session() as session:
            pending = outbox.claim_pending(session, limit)
            if not pending:
                return 0
            # First, while nothing is written yet: on SQLite the first write takes the
            # store's one write lock, which must not wait for the node's answers.
            called = self._preflight(session, pending)
            nonce = self._next_nonce(session)
            fees = self._fees()
            txs = self._packed(session, self._drop_failed(session, pending))
            refs = [rid for row in txs for rid in _record_ids(row)]
            records = outbox.records_by_id(session, refs)
            for row in txs:
                to, data = self._calldata(session, row, records, called)
                gas = PACK_GAS_BASE + PACK_GAS_PER_RECORD * len(_record_ids(row)) if row.action == "pack" else None
                raw, tx_hash = self._signer.sign(nonce=nonce, fees=fees, gas=gas or GAS[row.action], to=to, data=data)
                row.raw_tx, row.tx_hash, row.other_tx_hashes = _hex(raw), _hex(tx_hash), None
                row.relayer_nonce = nonce
                row.status = "signed"
                nonce += 1
            outbox.set_relayer_nonce(session, self.account.address, nonce)
            return len(pending)

    def _preflight(self, session: Session, pending: Sequence[OutboxRow]) -> dict[tuple[str, ...], bytes]:
        """The pending writes are called against the latest block as the transactions they
        are about to make (runs of consecutive writes as packs, as _packed makes them;
        chain/preflight.py): signing and the first send follow in this step, so this is
        the signer's standing re-checked just before sending. A record whose write would
        revert for good fails here with the contract's reason, and what was built on it;
        _drop_failed then keeps its row from being sent, and its pack goes without it.
        Returns the calldata of each transaction called, by the records it carries."""
        writes = [row for row in pending if row.action == "write"]
        if not writes:
            return {}
        failed = outbox.failed_reasons(session, [row.ref for row in writes])
        records = outbox.records_by_id(session, [row.ref for row in writes if row.ref not in failed])
        runs: list[list[str]] = [[]]
        for row in pending:
            if row.action != "write":
                runs.append([])
            elif row.ref not in failed:
                runs[-1].append(row.ref)
        txs: list[preflight.Transaction] = []
        for run in runs:
            for i in range(0, len(run), PACK_MAX):
                ids = run[i : i + PACK_MAX]
                chunk = [records[rid] for rid in ids]
                data = self._write_call(chunk[0]) if len(chunk) == 1 else self._write_many_call(chunk)
                txs.append(preflight.Transaction(data, [(r.id, r.party) for r in chunk], len(chunk) > 1))
        doomed = preflight.doomed(self.rpc, self.abi, self.account.address, self.addresses, txs)
        if doomed:
            log.warning(
                "relayer: %d records would revert, failed unsent: %s", len(doomed), sorted(set(doomed.values()))
            )
            outbox.fail_unsent(session, doomed)
        return {tuple(rid for rid, _ in tx.records): tx.data for tx in txs}

    def _drop_failed(self, session: Session, rows: Sequence[OutboxRow]) -> list[OutboxRow]:
        """The pending rows worth a transaction: a write whose record failed before it was
        signed (displaced by a record on chain, built on one that failed, or found by the
        preflight to revert for good) would only revert, so it fails here with its
        record's reason, never sent."""
        failed = outbox.failed_reasons(session, [row.ref for row in rows if row.action == "write"])
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
        packs: list[OutboxRow] = []

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
                packs.append(pack)
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
        outbox.add_packs(session, packs)  # the packs' ids, before their nonces
        return txs

    # ------------------------------------------------------------ sending

    def _send_due(self) -> int:
        now = datetime.now(UTC)
        with self.store.session() as session:
            rows = outbox.due_to_send(session, now - self.resend_after)
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
        writes = [(rid, row.tx_hash) for row in rows if row.action in ("write", "pack") for rid in _record_ids(row)]
        outbox.mark_submitted(session, writes, [row for row in rows if row.action == "anchor"])

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
            rows = outbox.in_flight(session, statuses)
            if not rows:
                return 0
            # The nonce first, the receipts after: a transaction of ours mined in between
            # then shows its receipt, and is never mistaken for one whose nonce was taken.
            chain_nonce = int(self.rpc.call("eth_getTransactionCount", self.account.address, "latest"), 16)
            receipts = self._receipts(rows)
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
                        self._unmined_since.pop(row.id, None)
                        log.warning("relayer: nonce %s taken by another transaction; re-signing", row.relayer_nonce)
                        row.status, row.relayer_nonce, row.raw_tx = "pending", None, None
                        changed += 1
                    elif row.status == "sent" and self._replace_if_underpriced(row):
                        changed += 1
                    continue
                self._taken_since.pop(row.id, None)
                self._unmined_since.pop(row.id, None)
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
                outbox.mark_mined(session, mined)
            if self._nudge_if_stalled(rows, receipts, chain_nonce):
                changed += 1
            return changed

    def _receipts(self, rows: Sequence[OutboxRow]) -> list[Any]:
        """Each row's receipt (None: not mined; an RpcError: not known now), of whichever of
        the transactions signed for its nonce was mined (at most one can be): that one
        becomes the row's tx_hash, which is what the indexer confirms and rewinds by; the
        others stay listed, since a lost block may let another be mined in its place."""
        asked = [(row, tx) for row in rows for tx in [row.tx_hash, *_other_hashes(row)]]
        answers = self.rpc.batch([("eth_getTransactionReceipt", [tx]) for _, tx in asked])
        found: dict[int, Any] = {}
        for (row, tx), answer in zip(asked, answers, strict=True):
            if isinstance(answer, dict):
                if tx != row.tx_hash:
                    log.info("relayer: nonce %s mined as %s, which %s replaced", row.relayer_nonce, tx, row.tx_hash)
                    row.other_tx_hashes = json.dumps([h for h in [row.tx_hash, *_other_hashes(row)] if h != tx])
                    row.tx_hash = tx
                found[row.id] = answer
            elif isinstance(answer, RpcError) and not isinstance(found.get(row.id), dict):
                found[row.id] = answer
        return [found.get(row.id) for row in rows]

    def _replace_if_underpriced(self, row: OutboxRow) -> bool:
        """A sent transaction unmined for `replace_after` seconds while the chain's fees rose
        past what it offers is signed again, same call and nonce, offering today's fees and
        at least 10 % more than before (what nodes require to replace one in their pool):
        sent at once by the next step, and either it or the one it replaces is mined, never
        both (_receipts finds whichever). Resending the same bytes, as after a node dropped
        them, would never get it mined while the base fee stays above its fee cap."""
        now = time.monotonic()
        if row.raw_tx is None or now - self._unmined_since.setdefault(row.id, now) < self.replace_after:
            return False
        raw = bytes.fromhex(row.raw_tx[2:])
        offered, quote = fees_of(raw), self._fees()
        if quote.max_fee <= offered.max_fee:
            return False
        fees = quote.at_least(offered.bumped(10))
        replacement, tx_hash = resign(self._signer, raw, fees)
        log.warning(
            "relayer: nonce %s unmined while fees rose; replacing it, fee cap %d -> %d",
            row.relayer_nonce,
            offered.max_fee,
            fees.max_fee,
        )
        row.other_tx_hashes = json.dumps([*_other_hashes(row), row.tx_hash])
        row.raw_tx, row.tx_hash, row.status = _hex(replacement), _hex(tx_hash), "signed"
        self._unmined_since[row.id] = now
        return True

    def _nudge_if_stalled(self, rows: Sequence[OutboxRow], receipts: list[Any], chain_nonce: int) -> bool:
        """anvil's automine mines when a transaction arrives. A backlog sent at once fills a
        block, and what the block left behind waits in the node's pool for the next arrival,
        which may never come: a resend of a known transaction is no arrival. When the next
        nonce the chain expects is ours, sent more than once, unmined yet held by the node,
        the service's own node (the embedded anvil) in automine mode is asked to mine a
        block; an external chain never is. With automine off,
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
        if stalled is None or not self.own_node:
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
            rows = outbox.reverted(session)
            if not rows:
                return 0
            indexed = outbox.indexed_block(session)
            receipts = self._receipts(rows)
            settled = 0
            for row, receipt in zip(rows, receipts, strict=True):
                if isinstance(receipt, RpcError):
                    continue
                if receipt is None:
                    row.status, row.last_sent_at = "sent", None
                elif int(receipt["blockNumber"], 16) > indexed:
                    continue
                elif outbox.on_chain(session, row.action, row.ref, _record_ids(row)):
                    log.info("relayer: %s %s reverted, but the chain holds it: done", row.action, row.ref)
                    row.status = "done"
                else:
                    row.status = "failed"
                    self._mark_failed(session, row)
                settled += 1
            return settled

    def _mark_failed(self, session: Session, row: OutboxRow) -> None:
        outbox.fail(session, row.action, row.ref, _record_ids(row), row.error)
        log.error("relayer: %s %s reverted: %s", row.action, row.ref, row.error)


def _record_ids(row: OutboxRow) -> list[str]:
    """The records a write or pack row carries."""
    if row.action == "write":
        return [row.ref]
    if row.action == "pack":
        return list(json.loads(row.payload or "[]"))
    return []


def _other_hashes(row: OutboxRow) -> list[str]:
    """The transactions signed for the row's nonce besides its tx_hash (replaced ones)."""
    return list(json.loads(row.other_tx_hashes)) if row.other_tx_hashes else []


def _harmless_send_error(error: RpcError) -> bool:
    """The node has it already, or mined it: nothing to do but wait for the receipt."""
    text = error.error_message.lower()
    return "already known" in text or "nonce too low" in text or "already imported" in text


def wait_idle(relayer: Relayer, timeout: float = 30.0) -> None:
    """For tests and the demo: step until nothing is left to sign or send."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and relayer.step():
        pass
