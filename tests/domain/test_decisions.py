"""Where customs of a country stands on a consignment: awaiting its decision until it
releases, refuses or records an inspection's outcome; a HOLD or an inspection order keeps
the decision open. The decision in force for a verification: the verifying country's
latest, on chain by the verification's block, not revoked, signed by its active customs."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from eth_utils.address import to_checksum_address
from support import payloads as examples

from ledger_api.domain.decisions import DecisionInForce, decision_in_force, decision_state
from ledger_api.domain.facts import PartyCheckpoint, PartyFact, RecordFact, VerificationInput
from ledger_api.domain.parties import Role
from ledger_api.domain.payloads import DecisionPayload, canonical_json, parse_payload
from ledger_api.domain.records import ZERO_ADDRESS, LedgerDomain, Record, RecordKind, consignment_key

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


# ---------------------------------------------------------------- the decision in force

NL_CUSTOMS = to_checksum_address("0x" + "e5" * 20)
JP_CUSTOMS = to_checksum_address("0x" + "f6" * 20)
NL_CARRIER = to_checksum_address("0x" + "b2" * 20)
SUSPENDED_AT = 50


def _fact(n: int, party: str, payload: dict[str, Any], block: int | None) -> RecordFact:
    parsed = parse_payload(payload)
    record = Record(
        consignment=consignment_key(UCR),
        kind=RecordKind[parsed.kind],
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
        signature=b"\x00" * 65,
        payload=json.loads(canonical_json(parsed)),
        payload_canonical=None,
        mode="single",
        block_number=block,
        block_hash=None,
        block_timestamp=None,
        confirmations=1,
    )


def _hold(n: int, block: int | None = 20, party: str = NL_CUSTOMS, **changes: Any) -> RecordFact:
    return _fact(n, party, examples.decision(UCR, decision="HOLD", **changes), block)


def _revocation(n: int, revoked: int, block: int | None = 30) -> RecordFact:
    payload = {"schema_version": "1", "kind": "REVOCATION", "ucr": UCR, "revoked_record": f"0x{revoked:064x}"}
    return _fact(n, NL_CUSTOMS, {**payload, "reason": "entered in error"}, block)


def _as_of(*records: RecordFact, country: str = "NL", block: int = 100) -> DecisionInForce | None:
    customs = int(Role.CUSTOMS)
    inp = VerificationInput(
        ucr=UCR,
        consignment=consignment_key(UCR),
        domain=LedgerDomain(chain_id=31337, verifying_contract="0x" + "11" * 20),
        records=records,
        parties={
            NL_CUSTOMS: PartyFact(
                NL_CUSTOMS, "NL", 1, (PartyCheckpoint(1, customs, 1), PartyCheckpoint(SUSPENDED_AT, customs, 2))
            ),
            JP_CUSTOMS: PartyFact(JP_CUSTOMS, "JP", 1, (PartyCheckpoint(1, customs, 1),)),
            NL_CARRIER: PartyFact(NL_CARRIER, "NL", 1, (PartyCheckpoint(1, int(Role.CARRIER), 1),)),
        },
        verifying_country=country,
        as_of_block=block,
        confirmations_required=1,
    )
    return decision_in_force(inp)


def test_the_verifying_countrys_hold_is_in_force_with_who_signed_it_and_its_block():
    assert _as_of(_hold(1)) == DecisionInForce(
        "HOLD", "NL", NL_CUSTOMS, f"0x{1:064x}", 20, "NL000396", "2026-03-01T09:00:00Z"
    )


def test_the_latest_decision_is_the_one_in_force_and_another_countrys_is_not_the_verifiers():
    release = _fact(2, NL_CUSTOMS, examples.decision(UCR, decision="IMPORT_RELEASE"), 25)
    assert (found := _as_of(_hold(1), release)) is not None and found.decision == "IMPORT_RELEASE"
    assert _as_of(_hold(1), country="JP") is None


def test_a_revoked_decision_is_not_in_force_and_the_one_before_it_is_again():
    release = _fact(2, NL_CUSTOMS, examples.decision(UCR, decision="IMPORT_RELEASE"), 25)
    assert _as_of(_hold(1), _revocation(2, 1)) is None
    assert (found := _as_of(_hold(1), release, _revocation(3, 2))) is not None and found.decision == "HOLD"
    # a revocation not on chain by the verification's block revokes nothing yet
    assert _as_of(_hold(1), _revocation(2, 1, block=120)) is not None


@pytest.mark.parametrize(
    "record",
    [
        _hold(1, block=None),  # accepted here, not on chain
        _hold(1, block=101),  # on chain only after the verification's block
        _hold(1, party=JP_CUSTOMS),  # JP customs speaking for NL
        _hold(1, party=NL_CARRIER),  # an NL party that is not customs
        _hold(1, block=SUSPENDED_AT),  # signed once the officer was suspended
        replace(_hold(1), payload=None),  # payload not held
    ],
    ids=["off chain", "after the block", "wrong country", "not customs", "suspended", "not held"],
)
def test_a_decision_that_is_not_the_verifying_countrys_customs_on_record_is_not_in_force(record: RecordFact):
    assert _as_of(record) is None
