"""The worklist's rules without a store: the cursor pages on in rank order and refuses
what it did not give; a rule's hit rate counts the consignments it flagged, those
inspected, and those whose inspection found a discrepancy; a revoked decision counts for
nothing on a line."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from eth_utils.address import to_checksum_address
from support import payloads

from ledger_api.domain.facts import PartyCheckpoint, PartyFact, RecordFact, VerificationInput
from ledger_api.domain.parties import Role
from ledger_api.domain.payloads import canonical_json, parse_payload
from ledger_api.domain.records import ZERO_ADDRESS, ZERO_HASH, LedgerDomain, Record, RecordKind, consignment_key
from ledger_api.domain.risk import RiskResult, parse_rules
from ledger_api.domain.worklist import LANE_RANK, Cursor, WorklistEntry, cursor_after, entry_of, hit_rates

RULES = parse_rules(
    {
        "lanes": {"amber": 30, "red": 60},
        "lists": {},
        "rules": [
            {"id": "R001", "description": "not recognised", "points": 30, "when": {"type": "exporter_not_recognised"}},
            {"id": "R004", "description": "seals", "points": 40, "when": {"type": "unexplained_seal_change"}},
        ],
    }
)
ENTRY = WorklistEntry(
    consignment="0x" + "11" * 32,
    ucr="6JP7010001008-WL-000001",
    country="NL",
    lane="AMBER",
    score=40,
    fired=(("R004", "seals"),),
    exporter="0x" + "22" * 20,
    exporter_recognised=True,
    exporter_programme="JP-AEO-EXPORTER",
    custodian="0x" + "33" * 20,
    last_kind="ACCEPTANCE",
    last_place="NLRTM",
    last_time="2026-03-01T09:00:00Z",
    last_event_at=1772355600,
    declared_at=1772300000,
    awaiting=True,
    last_decision=None,
    inspected=False,
    discrepancy=False,
    hs_chapters=("84",),
    parties=("0x" + "22" * 20,),
)


def test_the_cursor_names_where_a_page_ended_in_rank_order_and_round_trips():
    cursor = cursor_after(ENTRY)
    assert cursor == Cursor(LANE_RANK["AMBER"], 40, ENTRY.ucr)
    assert Cursor.decode(cursor.encode()) == cursor
    assert LANE_RANK["RED"] < LANE_RANK["AMBER"] < LANE_RANK["GREEN"]


@pytest.mark.parametrize("text", ["not-a-cursor", "WzEsMl0", "eyJhIjoxfQ"])
def test_a_cursor_the_worklist_did_not_give_is_refused(text: str):
    with pytest.raises(ValueError, match="not a cursor"):
        Cursor.decode(text)


def test_a_rules_hit_rate_counts_flagged_inspected_and_discrepancies_in_the_rules_order():
    found = replace(ENTRY, inspected=True, discrepancy=True, awaiting=False, last_decision="INSPECTED")
    clean = replace(ENTRY, inspected=True, awaiting=False, last_decision="INSPECTED")
    retired = replace(ENTRY, fired=(("R099", "retired"),))
    rates = hit_rates(RULES, [ENTRY, found, clean, retired])
    assert [r.rule for r in rates] == ["R001", "R004"]
    r001, r004 = rates
    assert (r001.flagged, r001.inspection_rate, r001.discrepancy_rate) == (0, None, None)
    assert (r004.flagged, r004.inspected, r004.discrepancies) == (3, 2, 1)
    assert r004.discrepancy_rate == 0.5 and r004.inspection_rate == pytest.approx(2 / 3)


# ---------------------------------------------------------------- lines from records

UCR = "6JP7010001008-WL-000002"
EXPORTER = to_checksum_address("0x" + "a1" * 20)
NL_CUSTOMS = to_checksum_address("0x" + "e5" * 20)
NON_CONFORM = {"method": "PHYSICAL", "result": "NON_CONFORM", "discrepancies": ["SEALS"]}


def _chain(*written: tuple[str, dict[str, Any]]) -> tuple[RecordFact, ...]:
    """Records of one consignment in hash-chain order, each (signer, payload), on chain in
    blocks 10, 11, …"""
    facts: list[RecordFact] = []
    previous = ZERO_HASH
    for n, (party, payload) in enumerate(written, start=1):
        parsed = parse_payload(payload)
        kind = RecordKind[parsed.kind]
        record = Record(
            consignment=consignment_key(UCR),
            kind=kind,
            payload_hash=b"\x00" * 32,
            previous=previous,
            party=party,
            counterparty=ZERO_ADDRESS,
            nonce=n,
            deadline=2**40,
            route=("JP", "NL") if kind == RecordKind.DECLARATION else (),
        )
        record_id = f"0x{n:064x}"
        facts.append(
            RecordFact(
                id=record_id,
                record=record,
                signature=b"\x00" * 65,
                payload=json.loads(canonical_json(parsed)),
                payload_canonical=None,
                mode="single",
                block_number=9 + n,
                block_hash=None,
                block_timestamp=1772300000 + n,
                confirmations=1,
            )
        )
        previous = bytes.fromhex(record_id[2:])
    return tuple(facts)


def _line(*written: tuple[str, dict[str, Any]]) -> WorklistEntry:
    inp = VerificationInput(
        ucr=UCR,
        consignment=consignment_key(UCR),
        domain=LedgerDomain(chain_id=31337, verifying_contract="0x" + "11" * 20),
        records=_chain((EXPORTER, payloads.declaration(UCR)), *written),
        parties={
            EXPORTER: PartyFact(EXPORTER, "JP", 1, (PartyCheckpoint(1, int(Role.EXPORTER), 1),)),
            NL_CUSTOMS: PartyFact(NL_CUSTOMS, "NL", 1, (PartyCheckpoint(1, int(Role.CUSTOMS), 1),)),
        },
        verifying_country="NL",
        as_of_block=100,
        confirmations_required=1,
    )
    return entry_of(inp, RiskResult("AMBER", 40, ()))


def _revocation(n: int) -> dict[str, Any]:
    return {
        "schema_version": "1",
        "kind": "REVOCATION",
        "ucr": UCR,
        "revoked_record": f"0x{n:064x}",
        "reason": "recorded against the wrong consignment",
    }


def test_an_inspection_outcome_found_a_discrepancy_and_closed_the_decision():
    line = _line((NL_CUSTOMS, payloads.decision(UCR, decision="INSPECTED", inspection=NON_CONFORM)))
    assert (line.awaiting, line.last_decision, line.inspected, line.discrepancy) == (False, "INSPECTED", True, True)


def test_a_revoked_inspection_outcome_is_neither_an_inspection_nor_a_discrepancy_and_the_decision_is_awaited():
    line = _line(
        (NL_CUSTOMS, payloads.decision(UCR, decision="INSPECTED", inspection=NON_CONFORM)),
        (NL_CUSTOMS, _revocation(2)),
    )
    assert (line.awaiting, line.last_decision, line.inspected, line.discrepancy) == (True, None, False, False)
    assert line.last_kind == "REVOCATION"


def test_a_revoked_release_leaves_the_hold_before_it_open():
    ordered = {"method": "PHYSICAL", "result": "PENDING"}
    line = _line(
        (NL_CUSTOMS, payloads.decision(UCR, decision="INSPECTION_ORDERED", inspection=ordered)),
        (NL_CUSTOMS, payloads.decision(UCR, decision="IMPORT_RELEASE")),
        (NL_CUSTOMS, _revocation(3)),
    )
    assert (line.awaiting, line.last_decision) == (True, "INSPECTION_ORDERED")


def test_a_rules_hit_rate_does_not_count_a_revoked_inspection():
    rules = parse_rules(
        {
            "lanes": {"amber": 30, "red": 60},
            "rules": [
                {"id": "R004", "description": "seals", "points": 40, "when": {"type": "unexplained_seal_change"}}
            ],
        }
    )
    found = replace(
        _line(
            (NL_CUSTOMS, payloads.decision(UCR, decision="INSPECTED", inspection=NON_CONFORM)),
            (NL_CUSTOMS, _revocation(2)),
        ),
        fired=(("R004", "seals"),),
    )
    (r004,) = hit_rates(rules, [found])
    assert (r004.flagged, r004.inspected, r004.discrepancies) == (1, 0, 0)
