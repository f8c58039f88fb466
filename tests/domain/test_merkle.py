"""Merkle trees of record ids: every leaf proves, nothing else does."""

import pytest
from eth_utils import keccak

from ledger_api.domain.merkle import MerkleTree, verify


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 33])
def test_each_record_proves_its_inclusion(size):
    ids = [keccak(text=str(i)) for i in range(size)]
    tree = MerkleTree(ids)
    assert all(verify(tree.root, rid, tree.proof(rid)) for rid in ids)


def test_a_record_outside_the_tree_or_a_changed_proof_does_not_prove():
    ids = [keccak(text=str(i)) for i in range(6)]
    tree = MerkleTree(ids)
    proof = tree.proof(ids[2])
    assert not verify(tree.root, keccak(text="other"), proof)
    assert not verify(tree.root, ids[2], [proof[0][::-1], *proof[1:]])
    assert not verify(MerkleTree(ids[:5]).root, ids[2], proof)


def test_an_empty_tree_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        MerkleTree([])
