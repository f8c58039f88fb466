"""Verification before clearance, evidence, receipt keys and AEO recognition."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Path, Query, Response

from ledger_api.api.deps import AccessDep, CallerDep, RuntimeDep
from ledger_api.api.problems import responses
from ledger_api.api.schemas import (
    ADDRESS_PATTERN,
    COUNTRY_PATTERN,
    UCR_PATTERN,
    RecognitionAnswerOut,
    VerificationOut,
)

router = APIRouter(tags=["verification"])

Ucr = Annotated[str, Path(pattern=UCR_PATTERN, max_length=35, description="WCO UCR")]
Country = Annotated[str, Query(pattern=COUNTRY_PATTERN, description="ISO 3166-1 alpha-2 of the verifying customs")]
AtBlock = Annotated[
    int | None, Query(ge=0, le=2**63 - 1, description="verify as of this block (default: the index head)")
]

EvidenceBlock = Annotated[
    int, Query(ge=0, le=2**63 - 1, description="the block of the verdict: the receipt's as_of_block")
]


@router.get(
    "/v1/consignments/{ucr}/verification", response_model=VerificationOut, responses=responses(401, 404, 422, 429)
)
async def verify_consignment(
    ucr: Ucr, country: Country, rt: RuntimeDep, caller: CallerDep, access: AccessDep, at_block: AtBlock = None
) -> dict[str, Any]:
    """The verdict (VERIFIED, FAILED, INCOMPLETE) with each check and its reason, the risk
    lane with the rules that fired, and a signed receipt. For the parties to the
    consignment, the customs of the countries on its route, and partner customs."""
    # async on purpose: the work is a few milliseconds of CPU and short reads (the outcome
    # is cached per block), so it runs on the event loop, one request at a time per
    # worker; on the thread pool, many threads fighting over the GIL and the connection
    # pool cost more than the work itself (ledger bench verify). On PostgreSQL its reads
    # share one transaction (Store.reading): each transaction's round trips stall the loop.
    assert rt.verifier is not None
    with rt.verifier.reading():
        view = access.require(caller, ucr, partner_ok=True)
        access.require_verifying_country(caller, ucr, country)
        # Traders and carriers get the answer computed without intelligence flags (lane and score too).
        return rt.verifier.verify(
            ucr, country, at_block, requester=caller.address, view=view, reveal_flags=caller.is_customs
        )


@router.get(
    "/v1/consignments/{ucr}/evidence",
    responses={
        200: {"content": {"application/json": {}}, "description": "the evidence bundle"},
        **responses(401, 404, 422, 429),
    },
)
def evidence(
    ucr: Ucr, country: Country, rt: RuntimeDep, caller: CallerDep, access: AccessDep, at_block: EvidenceBlock
) -> Response:
    """Everything needed to re-derive the verdict offline (`ledger verify-bundle`), as
    canonical JSON: these exact bytes are what a receipt's evidence hash covers when
    `at_block` is the receipt's `as_of_block` (required: the bundle of the latest block
    would stop matching a receipt as soon as a block passed). It holds the payloads, so
    only the parties to the consignment and the customs of its route get it."""
    access.require(caller, ucr)
    access.require_verifying_country(caller, ucr, country)
    assert rt.verifier is not None
    return Response(rt.verifier.evidence(ucr, country, at_block), media_type="application/json")


@router.get("/v1/keys")
def keys(rt: RuntimeDep) -> dict[str, Any]:
    """The receipt-signing public keys (JWKS, Ed25519), old ones included."""
    assert rt.verifier is not None
    return rt.verifier.jwks()


@router.get("/v1/recognition", response_model=RecognitionAnswerOut, responses=responses(422))
def recognition(
    operator: Annotated[str, Query(pattern=ADDRESS_PATTERN)],
    country: Country,
    rt: RuntimeDep,
    at: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="unix time (default: now on chain)")] = None,
) -> dict[str, Any]:
    """Whether the operator's AEO status is recognised by `country` at `at`: under which
    programme and MRA, valid until when, and why not when not."""
    assert rt.evidence_reader is not None
    return asdict(rt.evidence_reader.recognition(to_checksum_address(operator), country, at))
