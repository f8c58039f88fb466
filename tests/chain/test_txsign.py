"""The relayer's own transaction signer gives the very bytes eth_account gives, legacy and
EIP-1559, for transactions of every size it sends (hypothesis draws them), and the node
accepts them: the relayer's tests send nothing else. It reads back the fees it signed,
and a replacement's fees outbid them by the 10 % nodes require."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account
from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_api.chain.node import AnvilNode
from ledger_api.chain.rpc import Rpc
from ledger_api.chain.txsign import Fees, TxSigner, fees_of, resign
from ledger_api.settings import ANVIL_DEV_KEYS

KEY = bytes.fromhex("2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6")
ACCOUNT = Account.from_key(KEY)


@settings(max_examples=300, deadline=None)
@given(
    chain_id=st.sampled_from([1, 31337, 2**32 + 7]),
    nonce=st.integers(0, 2**64 - 1),
    gas_price=st.integers(0, 2**100),
    gas=st.integers(21_000, 30_000_000),
    to=st.binary(min_size=20, max_size=20).filter(any),  # not the zero address: "no recipient" to eth_account
    data=st.binary(max_size=2_000),
    value=st.integers(0, 2**100),
)
def test_the_relayer_signs_exactly_what_eth_account_signs(
    chain_id: int, nonce: int, gas_price: int, gas: int, to: bytes, data: bytes, value: int
):
    address = "0x" + to.hex()
    raw, tx_hash = TxSigner(KEY, chain_id).sign(
        nonce=nonce, fees=Fees(gas_price), gas=gas, to=address, data=data, value=value
    )
    expected = ACCOUNT.sign_transaction(
        {
            "nonce": nonce,
            "gasPrice": gas_price,
            "gas": gas,
            "to": to_checksum_address(address),
            "value": value,
            "data": data,
            "chainId": chain_id,
        }
    )
    assert raw == bytes(expected.raw_transaction)
    assert tx_hash == bytes(expected.hash)
    assert fees_of(raw) == Fees(gas_price)
    again, _ = resign(TxSigner(KEY, chain_id), raw, Fees(gas_price).bumped(10))
    assert (
        again
        == TxSigner(KEY, chain_id).sign(
            nonce=nonce, fees=Fees(gas_price).bumped(10), gas=gas, to=address, data=data, value=value
        )[0]
    )


@settings(max_examples=300, deadline=None)
@given(
    chain_id=st.sampled_from([1, 31337, 2**32 + 7]),
    nonce=st.integers(0, 2**64 - 1),
    tip=st.integers(0, 2**100),
    above_tip=st.integers(0, 2**100),
    gas=st.integers(21_000, 30_000_000),
    to=st.binary(min_size=20, max_size=20).filter(any),
    data=st.binary(max_size=2_000),
)
def test_the_relayer_signs_an_eip1559_transaction_exactly_as_eth_account_does(
    chain_id: int, nonce: int, tip: int, above_tip: int, gas: int, to: bytes, data: bytes
):
    address = "0x" + to.hex()
    fees = Fees(max_fee=tip + above_tip, tip=tip)
    raw, tx_hash = TxSigner(KEY, chain_id).sign(nonce=nonce, fees=fees, gas=gas, to=address, data=data)
    expected = ACCOUNT.sign_transaction(
        {
            "type": 2,
            "nonce": nonce,
            "maxFeePerGas": tip + above_tip,
            "maxPriorityFeePerGas": tip,
            "gas": gas,
            "to": to_checksum_address(address),
            "value": 0,
            "data": data,
            "chainId": chain_id,
            "accessList": [],
        }
    )
    assert raw == bytes(expected.raw_transaction)
    assert tx_hash == bytes(expected.hash)
    assert fees_of(raw) == fees
    bumped = fees.bumped(10)
    again, again_hash = resign(TxSigner(KEY, chain_id), raw, bumped)
    assert (again, again_hash) == TxSigner(KEY, chain_id).sign(nonce=nonce, fees=bumped, gas=gas, to=address, data=data)


@given(max_fee=st.integers(0, 2**100), tip=st.one_of(st.none(), st.integers(0, 2**100)))
def test_a_bumped_fee_outbids_the_old_one_by_ten_percent_and_an_equal_one_does_not(max_fee: int, tip: int | None):
    old = Fees(max_fee, tip)
    new = old.bumped(10)
    assert new.outbids(old)
    assert new.max_fee * 10 >= old.max_fee * 11 and new.max_fee > old.max_fee
    assert tip is None or (new.tip is not None and new.tip * 10 >= tip * 11 and new.tip > tip)
    assert not old.outbids(old)
    # A legacy transaction's price is all tip: an EIP-1559 replacement must outbid it in both.
    assert Fees(max_fee, tip).at_least(Fees(max_fee)).priority >= max_fee


@pytest.mark.parametrize("hardfork", ["berlin", "cancun"])
def test_a_node_replaces_a_pending_transaction_with_one_signed_again_at_a_bumped_fee(tmp_path: Path, hardfork: str):
    """Legacy on a chain without a base fee (berlin), EIP-1559 on one with it (cancun)."""
    key = bytes.fromhex(ANVIL_DEV_KEYS[5][2:])
    with AnvilNode(tmp_path / "anvil", extra_args=("--hardfork", hardfork)) as node, Rpc(node.url) as rpc:
        rpc.call("evm_setAutomine", False)
        price = int(rpc.call("eth_gasPrice"), 16)
        fees = Fees(price) if hardfork == "berlin" else Fees(2 * price, price // 2)
        signer = TxSigner(key, int(rpc.call("eth_chainId"), 16))
        sender = Account.from_key(key).address
        raw, first = signer.sign(nonce=0, fees=fees, gas=21_000, to=sender, data=b"")
        rpc.call("eth_sendRawTransaction", "0x" + raw.hex())
        again, second = resign(signer, raw, fees.bumped(10))
        assert fees_of(again) == fees.bumped(10) and (again[:1] == b"\x02") == (hardfork == "cancun")
        rpc.call("eth_sendRawTransaction", "0x" + again.hex())
        rpc.call("evm_mine")
        assert rpc.call("eth_getTransactionReceipt", "0x" + first.hex()) is None
        assert rpc.call("eth_getTransactionReceipt", "0x" + second.hex())["status"] == "0x1"
        assert int(rpc.call("eth_getTransactionCount", sender, "latest"), 16) == 1
