"""An officer's worklist, as rules: what one consignment's line says (lane and score, the
rules that fired, the exporter's AEO status, the current custodian, the last event and its
place, where the country's decision stands), the ranking (RED first, then by score), the
cursor that pages through it, each risk rule's hit rate (flagged, inspected, found a
discrepancy) over a period, and when a line's inputs change by time alone (`next_change`:
an intelligence flag's validity starting or ending, an arrangement taking or ceasing
effect), so that the line is recomputed then with no new record of its consignment.

Pure: the facts come in (domain/facts.py), nothing is read or written here.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ledger_api.domain.custody import ConsignmentState, CustodyRuleError, replay
from ledger_api.domain.decisions import decision_state, revoked_ids
from ledger_api.domain.facts import VerificationInput
from ledger_api.domain.intelligence import HeldFlag
from ledger_api.domain.payloads import DecisionPayload, parse_payload
from ledger_api.domain.recognition import Arrangement
from ledger_api.domain.records import RecordKind
from ledger_api.domain.risk import RiskResult, RuleSet

LANE_RANK = {"RED": 0, "AMBER": 1, "GREEN": 2}
MAX_PAGE = 200


@dataclass(frozen=True)
class WorklistEntry:
    """One consignment's line on a country's worklist."""

    consignment: str  # 0x keccak256(UCR)
    ucr: str
    country: str
    lane: str
    score: int
    fired: tuple[tuple[str, str], ...]  # (rule id, description)
    exporter: str
    exporter_recognised: bool | None  # the exporter's AEO status recognised by the country; None: unknown
    exporter_programme: str | None
    custodian: str
    last_kind: str
    last_place: str | None  # UN/LOCODE, or the customs office of a decision
    last_time: str | None
    last_event_at: int | None  # unix seconds of the last event (its payload's time), for arrival windows
    declared_at: int | None  # unix seconds of the declaration's block, for rule hit rates over a period
    awaiting: bool
    last_decision: str | None
    inspected: bool
    discrepancy: bool
    hs_chapters: tuple[str, ...]
    parties: tuple[str, ...]
    expires_at: int | None = None  # block time at which an input changes by time alone (next_change)


def next_change(
    flags: Sequence[HeldFlag], arrangements: Iterable[Arrangement], as_of_block: int, block_time: int | None
) -> int | None:
    """The earliest block time after `block_time` at which what a line read as of
    `as_of_block` changes by time alone: a flag naming the consignment (`flags`, shared by
    then and not withdrawn) coming into force or expiring, or an arrangement with a country
    whose inspection the line reads taking or ceasing effect. None when nothing does.

    The exporter's AEO recognition is judged at the declaration's block time, which time
    passing does not move: a certificate's expiry changes no line once declared."""
    if block_time is None:
        return None
    times: list[int] = []
    for flag in flags:
        shared = flag.shared
        withdrawn = flag.withdrawn_block is not None and flag.withdrawn_block <= as_of_block
        if shared.block_number <= as_of_block and not withdrawn:
            times += [shared.valid_from, shared.valid_until]
    for arrangement in arrangements:
        if arrangement.ratified_at:
            times.append(max(arrangement.effective_from, arrangement.ratified_at))
        if arrangement.terminated_at:
            times.append(arrangement.terminated_at)
    return min((t for t in times if t > block_time), default=None)


def _seconds(text: object) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def entry_of(inp: VerificationInput, risk: RiskResult) -> WorklistEntry:
    """The worklist line of the consignment `inp` describes, for its verifying country."""
    country = inp.verifying_country
    state = ConsignmentState()
    decisions: list[DecisionPayload] = []
    last_kind, last_place, last_time = "", None, None
    chapters: set[str] = set()
    parties: set[str] = set()
    # A revoked decision (an inspection outcome recorded in error, say) stands for nothing:
    # neither where the country's decision stands nor what its inspections found.
    revoked = revoked_ids(inp.records)
    for fact in inp.records:
        record = fact.record
        try:
            state = replay(state, record, bytes.fromhex(fact.id[2:]))
        except CustodyRuleError:
            continue
        payload = fact.payload or {}
        parties.update({record.party, record.counterparty})
        last_kind = record.kind.name
        last_place = payload.get("location") or payload.get("customs_office") or last_place
        last_time = payload.get("time") or last_time
        if record.kind == RecordKind.DECLARATION:
            chapters.update(str(g.get("hs_code", ""))[:2] for g in payload.get("goods", []) if g.get("hs_code"))
        if record.kind == RecordKind.CUSTOMS_DECISION and payload and fact.id.lower() not in revoked:
            try:
                parsed = parse_payload(payload)
            except ValueError:
                continue
            if isinstance(parsed, DecisionPayload):
                decisions.append(parsed)
    standing = decision_state(decisions, country)
    recognition = inp.recognition
    first = inp.records[0] if inp.records else None
    return WorklistEntry(
        consignment="0x" + inp.consignment.hex(),
        ucr=inp.ucr,
        country=country,
        lane=risk.lane,
        score=risk.score,
        fired=tuple((f.id, f.description) for f in risk.fired),
        exporter=state.exporter,
        exporter_recognised=None if recognition is None else recognition.recognised,
        exporter_programme=None if recognition is None else recognition.programme,
        custodian=state.custodian,
        last_kind=last_kind,
        last_place=last_place,
        last_time=last_time,
        last_event_at=_seconds(last_time),
        declared_at=None if first is None else first.block_timestamp,
        awaiting=standing.awaiting,
        last_decision=standing.last,
        inspected=standing.inspected,
        discrepancy=standing.discrepancy,
        hs_chapters=tuple(sorted(chapters)),
        parties=tuple(sorted(p for p in parties if int(p, 16))),
    )


# ---------------------------------------------------------------- paging


@dataclass(frozen=True)
class Filters:
    lane: str | None = None
    awaiting: bool | None = None  # True: awaiting the country's decision; False: decided; None: both
    hs_chapter: str | None = None
    party: str | None = None
    arrived_from: int | None = None  # unix seconds, of the last event
    arrived_until: int | None = None


@dataclass(frozen=True)
class Cursor:
    """Where a page ends, in the ranking's order: the next page starts after it."""

    lane_rank: int
    score: int
    ucr: str

    def encode(self) -> str:
        raw = json.dumps([self.lane_rank, self.score, self.ucr], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """ValueError for a cursor this service did not give."""
        try:
            lane_rank, score, ucr = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (ValueError, TypeError) as exc:
            raise ValueError("not a cursor of this worklist") from exc
        if not (isinstance(lane_rank, int) and isinstance(score, int) and isinstance(ucr, str)):
            raise ValueError("not a cursor of this worklist")
        return cls(lane_rank, score, ucr)


def cursor_after(entry: WorklistEntry) -> Cursor:
    return Cursor(LANE_RANK[entry.lane], entry.score, entry.ucr)


# ---------------------------------------------------------------- rule hit rates


@dataclass(frozen=True)
class RuleHitRate:
    """A risk rule's record over a period: the consignments it flagged, how many of those
    were inspected, and how many of those inspections found a discrepancy."""

    rule: str
    description: str
    flagged: int
    inspected: int
    discrepancies: int

    @property
    def inspection_rate(self) -> float | None:
        return None if not self.flagged else self.inspected / self.flagged

    @property
    def discrepancy_rate(self) -> float | None:
        """Of the inspections of consignments it flagged, the share that found a discrepancy:
        what a targeting team keeps or retires a rule by."""
        return None if not self.inspected else self.discrepancies / self.inspected


def hit_rates(rules: RuleSet, entries: Iterable[WorklistEntry]) -> list[RuleHitRate]:
    """Every rule of `rules`, in their order, with its counts over `entries`."""
    counts = {rule.id: [0, 0, 0] for rule in rules.rules}
    for entry in entries:
        for rule_id, _ in entry.fired:
            if rule_id not in counts:
                continue  # a rule since retired from the rules file
            count = counts[rule_id]
            count[0] += 1
            count[1] += entry.inspected
            count[2] += entry.inspected and entry.discrepancy
    return [RuleHitRate(rule.id, rule.description, *counts[rule.id]) for rule in rules.rules]
