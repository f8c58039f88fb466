"""Where a customs authority stands on a consignment, from its decisions in order: awaiting
its decision (none yet, or a HOLD or an INSPECTION_ORDERED still open) or decided (a
release, a refusal, or an inspection's outcome, which closes the open decision). The
worklist ranks the consignments awaiting a country's decision; the rule hit rates count
the inspected ones and those whose inspection found a discrepancy.

Pure: the decisions come in as payloads, in the consignment's order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ledger_api.domain.payloads import DecisionPayload

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
