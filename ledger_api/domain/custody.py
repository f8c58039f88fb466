"""The custody rules of a consignment, off chain: the same rules ConsignmentLedger
enforces on chain, checked before a record is accepted (so a record that would revert is
refused with a clear reason and never stored) and for records anchored in bulk, which the
contract does not check.

The route is part of them: a declaration names the consignment's origin and destination
(two different countries), the custodian adds transit countries (TRANSIT, at most 16 in
all), and only customs of a country on the route records decisions on the consignment or
revokes its records (the custodian revokes too). `check_route_shape` is what the contract
checks of a record's route before anything else (LedgerInvalidRouteLength,
LedgerInvalidRouteCountry, LedgerSameOriginAndDestination); `apply` checks it again.

Pure: the caller supplies the consignment's state and the parties' roles, status and country.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ledger_api.domain.parties import ALL_ROLES, CUSTODIAN_ROLES, PartyStatus, Role, role_names, status_name
from ledger_api.domain.records import ZERO_ADDRESS, ZERO_HASH, Record, RecordKind

# ConsignmentLedger.MAX_TRANSIT_COUNTRIES: sixteen 2-byte codes fill its one storage slot.
MAX_TRANSIT_COUNTRIES = 16


class CustodyRuleError(ValueError):
    """A record that breaks a custody rule. `code` is stable; `field` names the record
    field at fault."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code, self.field, self.message = code, field, message


@dataclass(frozen=True)
class PartyStanding:
    roles: int
    status: int
    country: str = ""  # ISO 3166-1 alpha-2 of its registration: customs acts on its country's route only

    @property
    def active(self) -> bool:
        return self.status == PartyStatus.ACTIVE


UNREGISTERED = PartyStanding(roles=0, status=0)


@dataclass(frozen=True)
class ConsignmentState:
    head: bytes = ZERO_HASH
    position: int = -1  # position of the head record; -1 before the declaration
    custodian: str = ZERO_ADDRESS
    pending_custodian: str = ZERO_ADDRESS
    exporter: str = ZERO_ADDRESS
    origin: str = ""
    destination: str = ""
    transits: tuple[str, ...] = ()  # in the order they were added

    @property
    def declared(self) -> bool:
        return self.head != ZERO_HASH

    @property
    def route(self) -> tuple[str, ...]:
        """Origin, destination, then the transit countries: ConsignmentLedger.routeOf."""
        return (self.origin, self.destination, *self.transits) if self.declared else ()

    def on_route(self, country: str) -> bool:
        return bool(country) and country in self.route


def check_route_shape(record: Record) -> None:
    """The route a record of its kind may carry, as the contract checks it before its
    signature: exactly two different countries for a declaration, one to 16 for a transit,
    none otherwise; each two capital letters. CustodyRuleError naming `record.route`."""
    n, kind = len(record.route), record.kind
    if kind == RecordKind.DECLARATION:
        fits, wanted = n == 2, "exactly two countries, [origin, destination]"
    elif kind == RecordKind.TRANSIT:
        fits, wanted = 0 < n <= MAX_TRANSIT_COUNTRIES, f"1 to {MAX_TRANSIT_COUNTRIES} transit countries"
    else:
        fits, wanted = n == 0, "no countries"
    if not fits:
        raise CustodyRuleError(
            "INVALID_ROUTE_LENGTH", "record.route", f"a {kind.name} record's route holds {wanted}, not {n}"
        )
    for country in record.route:
        if len(country) != 2 or not all("A" <= c <= "Z" for c in country):
            raise CustodyRuleError(
                "INVALID_ROUTE_COUNTRY",
                "record.route",
                f"{country!r} is not an ISO 3166-1 alpha-2 code (two capital letters)",
            )
    if kind == RecordKind.DECLARATION and record.route[0] == record.route[1]:
        raise CustodyRuleError(
            "SAME_ORIGIN_AND_DESTINATION",
            "record.route",
            f"origin and destination are both {record.route[0]}: a consignment crosses a border",
        )


def apply(
    state: ConsignmentState, record: Record, record_id: bytes, party: PartyStanding, counterparty: PartyStanding
) -> ConsignmentState:
    """The state after `record`, or CustodyRuleError naming the rule it breaks."""
    check_route_shape(record)
    if not party.active:
        raise CustodyRuleError(
            "PARTY_NOT_ACTIVE", "record.party", f"party {record.party} is {status_name(party.status)}"
        )
    kind = record.kind
    if kind == RecordKind.DECLARATION:
        _require_role(party, Role.EXPORTER, record.party, "declare")
        if state.declared:
            raise CustodyRuleError("CONSIGNMENT_EXISTS", "record.consignment", "the consignment is declared already")
        if record.previous != ZERO_HASH:
            raise CustodyRuleError("STALE_PREVIOUS", "record.previous", "a declaration has no previous record")
        _require_no_counterparty(record)
        origin, destination = record.route
        return ConsignmentState(record_id, 0, record.party, ZERO_ADDRESS, record.party, origin, destination)

    if not state.declared:
        raise CustodyRuleError("UNKNOWN_CONSIGNMENT", "record.consignment", "the consignment has no declaration")
    if record.previous != state.head:
        raise CustodyRuleError(
            "STALE_PREVIOUS",
            "record.previous",
            f"previous must be the consignment's latest record 0x{state.head.hex()}",
        )
    nxt = replace(state, head=record_id, position=state.position + 1)
    if kind == RecordKind.HANDOVER:
        if record.party != state.custodian:
            raise CustodyRuleError("NOT_CUSTODIAN", "record.party", f"only the custodian {state.custodian} hands over")
        if state.pending_custodian != ZERO_ADDRESS:
            raise CustodyRuleError(
                "HANDOVER_PENDING", "record.kind", f"a handover to {state.pending_custodian} awaits acceptance"
            )
        if record.counterparty in (ZERO_ADDRESS, record.party):
            raise CustodyRuleError("INVALID_COUNTERPARTY", "record.counterparty", "name the party who takes custody")
        if not counterparty.active or not counterparty.roles & CUSTODIAN_ROLES:
            raise CustodyRuleError(
                "COUNTERPARTY_NOT_CUSTODIAN",
                "record.counterparty",
                f"{record.counterparty} is not an active party that may hold goods",
            )
        return replace(nxt, pending_custodian=record.counterparty)
    if kind == RecordKind.ACCEPTANCE:
        if state.pending_custodian == ZERO_ADDRESS or record.party != state.pending_custodian:
            raise CustodyRuleError(
                "NOT_PENDING_CUSTODIAN", "record.party", "no handover to this party awaits acceptance"
            )
        if record.counterparty != state.custodian:
            raise CustodyRuleError(
                "INVALID_COUNTERPARTY", "record.counterparty", f"custody comes from {state.custodian}"
            )
        return replace(nxt, custodian=record.party, pending_custodian=ZERO_ADDRESS)
    if kind == RecordKind.CUSTOMS_DECISION:
        _require_role(party, Role.CUSTOMS, record.party, "record a customs decision")
        _require_on_route(state, party, record.party)
        _require_no_counterparty(record)
        return nxt
    if kind == RecordKind.TRANSIT:
        if record.party != state.custodian:
            raise CustodyRuleError(
                "NOT_CUSTODIAN", "record.party", f"only the custodian {state.custodian} declares transit"
            )
        _require_no_counterparty(record)
        transits = list(state.transits)
        for country in record.route:
            if country in (state.origin, state.destination) or country in transits:
                continue  # on the route already: left as it is, as on chain
            if len(transits) == MAX_TRANSIT_COUNTRIES:
                raise CustodyRuleError(
                    "ROUTE_FULL",
                    "record.route",
                    f"the route holds {MAX_TRANSIT_COUNTRIES} transit countries already: {country} does not fit",
                )
            transits.append(country)
        return replace(nxt, transits=tuple(transits))
    # REVOCATION
    is_custodian = record.party == state.custodian
    if not is_custodian:
        if not party.roles & Role.CUSTOMS:
            raise CustodyRuleError("NOT_CUSTODIAN", "record.party", "only the custodian or customs revokes")
        _require_on_route(state, party, record.party)
    if record.counterparty != ZERO_ADDRESS:
        if not is_custodian or record.counterparty != state.pending_custodian:
            raise CustodyRuleError(
                "INVALID_COUNTERPARTY", "record.counterparty", "only the custodian cancels its pending handover"
            )
        return replace(nxt, pending_custodian=ZERO_ADDRESS)
    return nxt


def replay(state: ConsignmentState, record: Record, record_id: bytes) -> ConsignmentState:
    """The state after a record that passed these rules when it was written (on chain, or
    accepted here): its parties' standing then is not asked again, only the custody and
    route it moves. CustodyRuleError if it does not follow from `state` (a stale head)."""
    # Any country on the route will do for a customs signer: it was on the route then.
    country = state.origin or (record.route[0] if record.route else "")
    trusted = PartyStanding(ALL_ROLES, PartyStatus.ACTIVE, country)
    return apply(state, record, record_id, trusted, trusted)


def _require_on_route(state: ConsignmentState, party: PartyStanding, address: str) -> None:
    if not state.on_route(party.country):
        route = ", ".join(state.route)
        raise CustodyRuleError(
            "NOT_ON_ROUTE",
            "record.party",
            f"{address} is customs of {party.country or 'no country'}, not of a country on the route ({route})",
        )


def _require_role(party: PartyStanding, role: int, address: str, act: str) -> None:
    if not party.roles & role:
        needed = role_names(role)[0].lower()
        raise CustodyRuleError("MISSING_ROLE", "record.party", f"{address} is not registered as {needed} to {act}")


def _require_no_counterparty(record: Record) -> None:
    if record.counterparty != ZERO_ADDRESS:
        raise CustodyRuleError(
            "INVALID_COUNTERPARTY", "record.counterparty", "this kind of record names no counterparty"
        )
