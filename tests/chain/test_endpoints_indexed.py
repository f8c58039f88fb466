"""The indexer keeps each authority's current endpoint from EndpointPublished (the latest
publication wins, every one stays in `events`), and a reorg that drops a publication puts
the one before it back. The node is a stand-in that serves the logs of two blocks."""

from __future__ import annotations

from typing import Any

from eth_abi.abi import encode
from eth_utils.crypto import keccak
from sqlalchemy import select

from ledger_api.chain.abi import ContractAbi
from ledger_api.chain.artifacts import load_artifacts
from ledger_api.indexer import Indexer
from ledger_api.settings import PROJECT_ROOT
from ledger_api.store import peers
from ledger_api.store.db import Store
from ledger_api.store.tables import EventRow

ABI = ContractAbi(load_artifacts(PROJECT_ROOT / "build"))
TOPIC = {spec.name: topic for topic, spec in ABI.events.items()}
REGISTRY = "0x" + "bb" * 20
JP_CUSTOMS = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
RELAYER = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"
FIRST, SECOND = 7, 8


def _block_hash(number: int) -> str:
    return "0x" + keccak(text=f"block {number}").hex()


def _published(block: int, url: str, signing_key: bytes) -> dict[str, Any]:
    return {
        "address": REGISTRY,
        "topics": [
            "0x" + TOPIC["EndpointPublished"].hex(),
            "0x" + bytes.fromhex(JP_CUSTOMS[2:]).rjust(32, b"\0").hex(),
            "0x" + b"JP".ljust(32, b"\0").hex(),
        ],
        "data": "0x"
        + encode(["string", "bytes32", "bytes32", "address"], [url, signing_key, bytes(32), RELAYER]).hex(),
        "blockNumber": hex(block),
        "blockHash": _block_hash(block),
        "transactionHash": "0x" + keccak(text=f"publication {block}").hex(),
        "logIndex": "0x0",
    }


class TwoBlockNode:
    def __init__(self, logs: list[dict[str, Any]], head: int) -> None:
        self.logs, self.head = logs, head

    def call(self, method: str, *params: Any) -> Any:
        if method == "eth_blockNumber":
            return hex(self.head)
        if method == "eth_getLogs":
            low, high = int(params[0]["fromBlock"], 16), int(params[0]["toBlock"], 16)
            return [entry for entry in self.logs if low <= int(entry["blockNumber"], 16) <= high]
        if method == "eth_getBlockByNumber":
            number = int(params[0], 16)
            return {
                "number": hex(number),
                "hash": _block_hash(number),
                "parentHash": _block_hash(number - 1),
                "timestamp": hex(1_800_000_000 + number),
            }
        raise AssertionError(f"unexpected call {method}")

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        return [self.call(method, *params) for method, params in calls]


def test_the_latest_publication_is_the_endpoint_and_a_reorg_puts_the_one_before_back(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    first_key, second_key = keccak(text="first ed25519"), keccak(text="rotated ed25519")
    node = TwoBlockNode(
        [
            _published(FIRST, "http://127.0.0.1:8000", first_key),
            _published(SECOND, "https://ledger.customs.go.jp", second_key),
        ],
        head=SECOND,
    )
    indexer = Indexer(store, node, ABI, {"PartyRegistry": REGISTRY}, deploy_block=FIRST)  # type: ignore[arg-type]
    assert indexer.step() == 2

    with store.session() as session:
        endpoint = peers.current_endpoint(session, JP_CUSTOMS)
        history = peers.publications(session, JP_CUSTOMS)
        assert session.scalar(select(EventRow.name).where(EventRow.block_number == SECOND)) == "EndpointPublished"
    assert endpoint is not None
    assert (endpoint.country, endpoint.url, endpoint.signing_key, endpoint.relayer, endpoint.block_number) == (
        "JP",
        "https://ledger.customs.go.jp",
        "0x" + second_key.hex(),
        RELAYER,
        SECOND,
    )
    assert [e.signing_key for e in history] == ["0x" + first_key.hex(), "0x" + second_key.hex()]

    with store.session() as session:
        indexer.rewind(session, FIRST)
    with store.session() as session:
        endpoint = peers.current_endpoint(session, JP_CUSTOMS)
    assert endpoint is not None and (endpoint.url, endpoint.block_number) == ("http://127.0.0.1:8000", FIRST)
