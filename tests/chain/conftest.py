"""Fixtures for tests that need a real chain: an anvil on a free loopback port with a
throwaway data folder, a deployment made by the project's own deploy code, and the
service's runtime on such a chain, stepped by the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.service import local_settings
from web3 import HTTPProvider, Web3

from ledger_api.chain.contracts import Contracts
from ledger_api.chain.deploy import Manifest, Sender, ensure_deployed, load_config
from ledger_api.chain.node import AnvilNode
from ledger_api.runtime import Runtime
from ledger_api.settings import DEV_DEPLOYMENT_CONFIG, PROJECT_ROOT

BUILD = PROJECT_ROOT / "build"


@pytest.fixture
def anvil(tmp_path: Path) -> Iterator[AnvilNode]:
    with AnvilNode(tmp_path / "anvil") as node:
        yield node


@pytest.fixture
def w3(anvil: AnvilNode) -> Web3:
    return Web3(HTTPProvider(anvil.url))


@pytest.fixture
def deployer(w3: Web3) -> Sender:
    return Sender(w3, w3.eth.accounts[0])


@pytest.fixture
def manifest_path(tmp_path: Path) -> Path:
    return tmp_path / "deployment.json"


@pytest.fixture
def deployed(w3: Web3, deployer: Sender, manifest_path: Path) -> Manifest:
    manifest, created = ensure_deployed(w3, deployer, load_config(DEV_DEPLOYMENT_CONFIG), BUILD, manifest_path)
    assert created
    return manifest


@pytest.fixture
def contracts(w3: Web3, deployed: Manifest) -> Contracts:
    return Contracts.load(w3, deployed, BUILD)


@pytest.fixture
def stepped_runtime(tmp_path: Path) -> Iterator[Callable[..., tuple[Runtime, Contracts]]]:
    """`stepped_runtime(**settings)`: the service's runtime on an anvil of its own
    (support.service.local_settings changed by `settings`), with nothing running in the
    background: the test steps the relayer and the indexer. Returns it and the contracts
    it deployed; stopped after the test."""
    started: list[Runtime] = []

    def start(**settings: Any) -> tuple[Runtime, Contracts]:
        rt = Runtime(local_settings(tmp_path, **settings)).start(background=False)
        started.append(rt)
        assert rt.node and rt.manifest and rt.relayer and rt.indexer and rt.submissions and rt.queries
        return rt, Contracts.load(Web3(HTTPProvider(rt.node.url)), rt.manifest, BUILD)

    yield start
    for rt in started:
        rt.stop()
