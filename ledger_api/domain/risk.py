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

A condition is one of a small fixed vocabulary (the `Condition` union below), never code:
an operator can replace the file, and a file that names anything else is refused at start
with its line and the reason.

Pure, except `load_rules`, which reads the file it is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, ValidationError, model_validator

from ledger_api.domain.facts import RecordFact, VerificationInput
from ledger_api.domain.records import RecordKind
from ledger_api.errors import ConfigurationError

__all__ = [
    "CONDITION_TYPES",
    "Condition",
    "FiredRule",
    "Lane",
    "Lanes",
    "RiskResult",
    "RiskRulesError",
    "Rule",
    "RuleSet",
    "assess",
    "load_rules",
    "parse_rules",
]

Lane = Literal["GREEN", "AMBER", "RED"]


class RiskRulesError(ConfigurationError):
    """A risk rules file that cannot be used. The message reads "<path>:<line>: <reason>"
    (line 1-based) so an operator can go straight to the fault."""


# ---------------------------------------------------------------- the rules file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ListName = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9_]{0,63}$")]
ListEntry = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)]
RuleId = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z][A-Z0-9_-]{0,31}$")]
Description = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=500)]
Points = Annotated[StrictInt, Field(ge=0)]
PositiveCount = Annotated[StrictInt, Field(ge=1)]


class ExporterNotRecognised(_Strict):
    """The exporter's AEO status is not recognised by the verifying country, or unknown."""

    type: Literal["exporter_not_recognised"]


class HsChapterIn(_Strict):
    """A goods line's HS code is in one of the listed chapters (two digits)."""

    type: Literal["hs_chapter_in"]
    list: ListName


class OriginDiffersFromFirstLocation(_Strict):
    """The declared origin country is not the country where custody began."""

    type: Literal["origin_differs_from_first_location"]


class UnexplainedSealChange(_Strict):
    """The seals changed from one record to the next, and the later one does not say why."""

    type: Literal["unexplained_seal_change"]


class UnexplainedContainerChange(_Strict):
    """The containers changed from one record to the next, and the later one does not say why."""

    type: Literal["unexplained_container_change"]


class TransshipmentThrough(_Strict):
    """Custody passed through a listed country other than the origin and the destination."""

    type: Literal["transshipment_through"]
    list: ListName


class PartyRegisteredWithinBlocks(_Strict):
    """A signer was registered less than `blocks` blocks before the declaration's block."""

    type: Literal["party_registered_within_blocks"]
    blocks: PositiveCount


class DeclarationAfterDeparture(_Strict):
    """The declaration reached the chain after the first handover's time (plus a grace)."""

    type: Literal["declaration_after_departure"]
    # Block time and the custodian's clock are not the same clock: a few seconds of skew
    # should not read as a late declaration where an operator says so.
    grace_seconds: Annotated[StrictInt, Field(ge=0)] = 0


class Transshipment(_Strict):
    """Custody took place in more than `max_countries` distinct countries."""

    type: Literal["transshipment"]
    max_countries: PositiveCount


Condition = Annotated[
    ExporterNotRecognised
    | HsChapterIn
    | OriginDiffersFromFirstLocation
    | UnexplainedSealChange
    | UnexplainedContainerChange
    | TransshipmentThrough
    | PartyRegisteredWithinBlocks
    | DeclarationAfterDeparture
    | Transshipment,
    Field(discriminator="type"),
]

CONDITION_TYPES: tuple[str, ...] = (
    "exporter_not_recognised",
    "hs_chapter_in",
    "origin_differs_from_first_location",
    "unexplained_seal_change",
    "unexplained_container_change",
    "transshipment_through",
    "party_registered_within_blocks",
    "declaration_after_departure",
    "transshipment",
)

# What the entries of a list must look like, by the condition that reads it: a list of
# countries with "nl" in it would otherwise never match, silently.
_LIST_ENTRY_FORMAT: dict[str, tuple[re.Pattern[str], str]] = {
    "hs_chapter_in": (re.compile(r"[0-9]{2}"), 'an HS chapter is two digits, quoted (e.g. "09")'),
    "transshipment_through": (re.compile(r"[A-Z]{2}"), 'a country is an ISO 3166-1 alpha-2 code (e.g. "IR")'),
}


class Lanes(_Strict):
    amber: PositiveCount
    red: PositiveCount


class Rule(_Strict):
    id: RuleId
    description: Description
    points: Points
    when: Condition


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
            name = getattr(rule.when, "list", None)
            if name is None:
                continue
            if name not in self.lists:
                known = ", ".join(sorted(self.lists)) or "none"
                raise _RuleProblem(
                    ("rules", index, "when", "list"),
                    f"rule {rule.id} names list {name!r}, which is not under `lists:` (defined: {known})",
                )
            pattern, hint = _LIST_ENTRY_FORMAT[rule.when.type]
            for position, entry in enumerate(self.lists[name]):
                if not pattern.fullmatch(entry):
                    raise _RuleProblem(
                        ("lists", name, position),
                        f"list {name} entry {entry!r} cannot match in {rule.when.type} (rule {rule.id}): {hint}",
                    )
        return self


def load_rules(path: Path) -> RuleSet:
    """Reads and validates a rules file; RiskRulesError("<path>:<line>: <reason>") if it
    cannot be used."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RiskRulesError(f"{path}: cannot read the risk rules file: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RiskRulesError(f"{path}:{line}: not UTF-8 text") from exc
    return parse_rules(text, source=str(path))


def parse_rules(text: str, source: str = "<rules>") -> RuleSet:
    """Validates rules given as YAML text; `source` names it in error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = " ".join(part for part in (exc.context, exc.problem) if part) or "not valid YAML"
        raise RiskRulesError(f"{source}:{line}: YAML syntax error: {reason}") from exc
    except yaml.YAMLError as exc:
        raise RiskRulesError(f"{source}:1: not valid YAML: {exc}") from exc
    if root is None:
        raise RiskRulesError(f"{source}:1: the file is empty; expected `lanes:`, `lists:` and `rules:`")
    duplicate = _first_duplicate_key(root)
    if duplicate is not None:
        key, line = duplicate
        raise RiskRulesError(f"{source}:{line}: key {key!r} appears twice in the same mapping")
    if not isinstance(data, dict):
        raise RiskRulesError(f"{source}:1: expected a mapping with `lanes:`, `lists:` and `rules:`")
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        loc, reason = _first_problem(exc)
        raise RiskRulesError(f"{source}:{_line_of(root, loc)}: {reason}") from exc


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


def _line_of(node: yaml.Node, loc: Sequence[str | int]) -> int:
    """The 1-based line of the deepest part of `loc` present in the file: the key's line for
    a mapping entry, the item's line for a list item. A part that is not in the file (a
    missing field, the union's tag) leaves the line at its parent."""
    line = node.start_mark.line
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line, node = key.start_mark.line, value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line
    return line + 1


def _first_duplicate_key(node: yaml.Node) -> tuple[str, int] | None:
    # PyYAML keeps the last of two equal keys without a word: a rule whose `points` is
    # written twice would silently score the second.
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    return key.value, key.start_mark.line + 1
                seen.add(key.value)
            found = _first_duplicate_key(value)
            if found is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _first_duplicate_key(item)
            if found is not None:
                return found
    return None


# ---------------------------------------------------------------- assessment


@dataclass(frozen=True)
class FiredRule:
    id: str
    description: str
    points: int
    reason: str  # what matched, as a sentence
    records: tuple[str, ...]  # ids of the records involved


@dataclass(frozen=True)
class RiskResult:
    lane: Lane
    score: int
    fired: tuple[FiredRule, ...]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.fired)


def assess(rules: RuleSet, inp: VerificationInput) -> RiskResult:
    """Evaluates every rule against the consignment's facts. The score is the sum of the
    points of the rules that fired (each rule once, however often it matched); the lane is
    GREEN below `lanes.amber`, AMBER from it, RED from `lanes.red`."""
    facts = _Facts(inp, rules.lists)
    fired: list[FiredRule] = []
    for rule in rules.rules:
        matches = list(_EVALUATORS[rule.when.type](rule.when, facts))
        if matches:
            records = tuple(dict.fromkeys(rid for match in matches for rid in match.records))
            reason = "; ".join(match.reason for match in matches)
            fired.append(FiredRule(rule.id, rule.description, rule.points, reason, records))
    score = sum(rule.points for rule in fired)
    lane: Lane = "RED" if score >= rules.lanes.red else "AMBER" if score >= rules.lanes.amber else "GREEN"
    return RiskResult(lane=lane, score=score, fired=tuple(fired))


@dataclass(frozen=True)
class _Match:
    reason: str
    records: tuple[str, ...]


_CUSTODY_KINDS = (RecordKind.HANDOVER, RecordKind.ACCEPTANCE)
_SEALED_KINDS = (RecordKind.DECLARATION, *_CUSTODY_KINDS)


class _Facts:
    """The facts the conditions read, picked out once. Payloads are the parsed canonical
    JSON; they are read defensively (a payload that does not hash to its anchor is the
    PAYLOAD_INTEGRITY check's business, not a reason for risk to fail), and records whose
    payload is missing are left out of every payload-based condition."""

    def __init__(self, inp: VerificationInput, lists: dict[str, tuple[str, ...]]) -> None:
        self.inp, self.lists = inp, lists
        self.declaration = next((r for r in inp.records if r.record.kind == RecordKind.DECLARATION), None)
        declared = self.declaration.payload if self.declaration is not None else None
        self.declared: dict[str, Any] = declared or {}
        self.custody = [r for r in inp.records if r.record.kind in _CUSTODY_KINDS and r.payload is not None]
        self.sealed = [r for r in inp.records if r.record.kind in _SEALED_KINDS and r.payload is not None]

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


def _exporter_not_recognised(_: Any, facts: _Facts) -> Iterator[_Match]:
    records = (facts.declaration.id,) if facts.declaration is not None else ()
    recognition = facts.inp.recognition
    if recognition is None:
        # Targeting errs on the side of looking: an exporter whose status could not be
        # established is not treated as a recognised one.
        yield _Match(f"the exporter's AEO recognition by {facts.inp.verifying_country} is unknown", records)
    elif not recognition.recognised:
        yield _Match(
            f"exporter {recognition.operator} is not recognised by {recognition.country} ({recognition.reason})",
            records,
        )


def _hs_chapter_in(condition: HsChapterIn, facts: _Facts) -> Iterator[_Match]:
    chapters = set(facts.lists[condition.list])
    goods = facts.declared.get("goods")
    if facts.declaration is None or not isinstance(goods, list):
        return
    for line in goods:
        hs_code = line.get("hs_code") if isinstance(line, dict) else None
        if isinstance(hs_code, str) and hs_code[:2] in chapters:
            yield _Match(f"HS {hs_code} is in chapter {hs_code[:2]} ({condition.list})", (facts.declaration.id,))


def _origin_differs_from_first_location(_: Any, facts: _Facts) -> Iterator[_Match]:
    origin = facts.declared.get("origin_country")
    first = next(facts.custody_countries(), None)
    if facts.declaration is None or not isinstance(origin, str) or first is None:
        return
    country, locode, record = first
    if country != origin:
        yield _Match(
            f"origin {origin} is declared, but custody began in {country} ({locode}, {_what(record)})",
            (facts.declaration.id, record.id),
        )


def _changes(facts: _Facts, field: str) -> Iterator[_Match]:
    previous: tuple[RecordFact, frozenset[str]] | None = None
    for record in facts.sealed:
        names = _names(record, field)
        if names is None:
            continue
        if previous is not None and names != previous[1] and not _text(record, "seal_change_reason"):
            before, after = previous[1], names
            yield _Match(
                f"{field} changed from {_listing(before)} to {_listing(after)} at {_what(record)} "
                "with no seal_change_reason",
                (previous[0].id, record.id),
            )
        previous = (record, names)


def _unexplained_seal_change(_: Any, facts: _Facts) -> Iterator[_Match]:
    return _changes(facts, "seals")


def _unexplained_container_change(_: Any, facts: _Facts) -> Iterator[_Match]:
    # seal_change_reason is the one place a custodian explains re-packing: moving goods to
    # another container breaks the seals too, so it explains a container change as well.
    return _changes(facts, "containers")


def _transshipment_through(condition: TransshipmentThrough, facts: _Facts) -> Iterator[_Match]:
    watched = set(facts.lists[condition.list])
    ends = {facts.declared.get("origin_country"), facts.declared.get("destination_country")}
    reported: set[str] = set()
    for country, locode, _ in facts.custody_countries():
        if country in watched and country not in ends and country not in reported:
            reported.add(country)
            records = tuple(r.id for c, _, r in facts.custody_countries() if c == country)
            yield _Match(f"custody passed through {country} ({locode}), which is on {condition.list}", records)


def _party_registered_within_blocks(condition: PartyRegisteredWithinBlocks, facts: _Facts) -> Iterator[_Match]:
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
        if age < condition.blocks:
            when = f"{age} blocks before" if age >= 0 else f"{-age} blocks after"
            yield _Match(
                f"{party.address} was registered at block {party.registered_block}, {when} {what} {reference} "
                f"(fewer than {condition.blocks})",
                tuple(records),
            )


def _declaration_after_departure(condition: DeclarationAfterDeparture, facts: _Facts) -> Iterator[_Match]:
    declaration = facts.declaration
    handover = next((r for r in facts.custody if r.record.kind == RecordKind.HANDOVER), None)
    if declaration is None or declaration.block_timestamp is None or handover is None:
        return
    departure = _time(handover)
    if departure is None:
        return
    declared = datetime.fromtimestamp(declaration.block_timestamp, UTC)
    departed = departure.astimezone(UTC)
    if declaration.block_timestamp > departure.timestamp() + condition.grace_seconds:
        yield _Match(
            f"the declaration was written at {declared:%Y-%m-%dT%H:%M:%SZ} (block {declaration.block_number}), "
            f"after the first handover at {_text(handover, 'location')} at {departed:%Y-%m-%dT%H:%M:%SZ}",
            (declaration.id, handover.id),
        )


def _transshipment(condition: Transshipment, facts: _Facts) -> Iterator[_Match]:
    countries: dict[str, list[str]] = {}
    for country, _, record in facts.custody_countries():
        countries.setdefault(country, []).append(record.id)
    if len(countries) > condition.max_countries:
        yield _Match(
            f"custody took place in {len(countries)} countries ({', '.join(countries)}), "
            f"more than {condition.max_countries}",
            tuple(rid for records in countries.values() for rid in records),
        )


_EVALUATORS: dict[str, Callable[[Any, _Facts], Iterable[_Match]]] = {
    "exporter_not_recognised": _exporter_not_recognised,
    "hs_chapter_in": _hs_chapter_in,
    "origin_differs_from_first_location": _origin_differs_from_first_location,
    "unexplained_seal_change": _unexplained_seal_change,
    "unexplained_container_change": _unexplained_container_change,
    "transshipment_through": _transshipment_through,
    "party_registered_within_blocks": _party_registered_within_blocks,
    "declaration_after_departure": _declaration_after_departure,
    "transshipment": _transshipment,
}
assert set(_EVALUATORS) == set(CONDITION_TYPES)  # a new condition type needs its evaluator
