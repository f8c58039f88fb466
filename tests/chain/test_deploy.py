"""The one deployment path: what it deploys and wires, what it writes, and that
deploying again never makes a second set."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import rlp
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractCustomError

from ledger_api.chain.abi import ContractAbi
from ledger_api.chain.artifacts import load_artifacts
from ledger_api.chain.deploy import DeployedContract, Manifest, Sender, ensure_deployed, load_config, manifest_problems
from ledger_api.chain.node import AnvilNode
from ledger_api.domain.parties import identifiers_hash
from ledger_api.errors import ConfigurationError, DeploymentError
from ledger_api.settings import DEV_DEPLOYMENT_CONFIG, PROJECT_ROOT

BUILD = PROJECT_ROOT / "build"

AUTHORITIES = load_config(DEV_DEPLOYMENT_CONFIG).authorities


def create_address(deployer: str, nonce: int) -> str:
    """Where a contract deployed by `deployer`'s transaction of nonce `nonce` lands (CREATE)."""
    return to_checksum_address(keccak(rlp.encode([bytes.fromhex(deployer[2:]), nonce]))[12:])


def test_deployment_writes_a_manifest_the_service_can_trust(w3, deployed, manifest_path):
    on_disk = json.loads(manifest_path.read_text())
    assert on_disk["chain_id"] == w3.eth.chain_id == 31337
    assert set(on_disk["contracts"]) == {
        "LedgerForwarder",
        "PartyRegistry",
        "ConsignmentLedger",
        "RecognitionRegistry",
        "IntelligenceLedger",
    }
    artifacts = load_artifacts(BUILD)
    for name, entry in on_disk["contracts"].items():
        assert w3.eth.get_code(entry["address"]), name
        assert entry["abi_hash"] == artifacts[name].abi_hash
    block = w3.eth.get_block(on_disk["deploy_block"])
    assert "0x" + block["hash"].hex().removeprefix("0x") == on_disk["deploy_block_hash"]


def test_contracts_are_wired_to_one_registry_and_one_forwarder(contracts, deployed):
    registry = deployed.address("PartyRegistry")
    forwarder = deployed.address("LedgerForwarder")
    assert contracts.ledger.functions.registry().call() == registry
    assert contracts.recognition.functions.registry().call() == registry
    assert contracts.intelligence.functions.registry().call() == registry
    assert contracts.registry.functions.isTrustedForwarder(forwarder).call()
    assert contracts.recognition.functions.isTrustedForwarder(forwarder).call()
    assert contracts.intelligence.functions.isTrustedForwarder(forwarder).call()


def test_the_contracts_deployed_before_the_intelligence_ledger_keep_their_addresses(w3, deployed):
    # The deployer's first four transactions, as before IntelligenceLedger joined the set:
    # addresses that configs, demo files and running consortia know stay what they were.
    deployer = w3.eth.accounts[0]
    order = ("LedgerForwarder", "PartyRegistry", "ConsignmentLedger", "RecognitionRegistry", "IntelligenceLedger")
    for nonce, name in enumerate(order):
        assert deployed.address(name) == create_address(deployer, nonce), name


def test_a_manifest_from_before_the_intelligence_ledger_is_extended_not_replaced(w3, deployer, deployed, manifest_path):
    on_disk = json.loads(manifest_path.read_text())
    del on_disk["contracts"]["IntelligenceLedger"]
    manifest_path.write_text(json.dumps(on_disk))
    old = Manifest.load(manifest_path)
    block_before = w3.eth.block_number

    manifest, created = ensure_deployed(w3, deployer, load_config(DEV_DEPLOYMENT_CONFIG), BUILD, manifest_path)
    assert not created
    assert w3.eth.block_number == block_before + 1  # one transaction: the new contract alone
    assert {name: manifest.contracts[name] for name in old.contracts} == old.contracts
    added = manifest.contracts["IntelligenceLedger"]
    assert added.address != deployed.address("IntelligenceLedger")
    assert added.abi_hash == load_artifacts(BUILD)["IntelligenceLedger"].abi_hash
    assert Manifest.load(manifest_path) == manifest
    intelligence = w3.eth.contract(address=added.address, abi=load_artifacts(BUILD)["IntelligenceLedger"].abi)
    assert intelligence.functions.registry().call() == manifest.address("PartyRegistry")
    assert intelligence.functions.isTrustedForwarder(manifest.address("LedgerForwarder")).call()
    # And the next start reuses it as it is.
    again, created = ensure_deployed(w3, deployer, load_config(DEV_DEPLOYMENT_CONFIG), BUILD, manifest_path)
    assert (again, created) == (manifest, False)
    assert w3.eth.block_number == block_before + 1


def test_an_intelligence_ledger_wired_to_another_registry_is_a_problem(w3, deployer, deployed, manifest_path):
    artifacts = load_artifacts(BUILD)
    stray, tx = deployer.deploy(
        artifacts["IntelligenceLedger"], deployed.address("ConsignmentLedger"), deployed.address("LedgerForwarder")
    )
    wrong = replace(
        deployed,
        contracts={
            **deployed.contracts,
            "IntelligenceLedger": DeployedContract(stray, artifacts["IntelligenceLedger"].abi_hash, tx),
        },
    )
    assert manifest_problems(w3, wrong, artifacts) == ["IntelligenceLedger points at another PartyRegistry"]


def test_authorities_of_the_config_are_registered_and_active(contracts):
    for authority in AUTHORITIES:
        country, is_authority, _registered_at, id_hash = contracts.registry.functions.partyOf(authority.address).call()
        assert (country, is_authority) == (authority.country.encode(), True)
        assert id_hash == identifiers_hash(authority.identifiers)
        roles, status = contracts.registry.functions.stateOf(authority.address).call()
        assert (roles, status) == (32, 1)  # CUSTOMS, Active


def test_deploying_again_reuses_the_manifest_and_sends_nothing(w3, deployer, deployed, manifest_path):
    block_before = w3.eth.block_number
    manifest, created = ensure_deployed(w3, deployer, load_config(DEV_DEPLOYMENT_CONFIG), BUILD, manifest_path)
    assert not created
    assert manifest == deployed
    assert w3.eth.block_number == block_before


def test_manifest_of_another_chain_is_refused_unless_told_to_replace_it(tmp_path, deployed, manifest_path):
    config = load_config(DEV_DEPLOYMENT_CONFIG)
    with AnvilNode(tmp_path / "other") as other:
        w3 = Web3(HTTPProvider(other.url))
        sender = Sender(w3, w3.eth.accounts[0])
        with pytest.raises(DeploymentError, match="does not match the chain"):
            ensure_deployed(w3, sender, config, BUILD, manifest_path)
        manifest, created = ensure_deployed(w3, sender, config, BUILD, manifest_path, replace_stale=True)
        assert created
        assert all(w3.eth.get_code(c.address) for c in manifest.contracts.values())
    assert Manifest.load(manifest_path.with_suffix(".stale.json")) == deployed


def test_another_authorities_config_on_the_same_deployment_is_refused(w3, deployer, deployed, manifest_path, tmp_path):
    changed = tmp_path / "changed.yaml"
    changed.write_text(DEV_DEPLOYMENT_CONFIG.read_text().replace("NL000000001", "NL000000002"))
    with pytest.raises(DeploymentError, match="another authorities config"):
        ensure_deployed(w3, deployer, load_config(changed), BUILD, manifest_path)


def test_a_named_admin_accepts_the_admin_role_after_the_delay_and_the_deployer_keeps_none_then(w3, tmp_path):
    admin, deployer = w3.eth.accounts[5], w3.eth.accounts[0]
    config_file = tmp_path / "with-admin.yaml"
    config_file.write_text(
        DEV_DEPLOYMENT_CONFIG.read_text().replace("admin_delay_seconds: 0", "admin_delay_seconds: 3600")
        + f'admin: "{admin}"\n'
    )
    manifest, _ = ensure_deployed(w3, Sender(w3, deployer), load_config(config_file), BUILD, tmp_path / "m.json")
    registry = w3.eth.contract(
        address=manifest.address("PartyRegistry"), abi=load_artifacts(BUILD)["PartyRegistry"].abi
    )
    role = registry.functions.DEFAULT_ADMIN_ROLE().call()
    assert (manifest.admin, manifest.pending_admin) == (admin, admin)
    assert manifest.admin_transfer_after is not None
    assert registry.functions.pendingDefaultAdmin().call() == [admin, manifest.admin_transfer_after]
    # Until the named admin accepts, the deployer holds the role: a wrong hand-over can be cancelled.
    assert registry.functions.hasRole(role, deployer).call()
    assert not registry.functions.hasRole(role, admin).call()
    with pytest.raises(ContractCustomError) as early:
        registry.functions.acceptDefaultAdminTransfer().call({"from": admin})
    refusal = ContractAbi(load_artifacts(BUILD)).decode_error(bytes.fromhex(str(early.value.data)[2:]))
    assert refusal is not None and refusal.name == "AccessControlEnforcedDefaultAdminDelay"  # too early
    assert refusal.args["schedule"] == manifest.admin_transfer_after

    w3.provider.make_request("evm_setNextBlockTimestamp", [manifest.admin_transfer_after + 1])
    receipt = w3.eth.wait_for_transaction_receipt(
        registry.functions.acceptDefaultAdminTransfer().transact({"from": admin, "gas": 200_000})
    )
    assert receipt["status"] == 1
    assert registry.functions.hasRole(role, admin).call()
    assert not registry.functions.hasRole(role, deployer).call()
    assert registry.functions.defaultAdmin().call() == admin


def test_without_a_named_admin_the_deployer_is_the_admin_and_nothing_is_pending(deployed, contracts, w3):
    registry = contracts.registry
    assert (deployed.pending_admin, deployed.admin_transfer_after) == (None, None)
    assert registry.functions.defaultAdmin().call() == deployed.admin == w3.eth.accounts[0]


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        (
            '  - country: nl\n    address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"\n    identifiers: {a: b}\n',
            r"authorities\[0\]\.country must be an ISO 3166-1 alpha-2 code, got 'nl'",
        ),
        (
            '  - country: NL\n    address: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"\n    identifiers: {a: b}\n',
            r"authorities\[0\]\.address must be a checksummed address",
        ),
        (
            '  - country: NL\n    address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"\n',
            r"authorities\[0\]\.identifiers must be a non-empty mapping",
        ),
        (
            '  - country: NL\n    address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"\n    identifiers: {a: b}\n'
            '  - country: JP\n    address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"\n    identifiers: {a: b}\n',
            r"authorities\[1\]\.address 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 is listed twice",
        ),
    ],
)
def test_a_bad_config_is_refused_naming_the_entry_and_field(tmp_path: Path, snippet: str, message: str):
    path = tmp_path / "bad.yaml"
    path.write_text("authorities:\n" + snippet)
    with pytest.raises(ConfigurationError, match=message):
        load_config(path)


def test_an_empty_or_missing_config_is_refused(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("authorities: []\n")
    with pytest.raises(ConfigurationError, match="non-empty list"):
        load_config(tmp_path / "empty.yaml")
