"""The relayer replaces a transaction left unmined while the chain's fees rose past what it
offers (#14): the same call, with the same nonce, offering the fees of now and at least
10 % more (EIP-1559 on anvil, which has a base fee); whichever of the two is mined counts,
never both, and a record on chain is never marked failed."""

from __future__ import annotations

import time
from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak
from sqlalchemy import select
from support.submissions import register_exporter, signed_declaration

from ledger_api.chain import relayer as relayer_module
from ledger_api.chain.txsign import Fees, fees_of
from ledger_api.store.tables import OutboxRow, RecordRow

EXPORTER = Account.from_key(keccak(text="replacement test exporter"))


def _node(w3: Any, method: str, *params: Any) -> Any:
    reply = w3.provider.make_request(method, list(params))
    assert "error" not in reply, reply
    return reply["result"]


def _write_row(rt, record_id: str) -> OutboxRow:
    with rt.store.session() as session:
        return session.scalars(select(OutboxRow).where(OutboxRow.ref == record_id)).one()


def _settle(rt, record_id: str) -> RecordRow:
    for _ in range(50):
        rt.relayer.step()
        rt.indexer.step()
        with rt.store.session() as session:
            row = session.get(RecordRow, record_id)
        assert row is not None
        if row.status in ("included", "confirmed", "failed"):
            return row
    raise AssertionError(f"record {record_id} still {row.status}")


def _stuck_under_risen_fees(stepped_runtime, monkeypatch, ucr: str) -> tuple[Any, Any, str, OutboxRow, Fees]:
    """A record whose write was sent, held unmined (automine off), and then priced out: a
    block came with a base fee ten times its fee cap. Returns the runtime, web3, the
    record id, its outbox row and the fees the write offered."""
    rt, contracts = stepped_runtime(confirmations=1)
    w3 = contracts.w3
    register_exporter(contracts, rt.manifest, EXPORTER)
    rt.indexer.step()
    accepted = rt.submissions.submit(signed_declaration(contracts.ledger_domain, EXPORTER, ucr))
    _node(w3, "evm_setAutomine", False)
    rt.relayer.step()
    first = _write_row(rt, accepted.record_id)
    offered = fees_of(bytes.fromhex(first.raw_tx[2:]))
    assert first.status == "sent" and offered.tip is not None  # EIP-1559: anvil has a base fee
    _node(w3, "anvil_setNextBlockBaseFeePerGas", hex(offered.max_fee * 10))
    _node(w3, "evm_mine")
    assert _node(w3, "eth_getTransactionReceipt", first.tx_hash) is None
    monkeypatch.setattr(relayer_module, "GAS_PRICE_TTL", 0.0)
    rt.relayer.replace_after = 0.0
    return rt, w3, accepted.record_id, first, offered


def test_a_write_priced_out_by_a_risen_base_fee_is_replaced_with_the_same_nonce_and_mined_once(
    stepped_runtime, monkeypatch
):
    rt, w3, record_id, first, offered = _stuck_under_risen_fees(stepped_runtime, monkeypatch, "6NL123456789-RPL-1")
    relayer = rt.relayer.account.address
    sent_before = w3.eth.get_transaction_count(relayer)

    rt.relayer.step()  # unmined for replace_after while fees rose: signed again
    rt.relayer.step()  # and sent
    replaced = _write_row(rt, record_id)
    bumped = fees_of(bytes.fromhex(replaced.raw_tx[2:]))
    assert replaced.relayer_nonce == first.relayer_nonce
    assert replaced.tx_hash != first.tx_hash and replaced.other_tx_hashes == f'["{first.tx_hash}"]'
    assert bumped.outbids(offered)
    assert bumped.max_fee > w3.eth.get_block("latest")["baseFeePerGas"]

    _node(w3, "evm_mine")
    _node(w3, "evm_setAutomine", True)
    row = _settle(rt, record_id)
    assert row.status == "included" and row.tx_hash == replaced.tx_hash
    assert w3.eth.get_transaction_count(relayer) == sent_before + 1
    assert _node(w3, "eth_getTransactionReceipt", first.tx_hash) is None
    assert _write_row(rt, record_id).status in ("mined", "done")


def test_when_the_replaced_write_is_mined_instead_it_counts_and_the_record_is_not_failed(stepped_runtime, monkeypatch):
    rt, w3, record_id, first, _ = _stuck_under_risen_fees(stepped_runtime, monkeypatch, "6NL123456789-RPL-2")
    relayer = rt.relayer.account.address
    sent_before = w3.eth.get_transaction_count(relayer)
    # The node never gets the replacement (lost on its way) until the first write is mined.
    batch, held = rt.relayer.rpc.batch, [True]

    def losing_sends(calls: list[tuple[str, list[Any]]]) -> list[Any]:
        if held[0] and calls and all(method == "eth_sendRawTransaction" for method, _ in calls):
            return [None for _ in calls]
        return batch(calls)

    monkeypatch.setattr(rt.relayer.rpc, "batch", losing_sends)
    rt.relayer.step()
    rt.relayer.step()
    replaced = _write_row(rt, record_id)
    assert replaced.tx_hash != first.tx_hash and replaced.status == "sent"

    # Fees fall again, and the first write (anvil dropped it from its pool when it was priced
    # out; a peer of the network still held it) comes back and is mined.
    _node(w3, "anvil_setNextBlockBaseFeePerGas", hex(1))
    _node(w3, "eth_sendRawTransaction", first.raw_tx)
    _node(w3, "evm_mine")
    assert _node(w3, "eth_getTransactionReceipt", first.tx_hash)["status"] == "0x1"
    held[0] = False
    _node(w3, "evm_setAutomine", True)

    row = _settle(rt, record_id)
    assert row.status == "included" and row.tx_hash == first.tx_hash
    for _ in range(5):
        rt.relayer.step()
        rt.indexer.step()
    settled = _write_row(rt, record_id)
    assert settled.status == "done" and settled.error is None
    assert settled.tx_hash == first.tx_hash and settled.other_tx_hashes == f'["{replaced.tx_hash}"]'
    assert w3.eth.get_transaction_count(relayer) == sent_before + 1
    with rt.store.session() as session:
        assert session.get(RecordRow, record_id).status != "failed"  # type: ignore[union-attr]


def test_a_write_unmined_while_fees_stand_still_is_only_sent_again(stepped_runtime, monkeypatch):
    rt, contracts = stepped_runtime(confirmations=1, resend_after_seconds=0.05)
    w3 = contracts.w3
    register_exporter(contracts, rt.manifest, EXPORTER)
    rt.indexer.step()
    accepted = rt.submissions.submit(signed_declaration(contracts.ledger_domain, EXPORTER, "6NL123456789-RPL-3"))
    _node(w3, "evm_setAutomine", False)
    monkeypatch.setattr(relayer_module, "GAS_PRICE_TTL", 0.0)
    rt.relayer.replace_after = 0.0
    rt.relayer.step()
    first = _write_row(rt, accepted.record_id)
    for _ in range(5):
        time.sleep(0.06)
        rt.relayer.step()
    again = _write_row(rt, accepted.record_id)
    assert (again.tx_hash, again.raw_tx, again.other_tx_hashes) == (first.tx_hash, first.raw_tx, None)
    assert again.attempts > first.attempts
