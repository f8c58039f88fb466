"""The custody rules off chain (domain/custody.py), route included: what ConsignmentLedger
refuses, `apply` refuses with a named code and the record field at fault, and a public
message for a signer that is no party; a consignment stands where its records on chain,
then this instance's records still on their way, leave it. No chain here;
tests/chain/test_custody_agrees_with_contract.py holds the codes to the contract's errors."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_utils.crypto import keccak

from ledger_api.domain.custody import (
    MAX_TRANSIT_COUNTRIES,
    UNREGISTERED,
    ConsignmentState,
    CustodyRuleError,
    PartyStanding,
    advance,
    apply,
    check,
    check_route_shape,
    consignment_state,
    replay,
)
from ledger_api.domain.parties import PartyStatus, Role
from ledger_api.domain.records import ZERO_ADDRESS, ZERO_HASH, Record, RecordKind

EXPORTER, CARRIER, CUSTOMS_NL, CUSTOMS_JP, CUSTOMS_SG, CUSTOMS_DE = ("0x" + f"{n:040x}" for n in range(1, 7))
STANDING = {
    EXPORTER: PartyStanding(Role.EXPORTER, PartyStatus.ACTIVE, "NL"),
    CARRIER: PartyStanding(Role.CARRIER, PartyStatus.ACTIVE, "NL"),
    CUSTOMS_NL: PartyStanding(Role.CUSTOMS, PartyStatus.ACTIVE, "NL"),
    CUSTOMS_JP: PartyStanding(Role.CUSTOMS, PartyStatus.ACTIVE, "JP"),
    CUSTOMS_SG: PartyStanding(Role.CUSTOMS, PartyStatus.ACTIVE, "SG"),
    CUSTOMS_DE: PartyStanding(Role.CUSTOMS, PartyStatus.ACTIVE, "DE"),
}
CONSIGNMENT = keccak(text="4NL123456789-CUSTODY-1")


class Lane:
    """A consignment's state, moved record by record through `apply`."""

    def __init__(self) -> None:
        self.state = ConsignmentState()
        self.count = 0

    def record(
        self, kind: RecordKind, party: str, route: tuple[str, ...] = (), counterparty: str = ZERO_ADDRESS
    ) -> Record:
        return Record(
            consignment=CONSIGNMENT,
            kind=kind,
            payload_hash=keccak(text=f"payload {self.count}"),
            previous=self.state.head,
            party=party,
            counterparty=counterparty,
            nonce=self.count,
            deadline=2**40,
            route=route,
        )

    def write(
        self, kind: RecordKind, party: str, route: tuple[str, ...] = (), counterparty: str = ZERO_ADDRESS
    ) -> ConsignmentState:
        record = self.record(kind, party, route, counterparty)
        self.state = apply(
            self.state,
            record,
            keccak(text=f"record {self.count}"),
            STANDING.get(party, UNREGISTERED),
            STANDING.get(counterparty, UNREGISTERED),
        )
        self.count += 1
        return self.state

    def refused(
        self, kind: RecordKind, party: str, route: tuple[str, ...] = (), counterparty: str = ZERO_ADDRESS
    ) -> CustodyRuleError:
        before = self.state
        with pytest.raises(CustodyRuleError) as caught:
            self.write(kind, party, route, counterparty)
        assert self.state == before
        return caught.value


@pytest.fixture
def declared() -> Lane:
    lane = Lane()
    lane.write(RecordKind.DECLARATION, EXPORTER, ("NL", "JP"))
    return lane


def test_a_declaration_names_the_origin_and_destination_of_the_route(declared: Lane):
    assert (declared.state.origin, declared.state.destination, declared.state.transits) == ("NL", "JP", ())
    assert declared.state.route == ("NL", "JP")
    assert ConsignmentState().route == ()


@pytest.mark.parametrize(
    ("kind", "route", "code"),
    [
        (RecordKind.DECLARATION, ("NL",), "INVALID_ROUTE_LENGTH"),
        (RecordKind.DECLARATION, ("NL", "JP", "SG"), "INVALID_ROUTE_LENGTH"),
        (RecordKind.DECLARATION, ("NL", "NL"), "SAME_ORIGIN_AND_DESTINATION"),
        (RecordKind.DECLARATION, ("NL", "jp"), "INVALID_ROUTE_COUNTRY"),
        (RecordKind.TRANSIT, (), "INVALID_ROUTE_LENGTH"),
        (RecordKind.TRANSIT, tuple(f"A{chr(65 + i)}" for i in range(17)), "INVALID_ROUTE_LENGTH"),
        (RecordKind.TRANSIT, ("S1",), "INVALID_ROUTE_COUNTRY"),
        (RecordKind.HANDOVER, ("NL",), "INVALID_ROUTE_LENGTH"),
        (RecordKind.CUSTOMS_DECISION, ("NL",), "INVALID_ROUTE_LENGTH"),
    ],
)
def test_a_route_of_the_wrong_shape_for_its_kind_is_refused_before_anything_else(kind, route, code):
    record = Lane().record(kind, "0x" + "ff" * 20, route)  # an unknown party: the shape is checked first
    with pytest.raises(CustodyRuleError) as caught:
        check_route_shape(record)
    assert (caught.value.code, caught.value.field) == (code, "record.route")
    with pytest.raises(CustodyRuleError) as again:
        apply(ConsignmentState(), record, bytes(32), UNREGISTERED, UNREGISTERED)
    assert again.value.code == code


def test_the_custodian_adds_transit_countries_and_those_on_the_route_already_are_left_as_they_are(declared: Lane):
    declared.write(RecordKind.TRANSIT, EXPORTER, ("SG", "NL", "LK"))
    assert declared.state.transits == ("SG", "LK")
    declared.write(RecordKind.TRANSIT, EXPORTER, ("JP", "LK", "EG"))
    assert declared.state.route == ("NL", "JP", "SG", "LK", "EG")
    assert declared.state.custodian == EXPORTER and declared.state.position == 2


def test_only_the_custodian_declares_a_transit(declared: Lane):
    error = declared.refused(RecordKind.TRANSIT, CARRIER, ("SG",))
    assert (error.code, error.field) == ("NOT_CUSTODIAN", "record.party")


def test_a_transit_names_no_counterparty(declared: Lane):
    error = declared.refused(RecordKind.TRANSIT, EXPORTER, ("SG",), counterparty=CARRIER)
    assert (error.code, error.field) == ("INVALID_COUNTERPARTY", "record.counterparty")


def test_a_transit_while_a_handover_awaits_acceptance_is_the_handing_custodians(declared: Lane):
    declared.write(RecordKind.HANDOVER, EXPORTER, counterparty=CARRIER)
    assert declared.refused(RecordKind.TRANSIT, CARRIER, ("SG",)).code == "NOT_CUSTODIAN"
    declared.write(RecordKind.TRANSIT, EXPORTER, ("SG",))
    assert declared.state.pending_custodian == CARRIER and declared.state.transits == ("SG",)


def test_a_full_route_takes_no_new_transit_country_but_a_transit_of_countries_on_it_passes(declared: Lane):
    sixteen = tuple(f"A{chr(65 + i)}" for i in range(MAX_TRANSIT_COUNTRIES))
    declared.write(RecordKind.TRANSIT, EXPORTER, sixteen)
    error = declared.refused(RecordKind.TRANSIT, EXPORTER, ("AA", "SG"))
    assert (error.code, error.field) == ("ROUTE_FULL", "record.route")
    assert "SG" in error.message
    declared.write(RecordKind.TRANSIT, EXPORTER, ("AP", "NL"))  # nothing new: nothing to hold
    assert len(declared.state.transits) == MAX_TRANSIT_COUNTRIES


@pytest.mark.parametrize("customs", [CUSTOMS_NL, CUSTOMS_JP])
def test_customs_of_the_origin_or_destination_records_decisions(declared: Lane, customs: str):
    declared.write(RecordKind.CUSTOMS_DECISION, customs)


def test_customs_of_a_country_off_the_route_records_no_decision_until_a_transit_adds_it(declared: Lane):
    error = declared.refused(RecordKind.CUSTOMS_DECISION, CUSTOMS_SG)
    assert (error.code, error.field) == ("NOT_ON_ROUTE", "record.party")
    assert "SG" in error.message and "NL, JP" in error.message
    declared.write(RecordKind.TRANSIT, EXPORTER, ("SG",))
    declared.write(RecordKind.CUSTOMS_DECISION, CUSTOMS_SG)
    assert declared.refused(RecordKind.CUSTOMS_DECISION, CUSTOMS_DE).code == "NOT_ON_ROUTE"


def test_customs_revokes_only_on_its_route_and_the_custodian_revokes_anyway(declared: Lane):
    assert declared.refused(RecordKind.REVOCATION, CUSTOMS_SG).code == "NOT_ON_ROUTE"
    declared.write(RecordKind.REVOCATION, CUSTOMS_JP)
    declared.write(RecordKind.REVOCATION, EXPORTER)
    assert declared.refused(RecordKind.REVOCATION, CARRIER).code == "NOT_CUSTODIAN"


def test_a_party_with_no_country_is_on_no_route(declared: Lane):
    record = declared.record(RecordKind.CUSTOMS_DECISION, CUSTOMS_NL)
    countryless = PartyStanding(Role.CUSTOMS, PartyStatus.ACTIVE)
    with pytest.raises(CustodyRuleError) as caught:
        apply(declared.state, record, bytes(32), countryless, UNREGISTERED)
    assert caught.value.code == "NOT_ON_ROUTE"


def test_records_replayed_as_facts_move_custody_and_route_without_their_parties_standing():
    lane = Lane()
    declaration = lane.record(RecordKind.DECLARATION, EXPORTER, ("NL", "JP"))
    state = replay(ConsignmentState(), declaration, b"\x01" * 32)
    transit = replace(declaration, kind=RecordKind.TRANSIT, previous=b"\x01" * 32, route=("SG",))
    state = replay(state, transit, b"\x02" * 32)
    decision = replace(declaration, kind=RecordKind.CUSTOMS_DECISION, previous=b"\x02" * 32, route=(), party=CUSTOMS_SG)
    state = replay(state, decision, b"\x03" * 32)
    assert (state.route, state.custodian, state.head, state.position) == (("NL", "JP", "SG"), EXPORTER, b"\x03" * 32, 2)
    stale = replace(decision, previous=ZERO_HASH)
    with pytest.raises(CustodyRuleError, match="previous"):
        replay(state, stale, b"\x04" * 32)


# ---------------------------------------------------------------- the consignment as it stands


def _written(lane: Lane, kind: RecordKind, party: str, route: tuple[str, ...] = (), counterparty: str = ZERO_ADDRESS):
    """A record of `lane` (built on its head) and its id, with the lane moved on by it."""
    record = lane.record(kind, party, route, counterparty)
    record_id = keccak(text=f"record {lane.count}")
    lane.state = apply(
        lane.state, record, record_id, STANDING.get(party, UNREGISTERED), STANDING.get(counterparty, UNREGISTERED)
    )
    lane.count += 1
    return record, record_id


def test_the_consignment_stands_where_its_records_on_chain_and_then_those_still_on_their_way_leave_it():
    lane = Lane()
    declaration = _written(lane, RecordKind.DECLARATION, EXPORTER, ("NL", "JP"))
    handover = _written(lane, RecordKind.HANDOVER, EXPORTER, counterparty=CARRIER)
    acceptance = _written(lane, RecordKind.ACCEPTANCE, CARRIER, counterparty=EXPORTER)
    read = consignment_state([declaration, handover], [acceptance])
    assert read.state == lane.state and read.doomed == () and read.unexplained == ()
    assert read.state.custodian == CARRIER and read.state.head == acceptance[1]


def test_a_record_on_its_way_built_on_a_head_the_chain_moved_past_is_doomed_and_moves_nothing():
    lane = Lane()
    declaration = _written(lane, RecordKind.DECLARATION, EXPORTER, ("NL", "JP"))
    ours = _written(lane, RecordKind.HANDOVER, EXPORTER, counterparty=CARRIER)
    # The exporter wrote another record straight to the contract on the same head.
    theirs_record = replace(ours[0], kind=RecordKind.TRANSIT, counterparty=ZERO_ADDRESS, route=("SG",))
    theirs = (theirs_record, keccak(text="written straight to the contract"))
    read = consignment_state([declaration, theirs], [ours])
    assert read.doomed == (ours[1],)
    assert (read.state.head, read.state.pending_custodian, read.state.route) == (
        theirs[1],
        ZERO_ADDRESS,
        ("NL", "JP", "SG"),
    )


def test_a_transit_on_chain_that_added_no_country_moves_the_head_and_leaves_the_route():
    """The chain says which countries a transit added (RouteExtended), none if they were
    on the route already: such a record is replayed with the route it added, not refused
    for its shape."""
    lane = Lane()
    declaration = _written(lane, RecordKind.DECLARATION, EXPORTER, ("NL", "JP"))
    transit = lane.record(RecordKind.TRANSIT, EXPORTER, ())
    read = consignment_state([declaration, (transit, b"\x07" * 32)])
    assert read.unexplained == () and read.state.head == b"\x07" * 32 and read.state.route == ("NL", "JP")


def test_a_record_on_chain_that_does_not_follow_from_those_known_moves_the_state_all_the_same():
    lane = Lane()
    declaration = _written(lane, RecordKind.DECLARATION, EXPORTER, ("NL", "JP"))
    gap = replace(lane.record(RecordKind.HANDOVER, EXPORTER, counterparty=CARRIER), previous=keccak(text="unknown"))
    read = consignment_state([declaration, (gap, b"\x08" * 32)])
    assert read.unexplained == (b"\x08" * 32,)
    assert (read.state.head, read.state.pending_custodian) == (b"\x08" * 32, CARRIER)


def test_advance_moves_what_a_record_claims_whether_or_not_it_follows_the_rules(declared: Lane):
    not_holding = declared.record(RecordKind.HANDOVER, CARRIER, counterparty=CUSTOMS_NL)
    with pytest.raises(CustodyRuleError):
        check(declared.state, not_holding, STANDING[CARRIER], STANDING[CUSTOMS_NL])
    after = advance(declared.state, not_holding, b"\x09" * 32)
    assert (after.pending_custodian, after.head, after.position) == (CUSTOMS_NL, b"\x09" * 32, 1)
    assert advance(ConsignmentState(), not_holding, b"\x09" * 32) == ConsignmentState()  # nothing before a declaration


def test_a_refusal_has_a_public_message_that_names_no_head_custodian_or_route(declared: Lane):
    declared.write(RecordKind.HANDOVER, EXPORTER, counterparty=CARRIER)
    state = declared.state
    refusals = [
        declared.refused(RecordKind.HANDOVER, CUSTOMS_NL, counterparty=CARRIER),  # NOT_CUSTODIAN
        declared.refused(RecordKind.HANDOVER, EXPORTER, counterparty=CUSTOMS_NL),  # HANDOVER_PENDING
        declared.refused(RecordKind.CUSTOMS_DECISION, CUSTOMS_SG),  # NOT_ON_ROUTE
        declared.refused(RecordKind.ACCEPTANCE, CARRIER, counterparty=CUSTOMS_NL),  # INVALID_COUNTERPARTY
    ]
    stale = replace(declared.record(RecordKind.CUSTOMS_DECISION, CUSTOMS_NL), previous=ZERO_HASH)
    with pytest.raises(CustodyRuleError) as caught:
        apply(state, stale, b"\x01" * 32, STANDING[CUSTOMS_NL], UNREGISTERED)
    refusals.append(caught.value)
    assert [r.code for r in refusals] == [
        "NOT_CUSTODIAN",
        "HANDOVER_PENDING",
        "NOT_ON_ROUTE",
        "INVALID_COUNTERPARTY",
        "STALE_PREVIOUS",
    ]
    secrets = (EXPORTER, CARRIER, state.head.hex(), "NL, JP")
    for refusal in refusals:
        assert any(secret in refusal.message for secret in secrets), refusal.message  # the parties' message
        assert not any(secret in refusal.public for secret in secrets), refusal.public
