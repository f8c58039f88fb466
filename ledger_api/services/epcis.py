"""EPCIS 2.0 capture and export (docs/epcis.md): a signed document becomes ledger records,
all of them or none; a consignment's history goes out as an EPCIS 2.0 document.

A capture is checked like any other submission (payload, hash, signature, role, custody
order, nonce) by `Submissions`; refusals name the event by its index in the eventList.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from ledger_api.domain.epcis import EpcisError, capture_document, export_document
from ledger_api.domain.payloads import payload_hash, record_kind_of, record_route_of
from ledger_api.domain.records import Record, RecordKind, consignment_key
from ledger_api.errors import ConflictingSubmission, InvalidSubmission, NotAuthorised, SubmissionError
from ledger_api.services.queries import Queries
from ledger_api.services.submission import Submission, Submissions

EVENTS = "epcisDocument.epcisBody.eventList"
_RECORDS_FIELD = re.compile(r"records\[(\d+)\]\.?(.*)")


@dataclass(frozen=True)
class EventSigning:
    nonce: int
    deadline: int
    previous: bytes
    signature: bytes


@dataclass(frozen=True)
class Captured:
    ids: list[str]
    kinds: list[str]
    batch_root: str | None
    created: bool


class InvalidDocument(InvalidSubmission):
    """An EPCIS document with events the ledger cannot record: every reason, by event."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        field, message = errors[0]
        super().__init__("INVALID_EPCIS", field, message)
        self.errors = errors


def _event_field(field: str, kind: str) -> str:
    """`records[3].record.nonce` as the part of the capture it came from."""
    match = _RECORDS_FIELD.fullmatch(field)
    if match is None:
        return EVENTS if field == "records" else field
    index, rest = match[1], match[2]
    if rest == "signature" or (rest.startswith("record.") and rest[7:] in ("nonce", "deadline", "previous")):
        return f"signatures[{index}].{rest.removeprefix('record.')}"
    if rest == "record.party":
        return "signer"
    if rest == "record.counterparty":
        side = "destinationList" if kind == "HANDOVER" else "sourceList"
        return f"{EVENTS}[{index}].{side}"
    return f"{EVENTS}[{index}]"


class Epcis:
    def __init__(self, submissions: Submissions | None, queries: Queries, chain_id: int, contract: str) -> None:
        self.submissions, self.queries = submissions, queries
        self.chain_id, self.contract = chain_id, contract

    def capture(self, document: dict[str, Any], signer: str, signings: list[EventSigning]) -> Captured:
        assert self.submissions is not None
        try:
            events = capture_document(document, self.chain_id)
        except EpcisError as exc:
            raise InvalidDocument([("epcisDocument" + ("." + f if f else ""), r) for f, r in exc.errors]) from None
        if len(signings) != len(events):
            raise InvalidSubmission(
                "SIGNATURE_COUNT",
                "signatures",
                f"one signature per event: {len(events)} events, {len(signings)} signatures",
            )
        errors = [
            (f"{EVENTS}[{i}]", f"names {e.actor} as the acting party, but the document is signed by {signer}")
            for i, e in enumerate(events)
            if e.actor is not None and e.actor != signer
        ]
        if errors:
            field, message = errors[0]
            raise NotAuthorised("ACTOR_IS_NOT_SIGNER", field, message)
        items = [
            Submission(
                record=Record(
                    consignment=consignment_key(e.payload.ucr),
                    kind=RecordKind[record_kind_of(e.payload)],
                    payload_hash=payload_hash(e.payload),
                    previous=s.previous,
                    party=signer,
                    counterparty=e.counterparty,
                    nonce=s.nonce,
                    deadline=s.deadline,
                    route=record_route_of(e.payload),
                ),
                signature=s.signature,
                payload=e.payload,
            )
            for e, s in zip(events, signings, strict=True)
        ]
        kinds = [item.record.kind.name for item in items]
        modes = set(self.submissions.modes({item.record.consignment for item in items}).values())
        try:
            if modes == {"batch"}:
                batch = self.submissions.submit_batch(items)
                return Captured(batch.record_ids, kinds, batch.root, batch.created)
            if modes == {"batch", "single"}:
                raise ConflictingSubmission(
                    "MODE_MISMATCH",
                    EVENTS,
                    "the document mixes consignments anchored in batches with ones written record by record: "
                    "capture them in two documents",
                )
            accepted = self.submissions.submit_many(items)
            return Captured([a.record_id for a in accepted], kinds, None, accepted[0].created)
        except SubmissionError as exc:
            match = _RECORDS_FIELD.fullmatch(exc.field)
            kind = kinds[int(match[1])] if match and int(match[1]) < len(kinds) else ""
            exc.field = _event_field(exc.field, kind)
            raise

    def export(self, ucr: str) -> dict[str, Any]:
        view = self.queries.consignment(ucr)
        records = [asdict(r) for r in view.records if r.held]  # an event needs the payload
        parties = {a: p.identifiers for a, p in view.parties.items() if p.identifiers}
        return export_document(ucr, records, self.chain_id, self.contract, datetime.now(UTC), parties)
