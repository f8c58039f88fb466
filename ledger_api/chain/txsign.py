"""Signing the relayer's transactions, with EIP-155 replay protection: EIP-1559 (type 2)
where the chain has a base fee, legacy (type 0) where it has none. eth_account's
`sign_transaction` checks and normalises a dict on every call, much of the relayer's time
under a stream of single posts (docs/reliability.md); this builds the same bytes from
typed values, and tests/chain/test_txsign.py holds it to eth_account's output byte for
byte. `fees_of` reads back the fees a signed transaction offers, which is what a
replacement must outbid."""

from __future__ import annotations

from dataclasses import dataclass

import rlp  # type: ignore[import-untyped]
from coincurve import PrivateKey
from eth_utils.crypto import keccak

EIP1559 = b"\x02"


@dataclass(frozen=True)
class Fees:
    """What a transaction offers to pay per gas: `max_fee` (legacy: the gas price) and,
    for EIP-1559, the priority fee (`tip`); `tip` None means a legacy transaction."""

    max_fee: int
    tip: int | None = None

    @property
    def legacy(self) -> bool:
        return self.tip is None

    def bumped(self, percent: int) -> Fees:
        """These fees raised by at least `percent`, rounded up: nodes take a replacement of a
        pending transaction only if it outbids it (10 % on geth, anvil and Besu), both fees
        of an EIP-1559 one."""

        def up(value: int) -> int:
            return value + max(1, -(-value * percent // 100))

        return Fees(up(self.max_fee), None if self.tip is None else up(self.tip))

    @property
    def priority(self) -> int:
        """What goes to the block's producer at most: a legacy price is all tip."""
        return self.max_fee if self.tip is None else self.tip

    def at_least(self, other: Fees) -> Fees:
        """The higher of each fee, of the kind of `self`."""
        if self.tip is None:
            return Fees(max(self.max_fee, other.max_fee))
        tip = max(self.tip, other.priority)
        return Fees(max(self.max_fee, other.max_fee, tip), tip)

    def outbids(self, other: Fees) -> bool:
        """Whether a transaction offering these fees may replace one offering `other`."""
        minimum = other.bumped(10)
        return self.max_fee >= minimum.max_fee and self.priority >= minimum.priority


class TxSigner:
    def __init__(self, private_key: bytes, chain_id: int) -> None:
        self._key = PrivateKey(private_key)
        self.chain_id = chain_id

    def sign(self, *, nonce: int, fees: Fees, gas: int, to: str, data: bytes, value: int = 0) -> tuple[bytes, bytes]:
        """The raw signed transaction and its hash."""
        address = bytes.fromhex(to[2:])
        if fees.tip is None:
            fields = [nonce, fees.max_fee, gas, address, value, data]
            digest = keccak(rlp.encode([*fields, self.chain_id, 0, 0]))  # EIP-155: the chain id signed in
            recovery, r, s = self._sign(digest)
            raw = rlp.encode([*fields, self.chain_id * 2 + 35 + recovery, r, s])
            return raw, keccak(raw)
        fields = [self.chain_id, nonce, fees.tip, fees.max_fee, gas, address, value, data, []]  # no access list
        recovery, r, s = self._sign(keccak(EIP1559 + rlp.encode(fields)))
        raw = EIP1559 + rlp.encode([*fields, recovery, r, s])
        return raw, keccak(raw)

    def _sign(self, digest: bytes) -> tuple[int, int, int]:
        signature = self._key.sign_recoverable(digest, hasher=None)  # low s, deterministic (RFC 6979)
        return signature[64], int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")


def resign(signer: TxSigner, raw: bytes, fees: Fees) -> tuple[bytes, bytes]:
    """The same call as the raw transaction `raw` of TxSigner's, with its nonce and gas,
    signed again offering `fees`: a replacement, of which at most one can be mined."""
    if raw[:1] == EIP1559:
        _, nonce, _, _, gas, to, value, data, _, _, _, _ = rlp.decode(raw[1:])
    else:
        nonce, _, gas, to, value, data, _, _, _ = rlp.decode(raw)
    return signer.sign(nonce=_int(nonce), fees=fees, gas=_int(gas), to="0x" + to.hex(), data=data, value=_int(value))


def fees_of(raw: bytes) -> Fees:
    """The fees a raw transaction of TxSigner's offers."""
    if raw[:1] == EIP1559:
        fields = rlp.decode(raw[1:])
        return Fees(max_fee=_int(fields[3]), tip=_int(fields[2]))
    return Fees(max_fee=_int(rlp.decode(raw)[1]))


def _int(value: bytes) -> int:
    return int.from_bytes(value, "big")
