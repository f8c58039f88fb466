"""The deployment lives in the store (#13): the instance that deploys records it, one that
finds it uses it without a manifest file of its own, one whose manifest file disagrees
refuses to start and says why, and instances deciding at the same moment deploy once."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from support.postgres import STORES, database_url
from web3 import HTTPProvider, Web3

from ledger_api.chain.deploy import Manifest, Sender, ensure_deployed, load_config
from ledger_api.chain.deployed import stored_manifest, use_or_deploy
from ledger_api.chain.node import AnvilNode
from ledger_api.errors import DeploymentError
from ledger_api.settings import DEV_DEPLOYMENT_CONFIG, PROJECT_ROOT
from ledger_api.store import deployment as stored_deployment
from ledger_api.store.db import Store

BUILD = PROJECT_ROOT / "build"
CONFIG = load_config(DEV_DEPLOYMENT_CONFIG)


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request, request.param) or f"sqlite:///{tmp_path / 'ledger.db'}"


def test_the_first_writer_deploys_and_records_and_the_next_uses_the_store_without_a_manifest_file(
    store_url: str, w3: Web3, deployer: Sender, tmp_path: Path
):
    store = Store(store_url)
    try:
        first, how = use_or_deploy(store, w3, deployer, CONFIG, BUILD, tmp_path / "a" / "deployment.json", "a")
        assert how == "deployed"
        assert stored_manifest(store) == first
        assert stored_deployment.stored(store).deployed_by == "a"  # type: ignore[union-attr]
        blocks = w3.eth.block_number
        second, how = use_or_deploy(store, w3, deployer, CONFIG, BUILD, tmp_path / "b" / "deployment.json", "b")
        assert (second, how) == (first, "stored")
        assert w3.eth.block_number == blocks, "nothing deployed twice"
        assert Manifest.load(tmp_path / "b" / "deployment.json") == first  # for the tools that read the file
    finally:
        store.close()


def test_a_manifest_file_of_a_deployment_made_before_the_store_kept_one_is_brought_into_it(
    store_url: str, w3: Web3, deployer: Sender, deployed: Manifest, manifest_path: Path
):
    store = Store(store_url)
    try:
        manifest, how = use_or_deploy(store, w3, deployer, CONFIG, BUILD, manifest_path, "old")
        assert (manifest, how) == (deployed, "recorded")
        assert stored_manifest(store) == deployed
    finally:
        store.close()


def test_an_instance_whose_manifest_file_disagrees_with_the_store_refuses_to_start_and_names_both(
    store_url: str, w3: Web3, deployer: Sender, tmp_path: Path
):
    store = Store(store_url)
    try:
        ours, _ = use_or_deploy(store, w3, deployer, CONFIG, BUILD, tmp_path / "a" / "deployment.json", "a")
        other_path = tmp_path / "other" / "deployment.json"
        other, created = ensure_deployed(w3, deployer, CONFIG, BUILD, other_path)  # a second set, elsewhere
        assert created
        with pytest.raises(DeploymentError) as refused:
            use_or_deploy(store, w3, deployer, CONFIG, BUILD, other_path, "b")
        message = str(refused.value)
        assert str(other_path) in message and "disagrees with the deployment in the store" in message
        assert ours.address("ConsignmentLedger") in message and other.address("ConsignmentLedger") in message
        assert json.loads(other_path.read_text())["contracts"] == other.as_json()["contracts"], "the file is kept"
        assert stored_manifest(store) == ours
    finally:
        store.close()


def test_a_store_whose_deployment_the_chain_does_not_hold_is_refused_on_a_chain_the_service_did_not_start(
    store_url: str, tmp_path: Path
):
    store = Store(store_url)
    try:
        with AnvilNode(tmp_path / "first") as node:
            w3 = Web3(HTTPProvider(node.url))
            use_or_deploy(store, w3, Sender(w3, w3.eth.accounts[0]), CONFIG, BUILD, tmp_path / "m1.json", "a")
        with AnvilNode(tmp_path / "second") as node:  # a new chain: the store's contracts are not on it
            w3 = Web3(HTTPProvider(node.url))
            with pytest.raises(DeploymentError, match=r"the store.s deployment .* does not match the chain"):
                use_or_deploy(store, w3, Sender(w3, w3.eth.accounts[0]), CONFIG, BUILD, tmp_path / "m2.json", "b")
    finally:
        store.close()


def test_writers_deciding_at_the_same_moment_on_an_empty_store_deploy_once(
    store_url: str, w3: Web3, deployer: Sender, tmp_path: Path
):
    stores = [Store(store_url) for _ in range(3)]
    results: dict[int, tuple[Manifest, str]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def instance(n: int) -> None:
        try:
            start.wait()
            results[n] = use_or_deploy(
                stores[n], w3, deployer, CONFIG, BUILD, tmp_path / str(n) / "deployment.json", str(n)
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=instance, args=(n,)) for n in range(3)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert sorted(how for _, how in results.values()) == ["deployed", "stored", "stored"]
        assert len({m.address("ConsignmentLedger") for m, _ in results.values()}) == 1
    finally:
        for store in stores:
            store.close()
