"""The relayer's nudge of a development node: it asks anvil to mine only when anvil is in
automine mode and our transaction sits in its pool. With automine off, blocks are the
business of whoever turned it off (a test holding them back, interval mining)."""

from __future__ import annotations

import time
from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak
from support.submissions import register_exporter, signed_declaration

EXPORTER = Account.from_key(keccak(text="dev node nudge test exporter"))


def test_with_automine_off_the_relayer_resends_but_never_mines(stepped_runtime):
    rt, contracts = stepped_runtime(resend_after_seconds=0.1)
    w3 = contracts.w3

    def node(method: str, *params: Any) -> Any:
        return w3.provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]

    register_exporter(contracts, rt.manifest, EXPORTER)
    rt.indexer.step()  # the exporter's registration, seen by the service
    rt.submissions.submit(signed_declaration(contracts.ledger_domain, EXPORTER, "6NL123456789-NUDGE-1"))

    node("evm_setAutomine", False)
    head = w3.eth.block_number
    for _ in range(10):  # ten resend windows: the row is sent, resent, and still unmined
        rt.relayer.step()
        time.sleep(rt.settings.resend_after_seconds)
    assert w3.eth.block_number == head
    assert int(node("txpool_status")["pending"], 16) == 1

    node("evm_mine")
    rt.relayer.step()
    assert w3.eth.block_number == head + 1
    assert int(node("txpool_status")["pending"], 16) == 0
