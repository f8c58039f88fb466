"""With an external chain the service asks only what any node answers: an instance on an
anvil it did not start (a development chain, as the consortium's), reached through a
proxy that records every JSON-RPC method, deploys, publishes its endpoint, relays and
indexes the demo consignments, verifies one, writes one more while the chain mines every
2 seconds, and never calls evm_* or anvil_*."""

from __future__ import annotations

from pathlib import Path

import httpx
from support.consortium import BLOCK_TIME
from support.forwarding import JP_CUSTOMS
from support.rpc_recorder import recording_proxy
from support.service import local_settings, served, url_of, wait_until
from web3 import HTTPProvider, Web3

from ledger_api import demo
from ledger_api.chain.node import AnvilNode, free_port
from ledger_api.client import LedgerClient
from ledger_api.settings import ANVIL_DEV_KEYS, PROJECT_ROOT

DEVELOPMENT_PREFIXES = ("evm_", "anvil_", "hardhat_")


def test_an_instance_on_an_external_chain_makes_no_development_call(tmp_path: Path):
    with AnvilNode(tmp_path / "anvil", port=free_port(), extra_args=("--block-time", str(BLOCK_TIME))) as node:
        w3 = Web3(HTTPProvider(node.url))
        # The setup at once, as tests/consortium does; the node itself is asked, not through the proxy.
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        with recording_proxy(node.url) as proxy:
            settings = local_settings(
                tmp_path / "jp",
                rpc_url=proxy.url,
                dev_chain=True,
                deployer_key=ANVIL_DEV_KEYS[0],
                relayer_key=ANVIL_DEV_KEYS[9],
                authority=JP_CUSTOMS.address,
                # Resent while it waits for the next block: what made the relayer nudge a dev node.
                resend_after_seconds=0.2,
            )
            with served(settings) as rt:
                assert rt.manifest is not None and rt.credentials is not None
                url = url_of(rt)
                demo.seed(url, rt.manifest, PROJECT_ROOT / "build", node.url, rt.credentials.issue)
                w3.provider.make_request("evm_setIntervalMining", [BLOCK_TIME])  # type: ignore[arg-type]
                token = rt.credentials.issue(JP_CUSTOMS.address, "JP customs")
                with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
                    ucr = f"{demo.UCR_PREFIX}0001"

                    def verified() -> bool:
                        response = http.get(f"/v1/consignments/{ucr}/verification", params={"country": "JP"})
                        return response.status_code == 200 and response.json()["verdict"] == "VERIFIED"

                    wait_until(verified, timeout=90, what="the demo's delivered consignment verified")
                exporter = LedgerClient(
                    url, demo.EXPORTER_P.account, token=rt.credentials.issue(demo.EXPORTER_P.account.address)
                )
                try:
                    written = exporter.submit(demo.declaration(f"{demo.UCR_PREFIX}0921", "JP-SEAL-000921"))
                    exporter.wait_confirmed(written, timeout=60)
                finally:
                    exporter.close()
            methods = proxy.seen()
    assert {"eth_chainId", "eth_call", "eth_getLogs", "eth_sendRawTransaction"} <= set(methods), sorted(set(methods))
    development = sorted({m for m in methods if m.startswith(DEVELOPMENT_PREFIXES)})
    assert development == [], development
