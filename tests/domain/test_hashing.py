"""The domain's keccak256 (safe-pysha3 called directly) is eth-hash's keccak256."""

from eth_utils.crypto import keccak
from hypothesis import given
from hypothesis import strategies as st

from ledger_api.domain.hashing import keccak256


def test_keccak256_of_nothing_is_the_known_digest() -> None:
    # keccak256(""): Ethereum's empty-code hash, not SHA3-256's a7ffc6f8… (a different padding).
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


@given(st.binary(max_size=300))
def test_keccak256_gives_eth_hash_digests(data: bytes) -> None:
    assert keccak256(data) == keccak(data)
