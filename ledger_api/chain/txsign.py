"""Signing the relayer's transactions: legacy (type 0) with EIP-155 replay protection,
the only kind it sends. eth_account's `sign_transaction` checks and normalises a dict on
every call, much of the relayer's time under a stream of single posts
(docs/reliability.md); this builds the same bytes from typed values, and
tests/chain/test_txsign.py holds it to eth_account's output byte for byte."""

from __future__ import annotations

import rlp  # type: ignore[import-untyped]
from coincurve import PrivateKey
from eth_utils.crypto import keccak


class LegacySigner:
    def __init__(self, private_key: bytes, chain_id: int) -> None:
        self._key = PrivateKey(private_key)
        self.chain_id = chain_id

    def sign(
        self, *, nonce: int, gas_price: int, gas: int, to: str, data: bytes, value: int = 0
    ) -> tuple[bytes, bytes]:
        """The raw signed transaction and its hash."""
        fields = [nonce, gas_price, gas, bytes.fromhex(to[2:]), value, data]
        digest = keccak(rlp.encode([*fields, self.chain_id, 0, 0]))  # EIP-155: the chain id signed in
        signature = self._key.sign_recoverable(digest, hasher=None)  # low s, deterministic (RFC 6979)
        r, s, recovery = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"), signature[64]
        raw = rlp.encode([*fields, self.chain_id * 2 + 35 + recovery, r, s])
        return raw, keccak(raw)
