"""Merkle trees of record ids, compatible with the ledger's `checkInclusion` and with
OpenZeppelin's MerkleProof: leaves are keccak256(keccak256(abi.encode(recordId))), pairs
are hashed in sorted order, so a proof is the list of sibling hashes from leaf to root."""

from __future__ import annotations

from collections.abc import Sequence

from ledger_api.domain.hashing import keccak256 as keccak


def leaf_hash(record_id: bytes) -> bytes:
    # abi.encode of a single bytes32 is the 32 bytes themselves.
    return keccak(keccak(record_id))


def _node(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


class MerkleTree:
    """A tree over record ids; an odd node at the end of a level moves up unchanged."""

    def __init__(self, record_ids: Sequence[bytes]) -> None:
        if not record_ids:
            raise ValueError("a Merkle tree needs at least one record id")
        self._index = {rid: i for i, rid in enumerate(record_ids)}
        level = [leaf_hash(rid) for rid in record_ids]
        self._levels = [level]
        while len(level) > 1:
            nxt = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            self._levels.append(nxt)
            level = nxt

    @property
    def root(self) -> bytes:
        return self._levels[-1][0]

    def proof(self, record_id: bytes) -> list[bytes]:
        index = self._index[record_id]
        proof = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                proof.append(level[sibling])
            index //= 2
        return proof


def verify(root: bytes, record_id: bytes, proof: Sequence[bytes]) -> bool:
    computed = leaf_hash(record_id)
    for sibling in proof:
        computed = _node(computed, sibling)
    return computed == root
