"""Where a customs authority stands on a consignment, from its decisions in order: awaiting
its decision (none yet, or a HOLD or an INSPECTION_ORDERED still open) or decided (a
release, a refusal, or an inspection's outcome, which closes the open decision). The
worklist ranks the consignments awaiting a country's decision; the rule hit rates count
the inspected ones and those whose inspection found a discrepancy. A decision revoked by a
REVOCATION record of the consignment counts for nothing.

The decision in force for a verification (`decision_in_force`): the verifying country's
latest decision on chain as of the verification's block, not revoked, signed by active
customs of that country; the verification answer and its receipt carry it, and a risk rule
may read it (domain/risk.py, customs_decision_in_force).

Pure: the decisions come in as payloads, in the consignment's order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ledger_api.domain.facts import RecordFact, VerificationInput
from ledger_api.domain.parties import Role
from ledger_api.domain.payloads import DecisionPayload, RevocationPayload, parse_payload
from ledger_api.domain.records import RecordKind

# Decisions that leave the authority's decision open, and those that close it.
OPENING = frozenset({"HOLD", "INSPECTION_ORDERED"})
CLOSING = frozenset({"EXPORT_RELEASE", "IMPORT_RELEASE", "REFUSED", "INSPECTED"})
# What an officer may record from the page: the decisions, and an inspection's outcome.
OFFICER_DECISIONS = ("EXPORT_RELEASE", "IMPORT_RELEASE", "HOLD", "INSPECTION_ORDERED", "INSPECTED")


@dataclass(frozen=True)
class DecisionState:
    awaiting: bool  # the country has still to decide
    last: str | None  # its latest decision, None if it made none
    inspected: bool  # an inspection's outcome was recorded
    discrepancy: bool  # an inspection found a discrepancy (result NON_CONFORM)
    discrepancies: tuple[str, ...]  # what it found, from the latest outcome that found any


def decision_state(decisions: Iterable[DecisionPayload], country: str) -> DecisionState:
    """Where customs of `country` stands, from the consignment's decisions (any authority's,
    in order; revoked ones left out by the caller)."""
    last: str | None = None
    inspected = discrepancy = False
    found: tuple[str, ...] = ()
    for payload in decisions:
        if payload.authority_country != country:
            continue
        last = payload.decision
        if payload.decision == "INSPECTED" and payload.inspection is not None:
            inspected = True
            if payload.inspection.result == "NON_CONFORM":
                discrepancy, found = True, payload.inspection.discrepancies or ()
    return DecisionState(
        awaiting=last is None or last in OPENING,
        last=last,
        inspected=inspected,
        discrepancy=discrepancy,
        discrepancies=found,
    )


def revoked_ids(records: Iterable[RecordFact], as_of_block: int | None = None) -> set[str]:
    """The ids (lower case) the consignment's REVOCATION records revoke: those whose payload
    is held and, with `as_of_block`, on chain as of that block."""
    revoked: set[str] = set()
    for fact in records:
        if fact.record.kind != RecordKind.REVOCATION or fact.payload is None:
            continue
        if as_of_block is not None and (fact.block_number is None or fact.block_number > as_of_block):
            continue
        try:
            payload = parse_payload(fact.payload)
        except ValueError:  # an unreadable payload is the verification's finding
            continue
        if isinstance(payload, RevocationPayload):
            revoked.add(payload.revoked_record.lower())
    return revoked


@dataclass(frozen=True)
class DecisionInForce:
    """The decision of a country's customs in force on a consignment: which, by whom (the
    signing officer's address), in which record and block, from which office and when."""

    decision: str
    country: str
    by: str
    record: str
    block: int
    customs_office: str
    time: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "country": self.country,
            "by": self.by,
            "record": self.record,
            "block": self.block,
            "customs_office": self.customs_office,
            "time": self.time,
        }


_ACTIVE = 1  # PartyCheckpoint.status


def decision_in_force(inp: VerificationInput) -> DecisionInForce | None:
    """The verifying country's decision in force as of the verification's block: its latest
    CUSTOMS_DECISION on chain by then, not revoked by then, signed by a party of that
    country holding the CUSTOMS role and active at the decision's block. None when it has
    none."""
    country = inp.verifying_country
    revoked = revoked_ids(inp.records, inp.as_of_block)
    parties = {address.lower(): party for address, party in inp.parties.items()}
    found: DecisionInForce | None = None
    for fact in inp.records:
        block = fact.block_number
        if fact.record.kind != RecordKind.CUSTOMS_DECISION or fact.payload is None or block is None:
            continue
        if block > inp.as_of_block or fact.id.lower() in revoked:
            continue
        try:
            payload = parse_payload(fact.payload)
        except ValueError:
            continue
        if not isinstance(payload, DecisionPayload) or payload.authority_country != country:
            continue
        signer = parties.get(fact.record.party.lower())
        standing = None if signer is None or signer.country != country else signer.at(block)
        if standing is None or standing.status != _ACTIVE or not standing.roles & Role.CUSTOMS:
            continue  # not customs of the country it speaks for: not that country's decision
        found = DecisionInForce(
            payload.decision,
            country,
            fact.record.party,
            fact.id,
            block,
            payload.customs_office,
            str(fact.payload.get("time", "")),
        )
    return found
