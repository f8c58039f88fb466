"""The relayer prices its transactions from the chain's fees as they are now (#14): it
follows a base fee that rose since it started (EIP-1559, where the chain has a base fee),
and on a chain that charges nothing (a consortium chain run with min gas price 0) it
sends at price 0 from an account holding no ether."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak
from support.service import local_settings
from support.submissions import register_exporter, signed_declaration
from web3 import HTTPProvider, Web3

from ledger_api.chain import relayer as relayer_module
from ledger_api.chain.contracts import Contracts
from ledger_api.chain.node import AnvilNode
from ledger_api.domain.parties import Role, identifiers_hash
from ledger_api.runtime import Runtime
from ledger_api.settings import ANVIL_DEV_KEYS, PROJECT_ROOT
from ledger_api.store.tables import RecordRow

EXPORTER = Account.from_key(keccak(text="relayer fees test exporter"))


def _node(w3: Any, method: str, *params: Any) -> Any:
    return w3.provider.make_request(method, list(params))["result"]


def _settle(rt, record_id: str) -> RecordRow:
    for _ in range(100):
        rt.relayer.step()
        rt.indexer.step()
        with rt.store.session() as session:
            row = session.get(RecordRow, record_id)
        assert row is not None
        if row.status in ("included", "confirmed", "failed"):
            return row
    raise AssertionError(f"record {record_id} still {row.status}")


def test_the_price_follows_a_base_fee_that_rose_since_the_relayer_started(stepped_runtime, monkeypatch):
    rt, contracts = stepped_runtime(confirmations=1)
    w3 = contracts.w3
    register_exporter(contracts, rt.manifest, EXPORTER)
    rt.indexer.step()
    domain = contracts.ledger_domain
    first = rt.submissions.submit(signed_declaration(domain, EXPORTER, "6NL123456789-FEE-1", 0))
    assert _settle(rt, first.record_id).status == "included"  # priced from the fees at start

    monkeypatch.setattr(relayer_module, "GAS_PRICE_TTL", 0.0)
    _node(w3, "anvil_setNextBlockBaseFeePerGas", hex(500 * 10**9))
    _node(w3, "evm_mine")
    base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    assert base_fee > 100 * 10**9
    second = rt.submissions.submit(signed_declaration(domain, EXPORTER, "6NL123456789-FEE-2", 1))
    row = _settle(rt, second.record_id)
    assert row.status == "included"
    tx = w3.eth.get_transaction(row.tx_hash)
    assert tx["type"] == 2  # EIP-1559, the chain having a base fee: its offer is the fee cap
    assert tx["maxFeePerGas"] >= base_fee


def test_on_a_chain_without_fees_the_relayer_needs_no_ether(tmp_path: Path):
    fee_free = ("--base-fee", "0", "--gas-price", "0", "--disable-min-priority-fee")
    relayer_key = "0x" + keccak(text="relayer fees test: a relayer that holds no ether").hex()
    with AnvilNode(tmp_path / "anvil", extra_args=fee_free) as node:
        settings = local_settings(
            tmp_path / "data", rpc_url=node.url, dev_chain=True, deployer_key=ANVIL_DEV_KEYS[0], relayer_key=relayer_key
        )
        rt = Runtime(settings).start(background=False)
        try:
            assert rt.manifest is not None and rt.relayer is not None
            contracts = Contracts.load(Web3(HTTPProvider(node.url)), rt.manifest, PROJECT_ROOT / "build")
            w3 = contracts.w3
            authority = rt.manifest.authorities[0]["address"]
            call = contracts.registry.functions.registerParty(
                EXPORTER.address, int(Role.EXPORTER), identifiers_hash({"n": "x"})
            )
            w3.eth.wait_for_transaction_receipt(call.transact({"from": authority, "gasPrice": 0}))
            rt.indexer.step()
            relayer = rt.relayer.account.address
            assert w3.eth.get_balance(relayer) == 0
            submitted = signed_declaration(contracts.ledger_domain, EXPORTER, "6NL123456789-FREE-1", 0)
            row = _settle(rt, rt.submissions.submit(submitted).record_id)
            assert row.status == "included"
            assert w3.eth.get_transaction(row.tx_hash)["gasPrice"] == 0
            assert w3.eth.get_balance(relayer) == 0
        finally:
            rt.stop()
