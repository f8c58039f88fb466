"""AEO certificates and mutual recognition arrangements, written by customs authorities:
each request is signed by the authority (an ERC-2771 ForwardRequest to the
RecognitionRegistry) and relayed through the forwarder."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from ledger_api.api.deps import CallerDep, RecognitionWritesDep
from ledger_api.api.problems import responses
from ledger_api.api.schemas import Address, Signature, Uint256
from ledger_api.api.writes import answer_replay, write_responses
from ledger_api.domain.recognition import RECOGNISED_CONTROLS, control_names
from ledger_api.services.access import Caller
from ledger_api.services.recognition_writes import RecognitionRequest, RecognitionWrites

router = APIRouter(tags=["recognition"])

Uint64 = Annotated[int, Field(ge=0, le=2**64 - 1, strict=True, description="unix seconds")]
Deadline = Annotated[int, Field(ge=0, lt=2**48, strict=True, description="the signature's deadline (unix seconds)")]
MraId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the arrangement's id (from 1)")]
Nonce = Annotated[Uint256, Field(description="the authority's next nonce at the forwarder")]
WRITE_RESPONSES = write_responses("The same signed request was accepted before")


class _Signed(BaseModel):
    """Signed by the authority, and sent with its credential: the signature is over the
    ERC-2771 ForwardRequest (EIP-712, domain "LedgerForwarder") to the RecognitionRegistry
    whose data is the call these fields describe."""

    model_config = ConfigDict(extra="forbid", strict=True)

    authority: Address
    nonce: Nonce
    deadline: Deadline
    signature: Signature


class CertificateWriteIn(_Signed):
    """Issues (or renews), suspends, reinstates or revokes an operator's AEO certificate.
    `programme`, `valid_from` and `valid_until` are for issue only."""

    action: Literal["issue", "suspend", "reinstate", "revoke"]
    operator: Address
    programme: str | None = Field(default=None, description='1 to 32 printable ASCII characters, e.g. "AEOF"')
    valid_from: Uint64 | None = None
    valid_until: Uint64 | None = Field(default=None, description="exclusive")


class ArrangementProposalIn(_Signed):
    partner: Annotated[str, Field(description="ISO 3166-1 alpha-2 of the partner customs, not the authority's own")]
    effective_from: Uint64
    recognised_controls: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="the partner's control results recognised besides AEO status, by name: "
        + ", ".join(RECOGNISED_CONTROLS)
        + " (signed as the bits of proposeArrangement's `controls`); none: AEO status only",
    )


class ArrangementRatificationIn(_Signed):
    pass


class ArrangementTerminationIn(_Signed):
    terminated_at: Annotated[Uint64, Field(description="effective from (unix seconds); now or later")]


class RecognitionWriteOut(BaseModel):
    id: str = Field(description='the request\'s id, "{authority}:{forwarder nonce}"')
    status: str


class ArrangementOut(BaseModel):
    mra_id: int
    proposer: str
    partner: str
    effective_from: int
    ratified_at: int | None
    terminated_at: int | None
    recognised_controls: list[str] = Field(description="the partner control results recognised besides AEO status")
    in_force_now: bool
    at: int = Field(description="the time in_force_now is for: the index head's block time")


def _submit(
    caller: Caller, writes: RecognitionWrites, request: RecognitionRequest, response: Response
) -> RecognitionWriteOut:
    caller.require_acting(request.authority, "authority")
    request_id, created = writes.submit(request)
    answer_replay(response, created)
    return RecognitionWriteOut(id=request_id, status="accepted")


def _request(action: str, body: _Signed, **call: Any) -> RecognitionRequest:
    return RecognitionRequest(
        action=action,
        authority=body.authority,
        nonce=body.nonce,
        deadline=body.deadline,
        signature=bytes.fromhex(body.signature[2:]),
        **call,
    )


@router.post("/v1/aeo", status_code=202, response_model=RecognitionWriteOut, responses=WRITE_RESPONSES)
def write_certificate(
    caller: CallerDep, body: CertificateWriteIn, writes: RecognitionWritesDep, response: Response
) -> RecognitionWriteOut:
    """Issues, suspends, reinstates or revokes the AEO certificate of an operator, signed by
    customs of the operator's country."""
    request = _request(
        body.action,
        body,
        operator=body.operator,
        programme=body.programme,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
    )
    return _submit(caller, writes, request, response)


@router.post("/v1/mras", status_code=202, response_model=RecognitionWriteOut, responses=WRITE_RESPONSES)
def propose_arrangement(
    caller: CallerDep, body: ArrangementProposalIn, writes: RecognitionWritesDep, response: Response
) -> RecognitionWriteOut:
    """Proposes a mutual recognition arrangement between the authority's country and
    `partner`, in force from `effective_from` once the partner ratifies it, recognising AEO
    status and the partner control results `recognised_controls` names."""
    request = _request(
        "propose",
        body,
        partner=body.partner,
        effective_from=body.effective_from,
        recognised_controls=tuple(body.recognised_controls),
    )
    return _submit(caller, writes, request, response)


@router.post("/v1/mras/{mra_id}/ratify", status_code=202, response_model=RecognitionWriteOut, responses=WRITE_RESPONSES)
def ratify_arrangement(
    caller: CallerDep, mra_id: MraId, body: ArrangementRatificationIn, writes: RecognitionWritesDep, response: Response
) -> RecognitionWriteOut:
    """Ratifies the arrangement, signed by customs of its partner country."""
    request = _request("ratify", body, mra_id=mra_id)
    return _submit(caller, writes, request, response)


@router.post(
    "/v1/mras/{mra_id}/terminate", status_code=202, response_model=RecognitionWriteOut, responses=WRITE_RESPONSES
)
def terminate_arrangement(
    caller: CallerDep,
    mra_id: MraId,
    body: ArrangementTerminationIn,
    writes: RecognitionWritesDep,
    response: Response,
) -> RecognitionWriteOut:
    """Terminates the arrangement from `terminated_at` (now or later), signed by customs of
    either country."""
    request = _request("terminate", body, mra_id=mra_id, terminated_at=body.terminated_at)
    return _submit(caller, writes, request, response)


@router.get("/v1/mras/{mra_id}", response_model=ArrangementOut, responses=responses(404, 422))
def get_arrangement(mra_id: MraId, writes: RecognitionWritesDep) -> ArrangementOut:
    """The arrangement as indexed: its countries, effective date, ratification and
    termination, the controls it recognises, and whether it is in force at the index head's time."""
    arrangement, now = writes.arrangement(mra_id)
    return ArrangementOut(
        mra_id=arrangement.mra_id,
        proposer=arrangement.proposer,
        partner=arrangement.partner,
        effective_from=arrangement.effective_from,
        ratified_at=arrangement.ratified_at or None,
        terminated_at=arrangement.terminated_at or None,
        recognised_controls=control_names(arrangement.recognised_controls),
        in_force_now=arrangement.in_force(now),
        at=now,
    )
