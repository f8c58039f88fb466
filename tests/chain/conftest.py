"""Fixtures for tests that need a real chain: an anvil on a free loopback port with a
throwaway data folder, and a deployment made by the project's own deploy code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import HTTPProvider, Web3

from ledger_api.chain.contracts import Contracts
from ledger_api.chain.deploy import Manifest, Sender, ensure_deployed, load_config
from ledger_api.chain.node import AnvilNode
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
