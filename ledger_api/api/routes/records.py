"""Signed records: submit one, submit a batch, read one."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Response

from ledger_api.api.deps import AccessDep, BatchLimitDep, CallerDep, QueriesDep, SubmissionsDep
from ledger_api.api.problems import responses
from ledger_api.api.schemas import (
    RECORD_ID_PATTERN,
    AcceptedOut,
    BatchAcceptedOut,
    BatchIn,
    RecordOut,
    SubmissionIn,
)
from ledger_api.api.writes import answer_replay, require_at_most, write_responses
from ledger_api.services.submission import Submission

router = APIRouter(prefix="/v1/records", tags=["records"])


def _submission(item: SubmissionIn) -> Submission:
    return Submission(record=item.record.to_domain(), signature=bytes.fromhex(item.signature[2:]), payload=item.payload)


@router.post(
    "",
    status_code=202,
    response_model=AcceptedOut,
    responses=write_responses("The same record was accepted before", AcceptedOut),
)
def submit_record(caller: CallerDep, body: SubmissionIn, service: SubmissionsDep, response: Response) -> AcceptedOut:
    """Accepts one signed record: stored durably before this answers, then written to the
    chain exactly once. Posting the same record again returns the same id (200). With the
    credential of the record's party."""
    caller.require_acting(body.record.party, "record.party")
    accepted = service.submit(_submission(body))
    answer_replay(response, accepted.created)
    response.headers["Location"] = f"/v1/records/{accepted.record_id}"
    return AcceptedOut(id=accepted.record_id, status="accepted", location=f"/v1/records/{accepted.record_id}")


@router.post(
    "/batch",
    status_code=202,
    response_model=BatchAcceptedOut,
    responses=write_responses("The same batch was accepted before", BatchAcceptedOut),
)
def submit_batch(
    caller: CallerDep, body: BatchIn, service: SubmissionsDep, limit: BatchLimitDep, response: Response
) -> BatchAcceptedOut:
    """Accepts many signed records, anchored together as one Merkle root in one
    transaction. All or nothing: one bad record refuses the batch, naming its index. With
    the credential of the records' party: every record of a batch is that party's."""
    require_at_most(len(body.records), limit, "records", "records in one batch")
    for i, item in enumerate(body.records):
        caller.require_acting(item.record.party, f"records[{i}].record.party")
    accepted = service.submit_batch([_submission(item) for item in body.records])
    answer_replay(response, accepted.created)
    return BatchAcceptedOut(
        root=accepted.root, count=len(accepted.record_ids), ids=accepted.record_ids, status="accepted"
    )


@router.get("/{record_id}", response_model=RecordOut, responses=responses(401, 404, 422, 429))
def get_record(
    record_id: Annotated[str, Path(pattern=RECORD_ID_PATTERN, description="the record id (EIP-712 digest)")],
    service: QueriesDep,
    caller: CallerDep,
    access: AccessDep,
) -> RecordOut:
    """Status (accepted, submitted, confirmed, failed), transaction, block, confirmations,
    and for a batched record its Merkle inclusion proof. For the parties to its
    consignment and the customs of the countries on its route."""
    access.require_record(caller, record_id)
    return RecordOut(**asdict(service.record(record_id)))
