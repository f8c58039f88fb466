"""The Python side and the contract agree: the same record id (EIP-712 digest), the same
signatures, the same Merkle proofs. The service signs and checks off chain what the chain
checks on chain, so any drift here would split the two."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from eth_account import Account
from eth_utils import keccak
from web3.logs import DISCARD

from ledger_api.domain.merkle import MerkleTree
from ledger_api.domain.parties import identifiers_hash
from ledger_api.domain.records import (
    ZERO_ADDRESS,
    ZERO_HASH,
    Record,
    RecordKind,
    consignment_key,
    domain_separator,
    fast_record_id,
    record_id,
    recover_signer,
    sign_record,
)

EXPORTER_KEY = keccak(text="agreement test exporter")
EXPORTER = Account.from_key(EXPORTER_KEY).address


def declaration(nonce: int = 0) -> Record:
    return Record(
        consignment=consignment_key("NLRTM2026-0001"),
        kind=RecordKind.DECLARATION,
        payload_hash=keccak(text="declaration payload"),
        previous=ZERO_HASH,
        party=EXPORTER,
        counterparty=ZERO_ADDRESS,
        nonce=nonce,
        deadline=int(time.time()) + 600,
        route=("NL", "JP"),
    )


@pytest.mark.parametrize(
    ("kind", "route"),
    [
        (RecordKind.DECLARATION, ("NL", "JP")),
        (RecordKind.HANDOVER, ()),
        (RecordKind.TRANSIT, ("DE",)),
        (
            RecordKind.TRANSIT,
            ("DE", "PL", "BY", "RU", "KZ", "CN", "MN", "KR", "US", "CA", "MX", "BR", "AR", "CL", "PE", "ZA"),
        ),
    ],
)
def test_record_id_is_the_digest_the_contract_computes(contracts, kind, route):
    record = replace(declaration(), kind=kind, route=route)
    expected = contracts.ledger.functions.recordId(record.as_tuple()).call()
    assert record_id(record, contracts.ledger_domain) == expected
    assert fast_record_id(record, domain_separator(contracts.ledger_domain)) == expected


def test_record_signed_by_the_python_client_is_written_by_the_contract(w3, contracts, deployed):
    nl_customs = deployed.authorities[0]["address"]
    contracts.registry.functions.registerParty(EXPORTER, 1, identifiers_hash({"eori": "NL123"})).transact(
        {"from": nl_customs}
    )
    record = declaration()
    signature = sign_record(record, contracts.ledger_domain, EXPORTER_KEY)
    assert recover_signer(record, contracts.ledger_domain, signature) == EXPORTER
    tx = contracts.ledger.functions.write(record.as_tuple(), signature).transact({"from": w3.eth.accounts[9]})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    (event,) = contracts.ledger.events.RecordWritten().process_receipt(receipt, errors=DISCARD)
    assert event["args"]["recordId"] == record_id(record, contracts.ledger_domain)
    assert contracts.ledger.functions.consignmentOf(record.consignment).call()[1] == EXPORTER

    transit = replace(
        record,
        kind=RecordKind.TRANSIT,
        previous=record_id(record, contracts.ledger_domain),
        nonce=1,
        route=("DE", "NL", "PL"),  # NL is on the route already: the contract adds DE and PL
    )
    signature = sign_record(transit, contracts.ledger_domain, EXPORTER_KEY)
    receipt = w3.eth.wait_for_transaction_receipt(
        contracts.ledger.functions.write(transit.as_tuple(), signature).transact({"from": w3.eth.accounts[9]})
    )
    (written,) = contracts.ledger.events.RecordWritten().process_receipt(receipt, errors=DISCARD)
    assert written["args"]["recordId"] == record_id(transit, contracts.ledger_domain)
    assert contracts.ledger.functions.routeOf(record.consignment).call() == [b"NL", b"JP", b"DE", b"PL"]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 101])
def test_every_merkle_proof_of_the_python_tree_holds_on_chain(w3, contracts, size):
    ids = [keccak(text=f"record {size}/{i}") for i in range(size)]
    tree = MerkleTree(ids)
    receipt = w3.eth.wait_for_transaction_receipt(
        contracts.ledger.functions.anchorRoot(tree.root, size).transact({"from": w3.eth.accounts[9]})
    )
    for rid in ids:
        assert (
            contracts.ledger.functions.checkInclusion(tree.root, rid, tree.proof(rid)).call() == receipt["blockNumber"]
        )
