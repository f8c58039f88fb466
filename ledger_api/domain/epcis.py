"""GS1 EPCIS 2.0 in and out: which events become which ledger records, and the ledger's
history of a consignment as an EPCIS 2.0 document. docs/epcis.md is the reader's guide.

In (capture). An event becomes the payload of a ledger record, and the capturing party
signs that record as it signs any other (EIP-712, see `records.py`):

    type      ObjectEvent, AggregationEvent or TransactionEvent; action OBSERVE or ADD
    bizStep   shipping, departing   -> HANDOVER          (CBV 2.0; bare, https://ref.gs1.org/cbv/BizStep-…
              receiving, arriving   -> ACCEPTANCE         or urn:epcglobal:cbv:bizstep:… forms)
              inspecting            -> CUSTOMS_DECISION
    eventTime                       -> the payload's time (any offset; hashed in UTC)
    destinationList possessing_party   HANDOVER: who takes custody (the record's counterparty)
    sourceList possessing_party        ACCEPTANCE: who hands custody over (its counterparty)
    the other possessing party, if named, must be the signer

Parties are named as did:pkh:eip155:<chain id>:<address> (CAIP-10 accounts), the one
identifier the ledger can check against a signature. What EPCIS has no words for is said
in extension fields of the ledger's namespace (prefix `ledger`):

    ledger:ucr                 the consignment (WCO UCR)            all events
    ledger:location            UN/LOCODE where it happened           custody events
    ledger:transport           {mode, means_id, voyage}              custody events
    ledger:containers, ledger:seals, ledger:remarks, ledger:sealChangeReason
    ledger:decision            {authority_country, customs_office, decision, inspection, remarks}
                                                                     inspecting events

The event's other fields (epcList, readPoint, bizTransactionList, sensor data…) are
allowed and not recorded: the ledger keeps custody facts, not inventory.

Out (export). Every record becomes one event carrying `ledger:record` (id, signature,
nonce, chain status…) and `ledger:payload` (the signed payload), so that the document can
be checked against the chain without the service (its signed route included). A
declaration is a TransactionEvent (action ADD) naming the declaration record; custody
records are ObjectEvents with bizStep shipping or receiving; customs decisions ObjectEvents
with bizStep inspecting; a transit declaration an ObjectEvent with bizStep transporting and
disposition in_transit, its countries in `ledger:transitCountries` (capture takes no
transporting event: a transit is signed as a ledger record, not captured). The document
names the parties in `ledger:parties`: each event's DID with its legal name and
identifiers (EORI, LEI, GLN…), where the service holds them.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_utils.address import is_address, to_checksum_address
from pydantic import ValidationError

from ledger_api.domain.payloads import Payload, parse_payload
from ledger_api.domain.records import ZERO_ADDRESS

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
LEDGER_NAMESPACE = "urn:customs-provenance-ledger:epcis:"
# The ledger's nested extension values (the record, the payload, transport, decision)
# are JSON literals to a JSON-LD processor: kept whole, not read as linked data.
CONTEXT: list[Any] = [
    EPCIS_CONTEXT,
    {"ledger": LEDGER_NAMESPACE}
    | {f"ledger:{name}": {"@type": "@json"} for name in ("record", "payload", "transport", "decision", "parties")},
]
MAX_EVENTS = 10_000

BIZSTEP_KIND = {
    "shipping": "HANDOVER",
    "departing": "HANDOVER",
    "receiving": "ACCEPTANCE",
    "arriving": "ACCEPTANCE",
    "inspecting": "CUSTOMS_DECISION",
}
EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent")
_BIZSTEP_FORMS = (
    re.compile(r"https?://ref\.gs1\.org/cbv/BizStep-([a-z_]+)"),
    re.compile(r"urn:epcglobal:cbv:bizstep:([a-z_]+)"),
)
_DID_PKH = re.compile(r"did:pkh:eip155:([0-9]{1,20}):(0x[0-9a-fA-F]{40})")

# Payload field -> where it comes from in the event, to name the event's field in errors.
_CUSTODY_SOURCES = {
    "ucr": "ledger:ucr",
    "location": "ledger:location",
    "time": "eventTime",
    "transport": "ledger:transport",
    "containers": "ledger:containers",
    "seals": "ledger:seals",
    "remarks": "ledger:remarks",
    "seal_change_reason": "ledger:sealChangeReason",
}
_DECISION_FIELDS = ("authority_country", "customs_office", "decision", "inspection", "remarks")


class EpcisError(ValueError):
    """A document or event the ledger cannot record. `errors` pairs a field path (from the
    document's root, e.g. `epcisBody.eventList[3].bizStep`) with the reason."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{f}: {r}" for f, r in errors[:5]))


@dataclass(frozen=True)
class CapturedEvent:
    """What one event says, as the ledger records it."""

    payload: Payload
    counterparty: str  # ZERO_ADDRESS when the kind names none
    actor: str | None  # the acting party, when the event names it


def party_did(chain_id: int, address: str) -> str:
    return f"did:pkh:eip155:{chain_id}:{to_checksum_address(address)}"


def _party(value: Any, chain_id: int) -> str:
    match = _DID_PKH.fullmatch(value) if isinstance(value, str) else None
    if match is None or not is_address(match[2]):
        raise ValueError(f"a party is named did:pkh:eip155:{chain_id}:0x… (a ledger account), not {value!r}")
    if int(match[1]) != chain_id:
        raise ValueError(f"names an account on chain {match[1]}, but this ledger is chain {chain_id}")
    return to_checksum_address(match[2])


def bizstep_name(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    for form in _BIZSTEP_FORMS:
        match = form.fullmatch(value)
        if match:
            return match[1]
    return value


def _possessing(event: dict[str, Any], side: str, chain_id: int) -> tuple[str | None, list[tuple[str, str]]]:
    """The possessing party on `side` ("source" or "destination"): at most one."""
    entries = event.get(f"{side}List", [])
    if not isinstance(entries, list):
        return None, [(f"{side}List", "must be a list")]
    found: list[tuple[int, Any]] = [
        (i, e.get(side))
        for i, e in enumerate(entries)
        if isinstance(e, dict) and e.get("type") in ("possessing_party", "https://ref.gs1.org/cbv/SDT-possessing_party")
    ]
    if len(found) > 1:
        return None, [(f"{side}List", "names more than one possessing party")]
    if not found:
        return None, []
    i, value = found[0]
    try:
        return _party(value, chain_id), []
    except ValueError as exc:
        return None, [(f"{side}List[{i}].{side}", str(exc))]


def capture_event(event: Any, chain_id: int) -> CapturedEvent:
    """One event as a ledger payload, or EpcisError with every reason (fields relative to
    the event)."""
    if not isinstance(event, dict):
        raise EpcisError([("", "an event is a JSON object")])
    kind_of_event = event.get("type")
    if kind_of_event not in EVENT_TYPES:
        raise EpcisError(
            [("type", f"{kind_of_event!r} events are not ledger records; the ledger takes {', '.join(EVENT_TYPES)}")]
        )
    if "errorDeclaration" in event:
        # An errorDeclaration says an earlier event was wrong: it is a correction, never a new
        # custody fact, and the ledger corrects a record by a signed REVOCATION naming it.
        raise EpcisError(
            [
                (
                    "errorDeclaration",
                    "declares an earlier event in error: the ledger does not capture corrections as events; "
                    "post a REVOCATION record of the record it corrects (with its replacement)",
                )
            ]
        )
    errors: list[tuple[str, str]] = []
    if event.get("action") not in ("OBSERVE", "ADD"):
        errors.append(("action", f"must be OBSERVE or ADD for a ledger record, not {event.get('action')!r}"))
    step = bizstep_name(event.get("bizStep"))
    kind = BIZSTEP_KIND.get(step or "")
    if kind is None:
        supported = ", ".join(BIZSTEP_KIND)
        errors.append(("bizStep", f"{event.get('bizStep')!r} is not a step the ledger records ({supported})"))
    for name in ("ledger:ucr", "eventTime"):
        if name not in event:
            errors.append((name, "is required"))
    if kind is None or errors:
        raise EpcisError(errors)

    source, problems = _possessing(event, "source", chain_id)
    destination, more = _possessing(event, "destination", chain_id)
    errors += problems + more
    counterparty, actor = ZERO_ADDRESS, None
    if kind == "HANDOVER":
        counterparty, actor = destination or ZERO_ADDRESS, source
        if destination is None and not more:
            errors.append(
                (
                    "destinationList",
                    "a shipping or departing event names who takes custody: a possessing_party destination",
                )
            )
    elif kind == "ACCEPTANCE":
        counterparty, actor = source or ZERO_ADDRESS, destination
        if source is None and not problems:
            errors.append(
                ("sourceList", "a receiving or arriving event names who hands custody over: a possessing_party source")
            )

    if kind == "CUSTOMS_DECISION":
        decision = event.get("ledger:decision")
        if not isinstance(decision, dict):
            errors.append(("ledger:decision", "an inspecting event carries the customs decision as an object"))
            raise EpcisError(errors)
        unknown = sorted(set(decision) - set(_DECISION_FIELDS))
        if unknown:
            errors.append((f"ledger:decision.{unknown[0]}", "is not a field of a customs decision"))
        data = {k: v for k, v in decision.items() if k in _DECISION_FIELDS}
        data.update(kind=kind, ucr=event["ledger:ucr"], time=event["eventTime"])
        sources = {"ucr": "ledger:ucr", "time": "eventTime"} | {f: f"ledger:decision.{f}" for f in _DECISION_FIELDS}
    else:
        data = {field: event[source_name] for field, source_name in _CUSTODY_SOURCES.items() if source_name in event}
        data["kind"] = kind
        sources = _CUSTODY_SOURCES
    data["schema_version"] = "1"
    try:
        payload = parse_payload(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = [p for p in error["loc"] if p != kind]
            first = str(loc[0]) if loc else ""
            where = sources.get(first, first)
            rest = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
            errors.append((where + rest, str(error["msg"]).removeprefix("Value error, ")))
        raise EpcisError(errors) from None
    if errors:
        raise EpcisError(errors)
    return CapturedEvent(payload, counterparty, actor)


def capture_document(document: Any, chain_id: int) -> list[CapturedEvent]:
    """Every event of an EPCIS 2.0 document as a ledger payload; EpcisError naming each bad
    event by its index (all of them, not just the first) when any is bad."""
    if not isinstance(document, dict) or document.get("type") != "EPCISDocument":
        raise EpcisError([("type", "expected an EPCIS 2.0 document: type EPCISDocument")])
    errors: list[tuple[str, str]] = []
    if document.get("schemaVersion") not in ("2.0", "2.0.0"):
        errors.append(("schemaVersion", f"the ledger reads EPCIS 2.0, not {document.get('schemaVersion')!r}"))
    context = document.get("@context")
    names = context if isinstance(context, list) else [context]
    if EPCIS_CONTEXT not in names:
        errors.append(("@context", f"must name the EPCIS 2.0 context {EPCIS_CONTEXT}"))
    body = document.get("epcisBody")
    events = body.get("eventList") if isinstance(body, dict) else None
    if not isinstance(events, list) or not events:
        errors.append(("epcisBody.eventList", "must be a list of at least one event"))
        raise EpcisError(errors)
    if len(events) > MAX_EVENTS:
        errors.append(("epcisBody.eventList", f"at most {MAX_EVENTS:,} events in one document"))
        raise EpcisError(errors)
    captured = []
    for i, event in enumerate(events):
        try:
            captured.append(capture_event(event, chain_id))
        except EpcisError as exc:
            where = f"epcisBody.eventList[{i}]"
            errors += [(f"{where}.{f}" if f else where, reason) for f, reason in exc.errors]
    if errors:
        raise EpcisError(errors)
    return captured


# ---------------------------------------------------------------- export


def _utc(text: str) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the store keeps UTC without an offset
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def export_event(record: dict[str, Any], chain_id: int) -> dict[str, Any]:
    """One ledger record (as the API shows it) as an EPCIS 2.0 event."""
    payload, kind = record["payload"], record["kind"]
    party = party_did(chain_id, record["party"])
    counterparty = record.get("counterparty")
    other = party_did(chain_id, counterparty) if counterparty and counterparty != ZERO_ADDRESS else None
    recorded = _utc(record["accepted_at"])
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": f"{LEDGER_NAMESPACE}record:{record['id']}",
        "eventTime": _utc(payload["time"]) if "time" in payload else recorded,
        "recordTime": recorded,
        "eventTimeZoneOffset": "+00:00",
        "epcList": [],
        "action": "OBSERVE",
    }
    if kind == "DECLARATION":
        event.update(
            type="TransactionEvent",
            action="ADD",
            bizTransactionList=[
                {"type": f"{LEDGER_NAMESPACE}btt:declaration", "bizTransaction": event["eventID"]},
            ],
            sourceList=[{"type": "possessing_party", "source": party}],
        )
    elif kind == "HANDOVER":
        event.update(bizStep="shipping", disposition="in_transit")
        event["sourceList"] = [{"type": "possessing_party", "source": party}]
        if other:
            event["destinationList"] = [{"type": "possessing_party", "destination": other}]
    elif kind == "ACCEPTANCE":
        event.update(bizStep="receiving", disposition="in_progress")
        if other:
            event["sourceList"] = [{"type": "possessing_party", "source": other}]
        event["destinationList"] = [{"type": "possessing_party", "destination": party}]
    elif kind == "CUSTOMS_DECISION":
        event.update(bizStep="inspecting")
        event["ledger:decision"] = {k: payload[k] for k in _DECISION_FIELDS if k in payload}
    elif kind == "TRANSIT":
        event.update(bizStep="transporting", disposition="in_transit")
        event["sourceList"] = [{"type": "possessing_party", "source": party}]
        event["ledger:transitCountries"] = payload["transit_countries"]
        if "location" in payload:
            event["ledger:location"] = payload["location"]
    else:  # REVOCATION: its target's event carries the errorDeclaration (export_document)
        event.update(bizStep="other")
    event["ledger:ucr"] = payload["ucr"]
    if kind in ("HANDOVER", "ACCEPTANCE"):
        for field, name in _CUSTODY_SOURCES.items():
            if field not in ("ucr", "time") and field in payload:
                event[name] = payload[field]
    elif kind == "DECLARATION":
        event["ledger:containers"], event["ledger:seals"] = payload["containers"], payload["seals"]
    event["ledger:record"] = {
        "id": record["id"],
        "kind": kind,
        "party": record["party"],
        "counterparty": counterparty or ZERO_ADDRESS,
        "previous": record["previous"],
        "payloadHash": record["payload_hash"],
        "nonce": record["nonce"],
        "route": record.get("route", []),
        "signature": record["signature"],
        "status": record["status"],
        "mode": record["mode"],
        "txHash": record.get("tx_hash"),
        "blockNumber": record.get("block_number"),
        "blockHash": record.get("block_hash"),
        "batchRoot": record.get("batch_root"),
    }
    event["ledger:payload"] = payload
    return event


def export_document(
    ucr: str,
    records: list[dict[str, Any]],
    chain_id: int,
    contract: str,
    created: datetime,
    parties: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The consignment's history as an EPCIS 2.0 document, oldest record first. A revoked
    record's event carries an EPCIS errorDeclaration naming the revocation (and the
    replacement, if any) as its corrective events. `parties` (address -> identifiers: legal
    name, EORI, LEI, GLN…) become `ledger:parties`, keyed by the DIDs the events name."""
    events = [export_event(r, chain_id) for r in records]
    by_id = {r["id"]: e for r, e in zip(records, events, strict=True)}
    for record, event in zip(records, events, strict=True):
        if record["kind"] != "REVOCATION":
            continue
        target = by_id.get(record["payload"]["revoked_record"])
        if target is not None:
            corrective = [event["eventID"]]
            replacement = record["payload"].get("replacement_record")
            if replacement in by_id:
                corrective.append(by_id[replacement]["eventID"])
            target["errorDeclaration"] = {
                "declarationTime": event["recordTime"],
                "reason": "incorrect_data",
                "correctiveEventIDs": corrective,
            }
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "ledger:ucr": ucr,
        "ledger:chainId": chain_id,
        "ledger:ledgerContract": contract,
        "ledger:parties": {party_did(chain_id, a): dict(ids) for a, ids in sorted((parties or {}).items())},
        "epcisBody": {"eventList": events},
    }
