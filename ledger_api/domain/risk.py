"""The risk lane of a consignment: GREEN, AMBER or RED, from declared rules that customs
configure (config/risk-rules.yaml), with the rules that fired and why. This is targeting,
not verification: a consignment can be VERIFIED and still be sent to the RED lane.

The rules file has three parts::

    lanes: {amber: 30, red: 60}          # score thresholds: AMBER from amber, RED from red
    lists:                               # named lists the conditions refer to
      sensitive_hs_chapters: ["93", "36"]
    rules:
      - id: R002                         # stable: receipts and reports name rules by id
        description: Goods in a sensitive HS chapter
        points: 30
        when: {type: hs_chapter_in, list: sensitive_hs_chapters}

A rule may also set a floor to the lane (`min_lane: RED`): when it fires, the lane is at
least that, whatever the score (a HOLD of the verifying country's own customs in force is
RED even where a recognised inspection lowered the score).

A condition is one of a small fixed vocabulary, never code: an operator can replace the
file, and a file that names anything else is refused at start with its line and the
reason. Each condition type is one class below (a `RiskCondition`): its `type` tag, its
parameters and how it matches a consignment; writing the class adds it to the vocabulary.
Points are 0 or more, except on a condition that recognises a control done elsewhere
(`may_lower`): there negative points lower the score, which stays 0 or more.

Besides the consignment's records, the conditions read facts the service gathers for the
verifying authority: the intelligence flags it holds (domain/intelligence.py), judged as of
the verification's block and its time, and the inspection outcomes of partner customs with
what the arrangement with each recognises (`PartnerInspection`). Both default to none. The
verifying country's own decision in force is read from the records (domain/decisions.py).

Each finding is said twice: in full, and as a partner customs (one off the consignment's
route, which sees its verdict but not its records) may read it, without the seal and
container numbers, the HS codes of the goods or the places (UN/LOCODEs) where custody was
(`FiredRule.partner_reason`).

Pure: `parse_rules` takes the file's content already parsed, and the line of each place
in it from the caller (ledger_api/store/risk_rules_file.py reads the YAML file).
"""

from __future__ import annotations

import functools
import inspect
import operator
import re
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, ValidationError, model_validator

from ledger_api.domain.decisions import decision_in_force
from ledger_api.domain.facts import RecordFact, VerificationInput
from ledger_api.domain.intelligence import (
    CategoryName,
    ConsignmentSubject,
    HeldFlag,
    HsCodeSubject,
    PartySubject,
    RouteSubject,
    Severity,
    SeverityName,
)
from ledger_api.domain.parties import Role
from ledger_api.domain.payloads import DecisionPayload, RevocationPayload, parse_payload
from ledger_api.domain.recognition import RECOGNISED_CONTROLS, Arrangement
from ledger_api.domain.records import RecordKind
from ledger_api.errors import ConfigurationError

__all__ = [
    "CONDITION_TYPES",
    "ArrangementInForce",
    "Condition",
    "FiredRule",
    "Lane",
    "Lanes",
    "LineOf",
    "ListCondition",
    "Match",
    "PartnerInspection",
    "RiskCondition",
    "RiskFacts",
    "RiskResult",
    "RiskRulesError",
    "Rule",
    "RuleSet",
    "assess",
    "flags_naming",
    "parse_rules",
    "partner_inspections",
]

Lane = Literal["GREEN", "AMBER", "RED"]


class RiskRulesError(ConfigurationError):
    """A risk rules file that cannot be used. The message reads "<path>:<line>: <reason>"
    (line 1-based) so an operator can go straight to the fault."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ListName = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9_]{0,63}$")]
ListEntry = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)]
RuleId = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z][A-Z0-9_-]{0,31}$")]
Description = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=500)]
# Below 0 only for a condition that may lower the score (RuleSet checks which).
Points = StrictInt
PositiveCount = Annotated[StrictInt, Field(ge=1)]


# ---------------------------------------------------------------- what the conditions read


@dataclass(frozen=True)
class Match:
    """One finding of a condition: what matched, as a sentence, and the records involved.
    `partner_reason` is the sentence for a partner customs when `reason` names what it may
    not see (a seal, a container, an HS code, a custody place); None when it names none."""

    reason: str
    records: tuple[str, ...]
    partner_reason: str | None = None

    @property
    def for_partner(self) -> str:
        return self.reason if self.partner_reason is None else self.partner_reason


_CUSTODY_KINDS = (RecordKind.HANDOVER, RecordKind.ACCEPTANCE)
_SEALED_KINDS = (RecordKind.DECLARATION, *_CUSTODY_KINDS)


InspectionResult = Literal["CONFORM", "NON_CONFORM"]


@dataclass(frozen=True)
class PartnerInspection:
    """A customs inspection outcome on the consignment (a CUSTOMS_DECISION recording an
    inspection done, with its result) by the customs of `country`, and the controls the
    arrangement in force between `country` and the verifying country recognises at the
    verification's time (recognition.py's RECOGNISED_CONTROLS bits; 0 when none is in force,
    `mra_id` None then)."""

    country: str
    result: InspectionResult
    record_id: str
    recognised_controls: int = 0
    mra_id: int | None = None


_ACTIVE = 1  # PartyCheckpoint.status

# The arrangement in force between two countries at a time (unix seconds), None when none
# is: RecognitionBook.in_force_between, over the events as of the verification's block.
ArrangementInForce = Callable[[str, str, int], Arrangement | None]


# The payload kinds partner_inspections reads (the payload union's `kind` tags).
_INSPECTION_KINDS = frozenset({"CUSTOMS_DECISION", "REVOCATION"})


def _other_kind(payload: Any) -> bool:
    """Whether a JSON payload's `kind` tag (a string) names a kind that cannot parse to a
    decision or a revocation: the union is discriminated by that exact string."""
    kind = payload.get("kind") if isinstance(payload, dict) else None
    return isinstance(kind, str) and kind not in _INSPECTION_KINDS


def partner_inspections(inp: VerificationInput, at: int, arrangement: ArrangementInForce) -> list[PartnerInspection]:
    """The inspection outcomes customs of other countries than the verifying one recorded on
    the consignment: CUSTOMS_DECISIONs on chain as of the verification's block whose decision
    is INSPECTED, not revoked, signed by a party of the decision's authority country holding
    the CUSTOMS role at its block. Each carries what the arrangement in force between its
    country and the verifying country at `at` (the verification's block time) recognises.

    Payloads are read as RiskFacts reads them: one that does not hash to its anchor makes
    the verdict INVALID (PAYLOAD_INTEGRITY), whatever the lane says."""
    decisions: list[tuple[RecordFact, int, DecisionPayload]] = []
    revoked: set[str] = set()
    for record in inp.records:
        block = record.block_number
        if record.payload is None or block is None or block > inp.as_of_block:
            continue  # not held, or not on chain as of the block
        if _other_kind(record.payload):
            continue  # neither a decision nor a revocation, whatever it parses to: not validated for nothing
        try:
            payload = parse_payload(record.payload)
        except ValueError:  # pydantic's ValidationError: the verification's finding, not risk's
            continue
        if isinstance(payload, RevocationPayload):
            revoked.add(payload.revoked_record.lower())
        elif isinstance(payload, DecisionPayload) and payload.decision == "INSPECTED":
            decisions.append((record, block, payload))
    parties = {address.lower(): party for address, party in inp.parties.items()}
    found: list[PartnerInspection] = []
    for record, block, payload in decisions:
        country, inspection = payload.authority_country, payload.inspection
        if country == inp.verifying_country or record.id.lower() in revoked or inspection is None:
            continue
        if inspection.result not in ("CONFORM", "NON_CONFORM"):
            continue
        signer = parties.get(record.record.party.lower())
        standing = None if signer is None or signer.country != country else signer.at(block)
        if standing is None or standing.status != _ACTIVE or not standing.roles & Role.CUSTOMS:
            continue  # not active customs of the country it speaks for: no control of that country
        terms = arrangement(country, inp.verifying_country, at)
        controls, mra_id = (0, None) if terms is None else (terms.recognised_controls, terms.mra_id)
        found.append(PartnerInspection(country, inspection.result, record.id, controls, mra_id))
    return found


class RiskFacts:
    """The facts the conditions read, picked out once. Payloads are the parsed canonical
    JSON; they are read defensively (a payload that does not hash to its anchor is the
    PAYLOAD_INTEGRITY check's business, not a reason for risk to fail), and records whose
    payload is missing are left out of every payload-based condition.

    `flags` are the intelligence flags the verifying authority holds, whatever their state:
    the conditions judge which were in force at the verification's block (`inp.as_of_block`)
    and its time, `block_time` (unix seconds), which flags need. `partner_inspections` are
    inspection outcomes of other countries' customs on the consignment."""

    def __init__(
        self,
        inp: VerificationInput,
        lists: dict[str, tuple[str, ...]],
        *,
        flags: Sequence[HeldFlag] = (),
        block_time: int | None = None,
        partner_inspections: Sequence[PartnerInspection] = (),
    ) -> None:
        if flags and block_time is None:
            raise ValueError("intelligence flags are judged at the verification's block time: give block_time")
        self.inp, self.lists = inp, lists
        self.flags, self.block_time = tuple(flags), block_time
        self.partner_inspections = tuple(partner_inspections)
        self.declaration = next((r for r in inp.records if r.record.kind == RecordKind.DECLARATION), None)
        declared = self.declaration.payload if self.declaration is not None else None
        self.declared: dict[str, Any] = declared or {}
        self.custody = [r for r in inp.records if r.record.kind in _CUSTODY_KINDS and r.payload is not None]
        self.sealed = [r for r in inp.records if r.record.kind in _SEALED_KINDS and r.payload is not None]

    @property
    def route(self) -> tuple[str, str] | None:
        """(origin, destination): the route the declaration signed, or where it has none (a
        record from before routes were signed) the payload's countries; None if unknown."""
        if self.declaration is not None and len(self.declaration.record.route) == 2:
            signed = self.declaration.record.route
            return signed[0], signed[1]
        origin, destination = self.declared.get("origin_country"), self.declared.get("destination_country")
        if isinstance(origin, str) and isinstance(destination, str):
            return origin, destination
        return None

    def flags_in_force(self) -> Iterator[HeldFlag]:
        """The flags in force as of the verification's block, at its time."""
        for flag in self.flags:
            assert self.block_time is not None  # checked in __init__: there are flags
            if flag.in_force(self.inp.as_of_block, self.block_time):
                yield flag

    def custody_countries(self) -> Iterator[tuple[str, str, RecordFact]]:
        """(country, locode, record) of each custody record with a readable location."""
        for record in self.custody:
            locode = _text(record, "location")
            if locode is not None and len(locode) >= 2:
                yield locode[:2], locode, record


def _text(record: RecordFact, name: str) -> str | None:
    value = (record.payload or {}).get(name)
    return value if isinstance(value, str) else None


def _names(record: RecordFact, name: str) -> frozenset[str] | None:
    value = (record.payload or {}).get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return frozenset(value)


def _time(record: RecordFact) -> datetime | None:
    text = _text(record, "time")
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _what(record: RecordFact) -> str:
    return f"{record.record.kind.name} {record.id[:10]}"


def _listing(values: Iterable[str]) -> str:
    return "[" + ", ".join(sorted(values)) + "]"


def _changes(facts: RiskFacts, field: str) -> Iterator[Match]:
    previous: tuple[RecordFact, frozenset[str]] | None = None
    for record in facts.sealed:
        names = _names(record, field)
        if names is None:
            continue
        if previous is not None and names != previous[1] and not _text(record, "seal_change_reason"):
            before, after = previous[1], names
            yield Match(
                f"{field} changed from {_listing(before)} to {_listing(after)} at {_what(record)} "
                "with no seal_change_reason",
                (previous[0].id, record.id),
                f"{field} changed at {_what(record)} with no seal_change_reason",
            )
        previous = (record, names)


# ---------------------------------------------------------------- the conditions

_CONDITIONS: list[type[RiskCondition]] = []


class RiskCondition(_Strict):
    """A condition of the rules file: `type` is its tag in the file (a Literal in each
    subclass), the other fields its parameters. Every subclass in this module that is not
    abstract is a condition type of the vocabulary (`Condition`, built after the last)."""

    type: str
    # Whether a rule on this condition may have negative points, which lower the score: only
    # a condition that recognises a control done elsewhere.
    may_lower: ClassVar[bool] = False

    @abstractmethod
    def evaluate(self, facts: RiskFacts) -> Iterator[Match]:
        """Each finding of this condition on the consignment; none if it does not hold."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if not inspect.isabstract(cls):
            _CONDITIONS.append(cls)


class ListCondition(RiskCondition):
    """A condition that reads one of the named lists. Its entries must have the form the
    condition compares with: a list of countries with "nl" in it would otherwise never
    match, silently."""

    list: ListName
    entry_format: ClassVar[re.Pattern[str]]
    entry_hint: ClassVar[str]


class ExporterNotRecognised(RiskCondition):
    """The exporter's AEO status is not recognised by the verifying country, or unknown."""

    type: Literal["exporter_not_recognised"]

    def evaluate(self, facts: RiskFacts) -> Iterator[Match]:
        records = (facts.declaration.id,) if facts.declaration is not None else ()
        recognition = facts.inp.recognition
        if recognition is None:
            # Targeting errs on the side of looking: an exporter whose status could not be
            # established is not treated as a recognised one.
            yield Match(f"the exporter's AEO recognition by {facts.inp.verifying_country} is unknown", records)
        elif not recognition.recognised:
            yield Match(
                f"exporter {recognition.operator} is not recognised by {recognition.country} ({recognition.reason})",
                records,
            )


class HsChapterIn(ListCondition):
    """A goods line's HS code is in one of the listed chapters (two digits)."""

    type: Literal["hs_chapter_in"]
    entry_format = re.compile(r"[0-9]{2}")
    entry_hint = 'an HS chapter is two digits, quoted (e.g. "09")'

    def evaluate(self, facts: RiskFacts) -> Iterator[Match]:
        chapters = set(facts.lists[self.list])
        goods = facts.declared.get("goods")
        if facts.declaration is None or not isinstance(goods, list):
            return
        for line in goods:
            hs_code = line.get("hs_code") if isinstance(line, dict) else None
            if isinstance(hs_code, str) and hs_code[:2] in chapters:
                yield Match(
                    f"HS {hs_code} is in chapter {hs_code[:2]} ({self.list})",
                    (facts.declaration.id,),
                    f"an HS code of the goods is in a chapter of {self.list}",
                )


class OriginDiffersFromFirstLocation(RiskCondition):
    """The declared origin country is not the country where custody began."""

    type: Literal["origin_differs_from_first_location"]

    def evaluate(self, facts: RiskFacts) -> Iterator[Match]:
        origin = facts.declared.get("origin_country")
        first = next(facts.custody_countries(), None)
        if facts.declaration is None or not isinstance(origin, str) or first is None:
            return
        country, locode, record = first
        if country != origin:
            yield Match(
                f"origin {origin} is declared, but custody began in {country} ({locode}, {_what(record)})",
                (facts.declaration.id, record.id),
                f"origin {origin} is declared, but custody began in {country} ({_what(record)})",
            )


class UnexplainedSealChange(RiskCondition):
    """The seals changed from one record to the next, and the later one does not say why."""

    type: Literal["unexplained_seal_change"]

    def evaluate(self, facts: RiskFacts) -> Iterator[Match]:
        return _changes(facts, "seals")


class UnexplainedContainerChange(RiskCondition):
    """The containers changed from one record to the next, and the later one does not say why."""

    type: Literal["unexplained_container_change"]

    def evaluate(self, facts: RiskFacts) -> Iterator[Match]:
        # seal_change_reason is the one place a custodian explains re-packing: moving goods to
        # another container breaks the seals too, so it explains a container change as well.
        return _changes(facts, "containers")


class TransshipmentThrough(ListCondition):
    """Custody passed through a listed country other than the origin and the destination."""

    type: Literal["transshipment_through"]
    entry_format = re.compile(r"[A-Z]{2}")
    entry_hint = 'a country is an ISO 3166-1 alpha-2 code (e.g. "IR")'

    def evaluate(self, facts: RiskFacts) -> Iterator[Match]:
        watched = set(facts.lists[self.list])
        ends = {facts.declared.get("origin_country"), facts.declared.get("destination_country")}
        reported: set[str] = set()
        for country, locode, _ in facts.custody_countries():
            if country in watched and country not in ends and country not in reported:
                reported.add(country)
                records = tuple(r.id for c, _, r in facts.custody_countries() if c == country)
                yield Match(
                    f"custody passed through {country} ({locode}), which is on {self.list}",
                    records,
                    f"custody passed through {country}, which is on {self.list}",
                )


class PartyRegisteredWithinBlocks(RiskCondition):
    """A signer was registered less than `blocks` blocks before the declaration's block."""

    type: Literal["party_registered_within_blocks"]
    blocks: PositiveCount

    def evaluate(self, facts: RiskFacts) -> Iterator[Match]:
        declaration = facts.declaration
        # Before the declaration is mined there is no block of its own: "now" stands in for it.
        if declaration is not None and declaration.block_number is not None:
            reference, what = declaration.block_number, "the declaration's block"
        else:
            reference, what = facts.inp.as_of_block, "block"
        parties = {address.lower(): party for address, party in facts.inp.parties.items()}
        signers: dict[str, list[str]] = {}
        for record in facts.inp.records:
            signers.setdefault(record.record.party.lower(), []).append(record.id)
        for address, records in signers.items():
            party = parties.get(address)
            if party is None:
                continue  # an unregistered signer is SIGNER_AUTHORITY's finding, not a new party
            age = reference - party.registered_block
            if age < self.blocks:
                when = f"{age} blocks before" if age >= 0 else f"{-age} blocks after"
                yield Match(
                    f"{party.address} was registered at block {party.registered_block}, {when} {what} {reference} "
                    f"(fewer than {self.blocks})",
                    tuple(records),
                )


class DeclarationAfterDeparture(RiskCondition):
    """The declaration reached the chain after the first handover's time (plus a grace)."""

    type: Literal["declaration_after_departure"]
    # Block time and the custodian's clock are not the same clock: a few seconds of skew
    # should not read as a late declaration where an operator says so.
    grace_seconds: Annotated[StrictInt, Field(ge=0)] = 0

    def evaluate(self, facts: RiskFacts) -> Iterator[Match]:
        declaration = facts.declaration
        handover = next((r for r in facts.custody if r.record.kind == RecordKind.HANDOVER), None)
        if declaration is None or declaration.block_timestamp is None or handover is None:
            return
        departure = _time(handover)
        if departure is None:
            return
        declared = datetime.fromtimestamp(declaration.block_timestamp, UTC)
        departed = departure.astimezone(UTC)
        if declaration.block_timestamp > departure.timestamp() + self.grace_seconds:
            written = f"the declaration was written at {declared:%Y-%m-%dT%H:%M:%SZ} (block {declaration.block_number})"
            left = f"{departed:%Y-%m-%dT%H:%M:%SZ}"
            yield Match(
                f"{written}, after the first handover at {_text(handover, 'location')} at {left}",
                (declaration.id, handover.id),
                f"{written}, after the first handover at {left}",
            )


class Transshipment(RiskCondition):
    """Custody took place in more than `max_countries` distinct countries."""

    type: Literal["transshipment"]
    max_countries: PositiveCount

    def evaluate(self, facts: RiskFacts) -> Iterator[Match]:
        countries: dict[str, list[str]] = {}
        for country, _, record in facts.custody_countries():
            countries.setdefault(country, []).append(record.id)
        if len(countries) > self.max_countries:
            yield Match(
                f"custody took place in {len(countries)} countries ({', '.join(countries)}), "
                f"more than {self.max_countries}",
                tuple(rid for records in countries.values() for rid in records),
            )


class IntelligenceFlagMatches(RiskCondition):
    """An intelligence flag the verifying authority holds, in force at the verification's
    block (shared and not withdrawn by then, valid at its time), names the consignment: a
    party that signed or was named in one of its records, its UCR, an HS code of its goods,
    or its route. Only flags of `min_severity` or above, and of one of `categories` when
    given, count."""

    type: Literal["intelligence_flag_matches"]
    min_severity: SeverityName = Severity.LOW
    categories: tuple[CategoryName, ...] = ()

    def evaluate(self, facts: RiskFacts) -> Iterator[Match]:
        for flag in facts.flags_in_force():
            shared = flag.shared
            if shared.severity < self.min_severity or (self.categories and shared.category not in self.categories):
                continue
            found = _subject_in(facts, flag.content.subject)
            if found is not None:
                what, partner_what, records = found
                named = (
                    f"flag {shared.flag_id} from {shared.author_country} ({shared.category.name}, "
                    f"{shared.severity.name}) names"
                )
                yield Match(f"{named} {what}", records, None if partner_what is None else f"{named} {partner_what}")


def _subject_in(
    facts: RiskFacts, subject: PartySubject | ConsignmentSubject | HsCodeSubject | RouteSubject
) -> tuple[str, str | None, tuple[str, ...]] | None:
    """What of the consignment `subject` names, that as a partner customs may read it (None:
    the same), and the records that show it; None if nothing."""
    declaration = (facts.declaration.id,) if facts.declaration is not None else ()
    if isinstance(subject, PartySubject):
        address = subject.address.lower()
        records = tuple(
            r.id for r in facts.inp.records if address in (r.record.party.lower(), r.record.counterparty.lower())
        )
        return (f"party {subject.address}", None, records) if records else None
    if isinstance(subject, ConsignmentSubject):
        return (f"consignment {subject.ucr}", None, declaration) if subject.ucr == facts.inp.ucr else None
    if isinstance(subject, HsCodeSubject):
        goods = facts.declared.get("goods")
        codes = [line.get("hs_code") for line in goods if isinstance(line, dict)] if isinstance(goods, list) else []
        matching = sorted({c for c in codes if isinstance(c, str) and c.startswith(subject.prefix)})
        if not matching:
            return None
        return f"HS {', '.join(matching)} (HS prefix {subject.prefix})", "an HS code of the goods", declaration
    if facts.route == (subject.from_country, subject.to_country):
        return f"route {subject.from_country} to {subject.to_country}", None, declaration
    return None


def flags_naming(inp: VerificationInput, flags: Sequence[HeldFlag]) -> list[HeldFlag]:
    """The flags of `flags` whose subject names the consignment (as intelligence_flag_matches
    reads it), whatever their validity: those whose validity a worklist line must watch."""
    facts = RiskFacts(inp, {})
    return [flag for flag in flags if _subject_in(facts, flag.content.subject) is not None]


class RecognisedExportInspection(RiskCondition):
    """The export country's customs inspected the goods, and the arrangement in force between
    it and the verifying country recognises its export inspections (EXPORT_INSPECTION). With
    `result: CONFORM` it holds when every such inspection found the goods conforming (a rule
    that lowers the score, with negative points); with `result: NON_CONFORM` when one found a
    discrepancy. Inspections by other countries, or under no such arrangement, are ignored."""

    type: Literal["recognised_export_inspection"]
    result: InspectionResult
    may_lower: ClassVar[bool] = True

    def evaluate(self, facts: RiskFacts) -> Iterator[Match]:
        route = facts.route
        verifying = facts.inp.verifying_country
        if route is None or route[0] == verifying:
            return
        export_country = route[0]
        recognised = [
            i
            for i in facts.partner_inspections
            if i.country == export_country and i.recognised_controls & RECOGNISED_CONTROLS["EXPORT_INSPECTION"]
        ]
        discrepancies = [i for i in recognised if i.result == "NON_CONFORM"]
        found = discrepancies if self.result == "NON_CONFORM" else ([] if discrepancies else recognised)
        if not found:
            return
        outcome = "found a discrepancy" if self.result == "NON_CONFORM" else "found the goods conforming"
        mras = sorted({f"MRA {i.mra_id}" for i in found if i.mra_id is not None})
        under = f" under {', '.join(mras)}" if mras else ""
        yield Match(
            f"{export_country} customs' export inspection {outcome}, recognised by {verifying}{under}",
            tuple(i.record_id for i in found),
        )


DecisionName = Literal["EXPORT_RELEASE", "IMPORT_RELEASE", "HOLD", "INSPECTION_ORDERED", "REFUSED", "INSPECTED"]


class CustomsDecisionInForce(RiskCondition):
    """The verifying country's own customs has one of `decisions` in force on the
    consignment: its latest decision on chain as of the verification's block, not revoked,
    signed by its active customs (domain/decisions.py, decision_in_force)."""

    type: Literal["customs_decision_in_force"]
    decisions: Annotated[tuple[DecisionName, ...], Field(min_length=1)]

    def evaluate(self, facts: RiskFacts) -> Iterator[Match]:
        found = decision_in_force(facts.inp)
        if found is not None and found.decision in self.decisions:
            yield Match(
                f"customs of {found.country} recorded {found.decision} at block {found.block} "
                f"({found.customs_office}, record {found.record[:10]}), in force",
                (found.record,),
            )


# The vocabulary, gathered from the classes above: pydantic picks the class by `type`;
# mypy, which cannot follow a union built at run time, sees their common base.
if TYPE_CHECKING:
    Condition = RiskCondition
else:
    Condition = Annotated[functools.reduce(operator.or_, _CONDITIONS), Field(discriminator="type")]

CONDITION_TYPES: tuple[str, ...] = tuple(get_args(c.model_fields["type"].annotation)[0] for c in _CONDITIONS)


# ---------------------------------------------------------------- the rules


class Lanes(_Strict):
    amber: PositiveCount
    red: PositiveCount


class Rule(_Strict):
    id: RuleId
    description: Description
    points: Points
    when: Condition
    # When the rule fires the lane is at least this, whatever the score.
    min_lane: Literal["AMBER", "RED"] | None = None


class _RuleProblem(ValueError):
    """A rule set that is well formed but inconsistent, with where in the file it is."""

    def __init__(self, loc: tuple[str | int, ...], reason: str) -> None:
        super().__init__(reason)
        self.loc, self.reason = loc, reason


class RuleSet(_Strict):
    lanes: Lanes
    lists: dict[ListName, tuple[ListEntry, ...]] = Field(default_factory=dict)
    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        if self.lanes.amber >= self.lanes.red:
            raise _RuleProblem(
                ("lanes", "red"), f"lanes.red ({self.lanes.red}) must be greater than lanes.amber ({self.lanes.amber})"
            )
        seen: set[str] = set()
        for index, rule in enumerate(self.rules):
            if rule.id in seen:
                raise _RuleProblem(("rules", index, "id"), f"rule id {rule.id} is used twice")
            seen.add(rule.id)
            if rule.points < 0 and not rule.when.may_lower:
                lowering = " or ".join(c for c, cls in zip(CONDITION_TYPES, _CONDITIONS, strict=True) if cls.may_lower)
                raise _RuleProblem(
                    ("rules", index, "points"),
                    f"rules[{index}].points: Input should be greater than or equal to 0 "
                    f"(negative points lower the score, which only a {lowering} condition may do)",
                )
            if not isinstance(rule.when, ListCondition):
                continue
            name = rule.when.list
            if name not in self.lists:
                known = ", ".join(sorted(self.lists)) or "none"
                raise _RuleProblem(
                    ("rules", index, "when", "list"),
                    f"rule {rule.id} names list {name!r}, which is not under `lists:` (defined: {known})",
                )
            for position, entry in enumerate(self.lists[name]):
                if not rule.when.entry_format.fullmatch(entry):
                    raise _RuleProblem(
                        ("lists", name, position),
                        f"list {name} entry {entry!r} cannot match in {rule.when.type} (rule {rule.id}): "
                        f"{rule.when.entry_hint}",
                    )
        return self


# The 1-based line of a place in the rules file, named by keys and list indexes from the top.
LineOf = Callable[[Sequence[str | int]], int]


def parse_rules(data: object, *, source: str = "<rules>", line_of: LineOf | None = None) -> RuleSet:
    """Validates rules already read from their file (mappings, lists and scalars);
    RiskRulesError("<source>:<line>: <reason>") if they cannot be used. `line_of` places a
    fault in the file; without it, every fault is on line 1."""
    if not isinstance(data, dict):
        raise RiskRulesError(f"{source}:1: expected a mapping with `lanes:`, `lists:` and `rules:`")
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        loc, reason = _first_problem(exc)
        line = line_of(loc) if line_of is not None else 1
        raise RiskRulesError(f"{source}:{line}: {reason}") from exc


def _first_problem(exc: ValidationError) -> tuple[tuple[str | int, ...], str]:
    error = exc.errors()[0]
    problem = error.get("ctx", {}).get("error")
    if isinstance(problem, _RuleProblem):
        return problem.loc, problem.reason
    loc = tuple(error["loc"])
    where = _dotted(loc)
    kind = error["type"]
    if kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag")
        return (*loc, "type"), f"{where}.type: unknown condition type {tag!r} (known: {', '.join(CONDITION_TYPES)})"
    if kind == "union_tag_not_found":
        return loc, f"{where}: a condition needs a `type` (one of: {', '.join(CONDITION_TYPES)})"
    if kind == "missing":
        return loc, f"{where}: required field is missing"
    if kind == "extra_forbidden":
        return loc, f"{where}: unknown field"
    return loc, f"{where}: {error['msg']}"


def _dotted(loc: Iterable[str | int]) -> str:
    # pydantic puts the union's tag in the location ("when", "hs_chapter_in", "list"); the
    # file has no such key, so it is left out of what the operator reads.
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part not in CONDITION_TYPES:
            text += f".{part}" if text else part
    return text or "(top level)"


# ---------------------------------------------------------------- assessment


@dataclass(frozen=True)
class FiredRule:
    id: str
    description: str
    points: int
    reason: str  # what matched, as a sentence
    records: tuple[str, ...]  # ids of the records involved
    partner_reason: str = ""  # the reason as a partner customs reads it (Match.partner_reason)


@dataclass(frozen=True)
class RiskResult:
    lane: Lane
    score: int
    fired: tuple[FiredRule, ...]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.fired)


def assess(
    rules: RuleSet,
    inp: VerificationInput,
    *,
    flags: Sequence[HeldFlag] = (),
    block_time: int | None = None,
    partner_inspections: Sequence[PartnerInspection] = (),
) -> RiskResult:
    """Evaluates every rule against the consignment's facts (see RiskFacts for the optional
    ones). The score is the sum of the points of the rules that fired (each rule once,
    however often it matched), and 0 if that sum is below 0; the lane is GREEN below
    `lanes.amber`, AMBER from it, RED from `lanes.red`, and at least the `min_lane` of
    every rule that fired."""
    facts = RiskFacts(inp, rules.lists, flags=flags, block_time=block_time, partner_inspections=partner_inspections)
    fired: list[FiredRule] = []
    floors: set[str] = set()
    for rule in rules.rules:
        matches = list(rule.when.evaluate(facts))
        if matches:
            if rule.min_lane is not None:
                floors.add(rule.min_lane)
            records = tuple(dict.fromkeys(rid for match in matches for rid in match.records))
            reason = "; ".join(match.reason for match in matches)
            partner_reason = "; ".join(dict.fromkeys(match.for_partner for match in matches))
            fired.append(FiredRule(rule.id, rule.description, rule.points, reason, records, partner_reason))
    score = max(0, sum(rule.points for rule in fired))
    lane: Lane = (
        "RED"
        if score >= rules.lanes.red or "RED" in floors
        else "AMBER"
        if score >= rules.lanes.amber or "AMBER" in floors
        else "GREEN"
    )
    return RiskResult(lane=lane, score=score, fired=tuple(fired))
