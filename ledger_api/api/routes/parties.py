"""Parties, as the index knows them from the PartyRegistry."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Path

from ledger_api.api.deps import QueriesDep
from ledger_api.api.problems import responses
from ledger_api.api.schemas import ADDRESS_PATTERN, PartyOut

router = APIRouter(prefix="/v1/parties", tags=["parties"])


@router.get("/{address}", response_model=PartyOut, responses=responses(404, 422))
def get_party(address: Annotated[str, Path(pattern=ADDRESS_PATTERN)], service: QueriesDep) -> PartyOut:
    """Country, roles, status and identifiers hash of a registered party."""
    return PartyOut(**asdict(service.party(to_checksum_address(address))))
