"""web3 handles on a deployment's contracts, from its manifest and the build's ABIs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from web3 import Web3

from ledger_api.chain.artifacts import load_artifacts
from ledger_api.chain.deploy import Manifest
from ledger_api.domain.records import LedgerDomain


@dataclass(frozen=True)
class Contracts:
    w3: Web3
    manifest: Manifest
    forwarder: Any
    registry: Any
    ledger: Any
    recognition: Any
    intelligence: Any

    @classmethod
    def load(cls, w3: Web3, manifest: Manifest, build_dir: Path) -> Contracts:
        artifacts = load_artifacts(build_dir)

        def at(name: str) -> Any:
            return w3.eth.contract(address=to_checksum_address(manifest.address(name)), abi=artifacts[name].abi)

        return cls(
            w3=w3,
            manifest=manifest,
            forwarder=at("LedgerForwarder"),
            registry=at("PartyRegistry"),
            ledger=at("ConsignmentLedger"),
            recognition=at("RecognitionRegistry"),
            intelligence=at("IntelligenceLedger"),
        )

    @property
    def ledger_domain(self) -> LedgerDomain:
        return LedgerDomain(
            chain_id=self.manifest.chain_id, verifying_contract=self.manifest.address("ConsignmentLedger")
        )
