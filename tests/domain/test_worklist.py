"""The worklist's rules without a store: the cursor pages on in rank order and refuses
what it did not give; a rule's hit rate counts the consignments it flagged, those
inspected, and those whose inspection found a discrepancy."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ledger_api.domain.risk import parse_rules
from ledger_api.domain.worklist import LANE_RANK, Cursor, WorklistEntry, cursor_after, hit_rates

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
