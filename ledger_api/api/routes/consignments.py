"""Consignments: ordered history and custody, from the index."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path

from ledger_api.api.deps import AccessDep, CallerDep, QueriesDep
from ledger_api.api.problems import responses
from ledger_api.api.schemas import UCR_PATTERN, ConsignmentOut

router = APIRouter(prefix="/v1/consignments", tags=["consignments"])


@router.get("/{ucr}", response_model=ConsignmentOut, responses=responses(401, 404, 422, 429))
def get_consignment(
    ucr: Annotated[str, Path(pattern=UCR_PATTERN, max_length=35, description="WCO UCR")],
    service: QueriesDep,
    caller: CallerDep,
    access: AccessDep,
) -> ConsignmentOut:
    """The consignment's records in order, its current custodian and any pending handover.
    For the parties to it and the customs of the countries on its route."""
    access.require(caller, ucr)
    return ConsignmentOut(**asdict(service.consignment(ucr)))
