"""Compiled contract artifacts, as `bin/brownie compile` writes them to build/contracts.

The build is the only source of ABIs and bytecode: nothing here is edited by hand.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger_api.errors import ConfigurationError

CONTRACT_NAMES = ("LedgerForwarder", "PartyRegistry", "ConsignmentLedger", "RecognitionRegistry", "IntelligenceLedger")


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str

    @property
    def abi_hash(self) -> str:
        """sha256 of the ABI as canonical JSON: tells whether a deployment matches this build."""
        canonical = json.dumps(self.abi, sort_keys=True, separators=(",", ":")).encode()
        return "sha256:" + hashlib.sha256(canonical).hexdigest()


def load_artifact(build_dir: Path, name: str) -> Artifact:
    path = build_dir / "contracts" / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigurationError(f"{path} is missing: compile the contracts first (bin/brownie compile)") from None
    bytecode = data.get("bytecode") or ""
    if not bytecode:
        raise ConfigurationError(f"{path} has no bytecode")
    return Artifact(name=name, abi=data["abi"], bytecode=bytecode if bytecode.startswith("0x") else "0x" + bytecode)


def load_artifacts(build_dir: Path) -> dict[str, Artifact]:
    return {name: load_artifact(build_dir, name) for name in CONTRACT_NAMES}
