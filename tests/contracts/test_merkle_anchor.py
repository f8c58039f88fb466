"""Bulk mode: anchoring the Merkle root of many signed records, and proving that a record
is one of its leaves. The tree is built here the way OpenZeppelin's StandardMerkleTree
builds it for leaves of type ["bytes32"], so that the ledger service can use that library."""

import pytest
from brownie import web3
from eth_utils import keccak
from helpers import ZERO_HASH, reverts_with


def leaf_of(record_id: bytes) -> bytes:
    """StandardMerkleTree leaf of ["bytes32"]: keccak256(bytes.concat(keccak256(abi.encode(id)))),
    and abi.encode of one bytes32 is its 32 bytes."""
    return keccak(keccak(record_id))


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(min(a, b) + max(a, b))


class MerkleTree:
    """OpenZeppelin StandardMerkleTree layout: leaf hashes sorted, stored at the end of a
    flat array in reverse order; node i has children 2i+1 and 2i+2; the root is node 0."""

    def __init__(self, record_ids: list[bytes]) -> None:
        leaves = sorted(leaf_of(i) for i in record_ids)
        self.nodes: list[bytes] = [b""] * (2 * len(leaves) - 1)
        for i, leaf in enumerate(leaves):
            self.nodes[len(self.nodes) - 1 - i] = leaf
        for i in range(len(self.nodes) - 1 - len(leaves), -1, -1):
            self.nodes[i] = hash_pair(self.nodes[2 * i + 1], self.nodes[2 * i + 2])
        self.index = {leaf: len(self.nodes) - 1 - i for i, leaf in enumerate(leaves)}

    @property
    def root(self) -> bytes:
        return self.nodes[0]

    def proof(self, record_id: bytes) -> list[bytes]:
        i, proof = self.index[leaf_of(record_id)], []
        while i > 0:
            proof.append(self.nodes[i + 1 if i % 2 else i - 1])
            i = (i - 1) // 2
        return proof


def record_ids(n: int, salt: str = "batch") -> list[bytes]:
    return [keccak(text=f"{salt} record {i}") for i in range(n)]


def test_python_tree_is_the_openzeppelin_layout():
    a, b, c = record_ids(3)
    la, lb, lc = sorted(leaf_of(x) for x in (a, b, c))
    # three leaves, sorted and laid out in reverse: the two smallest pair up, the largest joins at the root
    assert MerkleTree([a, b, c]).root == hash_pair(hash_pair(la, lb), lc)
    assert MerkleTree([c, a, b]).root == MerkleTree([a, b, c]).root
    assert MerkleTree([a]).root == leaf_of(a)
    assert MerkleTree([a]).proof(a) == []


@pytest.mark.parametrize("size", [1, 2, 7, 100])
def test_relayer_anchors_a_batch_and_every_record_of_it_is_proven_included(ledger, relayer, size):
    ids = record_ids(size, salt=f"batch of {size}")
    tree = MerkleTree(ids)
    tx = ledger.anchorRoot(tree.root, size, {"from": relayer})

    (event,) = tx.events["RootAnchored"]
    assert bytes(event["root"]) == tree.root
    assert event["anchoredBy"] == relayer.address
    assert event["recordCount"] == size
    assert ledger.anchoredAt(tree.root) == tx.block_number
    for record_id in ids:
        assert ledger.checkInclusion(tree.root, record_id, tree.proof(record_id)) == tx.block_number


def test_anyone_may_anchor_a_root_without_any_role(ledger, cast):
    tree = MerkleTree(record_ids(4))
    tx = ledger.anchorRoot(tree.root, 4, {"from": cast.outsider.account})
    assert tx.events["RootAnchored"][0]["anchoredBy"] == cast.outsider.address
    assert ledger.anchoredAt(tree.root) == tx.block_number


def test_verifier_cannot_prove_a_record_against_another_anchored_root(ledger, relayer):
    first, second = MerkleTree(record_ids(7, "first")), MerkleTree(record_ids(7, "second"))
    ledger.anchorRoot(first.root, 7, {"from": relayer})
    ledger.anchorRoot(second.root, 7, {"from": relayer})
    record_id = record_ids(7, "first")[3]
    with reverts_with("LedgerInvalidInclusionProof", second.root, record_id):
        ledger.checkInclusion(second.root, record_id, first.proof(record_id))


def test_verifier_cannot_prove_a_record_with_a_tampered_proof(ledger, relayer):
    ids = record_ids(7)
    tree = MerkleTree(ids)
    ledger.anchorRoot(tree.root, 7, {"from": relayer})
    proof = tree.proof(ids[2])
    tampered = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
    with reverts_with("LedgerInvalidInclusionProof", tree.root, ids[2]):
        ledger.checkInclusion(tree.root, ids[2], tampered)
    with reverts_with("LedgerInvalidInclusionProof", tree.root, ids[2]):
        ledger.checkInclusion(tree.root, ids[2], proof[:-1])


def test_verifier_cannot_prove_a_record_that_is_not_a_leaf(ledger, relayer):
    ids = record_ids(7)
    tree = MerkleTree(ids)
    ledger.anchorRoot(tree.root, 7, {"from": relayer})
    stranger = keccak(text="never in the batch")
    with reverts_with("LedgerInvalidInclusionProof", tree.root, stranger):
        ledger.checkInclusion(tree.root, stranger, tree.proof(ids[0]))


def test_verifier_cannot_pass_an_inner_node_off_as_a_record(ledger, relayer):
    ids = record_ids(2)
    tree = MerkleTree(ids)
    ledger.anchorRoot(tree.root, 2, {"from": relayer})
    # an inner node (here the root itself) with an empty proof is no leaf: leaves are hashed twice
    with reverts_with("LedgerInvalidInclusionProof", tree.root, tree.root):
        ledger.checkInclusion(tree.root, tree.root, [])


def test_verifier_cannot_prove_anything_against_a_root_never_anchored(ledger):
    ids = record_ids(2)
    tree = MerkleTree(ids)
    assert ledger.anchoredAt(tree.root) == 0
    with reverts_with("LedgerRootNotAnchored", tree.root):
        ledger.checkInclusion(tree.root, ids[0], tree.proof(ids[0]))


def test_relayer_cannot_anchor_the_same_root_twice(ledger, relayer, cast):
    tree = MerkleTree(record_ids(7))
    first = ledger.anchorRoot(tree.root, 7, {"from": relayer})
    with reverts_with("LedgerRootAlreadyAnchored", tree.root, first.block_number):
        ledger.anchorRoot(tree.root, 7, {"from": cast.outsider.account})
    assert ledger.anchoredAt(tree.root) == first.block_number


def test_relayer_cannot_anchor_a_zero_root(ledger, relayer):
    with reverts_with("LedgerEmptyRoot"):
        ledger.anchorRoot(ZERO_HASH, 7, {"from": relayer})


def test_relayer_cannot_anchor_a_root_of_no_records(ledger, relayer):
    tree = MerkleTree(record_ids(7))
    with reverts_with("LedgerEmptyRoot"):
        ledger.anchorRoot(tree.root, 0, {"from": relayer})
    assert ledger.anchoredAt(tree.root) == 0


def test_records_written_one_by_one_can_also_be_anchored_and_proven(book, cast, ledger, relayer):
    ids = [bytes(book.declare(cast.exporter, f"UCR-BULK-{i}").return_value) for i in range(3)]
    tree = MerkleTree(ids)
    tx = ledger.anchorRoot(tree.root, len(ids), {"from": relayer})
    assert web3.eth.block_number == tx.block_number
    assert [ledger.checkInclusion(tree.root, i, tree.proof(i)) for i in ids] == [tx.block_number] * 3
