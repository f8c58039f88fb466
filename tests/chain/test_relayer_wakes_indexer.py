"""The relayer wakes the indexer as soon as it has sent a transaction, before any receipt:
a node that mines on arrival has mined it by then, so a lone record's confirmation does not
wait for the rest of the relayer's step."""

from __future__ import annotations

from eth_account import Account
from eth_utils.crypto import keccak
from support.submissions import register_exporter, signed_declaration

EXPORTER = Account.from_key(keccak(text="relayer wakes the indexer exporter"))


def test_a_send_wakes_the_indexer_before_any_receipt(stepped_runtime):
    rt, contracts = stepped_runtime(confirmations=1)
    register_exporter(contracts, rt.manifest, EXPORTER)
    rt.indexer.step()
    rt.submissions.submit(signed_declaration(contracts.ledger_domain, EXPORTER, "6NL123456789-WAKE-1", 0))
    contracts.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]  # no receipt yet
    rt.relayer.mined.clear()
    rt.relayer.step()
    assert rt.relayer.mined.is_set()
    rt.relayer.mined.clear()
    rt.relayer.step()  # nothing sent, nothing mined: no wake-up
    assert not rt.relayer.mined.is_set()
    contracts.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
