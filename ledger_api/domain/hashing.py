"""keccak256, bytes in and bytes out, for the paths that hash per record and per Merkle
node (a verification hashes about 300 times for a consignment of 20 batch records).

eth-hash's `keccak` answers through its auto backend, which dispatches on every call:
about 6 µs a hash here, against under 1 µs for the same backend's C function called
directly (safe-pysha3, already what eth-hash uses on these machines; docs/benchmarks.md).
tests/domain/test_hashing.py checks it gives eth-hash's digests."""

from __future__ import annotations

from sha3 import keccak_256  # type: ignore[import-untyped]  # safe-pysha3: C, no type hints

__all__ = ["keccak256"]


def keccak256(data: bytes) -> bytes:
    digest: bytes = keccak_256(data).digest()
    return digest
