"""The indexer against a chain that changes its mind: a reorg (simulated with anvil's
evm_snapshot / evm_revert) rewinds the index, the reverted record goes back in flight and
is written again, and nothing is reported confirmed below the confirmation depth."""

from __future__ import annotations

import time

from eth_account import Account
from eth_utils.crypto import keccak
from support.submissions import register_exporter, signed_declaration

from ledger_api.chain.relayer import Relayer
from ledger_api.indexer import Indexer

EXPORTER = Account.from_key(keccak(text="reorg test exporter"))


def _drive(relayer: Relayer, indexer: Indexer, rounds: int = 20) -> None:
    for _ in range(rounds):
        relayer.step()
        indexer.step()


def test_a_reorg_rewinds_the_index_and_the_reverted_record_is_written_again_once(stepped_runtime):
    rt, contracts = stepped_runtime(confirmations=3, resend_after_seconds=0.2)
    w3 = contracts.w3
    register_exporter(contracts, rt.manifest, EXPORTER)
    _drive(rt.relayer, rt.indexer)
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]

    accepted = rt.submissions.submit(signed_declaration(contracts.ledger_domain, EXPORTER, "6NL123456789-REORG-1"))
    _drive(rt.relayer, rt.indexer)
    view = rt.queries.record(accepted.record_id)
    assert view.block_number is not None and view.confirmations == 1
    assert view.status == "submitted"  # one block of three: not confirmed yet
    original_block = view.block_hash

    # The chain forgets the record's block and grows past it on another branch.
    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True
    for _ in range(3):
        w3.provider.make_request("evm_mine", [])
    rt.indexer.step()
    assert rt.queries.record(accepted.record_id).block_number is None  # rewound, back in flight

    deadline = time.monotonic() + 30
    while rt.queries.record(accepted.record_id).status != "confirmed":
        assert time.monotonic() < deadline, "the reverted record was not written again"
        _drive(rt.relayer, rt.indexer, 1)
        w3.provider.make_request("evm_mine", [])
        time.sleep(0.05)
    again = rt.queries.record(accepted.record_id)
    assert again.block_hash != original_block and again.confirmations >= 3
    logs = contracts.ledger.events.RecordWritten().get_logs(from_block=rt.manifest.deploy_block)
    assert ["0x" + bytes(e["args"]["recordId"]).hex() for e in logs] == [accepted.record_id]
