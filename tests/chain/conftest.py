"""Fixtures for tests that need a real chain: an anvil on a free loopback port with a
throwaway data folder, and a deployment made by the project's own deploy code."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from payload_examples import declaration
from web3 import HTTPProvider, Web3

from ledger_api.chain.contracts import Contracts
from ledger_api.chain.deploy import Manifest, Sender, ensure_deployed, load_config
from ledger_api.chain.node import AnvilNode
from ledger_api.domain.parties import identifiers_hash
from ledger_api.domain.payloads import parse_payload, payload_hash
from ledger_api.domain.records import ZERO_ADDRESS, ZERO_HASH, Record, RecordKind, consignment_key, sign_record
from ledger_api.services.submission import Submission
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
def register_exporter() -> Callable[[Contracts, Manifest, LocalAccount], None]:
    """`register_exporter(contracts, manifest, account)`: the first authority registers
    `account` as an exporter, and the transaction is mined."""

    def register(contracts: Contracts, manifest: Manifest, account: LocalAccount) -> None:
        authority = manifest.authorities[0]["address"]
        call = contracts.registry.functions.registerParty(account.address, 1, identifiers_hash({"n": "x"}))
        contracts.w3.eth.wait_for_transaction_receipt(call.transact({"from": authority}))

    return register


@pytest.fixture
def signed_declaration() -> Callable[[Contracts, LocalAccount, str], Submission]:
    """`signed_declaration(contracts, account, ucr)`: the declaration of a new consignment,
    nonce 0, signed by `account`, as the submission service takes it."""

    def sign(contracts: Contracts, account: LocalAccount, ucr: str) -> Submission:
        payload = parse_payload(declaration(ucr))
        record = Record(
            consignment_key(payload.ucr),
            RecordKind.DECLARATION,
            payload_hash(payload),
            ZERO_HASH,
            account.address,
            ZERO_ADDRESS,
            0,
            int(time.time()) + 600,
        )
        return Submission(record, sign_record(record, contracts.ledger_domain, account.key), payload)

    return sign
