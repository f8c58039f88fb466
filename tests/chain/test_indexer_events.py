"""The indexer reads the contracts' newer events without a hitch: a record that writeMany
refused (RecordRejected) is failed with the contract's custom error, decoded; a route's
countries (RouteExtended) and an authority's endpoint (EndpointPublished) are kept as
events. The relayer sends no packs yet, so the logs here are made by hand, as a node
would serve them; the node is a stand-in that serves one block."""

from __future__ import annotations

import json
from typing import Any

from eth_abi.abi import encode
from eth_account import Account
from eth_utils.crypto import keccak
from sqlalchemy import select
from support.submissions import CHAIN_NONCE, chainless_submissions, numbered_declaration, register_exporters

from ledger_api.chain.abi import ContractAbi
from ledger_api.chain.artifacts import load_artifacts
from ledger_api.indexer import Indexer
from ledger_api.settings import PROJECT_ROOT
from ledger_api.store.db import Store
from ledger_api.store.tables import EventRow, RecordRow

ABI = ContractAbi(load_artifacts(PROJECT_ROOT / "build"))
TOPIC = {spec.name: topic for topic, spec in ABI.events.items()}
LEDGER, REGISTRY = "0x" + "aa" * 20, "0x" + "bb" * 20
BLOCK = 7
EXPORTER = Account.from_key(keccak(text="indexer events exporter"))


def _word(value: bytes | str) -> str:
    raw = bytes.fromhex(value[2:]) if isinstance(value, str) else value
    return "0x" + raw.rjust(32, b"\0").hex() if len(raw) == 20 else "0x" + raw.ljust(32, b"\0").hex()


def _log(index: int, address: str, name: str, topics: list[bytes | str], types: list[str], values: list[Any]) -> dict:
    return {
        "address": address,
        "topics": ["0x" + TOPIC[name].hex(), *(_word(t) for t in topics)],
        "data": "0x" + encode(types, values).hex(),
        "blockNumber": hex(BLOCK),
        "blockHash": "0x" + keccak(text=f"block {BLOCK}").hex(),
        "transactionHash": "0x" + keccak(text="a writeMany pack").hex(),
        "logIndex": hex(index),
    }


class OneBlockNode:
    """Serves block BLOCK (and its parent) with `logs`."""

    def __init__(self, logs: list[dict[str, Any]]) -> None:
        self.logs = logs

    def call(self, method: str, *params: Any) -> Any:
        if method == "eth_blockNumber":
            return hex(BLOCK)
        if method == "eth_getLogs":
            return self.logs
        if method == "eth_getBlockByNumber":
            number = int(params[0], 16)
            return {
                "number": hex(number),
                "hash": "0x" + keccak(text=f"block {number}").hex(),
                "parentHash": "0x" + keccak(text=f"block {number - 1}").hex(),
                "timestamp": hex(1_800_000_000 + number),
            }
        raise AssertionError(f"unexpected call {method}")

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        return [self.call(method, *params) for method, params in calls]


def test_a_rejected_record_fails_with_the_decoded_error_and_the_other_new_events_are_kept(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    register_exporters(store, EXPORTER)
    submissions = chainless_submissions(store)
    rejected = submissions.submit(numbered_declaration(EXPORTER, 1, CHAIN_NONCE)).record_id
    written = submissions.submit(numbered_declaration(EXPORTER, 2, CHAIN_NONCE + 1)).record_id
    with store.session() as session:
        session.get(RecordRow, written).status = "included"  # on chain already, by another transaction
    consignment = keccak(text="6NL123456789-NN-0001")
    customs = "0x" + "cd" * 20
    not_on_route = keccak(text="LedgerNotOnRoute(bytes32,address,bytes2)")[:4] + encode(
        ["bytes32", "address", "bytes2"], [consignment, customs, b"SG"]
    )
    signing_key, encryption_key = keccak(text="ed25519"), bytes(32)
    logs = [
        _log(0, LEDGER, "RecordRejected", [consignment, rejected, EXPORTER.address], ["bytes"], [not_on_route]),
        _log(1, LEDGER, "RecordRejected", [consignment, written, EXPORTER.address], ["bytes"], [not_on_route]),
        _log(2, LEDGER, "RouteExtended", [consignment, written], ["bytes2[]"], [[b"SG", b"LK"]]),
        _log(
            3,
            REGISTRY,
            "EndpointPublished",
            [customs, b"SG"],
            ["string", "bytes32", "bytes32", "address"],
            ["https://ledger.customs.gov.sg", signing_key, encryption_key, customs],
        ),
    ]
    indexer = Indexer(
        store, OneBlockNode(logs), ABI, {"ConsignmentLedger": LEDGER, "PartyRegistry": REGISTRY}, deploy_block=BLOCK
    )
    assert indexer.step() == 1  # four events of one transaction: one applied, no backlog to wait for

    with store.session() as session:
        failed = session.get(RecordRow, rejected)
        assert (failed.status, failed.block_number) == ("failed", BLOCK)
        assert failed.error == (
            f"LedgerNotOnRoute(consignment=0x{consignment.hex()}, party={customs}, country=0x{b'SG'.hex()})"
        )
        assert session.get(RecordRow, written).status == "included"  # a rejection of it again says nothing
        events = {e.log_index: e for e in session.scalars(select(EventRow))}
    assert [events[i].name for i in range(4)] == [
        "RecordRejected",
        "RecordRejected",
        "RouteExtended",
        "EndpointPublished",
    ]
    assert events[0].record_id == rejected and events[2].record_id == written
    assert json.loads(events[2].args)["countries"] == ["0x" + b"SG".hex(), "0x" + b"LK".hex()]
    endpoint = json.loads(events[3].args)
    assert (endpoint["url"], endpoint["signingKey"], events[3].contract) == (
        "https://ledger.customs.gov.sg",
        "0x" + signing_key.hex(),
        "PartyRegistry",
    )

    # A reorg that drops the pack's block puts the rejected record back in flight.
    with store.session() as session:
        indexer.rewind(session, BLOCK - 1)
    with store.session() as session:
        again = session.get(RecordRow, rejected)
        assert (again.status, again.block_number, again.error) == ("submitted", None, None)


def test_every_custom_error_of_the_contracts_is_in_the_error_table():
    """decode_error reads the build's ABIs: the new route and pack errors are named too."""
    named = {name for name, _ in ABI.errors.values()}
    assert {
        "LedgerInvalidRouteLength",
        "LedgerInvalidRouteCountry",
        "LedgerSameOriginAndDestination",
        "LedgerRouteFull",
        "LedgerNotOnRoute",
        "LedgerSignatureCountMismatch",
        "LedgerRecordOutOfGas",
        "RecognitionCertificateSuspended",
        "RecognitionInvalidControls",
        "RegistryNotActiveAuthority",
    } <= named
    route_full = keccak(text="LedgerRouteFull(bytes32,bytes2)")[:4] + encode(["bytes32", "bytes2"], [bytes(32), b"DE"])
    decoded = ABI.decode_error(route_full)
    assert decoded is not None and decoded.name == "LedgerRouteFull" and decoded.args["country"] == b"DE"
