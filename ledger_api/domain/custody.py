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

from collections.abc import Iterable
from dataclasses import dataclass, replace

from ledger_api.domain.parties import ALL_ROLES, CUSTODIAN_ROLES, PartyStatus, Role, role_names, status_name
from ledger_api.domain.records import ZERO_ADDRESS, ZERO_HASH, Record, RecordKind

# ConsignmentLedger.MAX_TRANSIT_COUNTRIES: sixteen 2-byte codes fill its one storage slot.
MAX_TRANSIT_COUNTRIES = 16


class CustodyRuleError(ValueError):
    """A record that breaks a custody rule. `code` is stable; `field` names the record
    field at fault."""

    def __init__(self, code: str, field: str, message: str, *, public: str | None = None) -> None:
        super().__init__(message)
        self.code, self.field, self.message = code, field, message
        # The message without what only the consignment's parties may know (its head,
        # custodian, pending custodian, route): what a refusal tells anyone else.
        self.public = message if public is None else public


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
    check(state, record, party, counterparty)
    return advance(state, record, record_id)


def check(state: ConsignmentState, record: Record, party: PartyStanding, counterparty: PartyStanding) -> None:
    """The rules `record` must follow from `state`, its route's shape aside
    (check_route_shape): CustodyRuleError naming the first it breaks. Its `public`
    message says nothing of the consignment (no head, custodian or route) for a signer
    who is no party to it."""
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
        return

    if not state.declared:
        raise CustodyRuleError("UNKNOWN_CONSIGNMENT", "record.consignment", "the consignment has no declaration")
    if record.previous != state.head:
        raise CustodyRuleError(
            "STALE_PREVIOUS",
            "record.previous",
            f"previous must be the consignment's latest record 0x{state.head.hex()}",
            public="previous is not the consignment's latest record",
        )
    if kind == RecordKind.HANDOVER:
        _require_custodian(state, record, "hands over")
        if state.pending_custodian != ZERO_ADDRESS:
            raise CustodyRuleError(
                "HANDOVER_PENDING",
                "record.kind",
                f"a handover to {state.pending_custodian} awaits acceptance",
                public="a handover awaits acceptance",
            )
        if record.counterparty in (ZERO_ADDRESS, record.party):
            raise CustodyRuleError("INVALID_COUNTERPARTY", "record.counterparty", "name the party who takes custody")
        if not counterparty.active or not int(counterparty.roles) & int(CUSTODIAN_ROLES):
            raise CustodyRuleError(
                "COUNTERPARTY_NOT_CUSTODIAN",
                "record.counterparty",
                f"{record.counterparty} is not an active party that may hold goods",
            )
    elif kind == RecordKind.ACCEPTANCE:
        if state.pending_custodian == ZERO_ADDRESS or record.party != state.pending_custodian:
            raise CustodyRuleError(
                "NOT_PENDING_CUSTODIAN", "record.party", "no handover to this party awaits acceptance"
            )
        if record.counterparty != state.custodian:
            raise CustodyRuleError(
                "INVALID_COUNTERPARTY",
                "record.counterparty",
                f"custody comes from {state.custodian}",
                public="custody comes from the custodian",
            )
    elif kind == RecordKind.CUSTOMS_DECISION:
        _require_role(party, Role.CUSTOMS, record.party, "record a customs decision")
        _require_on_route(state, party, record.party)
        _require_no_counterparty(record)
    elif kind == RecordKind.TRANSIT:
        _require_custodian(state, record, "declares transit")
        _require_no_counterparty(record)
        transits = _transits_after(state, record)
        if len(transits) > MAX_TRANSIT_COUNTRIES:
            raise CustodyRuleError(
                "ROUTE_FULL",
                "record.route",
                f"the route holds {MAX_TRANSIT_COUNTRIES} transit countries already: "
                f"{transits[MAX_TRANSIT_COUNTRIES]} does not fit",
            )
    else:  # REVOCATION
        is_custodian = record.party == state.custodian
        if not is_custodian:
            if not int(party.roles) & int(Role.CUSTOMS):
                raise CustodyRuleError("NOT_CUSTODIAN", "record.party", "only the custodian or customs revokes")
            _require_on_route(state, party, record.party)
        if record.counterparty != ZERO_ADDRESS and (not is_custodian or record.counterparty != state.pending_custodian):
            raise CustodyRuleError(
                "INVALID_COUNTERPARTY", "record.counterparty", "only the custodian cancels its pending handover"
            )


def advance(state: ConsignmentState, record: Record, record_id: bytes) -> ConsignmentState:
    """The state `record` leaves behind, whether or not it followed the rules: the
    custody and route it claims to move. For records on chain (the chain's word stands)
    and for the verifier, which judges each record and goes on from what it claims.
    Nothing moves before a declaration, nor by a second one."""
    kind = record.kind
    if kind == RecordKind.DECLARATION and not state.declared:
        origin, destination = record.route if len(record.route) == 2 else ("", "")
        return ConsignmentState(record_id, 0, record.party, ZERO_ADDRESS, record.party, origin, destination)
    if not state.declared:
        return state
    nxt = replace(state, head=record_id, position=state.position + 1)
    if kind == RecordKind.HANDOVER:
        return replace(nxt, pending_custodian=record.counterparty)
    if kind == RecordKind.ACCEPTANCE:
        return replace(nxt, custodian=record.party, pending_custodian=ZERO_ADDRESS)
    if kind == RecordKind.TRANSIT:
        return replace(nxt, transits=_transits_after(state, record)[:MAX_TRANSIT_COUNTRIES])
    if kind == RecordKind.REVOCATION and record.counterparty != ZERO_ADDRESS:
        return replace(nxt, pending_custodian=ZERO_ADDRESS)
    return nxt


def replay(state: ConsignmentState, record: Record, record_id: bytes) -> ConsignmentState:
    """The state after a record that passed these rules when it was written (on chain, or
    accepted here): its parties' standing then is not asked again, only the custody and
    route it moves. CustodyRuleError if it does not follow from `state` (a stale head)."""
    check_route_shape(record)
    return replay_on_chain(state, record, record_id)


def replay_on_chain(state: ConsignmentState, record: Record, record_id: bytes) -> ConsignmentState:
    """`replay` of a record the chain holds: its route is the countries the chain says it
    added (RouteExtended), which for a transit may be fewer than it signed, so its shape
    is not checked again."""
    check(state, record, TRUSTED, TRUSTED)
    return advance(state, record, record_id)


# The standing of a signer of a record replayed as a fact: every role, and customs of
# whichever country the route holds (it was on the route then; not asked again).
ANY_COUNTRY = "*"
TRUSTED = PartyStanding(ALL_ROLES, PartyStatus.ACTIVE, ANY_COUNTRY)


@dataclass(frozen=True)
class Replayed:
    """A consignment as it stands: `state` after its records on chain and then this
    instance's records not yet on chain that still follow; `doomed` the ids of those
    that no longer do (built on a head the chain moved past, or on a record that
    failed); `unexplained` the ids of records on chain that do not follow from those
    before them as far as they are known (the chain's word stands: they move the state
    all the same)."""

    state: ConsignmentState
    doomed: tuple[bytes, ...] = ()
    unexplained: tuple[bytes, ...] = ()


def consignment_state(
    on_chain: Iterable[tuple[Record, bytes]], pending: Iterable[tuple[Record, bytes]] = ()
) -> Replayed:
    """The one reading of a consignment: its records on chain in their order (whoever
    wrote them; a record only learnt from the chain carries the route the chain says it
    added), then this instance's records accepted and not yet on chain, in order, each
    only if it still applies."""
    state = ConsignmentState()
    unexplained: list[bytes] = []
    for record, record_id in on_chain:
        try:
            state = replay_on_chain(state, record, record_id)
        except CustodyRuleError:
            unexplained.append(record_id)
            state = advance(state, record, record_id)
    doomed: list[bytes] = []
    for record, record_id in pending:
        try:
            state = replay(state, record, record_id)
        except CustodyRuleError:
            doomed.append(record_id)
    return Replayed(state, tuple(doomed), tuple(unexplained))


def _transits_after(state: ConsignmentState, record: Record) -> tuple[str, ...]:
    """The transit countries once `record`'s are added: those on the route already are
    left as they are, as on chain (the caller checks the limit)."""
    transits = list(state.transits)
    for country in record.route:
        if country not in (state.origin, state.destination) and country not in transits:
            transits.append(country)
    return tuple(transits)


def _require_custodian(state: ConsignmentState, record: Record, act: str) -> None:
    if record.party != state.custodian:
        raise CustodyRuleError(
            "NOT_CUSTODIAN",
            "record.party",
            f"only the custodian {state.custodian} {act}",
            public=f"only the custodian {act}",
        )


def _require_on_route(state: ConsignmentState, party: PartyStanding, address: str) -> None:
    if party.country == ANY_COUNTRY or state.on_route(party.country):
        return
    route = ", ".join(state.route)
    refusal = f"{address} is customs of {party.country or 'no country'}, not of a country on the route"
    raise CustodyRuleError("NOT_ON_ROUTE", "record.party", f"{refusal} ({route})", public=refusal)


def _require_role(party: PartyStanding, role: int, address: str, act: str) -> None:
    # As plain ints: `int & Role` makes an enum member of the result, which for a set of
    # several roles is a slow lookup, and the verifier asks this of every record.
    if not int(party.roles) & int(role):
        needed = role_names(role)[0].lower()
        raise CustodyRuleError("MISSING_ROLE", "record.party", f"{address} is not registered as {needed} to {act}")


def _require_no_counterparty(record: Record) -> None:
    if record.counterparty != ZERO_ADDRESS:
        raise CustodyRuleError(
            "INVALID_COUNTERPARTY", "record.counterparty", "this kind of record names no counterparty"
        )
