"""The relayer's own transaction signer gives the very bytes eth_account gives, for
transactions of every size it sends (hypothesis draws them), and the node accepts them:
the relayer's tests send nothing else."""

from __future__ import annotations

from eth_account import Account
from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_api.chain.txsign import LegacySigner

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
    raw, tx_hash = LegacySigner(KEY, chain_id).sign(
        nonce=nonce, gas_price=gas_price, gas=gas, to=address, data=data, value=value
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
