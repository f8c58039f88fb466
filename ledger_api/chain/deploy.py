"""The one deployment of the ledger's contracts, used by `brownie run scripts/deploy.py`
and by the service at start.

It deploys the forwarder and the four contracts, wires them, registers the initial
customs authorities from a config file, begins handing the registry's admin role to the
configured consortium admin (who accepts it later with its own key, once the configured
delay has passed, so the deployer's key need not be kept after that), and writes a
manifest (chain id, addresses, deploy block and its hash, ABI hashes) that the service
reads. `ensure_deployed` reuses a manifest whose contracts are still on the chain as
described, so deploying twice does not make a second set. A deployment that dies half-way
writes no manifest: the next run deploys a whole new set, and nothing ever points at the
unfinished one. A manifest made before a contract joined the set (`ADDED_CONTRACTS`) that
is right in every other way is extended: the new contract is deployed beside the others,
wired to the same registry and forwarder, and the ledger keeps its contracts and history.

Works with web3 7 (brownie's environment) and web3 8 (the service's): it uses only the
calls the two share.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_checksum_address, to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3

from ledger_api.chain.artifacts import Artifact, load_artifacts
from ledger_api.domain.parties import identifiers_hash
from ledger_api.errors import ConfigurationError, DeploymentError, TransactionFailed

MANIFEST_VERSION = 1
# Contracts that joined the set after deployments of it were made, in the order they joined:
# a manifest without them is extended, not replaced (see `ensure_deployed`).
ADDED_CONTRACTS = ("IntelligenceLedger",)
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_UINT48 = 2**48


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class AuthorityConfig:
    country: str
    address: str
    identifiers: dict[str, str]

    @property
    def identifiers_hash(self) -> bytes:
        return identifiers_hash(self.identifiers)


@dataclass(frozen=True)
class DeploymentConfig:
    """What a deployment sets up besides code: the consortium admin, the delay its role
    takes to pass to a new admin, and the authorities."""

    authorities: tuple[AuthorityConfig, ...]
    admin: str | None = None  # defaults to the deployer
    admin_delay_seconds: int = 0

    @property
    def digest(self) -> str:
        canonical = json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()
        return "0x" + keccak(canonical).hex()


def load_config(path: Path) -> DeploymentConfig:
    """Reads and checks a deployment config; every problem names the entry and the field."""
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigurationError(f"deployment config {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"deployment config {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("authorities"), list) or not raw["authorities"]:
        raise ConfigurationError(f"{path}: 'authorities' must be a non-empty list")
    authorities = []
    seen: set[str] = set()
    for i, entry in enumerate(raw["authorities"]):
        where = f"{path}: authorities[{i}]"
        if not isinstance(entry, dict):
            raise ConfigurationError(f"{where} must be a mapping")
        country, address = entry.get("country"), entry.get("address")
        if not isinstance(country, str) or not _COUNTRY.match(country):
            raise ConfigurationError(f"{where}.country must be an ISO 3166-1 alpha-2 code, got {country!r}")
        if not isinstance(address, str) or not is_checksum_address(address):
            raise ConfigurationError(f"{where}.address must be a checksummed address, got {address!r}")
        if address in seen:
            raise ConfigurationError(f"{where}.address {address} is listed twice")
        seen.add(address)
        identifiers = entry.get("identifiers") or {}
        if not isinstance(identifiers, dict) or not identifiers:
            raise ConfigurationError(f"{where}.identifiers must be a non-empty mapping (for example name, eori)")
        authorities.append(AuthorityConfig(country, address, {str(k): str(v) for k, v in identifiers.items()}))
    admin = raw.get("admin")
    if admin is not None and (not isinstance(admin, str) or not is_checksum_address(admin)):
        raise ConfigurationError(f"{path}: admin must be a checksummed address, got {admin!r}")
    delay = raw.get("admin_delay_seconds", 0)
    if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay < _UINT48:
        raise ConfigurationError(f"{path}: admin_delay_seconds must be a whole number of seconds >= 0, got {delay!r}")
    return DeploymentConfig(authorities=tuple(authorities), admin=admin, admin_delay_seconds=delay)


# ---------------------------------------------------------------- manifest


@dataclass(frozen=True)
class DeployedContract:
    address: str
    abi_hash: str
    transaction: str


@dataclass(frozen=True)
class Manifest:
    chain_id: int
    deploy_block: int
    deploy_block_hash: str
    deployer: str
    admin: str  # the consortium admin the config names (the deployer when it names none)
    config_digest: str
    contracts: dict[str, DeployedContract]
    authorities: list[dict[str, str]] = field(default_factory=list)
    version: int = MANIFEST_VERSION
    # Set when the deployer began handing the admin role to `admin`, who has still to
    # accept it (PartyRegistry.acceptDefaultAdminTransfer) from `admin_transfer_after`
    # (unix seconds). A record of the deployment: the chain says whether it was accepted.
    pending_admin: str | None = None
    admin_transfer_after: int | None = None

    def address(self, name: str) -> str:
        return self.contracts[name].address

    def save(self, path: Path) -> None:
        """Writes atomically: a reader sees the old manifest or the new one, never half."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text())
            data["contracts"] = {k: DeployedContract(**v) for k, v in data["contracts"].items()}
            return cls(**data)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise DeploymentError(f"deployment manifest {path} cannot be read: {exc}") from exc


# ---------------------------------------------------------------- sending


class Sender:
    """Sends the deployer's transactions: signed locally when it has a key, or by the node
    for an account the node holds unlocked (anvil's development accounts)."""

    def __init__(self, w3: Web3, account: LocalAccount | str) -> None:
        self.w3 = w3
        self._local = account if isinstance(account, LocalAccount) else None
        self.address = to_checksum_address(account.address if isinstance(account, LocalAccount) else account)

    def transact(self, tx: dict[str, Any], what: str) -> Any:
        tx = dict(tx)
        if self._local is not None:
            tx["nonce"] = self.w3.eth.get_transaction_count(self.address, "pending")
            signed = self._local.sign_transaction(tx)
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        else:
            tx_hash = self.w3.eth.send_transaction(tx)  # type: ignore[arg-type]
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.05)
        if receipt["status"] != 1:
            raise TransactionFailed(f"{what} reverted in transaction {tx_hash.hex()}")
        return receipt

    def deploy(self, artifact: Artifact, *args: Any) -> tuple[str, str]:
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        tx = factory.constructor(*args).build_transaction({"from": self.address})
        receipt = self.transact(tx, f"deploying {artifact.name}")
        return to_checksum_address(receipt["contractAddress"]), _hex(receipt["transactionHash"])

    def call(self, contract: Any, fn: str, *args: Any) -> Any:
        tx = getattr(contract.functions, fn)(*args).build_transaction({"from": self.address})
        return self.transact(tx, f"{fn} on {contract.address}")


def _hex(value: bytes | str) -> str:
    text = value if isinstance(value, str) else value.hex()
    return text if text.startswith("0x") else "0x" + text


# ---------------------------------------------------------------- deployment


def deploy(w3: Web3, sender: Sender, config: DeploymentConfig, artifacts: dict[str, Artifact]) -> Manifest:
    """Deploys and wires a new set of contracts and registers the configured authorities."""
    forwarder, forwarder_tx = sender.deploy(artifacts["LedgerForwarder"])
    registry_address, registry_tx = sender.deploy(
        artifacts["PartyRegistry"], config.admin_delay_seconds, sender.address, forwarder
    )
    ledger_address, ledger_tx = sender.deploy(artifacts["ConsignmentLedger"], registry_address)
    recognition_address, recognition_tx = sender.deploy(artifacts["RecognitionRegistry"], registry_address, forwarder)
    # Deployed last, so that the contracts deployed before it keep the addresses they had.
    intelligence_address, intelligence_tx = sender.deploy(artifacts["IntelligenceLedger"], registry_address, forwarder)
    first_receipt = w3.eth.get_transaction_receipt(forwarder_tx)  # type: ignore[arg-type]

    registry = w3.eth.contract(address=to_checksum_address(registry_address), abi=artifacts["PartyRegistry"].abi)
    for authority in config.authorities:
        sender.call(
            registry, "registerAuthority", authority.address, authority.country.encode(), authority.identifiers_hash
        )
    # Roles are granted here and nowhere else. The admin role passes in two steps: the
    # deployer begins the transfer; the named admin accepts later, with its own key, once
    # the delay has passed, and the deployer's role ends then.
    admin = config.admin or sender.address
    pending_admin, transfer_after = None, None
    if admin != sender.address:
        sender.call(registry, "beginDefaultAdminTransfer", admin)
        pending_admin, transfer_after = registry.functions.pendingDefaultAdmin().call()

    names = {
        "LedgerForwarder": (forwarder, forwarder_tx),
        "PartyRegistry": (registry_address, registry_tx),
        "ConsignmentLedger": (ledger_address, ledger_tx),
        "RecognitionRegistry": (recognition_address, recognition_tx),
        "IntelligenceLedger": (intelligence_address, intelligence_tx),
    }
    return Manifest(
        chain_id=w3.eth.chain_id,
        deploy_block=first_receipt["blockNumber"],
        deploy_block_hash=_hex(first_receipt["blockHash"]),
        deployer=sender.address,
        admin=admin,
        config_digest=config.digest,
        contracts={
            name: DeployedContract(address=addr, abi_hash=artifacts[name].abi_hash, transaction=tx)
            for name, (addr, tx) in names.items()
        },
        authorities=[{"country": a.country, "address": a.address} for a in config.authorities],
        pending_admin=pending_admin,
        admin_transfer_after=transfer_after,
    )


def manifest_problems(w3: Web3, manifest: Manifest, artifacts: dict[str, Artifact]) -> list[str]:
    """What makes `manifest` not describe this chain and this build; empty when it does."""
    if manifest.version != MANIFEST_VERSION:
        return [f"manifest version {manifest.version}, expected {MANIFEST_VERSION}"]
    if manifest.chain_id != w3.eth.chain_id:
        return [f"manifest is for chain {manifest.chain_id}, the node is chain {w3.eth.chain_id}"]
    problems = []
    try:
        block = w3.eth.get_block(manifest.deploy_block)
        if _hex(block["hash"]) != manifest.deploy_block_hash:
            problems.append(f"block {manifest.deploy_block} has another hash: not the chain it was deployed on")
    except Exception:
        problems.append(f"block {manifest.deploy_block} does not exist on this chain")
    for name, artifact in artifacts.items():
        deployed = manifest.contracts.get(name)
        if deployed is None:
            problems.append(f"{name} is missing from the manifest")
            continue
        if deployed.abi_hash != artifact.abi_hash:
            problems.append(f"{name} was deployed from another build (ABI hash differs)")
        if not w3.eth.get_code(deployed.address):  # type: ignore[arg-type]
            problems.append(f"{name} has no code at {deployed.address}")
    if problems:
        return problems
    return _wiring_problems(w3, manifest, artifacts)


def _wiring_problems(w3: Web3, manifest: Manifest, artifacts: dict[str, Artifact]) -> list[str]:
    def contract(name: str) -> Any:
        return w3.eth.contract(address=to_checksum_address(manifest.address(name)), abi=artifacts[name].abi)

    registry, ledger, recognition = (
        contract("PartyRegistry"),
        contract("ConsignmentLedger"),
        contract("RecognitionRegistry"),
    )
    forwarder = manifest.address("LedgerForwarder")
    problems = []
    if ledger.functions.registry().call() != registry.address:
        problems.append("ConsignmentLedger points at another PartyRegistry")
    if recognition.functions.registry().call() != registry.address:
        problems.append("RecognitionRegistry points at another PartyRegistry")
    wired = [registry, recognition]
    if "IntelligenceLedger" in manifest.contracts:
        intelligence = contract("IntelligenceLedger")
        wired.append(intelligence)
        if intelligence.functions.registry().call() != registry.address:
            problems.append("IntelligenceLedger points at another PartyRegistry")
    for c in wired:
        if not c.functions.isTrustedForwarder(forwarder).call():
            problems.append(f"{c.address} does not trust the forwarder {forwarder}")
    for authority in manifest.authorities:
        country, is_authority, _, _ = registry.functions.partyOf(authority["address"]).call()
        if not is_authority or country != authority["country"].encode():
            problems.append(f"authority {authority['address']} of {authority['country']} is not registered")
    return problems


def _extend(sender: Sender, manifest: Manifest, artifacts: dict[str, Artifact], names: list[str]) -> Manifest:
    """`manifest` with the contracts `names` deployed beside its own, wired to its registry
    and forwarder (every added contract takes those two, as IntelligenceLedger does)."""
    contracts = dict(manifest.contracts)
    for name in names:
        address, tx = sender.deploy(
            artifacts[name], manifest.address("PartyRegistry"), manifest.address("LedgerForwarder")
        )
        contracts[name] = DeployedContract(address=address, abi_hash=artifacts[name].abi_hash, transaction=tx)
    return replace(manifest, contracts=contracts)


def ensure_deployed(
    w3: Web3,
    sender: Sender,
    config: DeploymentConfig,
    build_dir: Path,
    manifest_path: Path,
    *,
    replace_stale: bool = False,
) -> tuple[Manifest, bool]:
    """Returns the deployment described by `manifest_path`, deploying one if there is none.

    A manifest that no longer matches the chain (a new development chain, a changed build)
    is replaced only when `replace_stale` is set, as for the embedded development chain;
    on any other chain that is an error for a person to look at. A manifest that lacks only
    contracts added to the set since (`ADDED_CONTRACTS`) gets them deployed beside its own.
    Returns the manifest and whether a whole deployment was made now (not for an extension:
    the ledger, with its history, was there already).
    """
    artifacts = load_artifacts(build_dir)
    if manifest_path.exists():
        manifest = Manifest.load(manifest_path)
        missing = [name for name in ADDED_CONTRACTS if name not in manifest.contracts]
        present = {name: artifact for name, artifact in artifacts.items() if name not in missing}
        problems = manifest_problems(w3, manifest, present)
        if not problems:
            if manifest.config_digest != config.digest:
                raise DeploymentError(
                    f"{manifest_path} was deployed with another authorities config; "
                    "register changes through the registry, or deploy to a new chain"
                )
            if missing:
                manifest = _extend(sender, manifest, artifacts, missing)
                manifest.save(manifest_path)
            return manifest, False
        if not replace_stale:
            raise DeploymentError(f"{manifest_path} does not match the chain: " + "; ".join(problems))
        manifest_path.replace(manifest_path.with_suffix(".stale.json"))
    manifest = deploy(w3, sender, config, artifacts)
    manifest.save(manifest_path)
    return manifest, True
