"""The custody rules off chain (domain/custody.py), route included: what ConsignmentLedger
refuses, `apply` refuses with a named code and the record field at fault. No chain here;
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
    apply,
    check_route_shape,
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
