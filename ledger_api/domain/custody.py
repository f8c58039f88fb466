"""The custody rules of a consignment, off chain: the same rules ConsignmentLedger
enforces on chain, checked before a record is accepted (so a record that would revert is
refused with a clear reason and never stored) and for records anchored in bulk, which the
contract does not check.

Pure: the caller supplies the consignment's state and the parties' roles and status.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ledger_api.domain.parties import CUSTODIAN_ROLES, PartyStatus, Role, role_names, status_name
from ledger_api.domain.records import ZERO_ADDRESS, ZERO_HASH, Record, RecordKind


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

    @property
    def declared(self) -> bool:
        return self.head != ZERO_HASH


def apply(
    state: ConsignmentState, record: Record, record_id: bytes, party: PartyStanding, counterparty: PartyStanding
) -> ConsignmentState:
    """The state after `record`, or CustodyRuleError naming the rule it breaks."""
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
        return ConsignmentState(record_id, 0, record.party, ZERO_ADDRESS, record.party)

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
        _require_no_counterparty(record)
        return nxt
    # REVOCATION
    is_custodian = record.party == state.custodian
    if not is_custodian and not party.roles & Role.CUSTOMS:
        raise CustodyRuleError("NOT_CUSTODIAN", "record.party", "only the custodian or customs revokes")
    if record.counterparty != ZERO_ADDRESS:
        if not is_custodian or record.counterparty != state.pending_custodian:
            raise CustodyRuleError(
                "INVALID_COUNTERPARTY", "record.counterparty", "only the custodian cancels its pending handover"
            )
        return replace(nxt, pending_custodian=ZERO_ADDRESS)
    return nxt


def _require_role(party: PartyStanding, role: int, address: str, act: str) -> None:
    if not party.roles & role:
        needed = role_names(role)[0].lower()
        raise CustodyRuleError("MISSING_ROLE", "record.party", f"{address} is not registered as {needed} to {act}")


def _require_no_counterparty(record: Record) -> None:
    if record.counterparty != ZERO_ADDRESS:
        raise CustodyRuleError(
            "INVALID_COUNTERPARTY", "record.counterparty", "this kind of record names no counterparty"
        )
