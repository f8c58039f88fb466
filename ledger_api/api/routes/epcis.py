"""GS1 EPCIS 2.0: capture signed events as ledger records, export a consignment's history."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response

from ledger_api.api.deps import AccessDep, BatchLimitDep, CallerDep, QueriesDep, RuntimeDep, SubmissionsDep
from ledger_api.api.problems import responses
from ledger_api.api.schemas import UCR_PATTERN, CapturedRecordOut, CaptureIn, CaptureOut
from ledger_api.api.writes import answer_replay, require_at_most, write_responses
from ledger_api.services.epcis import Epcis, EventSigning

router = APIRouter(tags=["epcis"])
EPCIS_MEDIA_TYPE = "application/ld+json"


def _epcis(rt: RuntimeDep, queries: QueriesDep) -> Epcis:
    assert rt.manifest is not None
    manifest = rt.manifest
    return Epcis(rt.submissions, queries, manifest.chain_id, manifest.address("ConsignmentLedger"))


EpcisDep = Annotated[Epcis, Depends(_epcis)]


@router.post(
    "/v1/epcis/capture",
    status_code=202,
    response_model=CaptureOut,
    responses=write_responses("The same document was captured before", CaptureOut),
)
def capture(
    body: CaptureIn,
    caller: CallerDep,
    _writes: SubmissionsDep,
    epcis: EpcisDep,
    limit: BatchLimitDep,
    response: Response,
) -> CaptureOut:
    """Turns the events of a signed EPCIS 2.0 document into ledger records (docs/epcis.md):
    shipping and departing become handovers, receiving and arriving acceptances,
    inspecting customs decisions. All or nothing: any event the ledger cannot record is
    named by its index with the reason, and nothing of the document is stored."""
    caller.require_acting(body.signer, "signer")
    require_at_most(len(body.signatures), limit, "signatures", "events in one document")
    signings = [
        EventSigning(s.nonce, s.deadline, bytes.fromhex(s.previous[2:]), bytes.fromhex(s.signature[2:]))
        for s in body.signatures
    ]
    captured = epcis.capture(body.epcisDocument, body.signer, signings)
    answer_replay(response, captured.created)
    return CaptureOut(
        records=[
            CapturedRecordOut(event=i, id=rid, kind=kind)
            for i, (rid, kind) in enumerate(zip(captured.ids, captured.kinds, strict=True))
        ],
        batch_root=captured.batch_root,
        status="accepted",
    )


@router.get(
    "/v1/consignments/{ucr}/epcis",
    response_class=Response,
    responses={
        200: {"description": "An EPCIS 2.0 document (JSON-LD)", "content": {EPCIS_MEDIA_TYPE: {}}},
        **responses(401, 404, 422, 429),
    },
)
def export(
    ucr: Annotated[str, Path(pattern=UCR_PATTERN, max_length=35, description="WCO UCR")],
    caller: CallerDep,
    access: AccessDep,
    epcis: EpcisDep,
) -> Response:
    """The consignment's history as an EPCIS 2.0 document that validates against GS1's
    EPCIS 2.0 JSON Schema; each event carries its ledger record and signed payload. For the
    parties to it and the customs of the countries on its route."""
    access.require(caller, ucr)
    document: dict[str, Any] = epcis.export(ucr)
    return Response(json.dumps(document, separators=(",", ":")), media_type=EPCIS_MEDIA_TYPE)
