"""Request and response schemas of the HTTP API (v1). Transport only: converted to and
from domain types at the edge, never stored as such."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from eth_utils.address import is_checksum_address
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from ledger_api.domain.payloads import Payload
from ledger_api.domain.records import Record, RecordKind, checksummed

UCR_PATTERN = r"^[0-9][A-Z]{2}[A-Z0-9-]{1,32}$"
RECORD_ID_PATTERN = r"^0x[0-9a-fA-F]{64}$"
ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
UINT256_MAX = 2**256 - 1
# Most records one batch may carry (Settings.max_batch_records has the same default).
MAX_BATCH_RECORDS = 10_000

Hash32 = Annotated[str, StringConstraints(pattern=RECORD_ID_PATTERN)]
Signature = Annotated[
    str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$"), Field(description="65-byte r‖s‖v signature, v 27 or 28")
]


@lru_cache(maxsize=65_536)  # the same few parties sign thousands of records, each hashed for EIP-55
def _checksummed(value: str) -> str:
    # A mixed-case address must carry a valid EIP-55 checksum: a typo is refused, not sent.
    if value != value.lower() and value[2:] != value[2:].upper() and not is_checksum_address(value):
        raise ValueError("mixed-case address with a wrong EIP-55 checksum")
    return checksummed(value)


Address = Annotated[str, StringConstraints(pattern=ADDRESS_PATTERN), AfterValidator(_checksummed)]


def _uint256(value: Any) -> Any:
    # Large integers lose precision as JSON numbers in many clients: accept decimal text too
    # (ASCII digits only: str.isdigit() is true of "١٢" and "²" as well).
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


# Strict: a JSON float (5.0) or a boolean is not the integer the party signed. The bounds
# sit on the int, inside the text-to-int validator: after it, pydantic could not apply them
# to the int schema and published them as "ge"/"le", which JSON Schema does not know.
Uint256 = Annotated[int, Field(ge=0, le=UINT256_MAX, strict=True), BeforeValidator(_uint256)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


RouteCountry = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class RecordFields(_In):
    """The EIP-712 `Record` message the party signed (contracts/lib/LedgerRecords.sol)."""

    consignment: Hash32 = Field(description="keccak256 of the UCR")
    kind: Literal["DECLARATION", "HANDOVER", "ACCEPTANCE", "CUSTOMS_DECISION", "REVOCATION", "TRANSIT"]
    payloadHash: Hash32 = Field(description="keccak256 of the payload's RFC 8785 canonical JSON")  # noqa: N815
    previous: Hash32 = Field(description="id of the consignment's latest record; zero for a declaration")
    party: Address
    counterparty: Address
    nonce: Uint256
    deadline: Uint256 = Field(description="unix time after which the signature is void")
    route: list[RouteCountry] = Field(
        default_factory=list,
        max_length=16,
        description="ISO 3166-1 alpha-2 codes, signed as bytes2[]: a DECLARATION's [origin_country, "
        "destination_country], a TRANSIT's transit_countries, in the payload's order; empty for other kinds",
    )

    def to_domain(self) -> Record:
        return Record(
            consignment=bytes.fromhex(self.consignment[2:]),
            kind=RecordKind[self.kind],
            payload_hash=bytes.fromhex(self.payloadHash[2:]),
            previous=bytes.fromhex(self.previous[2:]),
            party=self.party,
            counterparty=self.counterparty,
            nonce=self.nonce,
            deadline=self.deadline,
            route=tuple(self.route),
        )


class SubmissionIn(_In):
    """One signed record and its payload."""

    record: RecordFields
    signature: Signature
    payload: Payload


class BatchIn(_In):
    """Signed records to anchor together as one Merkle root."""

    records: list[SubmissionIn] = Field(min_length=1, max_length=MAX_BATCH_RECORDS)


class AcceptedOut(BaseModel):
    id: str
    status: str
    location: str


class BatchAcceptedOut(BaseModel):
    root: str
    count: int
    ids: list[str]
    status: str


# The read schemas below are the HTTP shape of the views in services/queries.py, field for
# field, so a route builds one with X(**asdict(view)); the states and modes are narrowed to
# what they can be, for the OpenAPI document. tests/api/test_schemas.py holds the two
# together: a field added to a view alone would be dropped from the answer without a word.


class RecordOut(BaseModel):
    id: str
    status: Literal["accepted", "submitted", "confirmed", "failed"]
    ucr: str | None = Field(description="null when no record of its consignment held here names it")
    consignment: str
    position: int
    kind: str
    party: str
    counterparty: str | None
    previous: str
    payload_hash: str
    nonce: str
    route: list[str] | None = Field(description="the signed route; null when the record is not held")
    signature: str | None
    payload: dict[str, Any] | None = Field(description="null when the record is not held")
    held: bool = Field(
        description="whether this instance holds the signed record and its payload; false for a record "
        "learnt from the chain (written through another instance, or straight to the contract)"
    )
    mode: Literal["single", "batch"]
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None
    confirmations: int
    batch_root: str | None
    inclusion_proof: list[str] | None
    error: str | None
    accepted_at: str | None


NAME_DOC = "legal name; null when the service has not seen the identifiers the chain's hash covers"
IDENTIFIERS_DOC = "name, EORI, LEI, GLN… as registered (their hash is on chain)"


class PartyNameOut(BaseModel):
    address: str
    name: str | None = Field(description=NAME_DOC)
    identifiers: dict[str, str] | None = Field(description=IDENTIFIERS_DOC)


class ConsignmentOut(BaseModel):
    ucr: str
    consignment: str
    mode: Literal["single", "batch"]
    custodian: str
    pending_custodian: str | None
    exporter: str
    route: list[str] = Field(description="origin, destination, then the transit countries in the order added")
    records: list[RecordOut]
    parties: dict[str, PartyNameOut] = Field(description="the registered parties the records name, by address")


class PartyOut(BaseModel):
    address: str
    country: str
    roles: list[str]
    status: str
    is_authority: bool
    identifiers_hash: str
    registered_block: int
    updated_block: int
    next_nonce: int = Field(description="the nonce this party's next single-mode record must carry")
    name: str | None = Field(description=NAME_DOC)
    identifiers: dict[str, str] | None = Field(description=IDENTIFIERS_DOC)
    forwarder_nonce: int | None = Field(
        default=None, description="for an authority: its next nonce at the forwarder (registry writes)"
    )


RoleName = Literal["EXPORTER", "CARRIER", "FORWARDER", "TERMINAL", "IMPORTER", "CUSTOMS", "LAW_ENFORCEMENT"]
IdentifierKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
IdentifierValue = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class PartyWriteIn(_In):
    """A registry write signed by the customs authority of the party's country: the
    signature is over the ERC-2771 ForwardRequest (EIP-712, domain "LedgerForwarder")
    whose data is the registry call these fields describe."""

    action: Literal["register", "set_roles", "suspend", "reinstate", "revoke"]
    authority: Address
    party: Address
    roles: list[RoleName] = Field(default_factory=list, max_length=7)
    identifiers: dict[IdentifierKey, IdentifierValue] = Field(
        default_factory=dict, max_length=8, description='e.g. {"eori": "NL123456789"}; only its hash goes on chain'
    )
    nonce: Uint256 = Field(description="the authority's next nonce at the forwarder")
    deadline: Annotated[int, Field(ge=0, lt=2**48, strict=True)]
    signature: Signature


class IdentifiersIn(_In):
    """A registered party's identifiers, accepted when they hash to the registry's identifiers hash."""

    identifiers: dict[IdentifierKey, IdentifierValue] = Field(min_length=1, max_length=8)


class IdentifiersOut(BaseModel):
    address: str
    identifiers_hash: str


class PartyWriteOut(BaseModel):
    id: str
    status: str


class LedgerOut(BaseModel):
    """What a client needs to sign records for this ledger."""

    chain_id: int
    contracts: dict[str, str]
    eip712_domain: dict[str, Any]
    record_type: list[dict[str, str]]
    confirmations: int


class FieldError(BaseModel):
    field: str
    reason: str


class Problem(BaseModel):
    """RFC 9457 problem details. `type` is stable; `errors` names each field at fault."""

    type: str
    title: str
    status: int
    detail: str
    code: str | None = None
    errors: list[FieldError] = []


# ---------------------------------------------------------------- verification

COUNTRY_PATTERN = r"^[A-Z]{2}$"


class ReasonOut(BaseModel):
    code: str
    number: int
    message: str


class CheckOut(BaseModel):
    name: str
    status: Literal["VALID", "INVALID", "ERROR", "SKIPPED"]
    reason: ReasonOut
    records: list[str]


class FiredRuleOut(BaseModel):
    id: str
    description: str
    points: int
    reason: str
    records: list[str]


class RiskOut(BaseModel):
    lane: Literal["GREEN", "AMBER", "RED"]
    score: int
    fired: list[FiredRuleOut]


class RecognitionOut(BaseModel):
    """An operator's AEO recognition by a country at a time (domain/recognition.py
    `Recognition`): in a verification, the exporter's by the verifying country."""

    operator: str
    country: str
    at: int
    recognised: bool
    reason: str
    programme: str | None
    mra_id: int | None
    valid_until: int | None


class DecisionInForceOut(BaseModel):
    """The verifying country's customs decision in force as of the verdict's block: its
    latest on chain, not revoked, signed by its active customs."""

    decision: Literal["EXPORT_RELEASE", "IMPORT_RELEASE", "HOLD", "INSPECTION_ORDERED", "REFUSED", "INSPECTED"]
    country: str
    by: str = Field(description="the officer's address that signed it")
    record: str
    block: int
    customs_office: str
    time: str


class VerificationOut(BaseModel):
    """The verdict with every check and its reason, the risk lane with the rules that
    fired, and a receipt (compact JWS, EdDSA) anyone can check against /v1/keys."""

    ucr: str
    verifying_country: str
    as_of_block: int
    verdict: Literal["VERIFIED", "FAILED", "INCOMPLETE"]
    checks: list[CheckOut]
    risk: RiskOut
    recognition: RecognitionOut | None
    decision: DecisionInForceOut | None = Field(
        default=None, description="the verifying country's customs decision in force (HOLD, release…), if any"
    )
    evidence_hash: str
    receipt: str


class RecognitionAnswerOut(RecognitionOut):
    """The answer of GET /v1/recognition: the recognition, and the country that issued the
    operator's certificate."""

    certificate_country: str | None


# ---------------------------------------------------------------- EPCIS 2.0


class EventSignature(_In):
    """The capturing party's signature of the ledger record one event becomes (docs/epcis.md):
    the EIP-712 `Record` whose payload is the event's, with these nonce, deadline and previous."""

    nonce: Uint256
    deadline: Uint256 = Field(description="unix time after which the signature is void")
    previous: Hash32 = Field(description="id of the consignment's latest record before this event's")
    signature: Signature


class CaptureIn(_In):
    """A signed EPCIS 2.0 capture: the document, who signed it, and one signature per event,
    in the order of the document's eventList."""

    signer: Address = Field(description="the capturing party: every event's record is signed by it")
    epcisDocument: dict[str, Any] = Field(description="an EPCIS 2.0 JSON-LD document (EPCISDocument)")  # noqa: N815
    signatures: list[EventSignature] = Field(min_length=1, max_length=MAX_BATCH_RECORDS)


class CapturedRecordOut(BaseModel):
    event: int = Field(description="the event's index in the document's eventList")
    id: str
    kind: str


class CaptureOut(BaseModel):
    records: list[CapturedRecordOut]
    batch_root: str | None = Field(description="the Merkle root the records are anchored under, for batch consignments")
    status: str


# ---------------------------------------------------------------- worklist


class FiredNameOut(BaseModel):
    id: str
    description: str


class LastEventOut(BaseModel):
    kind: str
    place: str | None = Field(description="UN/LOCODE, or the customs office of a decision")
    time: str | None


class WorklistItemOut(BaseModel):
    ucr: str
    consignment: str
    lane: Literal["GREEN", "AMBER", "RED"]
    score: int
    fired: list[FiredNameOut]
    exporter: PartyNameOut
    exporter_aeo_recognised: bool | None = Field(description="the exporter's AEO status, recognised by this country")
    exporter_aeo_programme: str | None
    custodian: PartyNameOut
    last_event: LastEventOut
    awaiting_decision: bool = Field(description="the country has not decided, or its HOLD / inspection order is open")
    last_decision: str | None
    inspected: bool
    discrepancy: bool
    hs_chapters: list[str]


class WorklistOut(BaseModel):
    """A page of a country's worklist: RED first, then by score; `next_cursor` pages on."""

    country: str
    items: list[WorklistItemOut]
    next_cursor: str | None
    pending: int = Field(
        description="consignments on the route whose lines the service is still computing (not in the ranking yet)"
    )


class RuleHitRateOut(BaseModel):
    rule: str
    description: str
    flagged: int = Field(description="consignments declared in the period that the rule flagged")
    inspected: int = Field(description="of those, how many this country inspected (an INSPECTED outcome)")
    discrepancies: int = Field(description="of those inspections, how many found a discrepancy")
    inspection_rate: float | None
    discrepancy_rate: float | None


class HitRatesOut(BaseModel):
    country: str
    since: int | None
    until: int | None
    rules: list[RuleHitRateOut]
