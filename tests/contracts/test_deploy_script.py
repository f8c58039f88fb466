"""`brownie run scripts/deploy.py` goes through ledger_api.chain.deploy, the same code the
service runs: it deploys a wired set once, and a second run reuses it."""

import importlib.util
import json
from pathlib import Path

from brownie import web3

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
