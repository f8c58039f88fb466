"""The indexer takes in one new block, the common case of a lone record on a node that
mines on arrival, in one round trip to the node: its head, the block and its logs come
in the batch every step asks anyway. Several new blocks go the longer way, as before."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak
from support.submissions import register_exporter, signed_declaration

from ledger_api.chain.rpc import Rpc
from ledger_api.store.tables import RecordRow

EXPORTER = Account.from_key(keccak(text="indexer round trips exporter"))


class _Counted:
    """The indexer's Rpc, counting the requests it makes (a batch is one)."""

    def __init__(self, rpc: Rpc) -> None:
        self.rpc, self.requests = rpc, 0

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        self.requests += 1
        return self.rpc.batch(calls)

    def call(self, method: str, *params: Any) -> Any:
        self.requests += 1
        return self.rpc.call(method, *params)


def _status(rt: Any, record_id: str) -> str:
    with rt.store.session() as session:
        row = session.get(RecordRow, record_id)
        assert row is not None
        return row.status


def test_one_new_block_is_indexed_in_one_round_trip_and_several_in_the_longer_way(stepped_runtime):
    rt, contracts = stepped_runtime(confirmations=1)
    register_exporter(contracts, rt.manifest, EXPORTER)
    while rt.indexer.step():
        pass
    counted = _Counted(rt.indexer.rpc)
    rt.indexer.rpc = counted
    domain = contracts.ledger_domain

    lone = rt.submissions.submit(signed_declaration(domain, EXPORTER, "6NL123456789-TRIP-1", 0)).record_id
    rt.relayer.step()  # sent: mined in a block of its own
    assert rt.indexer.step() == 1
    assert counted.requests == 1
    assert _status(rt, lone) == "included"

    counted.requests = 0
    assert rt.indexer.step() == 0  # nothing new: the same one round trip
    assert counted.requests == 1

    two = [
        rt.submissions.submit(signed_declaration(domain, EXPORTER, f"6NL123456789-TRIP-{n}", n - 1)).record_id
        for n in (2, 3)
    ]
    rt.relayer.step()  # one pack: one block
    contracts.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]  # and an empty one on top
    counted.requests = 0
    assert rt.indexer.step() >= 1
    assert counted.requests == 3  # the head, then the blocks, then their logs
    assert [_status(rt, rid) for rid in two] == ["included", "included"]
