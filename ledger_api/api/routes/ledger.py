"""The ledger's identity: chain, contracts and the EIP-712 domain clients sign under."""

from __future__ import annotations

from fastapi import APIRouter

from ledger_api.api.deps import RuntimeDep
from ledger_api.api.schemas import LedgerOut
from ledger_api.domain.records import RECORD_TYPE, LedgerDomain

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])


@router.get("", response_model=LedgerOut)
def get_ledger(rt: RuntimeDep) -> LedgerOut:
    """Chain id, contract addresses, and the EIP-712 domain and Record type to sign."""
    assert rt.manifest is not None
    manifest = rt.manifest
    domain = LedgerDomain(manifest.chain_id, manifest.address("ConsignmentLedger"))
    return LedgerOut(
        chain_id=manifest.chain_id,
        contracts={name: c.address for name, c in manifest.contracts.items()},
        eip712_domain=domain.as_dict(),
        record_type=RECORD_TYPE,
        confirmations=rt.settings.confirmations,
    )
