"""`brownie run scripts/deploy.py` goes through ledger_api.chain.deploy, the same code the
service runs: it deploys a wired set once, and a second run reuses it; a consortium admin
named in the config receives the registry's admin role in two steps."""

import importlib.util
import json
from pathlib import Path

from brownie import PartyRegistry, accounts, chain, web3

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "deploy.py"


def load_script():
    spec = importlib.util.spec_from_file_location("deploy_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_deploy_script_deploys_once_and_reuses_the_manifest(tmp_path, monkeypatch):
    manifest_path = tmp_path / "manifest.json"
    monkeypatch.setenv("LEDGER_MANIFEST", str(manifest_path))
    script = load_script()

    script.main()
    manifest = json.loads(manifest_path.read_text())
    assert manifest["chain_id"] == web3.eth.chain_id
    for entry in manifest["contracts"].values():
        assert len(web3.eth.get_code(entry["address"])) > 2
    height = web3.eth.block_number

    script.main()
    assert json.loads(manifest_path.read_text()) == manifest
    assert web3.eth.block_number == height


def test_deploy_script_begins_the_admin_hand_over_and_the_named_admin_accepts_it(tmp_path, monkeypatch):
    named_admin, delay = accounts[5], 3 * 24 * 3600
    config = tmp_path / "deployment.yaml"
    dev_config = SCRIPT.parents[1] / "config" / "deployment.dev.yaml"
    config.write_text(
        dev_config.read_text().replace("admin_delay_seconds: 0", f"admin_delay_seconds: {delay}")
        + f'admin: "{named_admin.address}"\n'
    )
    manifest_path = tmp_path / "manifest.json"
    monkeypatch.setenv("LEDGER_DEPLOYMENT_CONFIG", str(config))
    monkeypatch.setenv("LEDGER_MANIFEST", str(manifest_path))
    load_script().main()

    manifest = json.loads(manifest_path.read_text())
    registry = PartyRegistry.at(manifest["contracts"]["PartyRegistry"]["address"])
    deployer = accounts[0].address
    assert (manifest["deployer"], manifest["admin"], manifest["pending_admin"]) == (deployer, named_admin, named_admin)
    pending, schedule = registry.pendingDefaultAdmin()
    assert (str(pending), int(schedule)) == (named_admin.address, manifest["admin_transfer_after"])
    assert registry.defaultAdminDelay() == delay
    # The deployer registered the authorities and stays admin until the named admin accepts.
    assert registry.defaultAdmin() == deployer
    assert all(registry.partyOf(a["address"])[1] for a in manifest["authorities"])

    chain.sleep(delay + 1)
    registry.acceptDefaultAdminTransfer({"from": named_admin})
    assert registry.defaultAdmin() == named_admin.address
    assert registry.hasRole(b"\x00" * 32, deployer) is False


def test_deploy_script_with_no_admin_named_leaves_the_deployer_admin(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_MANIFEST", str(tmp_path / "manifest.json"))
    load_script().main()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    registry = PartyRegistry.at(manifest["contracts"]["PartyRegistry"]["address"])
    assert manifest["admin"] == accounts[0].address
    assert manifest["pending_admin"] is None
    assert registry.defaultAdmin() == accounts[0].address
    assert registry.defaultAdminDelay() == 0
    pending, schedule = registry.pendingDefaultAdmin()
    assert (int(pending, 16), int(schedule)) == (0, 0)
