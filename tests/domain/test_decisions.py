"""Where customs of a country stands on a consignment: awaiting its decision until it
releases, refuses or records an inspection's outcome; a HOLD or an inspection order keeps
the decision open."""

from __future__ import annotations

from typing import Any

from support import payloads as examples

from ledger_api.domain.decisions import decision_state
from ledger_api.domain.payloads import DecisionPayload, parse_payload

UCR = "6NL123456789-DEC-01"


def _decision(country: str, decision: str, **inspection: Any) -> DecisionPayload:
    changes: dict[str, Any] = {"authority_country": country, "decision": decision}
    if inspection:
        changes["inspection"] = inspection
    payload = parse_payload(examples.decision(UCR, **changes))
    assert isinstance(payload, DecisionPayload)
    return payload


def test_a_country_that_has_not_decided_is_awaited_whatever_other_countries_decided():
    state = decision_state([_decision("JP", "EXPORT_RELEASE")], "NL")
    assert (state.awaiting, state.last, state.inspected) == (True, None, False)


def test_a_hold_or_an_inspection_order_keeps_the_decision_open_and_a_release_closes_it():
    hold = _decision("NL", "HOLD")
    ordered = _decision("NL", "INSPECTION_ORDERED", method="PHYSICAL", result="PENDING")
    assert decision_state([hold], "NL").awaiting
    assert decision_state([hold, ordered], "NL").awaiting
    assert not decision_state([hold, _decision("NL", "IMPORT_RELEASE")], "NL").awaiting


def test_an_inspection_outcome_closes_the_open_decision_and_says_what_it_found():
    ordered = _decision("NL", "INSPECTION_ORDERED", method="PHYSICAL", result="PENDING")
    conform = _decision("NL", "INSPECTED", method="PHYSICAL", result="CONFORM")
    state = decision_state([ordered, conform], "NL")
    assert (state.awaiting, state.last, state.inspected, state.discrepancy) == (False, "INSPECTED", True, False)
    found = _decision("NL", "INSPECTED", method="PHYSICAL", result="NON_CONFORM", discrepancies=["VALUE"])
    state = decision_state([ordered, found], "NL")
    assert (state.awaiting, state.discrepancy, state.discrepancies) == (False, True, ("VALUE",))
