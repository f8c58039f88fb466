"""Parties, as the index knows them from the PartyRegistry."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Path, Response

from ledger_api.api.deps import CallerDep, PartyWritesDep, QueriesDep
from ledger_api.api.problems import responses
from ledger_api.api.schemas import (
    ADDRESS_PATTERN,
    IdentifiersIn,
    IdentifiersOut,
    PartyOut,
    PartyWriteIn,
    PartyWriteOut,
)
from ledger_api.api.writes import answer_replay, write_responses
from ledger_api.services.parties import PartyRequest

router = APIRouter(prefix="/v1/parties", tags=["parties"])


@router.post(
    "",
    status_code=202,
    response_model=PartyWriteOut,
    responses=write_responses("The same request was accepted before", PartyWriteOut),
)
def write_party(caller: CallerDep, body: PartyWriteIn, writes: PartyWritesDep, response: Response) -> PartyWriteOut:
    """Registers, re-roles, suspends, reinstates or revokes a party. Signed by the customs
    authority of the party's country, and sent with its credential; relayed to the registry
    through the forwarder."""
    caller.require_acting(body.authority, "authority")
    request = PartyRequest(
        action=body.action,
        authority=body.authority,
        party=body.party,
        roles=list(body.roles),
        identifiers=dict(body.identifiers),
        nonce=body.nonce,
        deadline=body.deadline,
        signature=bytes.fromhex(body.signature[2:]),
    )
    request_id, created = writes.submit(request)
    answer_replay(response, created)
    return PartyWriteOut(id=request_id, status="accepted")


@router.get("/{address}", response_model=PartyOut, responses=responses(404, 422))
def get_party(
    address: Annotated[str, Path(pattern=ADDRESS_PATTERN)], service: QueriesDep, writes: PartyWritesDep
) -> PartyOut:
    """Country, roles, status, identifiers hash and, when the service holds them, the
    party's legal name and identifiers."""
    party = service.party(to_checksum_address(address))
    forwarder_nonce = writes.next_forwarder_nonce(party.address) if party.is_authority else None
    return PartyOut(**asdict(party), forwarder_nonce=forwarder_nonce)


@router.put("/{address}/identifiers", response_model=IdentifiersOut, responses=responses(401, 404, 422, 429))
def put_identifiers(
    address: Annotated[str, Path(pattern=ADDRESS_PATTERN)],
    _caller: CallerDep,
    body: IdentifiersIn,
    writes: PartyWritesDep,
) -> IdentifiersOut:
    """Makes a registered party's identifiers (legal name, EORI, LEI, GLN…) known to this
    service, for a party registered on chain without it: accepted when they hash to the
    identifiers hash the registry holds for the party (RFC 8785 JSON, keccak256)."""
    party = to_checksum_address(address)
    return IdentifiersOut(address=party, identifiers_hash=writes.publish_identifiers(party, dict(body.identifiers)))
