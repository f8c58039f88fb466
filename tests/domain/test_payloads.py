"""Record payloads: what exporters, carriers and customs may write off chain, and the
canonical bytes whose keccak256 a record carries."""

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from eth_utils import keccak
from pydantic import ValidationError
from support import payloads as examples

from ledger_api.domain.payloads import (
    CustodyPayload,
    DecisionPayload,
    DeclarationPayload,
    RevocationPayload,
    TransitPayload,
    canonical_json,
    container_check_digit,
    parse_payload,
    payload_consignment,
    payload_hash,
    record_kind_of,
    record_route_of,
)
from ledger_api.domain.records import RecordKind, consignment_key

UCR = "4NL123456789-INV2026-0001"
RECORD_A = "0x" + "11" * 32
RECORD_B = "0x" + "22" * 32


def declaration() -> dict:
    return examples.declaration(UCR)


def handover() -> dict:
    return examples.custody(UCR, "HANDOVER")


def decision() -> dict:
    return examples.decision(UCR)


def revocation() -> dict:
    return {
        "schema_version": "1",
        "kind": "REVOCATION",
        "ucr": UCR,
        "revoked_record": RECORD_A,
        "reason": "declared value was wrong",
        "replacement_record": RECORD_B,
    }


def transit() -> dict:
    return examples.transit(UCR, ["SG", "LK"])


FAMILIES = [
    (declaration, DeclarationPayload, "DECLARATION"),
    (handover, CustodyPayload, "HANDOVER"),
    (decision, DecisionPayload, "CUSTOMS_DECISION"),
    (revocation, RevocationPayload, "REVOCATION"),
    (transit, TransitPayload, "TRANSIT"),
]


def refusals(data: dict) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as caught:
        parse_payload(data)
    return [(error["loc"], error["msg"]) for error in caught.value.errors()]


# ---------------------------------------------------------------- valid payloads


@pytest.mark.parametrize(("build", "model", "kind"), FAMILIES)
def test_a_valid_payload_of_each_family_parses_to_its_model_and_record_kind(build, model, kind):
    payload = parse_payload(build())
    assert isinstance(payload, model)
    assert record_kind_of(payload) == kind
    assert RecordKind[record_kind_of(payload)].name == kind


@pytest.mark.parametrize(("build", "model", "kind"), FAMILIES)
def test_each_payload_hashes_to_the_keccak_of_its_canonical_json_every_time(build, model, kind):
    first, second = parse_payload(build()), parse_payload(build())
    assert payload_hash(first) == payload_hash(second) == keccak(canonical_json(first))
    assert len(payload_hash(first)) == 32


@pytest.mark.parametrize(("build", "model", "kind"), FAMILIES)
def test_the_order_of_keys_a_client_sends_does_not_change_the_hash(build, model, kind):
    data = build()
    reordered = {key: data[key] for key in reversed(list(data))}
    assert list(reordered) != list(data)
    assert payload_hash(parse_payload(reordered)) == payload_hash(parse_payload(data))


@pytest.mark.parametrize(("build", "model", "kind"), FAMILIES)
def test_a_payload_read_from_json_text_hashes_as_the_same_payload_read_from_a_mapping(build, model, kind):
    data = build()
    assert payload_hash(parse_payload(json.dumps(data).encode())) == payload_hash(parse_payload(data))


def test_the_same_instant_written_in_another_timezone_hashes_the_same():
    in_tokyo = {**handover(), "time": "2026-03-01T19:30:00+09:00"}
    as_datetime = {**handover(), "time": datetime(2026, 3, 1, 5, 30, tzinfo=timezone(timedelta(hours=-5)))}
    utc = parse_payload(handover())
    assert payload_hash(parse_payload(in_tokyo)) == payload_hash(parse_payload(as_datetime)) == payload_hash(utc)
    assert b'"time":"2026-03-01T10:30:00Z"' in canonical_json(parse_payload(in_tokyo))


def test_a_later_instant_hashes_differently():
    later = {**handover(), "time": "2026-03-01T10:30:01Z"}
    assert payload_hash(parse_payload(later)) != payload_hash(parse_payload(handover()))


def test_a_different_declared_value_hashes_differently():
    data = declaration()
    data["goods"][0]["value"] = "24000.01"
    assert payload_hash(parse_payload(data)) != payload_hash(parse_payload(declaration()))


def test_the_same_amount_with_or_without_trailing_zeros_hashes_the_same():
    data = declaration()
    data["goods"][0]["value"] = "24000"
    data["goods"][0]["gross_mass_kg"] = "850.5"
    assert payload_hash(parse_payload(data)) == payload_hash(parse_payload(declaration()))


def test_an_omitted_optional_field_and_an_explicit_null_hash_the_same():
    with_null = {**handover(), "remarks": None, "seal_change_reason": None}
    assert payload_hash(parse_payload(with_null)) == payload_hash(parse_payload(handover()))


def test_canonical_json_sorts_keys_has_no_whitespace_lowercases_ids_and_keeps_utf8():
    data = {
        "ucr": "4NL1",
        "kind": "REVOCATION",
        "reason": "doublon déclaré",
        "schema_version": "1",
        "revoked_record": "0x" + "AB" * 32,
    }
    expected = (
        '{"kind":"REVOCATION","reason":"doublon déclaré","revoked_record":"0x' + "ab" * 32 + '",'
        '"schema_version":"1","ucr":"4NL1"}'
    ).encode()
    payload = parse_payload(data)
    assert canonical_json(payload) == expected
    assert payload_hash(payload) == keccak(expected)


def test_canonical_json_of_a_custody_record_is_byte_exact():
    data = {
        "kind": "ACCEPTANCE",
        "ucr": "4NL1",
        "schema_version": "1",
        "location": "JPTYO",
        "time": "2026-04-02T09:15:30.250+09:00",
        "transport": {"mode": "road"},
    }
    assert canonical_json(parse_payload(data)) == (
        b'{"containers":[],"kind":"ACCEPTANCE","location":"JPTYO","schema_version":"1","seals":[],'
        b'"time":"2026-04-02T00:15:30.25Z","transport":{"mode":"road"},"ucr":"4NL1"}'
    )


def test_decimal_amounts_keep_their_exact_decimal_form_as_json_strings():
    data = declaration()
    data["goods"][0]["value"] = str(Decimal("0.1") + Decimal("0.2"))
    data["goods"][0]["quantity"] = "123456789012345.000001"
    data["goods"][0]["gross_mass_kg"] = Decimal("1E+2")
    body = canonical_json(parse_payload(data))
    assert b'"value":"0.3"' in body
    assert b'"quantity":"123456789012345.000001"' in body
    assert b'"gross_mass_kg":"100"' in body
    assert b"0.30000000000000004" not in body


def test_a_json_float_amount_is_refused_since_it_may_already_have_rounded():
    data = declaration()
    data["goods"][0]["value"] = 0.1 + 0.2
    assert refusals(data) == [
        (
            ("DECLARATION", "goods", 0, "value"),
            'Value error, a decimal must be sent as a string (e.g. "12.50") or an integer, not a JSON float',
        )
    ]


def test_the_payload_names_the_consignment_its_record_must_carry():
    payload = parse_payload(declaration())
    assert payload_consignment(payload) == consignment_key(UCR)


def test_a_parsed_payload_cannot_be_changed():
    payload = parse_payload(handover())
    with pytest.raises(ValidationError, match="frozen"):
        payload.ucr = "4NL999"  # type: ignore[misc]


def test_the_iso_6346_check_digit_of_a_known_container_is_three():
    assert container_check_digit("CSQU305438") == 3


def test_an_inspection_order_without_a_method_is_refused():
    data = {**decision(), "decision": "INSPECTION_ORDERED"}
    del data["inspection"]
    assert refusals(data) == [
        (
            ("CUSTOMS_DECISION", "inspection"),
            "Value error, an INSPECTION_ORDERED decision must name its inspection method",
        )
    ]


def test_a_record_cannot_be_revoked_in_favour_of_itself():
    data = {**revocation(), "replacement_record": RECORD_A.upper().replace("0X", "0x")}
    [(loc, message)] = refusals(data)
    assert loc == ("REVOCATION", "replacement_record")
    assert "in favour of itself" in message


# ---------------------------------------------------------------- refused payloads


def _goods(**changes: object) -> dict:
    data = declaration()
    data["goods"][0].update(changes)
    return data


# AA…AQ: their number is checked before the codes are.
SEVENTEEN_COUNTRIES = [chr(65 + i // 26) + chr(65 + i % 26) for i in range(17)]

BAD_INPUTS = [
    ("unknown_field", {**declaration(), "notes": "hi"}, ("DECLARATION", "notes"), "Extra inputs are not permitted"),
    ("number_for_ucr", {**declaration(), "ucr": 4123}, ("DECLARATION", "ucr"), "valid string"),
    ("lower_case_ucr", {**handover(), "ucr": "4nl123-x"}, ("HANDOVER", "ucr"), "not a WCO UCR"),
    ("ucr_of_36_chars", {**handover(), "ucr": "4NL" + "A" * 33}, ("HANDOVER", "ucr"), "at most 35"),
    ("ucr_unknown_country", {**handover(), "ucr": "4QQ1234"}, ("HANDOVER", "ucr"), "unknown country 'QQ'"),
    ("unknown_country", {**declaration(), "origin_country": "XX"}, ("DECLARATION", "origin_country"), "unknown ISO"),
    ("lower_case_country", {**decision(), "authority_country": "nl"}, ("CUSTOMS_DECISION", "authority_country"), "two"),
    ("hs_not_in_nomenclature", _goods(hs_code="850499"), ("DECLARATION", "goods", 0, "hs_code"), "not in the HS"),
    ("hs_comtrade_999999", _goods(hs_code="999999"), ("DECLARATION", "goods", 0, "hs_code"), "not in the HS"),
    ("hs_with_letters", _goods(hs_code="8504A0"), ("DECLARATION", "goods", 0, "hs_code"), "6 to 10 digits"),
    ("hs_with_dots", _goods(hs_code="8504.40"), ("DECLARATION", "goods", 0, "hs_code"), "6 to 10 digits"),
    ("hs_too_long", _goods(hs_code="85044090123"), ("DECLARATION", "goods", 0, "hs_code"), "6 to 10 digits"),
    ("locode_digit_1", {**handover(), "location": "NLRT1"}, ("HANDOVER", "location"), "not a UN/LOCODE"),
    ("locode_too_short", {**handover(), "location": "NLRT"}, ("HANDOVER", "location"), "not a UN/LOCODE"),
    ("locode_country", {**handover(), "location": "QQRTM"}, ("HANDOVER", "location"), "unknown country 'QQ'"),
    (
        "container_check_digit",
        {**handover(), "containers": ["CSQU3054384"]},
        ("HANDOVER", "containers", 0),
        "not a valid ISO 6346 container number: 'CSQU3054384': check digit is 4, expected 3",
    ),
    ("container_shape", {**handover(), "containers": ["CSQX3054383"]}, ("HANDOVER", "containers", 0), "ISO 6346"),
    ("container_twice", {**handover(), "containers": ["CSQU3054383"] * 2}, ("HANDOVER", "containers"), "twice"),
    ("seal_lower_case", {**handover(), "seals": ["nl-1"]}, ("HANDOVER", "seals", 0), "pattern"),
    ("naive_time", {**handover(), "time": "2026-03-01T10:30:00"}, ("HANDOVER", "time"), "timezone"),
    ("unix_time", {**decision(), "time": 1772357400}, ("CUSTOMS_DECISION", "time"), "RFC 3339"),
    ("negative_mass", _goods(gross_mass_kg="-1.5"), ("DECLARATION", "goods", 0, "gross_mass_kg"), "greater than 0"),
    ("zero_quantity", _goods(quantity="0"), ("DECLARATION", "goods", 0, "quantity"), "greater than 0"),
    ("negative_value", _goods(value="-0.01"), ("DECLARATION", "goods", 0, "value"), "greater than or equal to 0"),
    ("too_precise", _goods(value="0.0000001"), ("DECLARATION", "goods", 0, "value"), "6 decimal places"),
    ("unknown_currency", _goods(currency="XYZ"), ("DECLARATION", "goods", 0, "currency"), "unknown ISO 4217"),
    ("test_currency", _goods(currency="XTS"), ("DECLARATION", "goods", 0, "currency"), "testing"),
    ("unit_code", _goods(quantity_unit="pc"), ("DECLARATION", "goods", 0, "quantity_unit"), "pattern"),
    ("line_as_text", _goods(line_number="1"), ("DECLARATION", "goods", 0, "line_number"), "valid integer"),
    ("empty_goods", {**declaration(), "goods": []}, ("DECLARATION", "goods"), "at least one goods line"),
    (
        "long_description",
        _goods(description="x" * 513),
        ("DECLARATION", "goods", 0, "description"),
        "at most 512 characters",
    ),
    (
        "bad_eori",
        {**declaration(), "exporter": {**declaration()["exporter"], "identifier": {"scheme": "EORI", "value": "QQ1"}}},
        ("DECLARATION", "exporter", "identifier", "value"),
        "not an EORI number",
    ),
    ("transport_mode", {**handover(), "transport": {"mode": "ship"}}, ("HANDOVER", "transport", "mode"), "Input"),
    ("decision_value", {**decision(), "decision": "RELEASE"}, ("CUSTOMS_DECISION", "decision"), "Input should be"),
    ("short_record_id", {**revocation(), "revoked_record": "0x1234"}, ("REVOCATION", "revoked_record"), "64 hex"),
    ("schema_version", {**revocation(), "schema_version": "2"}, ("REVOCATION", "schema_version"), "'1'"),
    ("no_transit_country", {**transit(), "transit_countries": []}, ("TRANSIT", "transit_countries"), "at least one"),
    (
        "17_transit_countries",
        {
            **transit(),
            "transit_countries": SEVENTEEN_COUNTRIES,
        },
        ("TRANSIT", "transit_countries"),
        "at most 16",
    ),
    (
        "transit_country_unknown",
        {**transit(), "transit_countries": ["SG", "XX"]},
        ("TRANSIT", "transit_countries", 1),
        "unknown ISO 3166-1 country",
    ),
    (
        "transit_country_lower_case",
        {**transit(), "transit_countries": ["sg"]},
        ("TRANSIT", "transit_countries", 0),
        "two capital letters",
    ),
    (
        "transit_country_twice",
        {**transit(), "transit_countries": ["SG", "SG"]},
        ("TRANSIT", "transit_countries"),
        "twice",
    ),
    ("transit_without_time", {k: v for k, v in transit().items() if k != "time"}, ("TRANSIT", "time"), "required"),
    ("transit_locode", {**transit(), "location": "SGSI1"}, ("TRANSIT", "location"), "not a UN/LOCODE"),
    ("transit_reason", {**transit(), "reason": ""}, ("TRANSIT", "reason"), "at least 1 character"),
]


@pytest.mark.parametrize(("data", "loc", "message"), [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_a_bad_payload_is_refused_naming_the_field_and_the_reason(data, loc, message):
    errors = refusals(data)
    assert [error_loc for error_loc, _ in errors] == [loc]
    assert message in errors[0][1]


def test_a_record_signs_the_route_its_payload_names_and_none_for_other_kinds():
    assert record_route_of(parse_payload(declaration())) == ("NL", "JP")
    assert record_route_of(parse_payload(transit())) == ("SG", "LK")  # in the payload's order
    assert record_route_of(parse_payload({**transit(), "transit_countries": ["LK", "SG"]})) == ("LK", "SG")
    for build in (handover, decision, revocation):
        assert record_route_of(parse_payload(build())) == ()


def test_a_transit_needs_no_location_but_its_location_is_a_un_locode_when_given():
    without = {k: v for k, v in transit().items() if k not in ("location", "reason")}
    parsed = parse_payload(without)
    assert isinstance(parsed, TransitPayload) and parsed.location is None
    assert b"location" not in canonical_json(parsed)


def test_a_payload_of_an_unknown_kind_is_refused():
    [(loc, message)] = refusals({**revocation(), "kind": "INVOICE"})
    assert loc == ()
    assert "'INVOICE'" in message


def test_a_consignee_may_be_named_by_an_lei_whose_check_digits_hold():
    good = declaration()
    good["consignee"]["identifier"] = {"scheme": "LEI", "value": "5493001KJTIIGC8Y1R12"}
    assert parse_payload(good).consignee.identifier.value == "5493001KJTIIGC8Y1R12"
    bad = declaration()
    bad["consignee"]["identifier"] = {"scheme": "LEI", "value": "5493001KJTIIGC8Y1R13"}
    [(loc, message)] = refusals(bad)
    assert loc == ("DECLARATION", "consignee", "identifier", "value")
    assert "MOD 97-10" in message


def test_a_single_container_number_not_in_a_list_is_refused():
    [(loc, _)] = refusals({**handover(), "containers": "CSQU3054383"})
    assert loc == ("HANDOVER", "containers")


# ---------------------------------------------------------------- inspection outcomes


def _outcome(**inspection: object) -> dict[str, object]:
    return examples.decision("6NL123456789-INSP-01", decision="INSPECTED", inspection=inspection)


def test_an_inspection_outcome_names_its_method_and_a_conform_or_non_conform_result():
    assert parse_payload(_outcome(method="PHYSICAL", result="CONFORM")).decision == "INSPECTED"
    for inspection, field in (
        ({"method": "NONE", "result": "CONFORM"}, ("CUSTOMS_DECISION", "inspection")),
        ({"method": "PHYSICAL", "result": "PENDING"}, ("CUSTOMS_DECISION", "inspection")),
    ):
        with pytest.raises(ValidationError) as refused:
            parse_payload(_outcome(**inspection))
        assert refused.value.errors()[0]["loc"] == field


def test_a_non_conform_outcome_names_its_discrepancies_in_one_canonical_order_with_free_text():
    payload = parse_payload(
        _outcome(method="PHYSICAL", result="NON_CONFORM", discrepancies=["SEALS", "QUANTITY"], findings="2 short")
    )
    assert isinstance(payload, DecisionPayload) and payload.inspection is not None
    assert payload.inspection.discrepancies == ("QUANTITY", "SEALS")
    again = _outcome(method="PHYSICAL", result="NON_CONFORM", discrepancies=["QUANTITY", "SEALS"], findings="2 short")
    assert canonical_json(payload) == canonical_json(parse_payload(again))
    for inspection in (
        {"method": "PHYSICAL", "result": "NON_CONFORM"},
        {"method": "PHYSICAL", "result": "NON_CONFORM", "discrepancies": []},
        {"method": "PHYSICAL", "result": "NON_CONFORM", "discrepancies": ["WEIGHT"]},
        {"method": "PHYSICAL", "result": "NON_CONFORM", "discrepancies": ["GOODS", "GOODS"]},
        {"method": "PHYSICAL", "result": "CONFORM", "discrepancies": ["GOODS"]},
    ):
        with pytest.raises(ValidationError) as refused:
            parse_payload(_outcome(**inspection))
        assert refused.value.errors()[0]["loc"][:3] == ("CUSTOMS_DECISION", "inspection", "discrepancies")


def test_a_decision_written_before_outcomes_existed_hashes_as_it_did():
    payload = parse_payload(
        examples.decision("6NL123456789-INSP-02", inspection={"method": "DOCUMENTARY", "result": "CONFORM"})
    )
    assert b"discrepancies" not in canonical_json(payload) and b"findings" not in canonical_json(payload)
