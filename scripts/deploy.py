"""`bin/brownie run scripts/deploy.py [--network NAME]`: deploy the ledger's contracts.

The work is done by ledger_api.chain.deploy, the same code the service runs at start.
Settings from the environment:
  LEDGER_DEPLOYMENT_CONFIG  authorities config (default config/deployment.dev.yaml)
  LEDGER_MANIFEST           where the manifest goes (default build/deployments/<network>-<chain id>.json)
  LEDGER_DEPLOYER_KEY       the deployer's private key; without it, the node's first unlocked account
"""

import os
import sys
from pathlib import Path

from brownie import accounts, network, web3
from eth_account import Account

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ledger_api.chain.deploy import Sender, ensure_deployed, load_config  # noqa: E402


def main() -> None:
    name = network.show_active()
    config = load_config(Path(os.environ.get("LEDGER_DEPLOYMENT_CONFIG", ROOT / "config" / "deployment.dev.yaml")))
    manifest_path = Path(
        os.environ.get("LEDGER_MANIFEST", ROOT / "build" / "deployments" / f"{name}-{web3.eth.chain_id}.json")
    )
    key = os.environ.get("LEDGER_DEPLOYER_KEY")
    sender = Sender(web3, Account.from_key(key) if key else accounts[0].address)
    # brownie's development chain is new at every run, so its old manifest is stale by nature.
    manifest, created = ensure_deployed(
        web3, sender, config, ROOT / "build", manifest_path, replace_stale=name == "development"
    )
    print(("Deployed" if created else "Already deployed; reusing") + f" on chain {manifest.chain_id}:")
    for contract, deployed in manifest.contracts.items():
        print(f"  {contract:20} {deployed.address}")
    print(f"Manifest: {manifest_path}")
