"""The risk lane: declared rules, each condition on a crafted consignment, thresholds, and
rules files refused at start with the line and the reason."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eth_utils.address import to_checksum_address
from support import payloads

from ledger_api.domain.facts import PartyCheckpoint, PartyFact, RecordFact, VerificationInput
from ledger_api.domain.intelligence import HeldFlag, SharedFlag, parse_flag_content
from ledger_api.domain.parties import Role
from ledger_api.domain.payloads import canonical_json, parse_payload
from ledger_api.domain.recognition import Recognition, RecognitionBook
from ledger_api.domain.records import ZERO_ADDRESS, LedgerDomain, Record, RecordKind, consignment_key
from ledger_api.domain.risk import (
    PartnerInspection,
    RiskRulesError,
    RuleSet,
    assess,
    parse_rules,
    partner_inspections,
)
from ledger_api.store.risk_rules_file import load_rules, rules_from_yaml

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "risk-rules.yaml"
UCR = "4NL123456789-INV2026-0001"
DOMAIN = LedgerDomain(chain_id=31337, verifying_contract="0x" + "11" * 20)
EXPORTER = to_checksum_address("0x" + "a1" * 20)
CARRIER = to_checksum_address("0x" + "b2" * 20)
CARRIER_JP = to_checksum_address("0x" + "c3" * 20)
IMPORTER = to_checksum_address("0x" + "d4" * 20)

# One rule per condition type, one point each, so that a test names exactly what fired.
EVERY_CONDITION = """
lanes: {amber: 100, red: 200}
lists:
  sensitive_hs_chapters: ["93", "36"]
  transshipment_watch: ["IR", "KP", "SY"]
rules:
  - {id: NOT_RECOGNISED, description: d, points: 1, when: {type: exporter_not_recognised}}
  - {id: SENSITIVE_HS, description: d, points: 1, when: {type: hs_chapter_in, list: sensitive_hs_chapters}}
  - {id: ORIGIN, description: d, points: 1, when: {type: origin_differs_from_first_location}}
  - {id: SEALS, description: d, points: 1, when: {type: unexplained_seal_change}}
  - {id: CONTAINERS, description: d, points: 1, when: {type: unexplained_container_change}}
  - {id: WATCHED, description: d, points: 1, when: {type: transshipment_through, list: transshipment_watch}}
  - {id: NEW_PARTY, description: d, points: 1, when: {type: party_registered_within_blocks, blocks: 1000}}
  - {id: LATE, description: d, points: 1, when: {type: declaration_after_departure}}
  - {id: COUNTRIES, description: d, points: 1, when: {type: transshipment, max_countries: 2}}
"""


# ---------------------------------------------------------------- a consignment, built by hand


def canonical(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as the service stores it: validated, canonical JSON, parsed again."""
    parsed: dict[str, Any] = json.loads(canonical_json(parse_payload(payload)))
    return parsed


def declaration(**changes: Any) -> dict[str, Any]:
    return canonical(payloads.declaration(UCR, **changes))


def custody(kind: str, location: str, time: str, **changes: Any) -> dict[str, Any]:
    return canonical(payloads.custody(UCR, kind, location, time=time, **changes))


def fact(
    n: int,
    kind: RecordKind,
    party: str,
    payload: dict[str, Any] | None,
    block: int,
    timestamp: int | None = None,
) -> RecordFact:
    record = Record(
        consignment=consignment_key(UCR),
        kind=kind,
        payload_hash=b"\x00" * 32,
        previous=b"\x00" * 32,
        party=party,
        counterparty=ZERO_ADDRESS,
        nonce=n,
        deadline=2**40,
    )
    return RecordFact(
        id=f"0x{n:064x}",
        record=record,
        signature=b"\x00" * 65,  # risk does not read signatures
        payload=payload,
        payload_canonical=None,
        mode="single",
        block_number=block,
        block_hash=None,
        block_timestamp=timestamp,
        confirmations=10,
    )


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def clean_records() -> list[RecordFact]:
    """NL to JP by sea: declared at 08:00, handed over in Rotterdam at 10:30, accepted
    there, handed over and accepted in Tokyo. Nothing about it should raise an eyebrow."""
    return [
        fact(1, RecordKind.DECLARATION, EXPORTER, declaration(), 5000, at("2026-03-01T08:00:00")),
        fact(2, RecordKind.HANDOVER, EXPORTER, custody("HANDOVER", "NLRTM", "2026-03-01T10:30:00Z"), 5010),
        fact(3, RecordKind.ACCEPTANCE, CARRIER, custody("ACCEPTANCE", "NLRTM", "2026-03-01T11:00:00Z"), 5011),
        fact(4, RecordKind.HANDOVER, CARRIER, custody("HANDOVER", "JPTYO", "2026-04-02T09:00:00Z"), 9000),
        fact(5, RecordKind.ACCEPTANCE, IMPORTER, custody("ACCEPTANCE", "JPTYO", "2026-04-02T10:00:00Z"), 9001),
    ]


def party(address: str, country: str, registered: int) -> PartyFact:
    return PartyFact(address, country, registered, (PartyCheckpoint(registered, 1, 1),))


def consignment(records: list[RecordFact] | None = None, **changes: Any) -> VerificationInput:
    inp = VerificationInput(
        ucr=UCR,
        consignment=consignment_key(UCR),
        domain=DOMAIN,
        records=tuple(clean_records() if records is None else records),
        parties={
            EXPORTER: party(EXPORTER, "NL", 10),
            CARRIER: party(CARRIER, "NL", 12),
            CARRIER_JP: party(CARRIER_JP, "JP", 14),
            IMPORTER: party(IMPORTER, "JP", 16),
        },
        verifying_country="JP",
        as_of_block=9100,
        confirmations_required=1,
        recognition=Recognition(EXPORTER, "JP", at("2026-03-01T08:00:00"), True, "RECOGNISED", "AEO-S", 1),
    )
    return replace(inp, **changes)


def with_record(records: list[RecordFact], index: int, payload: dict[str, Any] | None) -> list[RecordFact]:
    changed = list(records)
    changed[index] = replace(changed[index], payload=payload)
    return changed


@pytest.fixture(scope="module")
def every_condition() -> RuleSet:
    return rules_from_yaml(EVERY_CONDITION)


def fired(rules: RuleSet, inp: VerificationInput) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {rule.id: (rule.reason, rule.records) for rule in assess(rules, inp).fired}


# ---------------------------------------------------------------- the shipped rules


def test_the_shipped_rules_load_and_use_every_condition_type():
    rules = load_rules(SHIPPED)
    assert rules.lanes.amber < rules.lanes.red
    assert {rule.when.type for rule in rules.rules} == {
        "exporter_not_recognised",
        "hs_chapter_in",
        "origin_differs_from_first_location",
        "unexplained_seal_change",
        "unexplained_container_change",
        "transshipment_through",
        "party_registered_within_blocks",
        "declaration_after_departure",
        "transshipment",
        "intelligence_flag_matches",
        "recognised_export_inspection",
        "customs_decision_in_force",
    }


def test_a_clean_consignment_is_green_with_score_zero():
    result = assess(load_rules(SHIPPED), consignment())
    assert (result.lane, result.score, result.fired) == ("GREEN", 0, ())


def test_no_condition_fires_on_a_clean_consignment(every_condition):
    assert fired(every_condition, consignment()) == {}


# ---------------------------------------------------------------- each condition


def test_an_exporter_not_recognised_by_the_verifying_country_fires(every_condition):
    refused = Recognition(EXPORTER, "JP", 0, False, "NO_MRA")
    assert fired(every_condition, consignment(recognition=refused)) == {
        "NOT_RECOGNISED": (f"exporter {EXPORTER} is not recognised by JP (NO_MRA)", ("0x" + "0" * 63 + "1",)),
    }


def test_an_exporter_whose_recognition_is_unknown_counts_as_not_recognised(every_condition):
    assert fired(every_condition, consignment(recognition=None))["NOT_RECOGNISED"][0] == (
        "the exporter's AEO recognition by JP is unknown"
    )


def test_goods_in_a_sensitive_hs_chapter_fire_naming_code_chapter_and_list(every_condition):
    goods = declaration()["goods"]
    lines = [
        {**goods[0], "hs_code": "930690"},
        {**goods[0], "line_number": 2, "hs_code": "85044090"},
        {**goods[0], "line_number": 3, "hs_code": "360200"},
    ]
    records = with_record(clean_records(), 0, declaration(goods=lines))
    assert fired(every_condition, consignment(records))["SENSITIVE_HS"][0] == (
        "HS 930690 is in chapter 93 (sensitive_hs_chapters); HS 360200 is in chapter 36 (sensitive_hs_chapters)"
    )


def partner_reasons(rules: RuleSet, inp: VerificationInput, **facts: Any) -> dict[str, str]:
    return {rule.id: rule.partner_reason for rule in assess(rules, inp, **facts).fired}


def test_a_partner_customs_reads_which_rules_fired_without_seals_containers_or_hs_codes(every_condition):
    goods = declaration()["goods"]
    lines = [{**goods[0], "hs_code": "930690"}, {**goods[0], "line_number": 2, "hs_code": "360200"}]
    records = with_record(clean_records(), 0, declaration(goods=lines))
    records = with_record(records, 3, custody("HANDOVER", "JPTYO", "2026-04-02T09:00:00Z", containers=["MSKU0000006"]))
    records = with_record(
        records,
        4,
        custody("ACCEPTANCE", "JPTYO", "2026-04-02T10:00:00Z", containers=["MSKU0000006"], seals=["JP-SEAL-9"]),
    )
    inp = consignment(records)
    full = fired(every_condition, inp)
    partner = partner_reasons(every_condition, inp)
    assert set(partner) == set(full) >= {"SENSITIVE_HS", "SEALS", "CONTAINERS"}
    assert "930690" in full["SENSITIVE_HS"][0] and "JP-SEAL-9" in full["SEALS"][0]  # the full reasons name them
    assert partner["SENSITIVE_HS"] == "an HS code of the goods is in a chapter of sensitive_hs_chapters"
    assert partner["SEALS"] == "seals changed at ACCEPTANCE 0x00000000 with no seal_change_reason"
    assert partner["CONTAINERS"] == "containers changed at HANDOVER 0x00000000 with no seal_change_reason"
    told = " ".join(partner.values())
    for secret in ("930690", "360200", "93", "36", "NL-SEAL-000123", "JP-SEAL-9", "CSQU3054383", "MSKU0000006"):
        assert secret not in told.replace("0x00000000", ""), secret


def test_a_reason_that_names_nothing_withheld_reads_the_same_for_a_partner_customs(every_condition):
    inp = consignment(clean_records(), recognition=None)
    reason, _ = fired(every_condition, inp)["NOT_RECOGNISED"]
    assert partner_reasons(every_condition, inp)["NOT_RECOGNISED"] == reason


def test_a_partner_customs_reads_in_which_country_custody_was_but_not_the_place(every_condition):
    """UN/LOCODEs (a port, a terminal) are the records' business: a partner customs reads
    the country alone, in the origin, watched-transit and late-declaration reasons."""
    records = with_record(clean_records(), 0, declaration(origin_country="DE"))
    records = with_record(records, 3, custody("HANDOVER", "IRBND", "2026-04-02T09:00:00Z"))
    records = [replace(records[0], block_timestamp=at("2026-03-01T12:00:00")), *records[1:]]
    inp = consignment(records)
    full = fired(every_condition, inp)
    partner = partner_reasons(every_condition, inp)
    assert {"ORIGIN", "WATCHED", "LATE"} <= set(partner)
    assert "NLRTM" in full["ORIGIN"][0] and "IRBND" in full["WATCHED"][0] and "NLRTM" in full["LATE"][0]
    assert partner["ORIGIN"] == "origin DE is declared, but custody began in NL (HANDOVER 0x00000000)"
    assert partner["WATCHED"] == "custody passed through IR, which is on transshipment_watch"
    assert partner["LATE"] == (
        "the declaration was written at 2026-03-01T12:00:00Z (block 5000), after the first handover at "
        "2026-03-01T10:30:00Z"
    )
    told = " ".join(partner.values())
    for place in ("NLRTM", "IRBND", "JPTYO", "RTM", "BND", "TYO"):
        assert place not in told, place


def test_an_origin_other_than_where_custody_began_fires(every_condition):
    records = with_record(clean_records(), 0, declaration(origin_country="DE"))
    reason, ids = fired(every_condition, consignment(records))["ORIGIN"]
    assert reason.startswith("origin DE is declared, but custody began in NL (NLRTM, HANDOVER 0x00000000")
    assert ids == (records[0].id, records[1].id)


def test_the_first_location_is_the_first_custody_record_with_a_payload(every_condition):
    records = with_record(clean_records(), 1, None)  # the Rotterdam handover's payload is missing
    records = with_record(records, 2, custody("ACCEPTANCE", "BEANR", "2026-03-01T11:00:00Z"))
    assert "ORIGIN" in fired(every_condition, consignment(records))


def test_seals_changed_without_a_reason_fire_and_with_a_reason_do_not(every_condition):
    changed = custody("ACCEPTANCE", "JPTYO", "2026-04-02T10:00:00Z", seals=["JP-SEAL-9"])
    records = with_record(clean_records(), 4, changed)
    assert fired(every_condition, consignment(records)) == {
        "SEALS": (
            "seals changed from [NL-SEAL-000123] to [JP-SEAL-9] at ACCEPTANCE 0x00000000 with no seal_change_reason",
            (records[3].id, records[4].id),
        )
    }
    explained = {**changed, "seal_change_reason": "re-sealed after a JP customs physical inspection"}
    assert fired(every_condition, consignment(with_record(clean_records(), 4, explained))) == {}


def test_records_without_a_payload_are_skipped_not_read_as_a_change(every_condition):
    records = with_record(clean_records(), 2, None)
    assert fired(every_condition, consignment(records)) == {}


def test_containers_changed_without_a_reason_fire(every_condition):
    records = with_record(
        clean_records(), 3, custody("HANDOVER", "JPTYO", "2026-04-02T09:00:00Z", containers=["MSKU0000006"])
    )
    records = with_record(
        records, 4, custody("ACCEPTANCE", "JPTYO", "2026-04-02T10:00:00Z", containers=["MSKU0000006"])
    )
    reason, ids = fired(every_condition, consignment(records))["CONTAINERS"]
    assert reason == (
        "containers changed from [CSQU3054383] to [MSKU0000006] at HANDOVER 0x00000000 with no seal_change_reason"
    )
    assert ids == (records[2].id, records[3].id)


def test_custody_in_a_watched_country_fires_and_in_origin_or_destination_does_not(every_condition):
    records = clean_records()
    via_iran = [
        *records[:3],
        fact(6, RecordKind.HANDOVER, CARRIER, custody("HANDOVER", "IRBND", "2026-03-20T09:00:00Z"), 7000),
        fact(7, RecordKind.ACCEPTANCE, CARRIER_JP, custody("ACCEPTANCE", "IRBND", "2026-03-20T10:00:00Z"), 7001),
        *records[3:],
    ]
    result = fired(every_condition, consignment(via_iran))
    assert result["WATCHED"] == (
        "custody passed through IR (IRBND), which is on transshipment_watch",
        (via_iran[3].id, via_iran[4].id),
    )
    assert set(result) == {"WATCHED", "COUNTRIES"}  # NL, IR, JP: three countries too
    # A consignment that starts or ends in a watched country is not "passing through" it.
    to_iran = with_record(
        records, 0, declaration(destination_country="IR", consignee={"name": "X", "address": "Y", "country": "IR"})
    )
    to_iran = [*to_iran[:3], *via_iran[3:5]]
    assert "WATCHED" not in fired(every_condition, consignment(to_iran))


def test_a_signer_registered_shortly_before_the_declaration_fires(every_condition):
    parties = dict(consignment().parties)
    parties[CARRIER] = party(CARRIER, "NL", 4500)  # 500 blocks before the declaration's block 5000
    reason, ids = fired(every_condition, consignment(parties=parties))["NEW_PARTY"]
    assert reason == (
        f"{CARRIER} was registered at block 4500, 500 blocks before the declaration's block 5000 (fewer than 1000)"
    )
    assert ids == ("0x" + "0" * 63 + "3", "0x" + "0" * 63 + "4")  # the records the carrier signed


def test_a_signer_registered_after_the_declaration_fires_too(every_condition):
    parties = dict(consignment().parties)
    parties[IMPORTER] = party(IMPORTER, "JP", 8000)
    reason, _ = fired(every_condition, consignment(parties=parties))["NEW_PARTY"]
    assert "3000 blocks after the declaration's block 5000" in reason


def test_a_declaration_mined_after_the_first_handover_fires(every_condition):
    records = clean_records()
    records[0] = replace(records[0], block_timestamp=at("2026-03-01T12:00:00"))
    reason, ids = fired(every_condition, consignment(records))["LATE"]
    assert reason == (
        "the declaration was written at 2026-03-01T12:00:00Z (block 5000), "
        "after the first handover at NLRTM at 2026-03-01T10:30:00Z"
    )
    assert ids == (records[0].id, records[1].id)


def test_a_late_declaration_within_the_grace_does_not_fire():
    rules = rules_from_yaml(
        "lanes: {amber: 1, red: 2}\nrules:\n"
        "  - {id: LATE, description: d, points: 1, when: {type: declaration_after_departure, grace_seconds: 600}}\n"
    )
    records = clean_records()
    records[0] = replace(records[0], block_timestamp=at("2026-03-01T10:35:00"))
    assert assess(rules, consignment(records)).fired == ()
    records[0] = replace(records[0], block_timestamp=at("2026-03-01T10:45:00"))
    assert assess(rules, consignment(records)).rule_ids == ("LATE",)


def test_custody_in_more_countries_than_allowed_fires(every_condition):
    records = clean_records()
    via_singapore = [
        *records[:3],
        fact(6, RecordKind.HANDOVER, CARRIER, custody("HANDOVER", "SGSIN", "2026-03-20T09:00:00Z"), 7000),
        fact(7, RecordKind.ACCEPTANCE, CARRIER_JP, custody("ACCEPTANCE", "SGSIN", "2026-03-20T10:00:00Z"), 7001),
        *records[3:],
    ]
    assert fired(every_condition, consignment(via_singapore)) == {
        "COUNTRIES": (
            "custody took place in 3 countries (NL, SG, JP), more than 2",
            tuple(r.id for r in via_singapore[1:]),
        )
    }


# ---------------------------------------------------------------- lanes


def test_a_score_below_amber_is_green_even_when_a_rule_fired():
    result = assess(load_rules(SHIPPED), consignment(recognition=None))
    assert (result.lane, result.score, result.rule_ids) == ("GREEN", 20, ("R001",))


def test_a_score_from_amber_is_amber():
    goods = [{**declaration()["goods"][0], "hs_code": "930690"}]
    result = assess(load_rules(SHIPPED), consignment(with_record(clean_records(), 0, declaration(goods=goods))))
    assert (result.lane, result.score, result.rule_ids) == ("AMBER", 30, ("R002",))
    assert result.fired[0].description == "Goods in a sensitive HS chapter"


def test_a_score_from_red_is_red():
    goods = [{**declaration()["goods"][0], "hs_code": "930690"}]
    records = with_record(clean_records(), 0, declaration(goods=goods))
    records = with_record(records, 4, custody("ACCEPTANCE", "JPTYO", "2026-04-02T10:00:00Z", seals=["JP-SEAL-9"]))
    result = assess(load_rules(SHIPPED), consignment(records))
    assert (result.lane, result.score, result.rule_ids) == ("RED", 70, ("R002", "R004"))


def test_a_rule_counts_once_however_often_it_matches():
    goods = declaration()["goods"][0]
    lines = [{**goods, "line_number": i, "hs_code": "930690"} for i in (1, 2, 3)]
    result = assess(load_rules(SHIPPED), consignment(with_record(clean_records(), 0, declaration(goods=lines))))
    assert result.score == 30


# ---------------------------------------------------------------- intelligence flags

FLAG_RULES = """
lanes: {amber: 30, red: 60}
rules:
  - {id: FLAG, description: d, points: 30, when: {type: intelligence_flag_matches}}
  - {id: HIGH_FLAG, description: d, points: 30, when: {type: intelligence_flag_matches, min_severity: HIGH}}
  - {id: SANCTIONS, description: d, points: 1, when: {type: intelligence_flag_matches, categories: [SANCTIONED_PARTY]}}
"""
DE_CUSTOMS = to_checksum_address("0x" + "de" * 20)
BLOCK_TIME = at("2026-04-02T10:05:00")  # the time of block 9100, the verification's
VALIDITY = (at("2026-03-01T00:00:00"), at("2026-06-01T00:00:00"))


def held_flag(
    subject: dict[str, Any],
    *,
    category: str = "SANCTIONED_PARTY",
    severity: str = "HIGH",
    shared_block: int = 8000,
    withdrawn_block: int | None = None,
    valid: tuple[int, int] = VALIDITY,
) -> HeldFlag:
    """A flag German customs shared with Japan's, as Japan's instance holds it once opened."""
    content = parse_flag_content(
        {
            "schema_version": "1",
            "author": DE_CUSTOMS,
            "subject": subject,
            "subject_salt": "0x" + "5a" * 32,
            "category": category,
            "severity": severity,
            "text": "t",
            "valid_from": valid[0],
            "valid_until": valid[1],
        }
    )
    shared = SharedFlag(
        flag_id=7,
        author=DE_CUSTOMS,
        author_country="DE",
        content_hash=b"\x01" * 32,
        subject_hash=content.subject_hash,
        category=content.category,
        severity=content.severity,
        valid_from=valid[0],
        valid_until=valid[1],
        recipients=(to_checksum_address("0x" + "1a" * 20),),
        block_number=shared_block,
    )
    return HeldFlag(shared, content, withdrawn_block)


ON_EXPORTER = {"type": "PARTY", "address": EXPORTER}


@pytest.fixture(scope="module")
def flag_rules() -> RuleSet:
    return rules_from_yaml(FLAG_RULES)


def flagged(rules: RuleSet, *flags: HeldFlag, inp: VerificationInput | None = None, **facts: Any) -> dict[str, Any]:
    result = assess(rules, inp or consignment(), flags=flags, block_time=facts.pop("block_time", BLOCK_TIME), **facts)
    return {rule.id: (rule.reason, rule.records) for rule in result.fired}


def test_a_flag_on_the_exporter_fires_naming_author_country_category_and_severity(flag_rules):
    reason, records = flagged(flag_rules, held_flag(ON_EXPORTER))["FLAG"]
    assert reason == f"flag 7 from DE (SANCTIONED_PARTY, HIGH) names party {EXPORTER}"
    assert records == ("0x" + "0" * 63 + "1", "0x" + "0" * 63 + "2")  # the records the exporter signed


def test_a_high_flag_on_the_exporter_turns_the_shipped_lane_red_and_names_the_flag():
    result = assess(load_rules(SHIPPED), consignment(), flags=[held_flag(ON_EXPORTER)], block_time=BLOCK_TIME)
    assert (result.lane, result.score, result.rule_ids) == ("RED", 60, ("R010", "R011"))
    assert {rule.reason for rule in result.fired} == {f"flag 7 from DE (SANCTIONED_PARTY, HIGH) names party {EXPORTER}"}


def test_a_party_named_in_a_record_matches_as_well_as_one_that_signed(flag_rules):
    records = clean_records()
    named = replace(records[1].record, counterparty=CARRIER_JP)
    records[1] = replace(records[1], record=named)
    reason, ids = flagged(flag_rules, held_flag({"type": "PARTY", "address": CARRIER_JP}), inp=consignment(records))[
        "FLAG"
    ]
    assert reason.endswith(f"names party {CARRIER_JP}")
    assert ids == (records[1].id,)


@pytest.mark.parametrize(
    ("subject", "named"),
    [
        ({"type": "CONSIGNMENT", "ucr": UCR}, f"consignment {UCR}"),
        ({"type": "HS_CODE", "prefix": "85"}, "HS 85044090 (HS prefix 85)"),
        ({"type": "HS_CODE", "prefix": "850440"}, "HS 85044090 (HS prefix 850440)"),
        ({"type": "HS_CODE", "prefix": "85044090"}, "HS 85044090 (HS prefix 85044090)"),
        ({"type": "ROUTE", "from_country": "NL", "to_country": "JP"}, "route NL to JP"),
    ],
)
def test_a_flag_on_the_consignment_its_goods_or_its_route_fires(flag_rules, subject: dict[str, Any], named: str):
    reason, records = flagged(flag_rules, held_flag(subject))["FLAG"]
    assert reason == f"flag 7 from DE (SANCTIONED_PARTY, HIGH) names {named}"
    assert records == ("0x" + "0" * 63 + "1",)  # the declaration


def test_a_flag_on_an_hs_code_names_no_code_to_a_partner_customs(flag_rules):
    result = assess(
        flag_rules, consignment(), flags=[held_flag({"type": "HS_CODE", "prefix": "8504"})], block_time=BLOCK_TIME
    )
    rule = next(rule for rule in result.fired if rule.id == "FLAG")
    assert "85044090" in rule.reason
    assert rule.partner_reason == "flag 7 from DE (SANCTIONED_PARTY, HIGH) names an HS code of the goods"


@pytest.mark.parametrize(
    "subject",
    [
        {"type": "PARTY", "address": to_checksum_address("0x" + "99" * 20)},
        {"type": "CONSIGNMENT", "ucr": "4NL123456789-INV2026-0002"},
        {"type": "HS_CODE", "prefix": "93"},
        {"type": "HS_CODE", "prefix": "85044091"},
        {"type": "ROUTE", "from_country": "JP", "to_country": "NL"},
        {"type": "ROUTE", "from_country": "NL", "to_country": "SG"},
    ],
)
def test_a_flag_on_something_else_does_not_fire(flag_rules, subject: dict[str, Any]):
    assert flagged(flag_rules, held_flag(subject)) == {}


def test_the_route_is_the_one_the_declaration_signed(flag_rules):
    records = clean_records()
    records[0] = replace(records[0], record=replace(records[0].record, route=("BE", "JP")), payload=None)
    on_route = held_flag({"type": "ROUTE", "from_country": "BE", "to_country": "JP"})
    assert "FLAG" in flagged(flag_rules, on_route, inp=consignment(records))


@pytest.mark.parametrize(
    ("changes", "fires"),
    [
        ({"shared_block": 9100}, True),  # shared in the verification's block
        ({"shared_block": 9101}, False),  # an as-of-block verdict from before the flag
        ({"withdrawn_block": 9100}, False),  # withdrawn by the verification's block
        ({"withdrawn_block": 9101}, True),  # withdrawn after it: in force as of that block
        ({"valid": (BLOCK_TIME + 1, BLOCK_TIME + 100)}, False),  # not valid yet at the block's time
        ({"valid": (BLOCK_TIME - 100, BLOCK_TIME)}, False),  # expired at the block's time
        ({"valid": (BLOCK_TIME, BLOCK_TIME + 1)}, True),
    ],
)
def test_only_a_flag_in_force_at_the_verifications_block_fires(flag_rules, changes: dict[str, Any], fires: bool):
    assert ("FLAG" in flagged(flag_rules, held_flag(ON_EXPORTER, **changes))) is fires


def test_a_rule_counts_only_flags_of_its_severity_and_categories(flag_rules):
    medium = held_flag(ON_EXPORTER, severity="MEDIUM")
    assert set(flagged(flag_rules, medium)) == {"FLAG", "SANCTIONS"}
    other = held_flag(ON_EXPORTER, category="UNDERVALUATION", severity="HIGH")
    assert set(flagged(flag_rules, other)) == {"FLAG", "HIGH_FLAG"}


def test_two_flags_on_one_consignment_are_both_named_and_the_rule_counts_once(flag_rules):
    on_goods = held_flag({"type": "HS_CODE", "prefix": "8504"}, category="MISDECLARED_GOODS", severity="LOW")
    result = assess(flag_rules, consignment(), flags=[held_flag(ON_EXPORTER), on_goods], block_time=BLOCK_TIME)
    fired_flag = next(rule for rule in result.fired if rule.id == "FLAG")
    assert fired_flag.reason == (
        f"flag 7 from DE (SANCTIONED_PARTY, HIGH) names party {EXPORTER}; "
        "flag 7 from DE (MISDECLARED_GOODS, LOW) names HS 85044090 (HS prefix 8504)"
    )
    assert result.score == 61


def test_flags_need_the_verifications_block_time(flag_rules):
    with pytest.raises(ValueError, match="block_time"):
        assess(flag_rules, consignment(), flags=[held_flag(ON_EXPORTER)])
    assert assess(flag_rules, consignment()).fired == ()  # no flags, no time needed


def test_a_bad_intelligence_rule_is_refused_with_its_line(tmp_path):
    path = tmp_path / "risk-rules.yaml"
    path.write_text(
        "lanes: {amber: 30, red: 60}\nrules:\n  - id: R001\n    description: d\n    points: 1\n"
        "    when: {type: intelligence_flag_matches, min_severity: SEVERE}\n"
    )
    with pytest.raises(
        RiskRulesError, match=r":6: rules\[0\]\.when\.min_severity: Value error, unknown severity 'SEVERE'"
    ):
        load_rules(path)


# ---------------------------------------------------------------- recognised controls

INSPECTION_RULES = """
lanes: {amber: 30, red: 60}
rules:
  - {id: CONFORM, description: d, points: -30, when: {type: recognised_export_inspection, result: CONFORM}}
  - {id: DISCREPANCY, description: d, points: 40, when: {type: recognised_export_inspection, result: NON_CONFORM}}
"""
EXPORT_INSPECTION = 1  # recognition.RECOGNISED_CONTROLS["EXPORT_INSPECTION"]


def inspection(result: str = "CONFORM", *, country: str = "NL", controls: int = EXPORT_INSPECTION, n: int = 1):
    return PartnerInspection(country, result, f"0x{0xE0 + n:064x}", controls, 3 if controls else None)


def inspected(rules: RuleSet, *inspections: PartnerInspection, inp: VerificationInput | None = None) -> Any:
    return assess(rules, inp or consignment(), partner_inspections=inspections)


def test_a_conforming_export_inspection_recognised_under_the_mra_fires_naming_it():
    result = inspected(rules_from_yaml(INSPECTION_RULES), inspection())
    assert [(r.id, r.points, r.reason, r.records) for r in result.fired] == [
        (
            "CONFORM",
            -30,
            "NL customs' export inspection found the goods conforming, recognised by JP under MRA 3",
            (f"0x{0xE1:064x}",),
        )
    ]
    assert (result.score, result.lane) == (0, "GREEN")  # the score does not go below 0


def test_a_conforming_recognised_export_inspection_lowers_the_shipped_lane():
    goods = [{**declaration()["goods"][0], "hs_code": "930690"}]
    sensitive = consignment(with_record(clean_records(), 0, declaration(goods=goods)))
    assert assess(load_rules(SHIPPED), sensitive).lane == "AMBER"
    result = assess(load_rules(SHIPPED), sensitive, partner_inspections=[inspection()])
    assert (result.lane, result.score, result.rule_ids) == ("GREEN", 0, ("R002", "R012"))


def test_a_discrepancy_found_at_export_raises_the_lane_and_conforming_inspections_do_not_lower_it():
    rules = rules_from_yaml(INSPECTION_RULES)
    result = inspected(rules, inspection(), inspection("NON_CONFORM", n=2))
    assert [(r.id, r.reason, r.records) for r in result.fired] == [
        (
            "DISCREPANCY",
            "NL customs' export inspection found a discrepancy, recognised by JP under MRA 3",
            (f"0x{0xE2:064x}",),
        )
    ]
    assert (result.score, result.lane) == (40, "AMBER")


@pytest.mark.parametrize(
    "unrecognised",
    [
        inspection(controls=0),  # no arrangement in force, or one that recognises AEO status only
        inspection(controls=2),  # a control other than the export inspection
        inspection(country="SG"),  # a transit country's inspection is not the export country's
    ],
)
def test_an_inspection_not_recognised_as_the_export_countrys_is_ignored(unrecognised: PartnerInspection):
    rules = rules_from_yaml(INSPECTION_RULES)
    assert inspected(rules, unrecognised).fired == ()
    assert inspected(rules, replace(unrecognised, result="NON_CONFORM")).fired == ()


def test_the_verifying_countrys_own_export_inspection_is_no_partners():
    rules = rules_from_yaml(INSPECTION_RULES)
    assert inspected(rules, inspection(), inp=consignment(verifying_country="NL")).fired == ()


# ---------------------------------------------------------------- partner inspections, from the records

CUSTOMS_NL = to_checksum_address("0x" + "e5" * 20)
CUSTOMS_JP = to_checksum_address("0x" + "f6" * 20)
VERIFIED_AT = at("2026-04-02T12:00:00")  # the verification's block time


def outcome(n: int, result: str = "CONFORM", *, signer: str = CUSTOMS_NL, country: str = "NL", block: int = 5005):
    """An inspection outcome recorded by `signer` for customs of `country`."""
    found = {"method": "PHYSICAL", "result": result}
    if result == "NON_CONFORM":
        found["discrepancies"] = ["SEALS"]
    payload = payloads.decision(UCR, decision="INSPECTED", inspection=found, authority_country=country)
    return fact(n, RecordKind.CUSTOMS_DECISION, signer, canonical(payload), block)


def customs_party(address: str, country: str, roles: int = int(Role.CUSTOMS)) -> PartyFact:
    return PartyFact(address, country, 20, (PartyCheckpoint(20, roles, 1),))


def inspected_consignment(*extra: RecordFact, sensitive: bool = True, **changes: Any) -> VerificationInput:
    """The clean NL to JP consignment, its goods in a sensitive chapter (AMBER by the shipped
    rules), with `extra` records after it, and customs of both countries registered."""
    records = clean_records()
    if sensitive:
        goods = [{**declaration()["goods"][0], "hs_code": "930690"}]
        records = with_record(records, 0, declaration(goods=goods))
    inp = consignment(records + list(extra), **changes)
    customs = {CUSTOMS_NL: customs_party(CUSTOMS_NL, "NL"), CUSTOMS_JP: customs_party(CUSTOMS_JP, "JP")}
    return replace(inp, parties={**inp.parties, **customs})


def mra(controls: int | None, *, ratified: int = at("2026-01-01T00:00:00")) -> RecognitionBook:
    """The recognition book with MRA 3 between NL and JP recognising `controls`, ratified at
    `ratified`; none when `controls` is None."""
    book = RecognitionBook()
    if controls is not None:
        terms = {"mraId": 3, "proposer": "NL", "partner": "JP", "effectiveFrom": 0, "recognisedControls": controls}
        book.apply("ArrangementProposed", terms, ratified - 60)
        book.apply("ArrangementRatified", {"mraId": 3}, ratified)
    return book


def lane_with(inp: VerificationInput, book: RecognitionBook) -> Any:
    found = partner_inspections(inp, VERIFIED_AT, book.in_force_between)
    return assess(load_rules(SHIPPED), inp, partner_inspections=found)


def test_a_conforming_export_inspection_by_partner_customs_under_an_mra_recognising_it_lowers_the_lane():
    inp = inspected_consignment(outcome(6))
    assert partner_inspections(inp, VERIFIED_AT, mra(EXPORT_INSPECTION).in_force_between) == [
        PartnerInspection("NL", "CONFORM", f"0x{6:064x}", EXPORT_INSPECTION, 3)
    ]
    without = assess(load_rules(SHIPPED), inp)
    assert (without.lane, without.score, without.rule_ids) == ("AMBER", 30, ("R002",))
    result = lane_with(inp, mra(EXPORT_INSPECTION))
    assert (result.lane, result.score, result.rule_ids) == ("GREEN", 0, ("R002", "R012"))
    assert result.fired[1].records == (f"0x{6:064x}",)


def test_a_discrepancy_found_by_partner_customs_under_the_mra_raises_the_lane():
    result = lane_with(inspected_consignment(outcome(6), outcome(7, "NON_CONFORM")), mra(EXPORT_INSPECTION))
    assert (result.lane, result.score, result.rule_ids) == ("RED", 70, ("R002", "R013"))


@pytest.mark.parametrize(
    ("book", "terms"),
    [
        (mra(None), (0, None)),  # no arrangement
        (mra(0), (0, 3)),  # an arrangement recognising AEO status only
        (mra(EXPORT_INSPECTION, ratified=VERIFIED_AT + 1), (0, None)),  # not in force at the verification's time
    ],
    ids=["no MRA", "AEO only", "not yet in force"],
)
def test_a_partner_inspection_without_an_mra_recognising_export_inspections_is_ignored(
    book: RecognitionBook, terms: tuple[int, int | None]
):
    inp = inspected_consignment(outcome(6))
    found = partner_inspections(inp, VERIFIED_AT, book.in_force_between)
    assert [(i.result, i.recognised_controls, i.mra_id) for i in found] == [("CONFORM", *terms)]
    assert lane_with(inp, book).rule_ids == ("R002",)
    assert lane_with(inspected_consignment(outcome(6, "NON_CONFORM")), book).rule_ids == ("R002",)


def test_the_verifying_countrys_own_inspections_are_no_partners():
    own = inspected_consignment(outcome(6, signer=CUSTOMS_JP, country="JP"))
    assert partner_inspections(own, VERIFIED_AT, mra(EXPORT_INSPECTION).in_force_between) == []
    as_nl = inspected_consignment(outcome(6), verifying_country="NL")
    assert partner_inspections(as_nl, VERIFIED_AT, mra(EXPORT_INSPECTION).in_force_between) == []


def revocation_of(n: int, revoked: str) -> RecordFact:
    payload = {"schema_version": "1", "kind": "REVOCATION", "ucr": UCR, "revoked_record": revoked, "reason": "wrong"}
    return fact(n, RecordKind.REVOCATION, CUSTOMS_NL, canonical(payload), 5006)


@pytest.mark.parametrize(
    "records",
    [
        (outcome(6, signer=CUSTOMS_JP, country="NL"),),  # JP customs speaking for NL
        (outcome(6, signer=CARRIER, country="NL"),),  # an NL party that is no customs
        (outcome(6, block=9200),),  # on chain only after the verification's block (9100)
        (replace(outcome(6), block_number=None),),  # not on chain
        (outcome(6), revocation_of(7, f"0x{6:064x}")),  # revoked
        (replace(outcome(6), payload=None),),  # payload not held
    ],
    ids=["wrong country", "not customs", "after the block", "off chain", "revoked", "not held"],
)
def test_an_inspection_outcome_that_is_not_partner_customs_on_record_is_left_out(records: tuple[RecordFact, ...]):
    inp = inspected_consignment(*records)
    assert partner_inspections(inp, VERIFIED_AT, mra(EXPORT_INSPECTION).in_force_between) == []


def test_negative_points_are_refused_on_a_condition_that_cannot_lower_the_lane(tmp_path):
    path = tmp_path / "risk-rules.yaml"
    path.write_text(
        "lanes: {amber: 30, red: 60}\nrules:\n  - id: R001\n    description: d\n    points: -30\n"
        "    when: {type: intelligence_flag_matches}\n"
    )
    with pytest.raises(RiskRulesError) as refused:
        load_rules(path)
    assert str(refused.value) == (
        f"{path}:5: rules[0].points: Input should be greater than or equal to 0 "
        "(negative points lower the score, which only a recognised_export_inspection condition may do)"
    )


# ---------------------------------------------------------------- invalid files


VALID_RULE = "  - id: R001\n    description: d\n    points: 1\n    when: {type: exporter_not_recognised}\n"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        pytest.param(
            "lanes: {amber: 30, red: 60}\nrules:\n  - id: R001\n   description: d\n",
            4,
            "YAML syntax error",
            id="syntax error",
        ),
        pytest.param(
            "lanes: {amber: 30, red: 60}\nlists: {}\nrules:\n"
            "  - id: R001\n    description: d\n    points: 1\n    when:\n      type: no_such_condition\n",
            8,
            "rules[0].when.type: unknown condition type 'no_such_condition' (known: exporter_not_recognised,",
            id="unknown condition type",
        ),
        pytest.param(
            "lanes: {amber: 30, red: 60}\nrules:\n" + VALID_RULE + VALID_RULE,
            7,
            "rule id R001 is used twice",
            id="duplicate id",
        ),
        pytest.param(
            "lanes: {amber: 30, red: 60}\nrules:\n"
            + VALID_RULE
            + "  - id: R002\n    description: d\n    when: {type: transshipment, max_countries: 2}\n",
            7,
            "rules[1].points: required field is missing",
            id="missing field",
        ),
        pytest.param(
            "lanes: {amber: 30, red: 60}\nlists:\n  watch: [IR]\nrules:\n"
            "  - id: R001\n    description: d\n    points: 1\n    when:\n      type: transshipment_through\n      list: wach\n",
            10,
            "rule R001 names list 'wach', which is not under `lists:` (defined: watch)",
            id="unknown list",
        ),
        pytest.param(
            "lanes:\n  amber: 60\n  red: 60\nrules: []\n",
            3,
            "lanes.red (60) must be greater than lanes.amber (60)",
            id="amber equals red",
        ),
        pytest.param(
            "lanes: {amber: 30, red: 60}\nrules:\n  - id: R001\n    description: d\n    points: -5\n    when: {type: exporter_not_recognised}\n",
            5,
            "rules[0].points: Input should be greater than or equal to 0",
            id="negative points",
        ),
        pytest.param(
            "lanes: {amber: 30, red: 60}\nrules:\n" + VALID_RULE + "    weight: 3\n",
            7,
            "rules[0].weight: unknown field",
            id="unknown field",
        ),
        pytest.param(
            "lanes: {amber: 30, red: 60}\nrules:\n  - id: R001\n    description: d\n    points: 1\n"
            "    when: {type: transshipment, max_countries: 2, extra: 1}\n",
            6,
            "rules[0].when.extra: unknown field",
            id="unknown condition parameter",
        ),
        pytest.param(
            "lanes: {amber: 30, red: 60}\nlists:\n  chapters:\n    - 93\nrules:\n"
            "  - {id: R001, description: d, points: 1, when: {type: hs_chapter_in, list: chapters}}\n",
            4,
            "lists.chapters[0]: Input should be a valid string",
            id="unquoted HS chapter",
        ),
        pytest.param(
            'lanes: {amber: 30, red: 60}\nlists:\n  watch: ["ir"]\nrules:\n'
            "  - {id: R001, description: d, points: 1, when: {type: transshipment_through, list: watch}}\n",
            3,
            "list watch entry 'ir' cannot match in transshipment_through (rule R001)",
            id="list entry of the wrong form",
        ),
        pytest.param(
            "lanes: {amber: 30, red: 60}\nrules:\n  - id: R001\n    description: d\n    points: 1\n    points: 50\n"
            "    when: {type: exporter_not_recognised}\n",
            6,
            "key 'points' appears twice",
            id="duplicate key",
        ),
        pytest.param("# nothing yet\n", 1, "the file is empty", id="empty file"),
    ],
)
def test_an_invalid_rules_file_is_refused_with_its_line_and_reason(tmp_path, text, line, reason):
    path = tmp_path / "risk-rules.yaml"
    path.write_text(text)
    with pytest.raises(RiskRulesError) as refused:
        load_rules(path)
    assert str(refused.value).startswith(f"{path}:{line}: ")
    assert reason in str(refused.value)


def test_a_missing_rules_file_is_refused_with_its_path(tmp_path):
    with pytest.raises(RiskRulesError, match="cannot read the risk rules file"):
        load_rules(tmp_path / "nowhere.yaml")


def test_rules_already_parsed_are_placed_by_the_line_the_reader_gives():
    data = {"lanes": {"amber": 30, "red": 60}, "rules": [{"id": "R001", "description": "d", "points": 1}]}
    asked: list[tuple[str | int, ...]] = []

    def line_of(loc: Sequence[str | int]) -> int:
        asked.append(tuple(loc))
        return 7

    with pytest.raises(RiskRulesError) as refused:
        parse_rules(data, source="rules.json", line_of=line_of)
    assert str(refused.value) == "rules.json:7: rules[0].when: required field is missing"
    assert asked == [("rules", 0, "when")]
    with pytest.raises(RiskRulesError, match=r"^<rules>:1: rules\[0\]\.when: required field is missing$"):
        parse_rules(data)


# ---------------------------------------------------------------- the verifying country's own decision in force


def decided(n: int, decision: str, *, signer: str = CUSTOMS_JP, country: str = "JP", block: int = 9050):
    """A decision recorded by `signer` for customs of `country` (JP verifies by default)."""
    changes: dict[str, Any] = {"decision": decision, "authority_country": country, "customs_office": "JPTYO"}
    if decision == "INSPECTION_ORDERED":
        changes["inspection"] = {"method": "PHYSICAL", "result": "PENDING"}
    return fact(n, RecordKind.CUSTOMS_DECISION, signer, canonical(payloads.decision(UCR, **changes)), block)


@pytest.mark.parametrize("decision", ["HOLD", "INSPECTION_ORDERED"])
def test_a_hold_or_inspection_order_of_the_verifying_countrys_customs_in_force_sends_the_consignment_to_red(
    decision: str,
):
    result = assess(load_rules(SHIPPED), inspected_consignment(decided(6, decision), sensitive=False))
    assert (result.lane, result.score, result.rule_ids) == ("RED", 60, ("R014",))
    assert result.fired[0].reason == (
        f"customs of JP recorded {decision} at block 9050 (JPTYO, record {f'0x{6:064x}'[:10]}), in force"
    )
    assert result.fired[0].records == (f"0x{6:064x}",)


def test_a_hold_is_red_even_where_a_recognised_export_inspection_lowers_the_score():
    inp = inspected_consignment(outcome(6), decided(7, "HOLD"), sensitive=False)
    result = lane_with(inp, mra(EXPORT_INSPECTION))
    assert (result.lane, result.score, result.rule_ids) == ("RED", 30, ("R012", "R014"))


@pytest.mark.parametrize(
    "records",
    [
        (decided(6, "HOLD"), decided(7, "IMPORT_RELEASE")),  # released since: the release is in force
        (decided(6, "HOLD"), revocation_of(7, f"0x{6:064x}")),  # the hold revoked
        (decided(6, "HOLD", signer=CUSTOMS_NL, country="NL"),),  # the other country's hold
        (decided(6, "HOLD", block=9200),),  # on chain only after the verification's block
    ],
    ids=["released since", "revoked", "another country's", "after the block"],
)
def test_a_hold_that_is_not_the_verifying_countrys_decision_in_force_fires_nothing(records: tuple[RecordFact, ...]):
    result = assess(load_rules(SHIPPED), inspected_consignment(*records, sensitive=False))
    assert (result.lane, result.rule_ids) == ("GREEN", ())


def test_a_rule_sets_a_floor_to_the_lane_and_the_score_stays_the_sum_of_points():
    rules = rules_from_yaml(
        """
lanes: {amber: 30, red: 60}
rules:
  - {id: HELD, description: d, points: 5, min_lane: RED, when: {type: customs_decision_in_force, decisions: [HOLD]}}
  - {id: SEEN, description: d, points: 1, min_lane: AMBER, when: {type: exporter_not_recognised}}
"""
    )
    held = assess(rules, inspected_consignment(decided(6, "HOLD"), sensitive=False, recognition=None))
    assert (held.lane, held.score, held.rule_ids) == ("RED", 6, ("HELD", "SEEN"))
    seen = assess(rules, inspected_consignment(sensitive=False, recognition=None))
    assert (seen.lane, seen.score, seen.rule_ids) == ("AMBER", 1, ("SEEN",))


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("{id: X, description: d, points: 1, min_lane: GREEN, when: {type: exporter_not_recognised}}", "min_lane"),
        ("{id: X, description: d, points: 1, when: {type: customs_decision_in_force, decisions: []}}", "decisions"),
        (
            "{id: X, description: d, points: 1, when: {type: customs_decision_in_force, decisions: [PAUSE]}}",
            "decisions",
        ),
    ],
    ids=["a floor below AMBER", "no decision", "an unknown decision"],
)
def test_a_lane_floor_or_decision_list_that_cannot_be_used_is_refused(rule: str, reason: str):
    with pytest.raises(RiskRulesError, match=reason):
        rules_from_yaml(f"lanes: {{amber: 30, red: 60}}\nrules:\n  - {rule}\n")
