"""The verification engine: a consignment's records and the chain's facts about them
(facts.py) in, one verdict with named checks and reasons out. Customs run it before
clearance; partner customs run it on what they receive. Pure: no I/O, no clock.

Shape (after OpenAttestation's oa-verify): a result is a list of fragments
`{name, status, reason{code, number, message}, records}`, one per check of DESIGN.md's
"Verification" table, in that table's order. Reason codes are published in
`REASON_CODES` and are append-only: a code is never renamed, a number never reused.

Verdict rule (`verdict_of`), in this order:

    FAILED      some check is INVALID with a reason that is not in INCOMPLETE_REASONS
    INCOMPLETE  some check is ERROR or SKIPPED, or carries a reason in INCOMPLETE_REASONS
                (CONFIRMATIONS_PENDING, RECORD_PENDING, IN_TRANSIT)
    VERIFIED    every check VALID with reason OK

So a record that is not yet on chain, or not yet deep enough, makes the verdict
INCOMPLETE, never FAILED; so does a consignment whose last handover awaits acceptance
(the goods are in transit: CUSTODY_CONTINUITY is VALID with reason IN_TRANSIT). A
consignment with no records at all is INCOMPLETE (every check SKIPPED with
DECLARATION_MISSING: nothing is on chain yet as of the block asked); one with records but
no declaration is FAILED (DECLARATION is INVALID with DECLARATION_MISSING).

Decisions worth knowing:
- "As of block N": a record whose block_number is None or above `as_of_block` is not yet
  on chain. PAYLOAD_INTEGRITY then skips its on-chain anchoring (a Merkle proof is still
  checked) and CONFIRMATIONS reports it as RECORD_PENDING. Confirmations are counted up
  to `as_of_block`: min(confirmations, as_of_block - block_number + 1).
- Payloads are read only from `payload_canonical`, and only when they hash to the
  record's payloadHash and parse: checks never act on a payload PAYLOAD_INTEGRITY rejects.
  A check that needs such a payload and finds no other fault is ERROR (PAYLOAD_MISSING or
  PAYLOAD_INVALID), not VALID.
- A signer that is suspended or revoked at its record's block fails two checks, as the
  design's table says: SIGNER_AUTHORITY (SIGNER_NOT_ACTIVE) and REVOCATION
  (PARTY_SUSPENDED_WHEN_WRITING).
- Custody replay follows the contract's rules: a customs decision may come while a
  handover is pending (goods are inspected in transit); another handover before the
  acceptance, an acceptance with no handover pending or from the wrong giver is a
  CUSTODY_GAP; an acceptance signed by anyone but the named counterparty is
  ACCEPTED_BY_WRONG_PARTY. The custodian's REVOCATION naming the pending counterparty
  cancels the handover (as on chain) and needs no replacement record.
- A TRANSIT record (the custodian adds countries to the route) is a custody-role record
  for SIGNER_AUTHORITY; CUSTODY_CONTINUITY treats it as neither handover nor acceptance
  (its time, containers and seals are not compared) but wants the custodian as its signer
  (else CUSTODY_GAP), as the contract does.
- A check reports one reason: that of its first offence in record order; `records`
  lists every offending record, and the message names each offence.
- A message is said twice where it names a seal or container number, a custody place (a
  UN/LOCODE), or the peers whose copies of a payload were refused and why: in full, and as
  a partner customs (off the route: it sees the verdict, not the records) may read it
  (`CheckResult.as_dict(partner=True)`). Codes and records are the same in both.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from eth_utils.crypto import keccak
from pydantic import ValidationError

from ledger_api.domain import merkle
from ledger_api.domain.custody import TRUSTED, ConsignmentState, CustodyRuleError, advance, check
from ledger_api.domain.facts import PartyCheckpoint, PartyFact, RecordFact, VerificationInput
from ledger_api.domain.hashing import keccak256
from ledger_api.domain.parties import CUSTODIAN_ROLES, PartyStatus, Role, status_name
from ledger_api.domain.payloads import (
    CustodyPayload,
    DecisionPayload,
    DeclarationPayload,
    Payload,
    RevocationPayload,
    canonical_json,
    parse_payload,
)
from ledger_api.domain.records import (
    ZERO_ADDRESS,
    RecordKind,
    SignatureError,
    domain_separator,
    fast_record_id,
    fast_recover,
)

__all__ = [
    "CHECKS",
    "CHECK_NAMES",
    "INCOMPLETE_REASONS",
    "PUBLISHED_REASON_CODES",
    "REASON_CODES",
    "CheckResult",
    "Reason",
    "Status",
    "Verdict",
    "VerificationResult",
    "check_aeo_recognition",
    "check_confirmations",
    "check_custody_continuity",
    "check_declaration",
    "check_export_release",
    "check_payload_integrity",
    "check_record_signature",
    "check_revocation",
    "check_signer_authority",
    "verdict_of",
    "verify",
]


class Status(StrEnum):
    VALID = "VALID"
    INVALID = "INVALID"
    ERROR = "ERROR"  # the check could not be made (facts or payloads missing)
    SKIPPED = "SKIPPED"  # the check does not apply (nothing to check it against)


class Verdict(StrEnum):
    VERIFIED = "VERIFIED"
    FAILED = "FAILED"
    INCOMPLETE = "INCOMPLETE"


# Append-only: add new codes at the end with the next number; never rename or renumber.
REASON_CODES: dict[str, int] = {
    "OK": 0,
    "SIGNATURE_INVALID": 1,  # malformed, malleable or unrecoverable signature
    "SIGNER_MISMATCH": 2,  # the signature recovers to someone other than record.party
    "RECORD_ID_MISMATCH": 3,  # the record's EIP-712 digest is not the id the chain knows
    "PAYLOAD_MISSING": 4,
    "PAYLOAD_HASH_MISMATCH": 5,  # keccak256(payload) is not the record's payloadHash
    "PAYLOAD_INVALID": 6,  # does not parse, or is not in canonical form
    "PAYLOAD_KIND_MISMATCH": 7,  # payload family differs from the record's kind
    "CONSIGNMENT_MISMATCH": 8,  # record or payload belongs to another consignment
    "PROOF_INVALID": 9,  # Merkle inclusion proof missing or does not reach the batch root
    "ROOT_NOT_ANCHORED": 10,  # the batch root is not anchored on chain
    "RECORD_NOT_ON_CHAIN": 11,  # the chain has no RecordWritten event for a single record
    "SIGNER_NOT_REGISTERED": 12,
    "SIGNER_NOT_ACTIVE": 13,  # suspended or revoked at the record's block
    "SIGNER_LACKS_ROLE": 14,
    "BROKEN_HASH_CHAIN": 15,
    "CUSTODY_GAP": 16,  # handover never accepted, acceptance without handover, non-custodian handover
    "ACCEPTED_BY_WRONG_PARTY": 17,
    "TIME_NOT_MONOTONIC": 18,
    "SEAL_CHANGE_UNEXPLAINED": 19,
    "CONTAINER_CHANGE_UNEXPLAINED": 20,
    "IN_TRANSIT": 21,  # the last handover awaits acceptance
    "DECLARATION_MISSING": 22,
    "DECLARATION_DUPLICATE": 23,
    "DECLARATION_NOT_FIRST": 24,
    "DECLARATION_NOT_BY_EXPORTER": 25,
    "DECLARATION_INVALID": 26,  # the declaration's payload does not validate (HS codes, countries…)
    "ORIGIN_MISMATCH": 27,  # origin country vs the country where custody began
    "EXPORT_NOT_RELEASED": 28,
    "EXPORT_RELEASE_WRONG_AUTHORITY": 29,  # released, but not by customs of the origin country
    "REVOKED_WITHOUT_REPLACEMENT": 30,
    "REVOCATION_TARGET_UNKNOWN": 31,  # a revocation names a record not in this consignment
    "PARTY_SUSPENDED_WHEN_WRITING": 32,
    "AEO_NOT_RECOGNISED": 33,
    "AEO_FACTS_MISSING": 34,
    "AEO_FACTS_MISMATCH": 35,  # recognition facts about another operator or country
    "CONFIRMATIONS_PENDING": 36,
    "RECORD_PENDING": 37,  # not on chain as of the block asked
    "PAYLOAD_UNAVAILABLE": 38,  # on chain, but its payload is not held here (not obtained from any instance)
    "PAYLOAD_REFUSED_FROM_PEER": 39,  # a peer served a payload that does not match the chain; none good is held
    "CHAIN_HEAD_UNEXPLAINED": 40,  # the head on chain is not the end of the hash chain rebuilt here
    "SIGNER_NOT_ON_ROUTE": 41,  # customs of a country not on the route decided or revoked
}
PUBLISHED_REASON_CODES: Mapping[str, int] = MappingProxyType(dict(REASON_CODES))

# Reasons that mean "not yet", not "wrong": they make a verdict INCOMPLETE, never FAILED.
INCOMPLETE_REASONS: frozenset[str] = frozenset({"CONFIRMATIONS_PENDING", "RECORD_PENDING", "IN_TRANSIT"})


@dataclass(frozen=True)
class Reason:
    code: str
    number: int
    message: str
    partner_message: str | None = None  # the message for a partner customs; None: the same

    @classmethod
    def of(cls, code: str, message: str, partner_message: str | None = None) -> Reason:
        return cls(code, PUBLISHED_REASON_CODES[code], message, partner_message)

    def as_dict(self, *, partner: bool = False) -> dict[str, Any]:
        message = self.partner_message if partner and self.partner_message is not None else self.message
        return {"code": self.code, "number": self.number, "message": message}


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    reason: Reason
    records: tuple[str, ...]  # ids the check concerns; the offending ones when INVALID

    def as_dict(self, *, partner: bool = False) -> dict[str, Any]:
        """The check as the verification answers it; `partner`: as a partner customs reads it."""
        return {
            "name": self.name,
            "status": str(self.status),
            "reason": self.reason.as_dict(partner=partner),
            "records": list(self.records),
        }


@dataclass(frozen=True)
class VerificationResult:
    verdict: Verdict
    checks: tuple[CheckResult, ...]
    as_of_block: int
    ucr: str

    def check(self, name: str) -> CheckResult:
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ucr": self.ucr,
            "as_of_block": self.as_of_block,
            "verdict": str(self.verdict),
            "checks": [c.as_dict() for c in self.checks],
        }


# ---------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _Offence:
    code: str
    record: str
    message: str
    partner_message: str | None = None  # without the seals, containers, places, refusals it names; None: same

    @property
    def for_partner(self) -> str:
        return self.message if self.partner_message is None else self.partner_message


def _valid(name: str, message: str, records: Iterable[str]) -> CheckResult:
    return CheckResult(name, Status.VALID, Reason.of("OK", message), tuple(records))


def _judge(
    name: str,
    offences: list[_Offence],
    ok_message: str,
    concerned: Iterable[str],
    unreadable: list[_Offence] | None = None,
) -> CheckResult:
    """INVALID with the first offence's code if any; else ERROR if some payload the check
    needed could not be read; else VALID."""
    for found, status in ((offences, Status.INVALID), (unreadable or [], Status.ERROR)):
        if found:
            ids = tuple(dict.fromkeys(o.record for o in found))
            message = "; ".join(o.message for o in found)
            partner = "; ".join(o.for_partner for o in found) if any(o.partner_message for o in found) else None
            return CheckResult(name, status, Reason.of(found[0].code, message, partner), ids)
    return _valid(name, ok_message, concerned)


def _short(value: str) -> str:
    return value[:10] + "…" if len(value) > 12 else value


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def _hex_bytes(value: str) -> bytes:
    return bytes.fromhex(value[2:] if value.startswith(("0x", "0X")) else value)


def _id_hex(value: bytes) -> str:
    return "0x" + value.hex()


def _parties(inp: VerificationInput) -> dict[str, PartyFact]:
    return {address.lower(): fact for address, fact in inp.parties.items()}


def _on_chain_block(fact: RecordFact, as_of_block: int) -> int | None:
    """The block the record is on chain at, or None if it is not on chain as of the block asked."""
    if fact.block_number is None or fact.block_number > as_of_block:
        return None
    return fact.block_number


def _standing_block(fact: RecordFact, as_of_block: int) -> int:
    """The block at which a signer's standing is judged: its record's, or the block asked."""
    block = _on_chain_block(fact, as_of_block)
    return as_of_block if block is None else block


def _standing(parties: dict[str, PartyFact], fact: RecordFact, as_of_block: int) -> PartyCheckpoint | None:
    party = parties.get(fact.record.party.lower())
    return None if party is None else party.at(_standing_block(fact, as_of_block))


@lru_cache(maxsize=4096)
def _read(canonical: bytes) -> Payload | str:
    """The payload the bytes hold, or why they hold none. Cached: every check reads the
    same payloads, and the models are frozen."""
    try:
        parsed = parse_payload(canonical)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(part) for part in error["loc"]) for error in exc.errors()[:3])
        return f"does not validate ({fields})"
    if canonical_json(parsed) != canonical:
        return "is not in canonical form"
    return parsed


@lru_cache(maxsize=4096)
def _payload_digest(canonical: bytes) -> bytes:
    """keccak256 of a payload's bytes, once per bytes: the checks ask it of each record
    several times in one verdict (a pure function of the bytes, compared with the chain's
    payloadHash each time)."""
    return keccak256(canonical)


# Why a record on chain has no payload here: not wrong, not yet known (ERROR, never INVALID).
_UNAVAILABLE = frozenset({"PAYLOAD_UNAVAILABLE", "PAYLOAD_REFUSED_FROM_PEER"})


def _payload_problem(fact: RecordFact) -> tuple[str, str] | None:
    """Why the stored payload cannot be trusted (code, message), or None."""
    if fact.payload_canonical is None and not fact.held:
        if fact.refusals:
            served = "; ".join(f"{r.peer_authority} at {r.peer_url}: {r.reason}" for r in fact.refusals)
            return (
                "PAYLOAD_REFUSED_FROM_PEER",
                f"record {_short(fact.id)} is on chain; the payloads served of it do not match the chain ({served}), "
                "and no good copy is held",
            )
        return (
            "PAYLOAD_UNAVAILABLE",
            f"record {_short(fact.id)} is on chain, but its payload is not held here: not obtained from the "
            "instance that wrote it, or not this authority's to see",
        )
    if fact.payload_canonical is None:
        return "PAYLOAD_MISSING", f"record {_short(fact.id)} has no stored payload"
    if _payload_digest(fact.payload_canonical) != fact.record.payload_hash:
        return "PAYLOAD_HASH_MISMATCH", f"record {_short(fact.id)}'s payload does not hash to its payloadHash"
    read = _read(fact.payload_canonical)
    if isinstance(read, str):
        return "PAYLOAD_INVALID", f"record {_short(fact.id)}'s payload {read}"
    return None


def _refusals_withheld(fact: RecordFact, code: str) -> str | None:
    """PAYLOAD_REFUSED_FROM_PEER as a partner customs reads it: without the peers asked and
    why their copies were refused (exchanges between the route's authorities)."""
    if code != "PAYLOAD_REFUSED_FROM_PEER":
        return None
    return (
        f"record {_short(fact.id)} is on chain; the payloads served of it do not match the chain, "
        "and no good copy is held"
    )


def _payload(fact: RecordFact) -> Payload | None:
    """The record's payload, only if it hashes to the record's anchor and validates."""
    if fact.payload_canonical is None or _payload_problem(fact) is not None:
        return None
    read = _read(fact.payload_canonical)
    return None if isinstance(read, str) else read


def _unreadable(fact: RecordFact, what: str) -> _Offence:
    """A record whose payload a check needed but could not use."""
    problem = _payload_problem(fact)
    code = "PAYLOAD_KIND_MISMATCH" if problem is None else problem[0]
    return _Offence(code, fact.id, f"{what} {_short(fact.id)} has no payload of its kind that can be trusted")


def _declaration(inp: VerificationInput) -> RecordFact | None:
    return next((f for f in inp.records if f.record.kind == RecordKind.DECLARATION), None)


def _all_ids(inp: VerificationInput) -> tuple[str, ...]:
    return tuple(f.id for f in inp.records)


# ---------------------------------------------------------------- checks


def check_record_signature(inp: VerificationInput) -> CheckResult:
    """Every record's EIP-712 digest is the id the chain knows, and recovers to its party.
    A record's `signer`, when given (what its signature recovered to when the service held
    it), is taken as the recovery's answer: its digest is still re-derived here from its
    fields and compared with the id the chain knows."""
    separator = domain_separator(inp.domain)
    offences: list[_Offence] = []
    for fact in inp.records:
        if not fact.held:
            # Known from the chain alone: the contract recovered its signer when it wrote it.
            if not fact.written_on_chain:
                offences.append(
                    _Offence("SIGNATURE_INVALID", fact.id, f"record {_short(fact.id)} is neither held nor on chain")
                )
            continue
        if fact.signature is None:
            offences.append(_Offence("SIGNATURE_INVALID", fact.id, f"record {_short(fact.id)} carries no signature"))
            continue
        try:
            digest = fast_record_id(fact.record, separator)
        except ValueError as exc:  # an address or hash field that is not hex
            offences.append(_Offence("RECORD_ID_MISMATCH", fact.id, f"record {_short(fact.id)} is malformed: {exc}"))
            continue
        if not _same(_id_hex(digest), fact.id):
            offences.append(
                _Offence("RECORD_ID_MISMATCH", fact.id, f"record {_short(fact.id)} hashes to {_short(_id_hex(digest))}")
            )
            continue
        try:
            signer = fact.signer if fact.signer is not None else fast_recover(digest, fact.signature)
        except SignatureError as exc:
            offences.append(_Offence("SIGNATURE_INVALID", fact.id, f"record {_short(fact.id)}: {exc}"))
            continue
        if not _same(signer, fact.record.party):
            offences.append(
                _Offence(
                    "SIGNER_MISMATCH",
                    fact.id,
                    f"record {_short(fact.id)} names {fact.record.party} but was signed by {signer}",
                )
            )
    return _judge("RECORD_SIGNATURE", offences, "every record is signed by the party it names", _all_ids(inp))


def check_payload_integrity(inp: VerificationInput) -> CheckResult:
    """Every payload is stored, canonical, hashes to its anchor and belongs to this
    consignment; batch records prove inclusion in an anchored root; single records were
    written on chain. Records not yet on chain are left to CONFIRMATIONS. A record on chain
    whose payload is not held here is ERROR (PAYLOAD_UNAVAILABLE, or
    PAYLOAD_REFUSED_FROM_PEER when the copies peers served did not match), not INVALID."""
    offences: list[_Offence] = []
    unavailable: list[_Offence] = []
    for fact in inp.records:
        short = _short(fact.id)
        problem = _payload_problem(fact)
        if problem is not None and problem[0] in _UNAVAILABLE:
            unavailable.append(_Offence(problem[0], fact.id, problem[1], _refusals_withheld(fact, problem[0])))
        elif problem is not None:
            offences.append(_Offence(problem[0], fact.id, problem[1]))
        elif fact.payload is not None and json.loads(fact.payload_canonical or b"null") != fact.payload:
            offences.append(
                _Offence("PAYLOAD_INVALID", fact.id, f"record {short}'s parsed payload differs from its bytes")
            )
        elif (payload := _payload(fact)) is not None:
            if payload.kind != fact.record.kind.name:
                offences.append(
                    _Offence(
                        "PAYLOAD_KIND_MISMATCH",
                        fact.id,
                        f"record {short} is a {fact.record.kind.name} carrying a {payload.kind} payload",
                    )
                )
            if payload.ucr != inp.ucr:
                offences.append(
                    _Offence("CONSIGNMENT_MISMATCH", fact.id, f"record {short}'s payload is about {payload.ucr}")
                )
        if fact.record.consignment != inp.consignment:
            offences.append(_Offence("CONSIGNMENT_MISMATCH", fact.id, f"record {short} is of another consignment"))
        offences.extend(_anchoring_offences(fact, inp.as_of_block))
    return _judge(
        "PAYLOAD_INTEGRITY",
        offences,
        "every payload hashes to its on-chain anchor; proofs hold",
        _all_ids(inp),
        unavailable,
    )


def _anchoring_offences(fact: RecordFact, as_of_block: int) -> list[_Offence]:
    short = _short(fact.id)
    pending = _on_chain_block(fact, as_of_block) is None
    if fact.mode == "batch":
        if fact.batch_root is None or fact.inclusion_proof is None:
            return [_Offence("PROOF_INVALID", fact.id, f"batch record {short} has no inclusion proof")]
        try:
            holds = merkle.verify(
                _hex_bytes(fact.batch_root), _hex_bytes(fact.id), [_hex_bytes(p) for p in fact.inclusion_proof]
            )
        except ValueError:
            holds = False
        if not holds:
            return [
                _Offence(
                    "PROOF_INVALID", fact.id, f"batch record {short}'s proof does not reach root {fact.batch_root}"
                )
            ]
        if not pending and fact.root_anchored_block is None:
            return [_Offence("ROOT_NOT_ANCHORED", fact.id, f"root {fact.batch_root} of record {short} is not anchored")]
        return []
    if fact.mode == "single":
        if not pending and fact.written_on_chain is False:
            return [_Offence("RECORD_NOT_ON_CHAIN", fact.id, f"the chain has no record {short}")]
        return []
    return [_Offence("RECORD_NOT_ON_CHAIN", fact.id, f"record {short} has unknown mode {fact.mode!r}")]


_NEEDED_ROLES: dict[RecordKind, tuple[int, str]] = {
    RecordKind.DECLARATION: (Role.EXPORTER, "EXPORTER"),
    RecordKind.HANDOVER: (CUSTODIAN_ROLES, "a custodian role"),
    RecordKind.ACCEPTANCE: (CUSTODIAN_ROLES, "a custodian role"),
    RecordKind.CUSTOMS_DECISION: (Role.CUSTOMS, "CUSTOMS"),
    RecordKind.REVOCATION: (CUSTODIAN_ROLES | Role.CUSTOMS, "a custodian role or CUSTOMS"),
    RecordKind.TRANSIT: (CUSTODIAN_ROLES, "a custodian role"),
}


@dataclass(frozen=True)
class _Step:
    """A record as the custody rules (domain/custody.py) see it in its place: the
    consignment before it, and the rule it breaks, if any."""

    fact: RecordFact
    before: ConsignmentState
    broken: CustodyRuleError | None


# The last input walked and its walk: two checks walk the same input, one after the other.
_last_walk: tuple[VerificationInput, tuple[list[_Step], ConsignmentState]] | None = None


def _custody_walk(inp: VerificationInput) -> tuple[list[_Step], ConsignmentState]:
    """`_walk(inp)`, once for the input the checks are judging (frozen: the walk of the
    same object is the same), not once per check."""
    global _last_walk
    last = _last_walk
    if last is not None and last[0] is inp:
        return last[1]
    walked = _walk(inp)
    _last_walk = (inp, walked)
    return walked


def _walk(inp: VerificationInput) -> tuple[list[_Step], ConsignmentState]:
    """The records replayed through the custody rules, each judged against the state the
    records before it left and then moved on by what it claims, whatever the verdict:
    the rules are custody.py's (those the contract enforces), its parties' standing aside
    (SIGNER_AUTHORITY judges that, at each record's block) and its `previous` aside (the
    hash chain is judged on its own)."""
    steps: list[_Step] = []
    state = ConsignmentState()
    for fact in inp.records:
        broken = None
        try:
            check(state, replace(fact.record, previous=state.head), TRUSTED, TRUSTED)
        except CustodyRuleError as exc:
            broken = exc
        steps.append(_Step(fact, state, broken))
        try:
            record_id = _hex_bytes(fact.id)
        except ValueError:  # RECORD_SIGNATURE names a malformed id
            record_id = keccak(text=fact.id)
        state = advance(state, fact.record, record_id)
    return steps, state


def check_signer_authority(inp: VerificationInput) -> CheckResult:
    """At each record's block (the block asked, if it is not on chain yet), its signer was
    registered, active (else SIGNER_NOT_ACTIVE) and held the role the record's kind needs;
    a revocation by anyone but the custodian is customs'; customs decide and revoke only
    on the consignment's route as it stood (SIGNER_NOT_ON_ROUTE: the contract checks it of
    records written one by one, not of batch records)."""
    parties = _parties(inp)
    offences: list[_Offence] = []
    for step in _custody_walk(inp)[0]:
        fact = step.fact
        party, block = fact.record.party, _standing_block(fact, inp.as_of_block)
        standing = _standing(parties, fact, inp.as_of_block)
        if standing is None or standing.status == PartyStatus.UNREGISTERED:
            offences.append(_Offence("SIGNER_NOT_REGISTERED", fact.id, f"{party} was not registered at block {block}"))
            continue
        if standing.status != PartyStatus.ACTIVE:
            status = status_name(standing.status)
            offences.append(_Offence("SIGNER_NOT_ACTIVE", fact.id, f"{party} was {status} at block {block}"))
            continue
        kind = fact.record.kind
        roles, needed = _NEEDED_ROLES[kind]
        acts_as_customs = kind == RecordKind.CUSTOMS_DECISION or (
            kind == RecordKind.REVOCATION and step.before.declared and not _same(party, step.before.custodian)
        )
        if acts_as_customs:
            roles, needed = Role.CUSTOMS, "CUSTOMS" if kind == RecordKind.CUSTOMS_DECISION else "CUSTOMS (or custody)"
        if not int(standing.roles) & int(roles):  # plain ints: an enum result per record is slow
            offences.append(
                _Offence(
                    "SIGNER_LACKS_ROLE",
                    fact.id,
                    f"{party} did not hold {needed} to write a {kind.name} at block {block}",
                )
            )
            continue
        country = parties[party.lower()].country
        if acts_as_customs and step.before.declared and not step.before.on_route(country):
            offences.append(
                _Offence(
                    "SIGNER_NOT_ON_ROUTE",
                    fact.id,
                    f"{party} is customs of {country}, not of a country on the route "
                    f"({', '.join(step.before.route)}) when it wrote {kind.name} {_short(fact.id)}",
                )
            )
    return _judge("SIGNER_AUTHORITY", offences, "every signer was active and held the role it needed", _all_ids(inp))


def _custody_offence(step: _Step, pending_handover: str) -> _Offence | None:
    """The published reason for the custody rule a record breaks (domain/custody.py's
    codes), or None for one another check reports (a second declaration: DECLARATION)."""
    error, fact, before = step.broken, step.fact, step.before
    if error is None or error.code == "CONSIGNMENT_EXISTS":
        return None
    record, short = fact.record, _short(fact.id)
    what = f"{record.kind.name.lower().replace('_', ' ')} {short}"
    if error.code == "NOT_PENDING_CUSTODIAN" and before.pending_custodian != ZERO_ADDRESS:
        return _Offence(
            "ACCEPTED_BY_WRONG_PARTY",
            fact.id,
            f"acceptance {short} signed by {record.party}, handover was to {before.pending_custodian}",
            f"acceptance {short} signed by another party than the handover named",
        )
    # A partner customs reads the consignment's parties nowhere (the consignee may be the
    # custodian named): the same sentence without the addresses.
    partner_messages = {
        "NOT_CUSTODIAN": f"{what} by a party that was not the custodian",
        "HANDOVER_PENDING": f"handover {short} while handover {_short(pending_handover)} was never accepted",
        "INVALID_COUNTERPARTY": f"{what} names a counterparty it may not: {error.public}",
    }
    messages = {
        "UNKNOWN_CONSIGNMENT": f"{what} comes before any declaration: custody began nowhere",
        "NOT_CUSTODIAN": f"{what} by {record.party}, not the custodian {before.custodian}",
        "HANDOVER_PENDING": (
            f"handover {short} while handover {_short(pending_handover)} to {before.pending_custodian} "
            "was never accepted"
        ),
        "NOT_PENDING_CUSTODIAN": f"acceptance {short} with no handover pending",
        "INVALID_COUNTERPARTY": f"{what} names {record.counterparty}: {error.message}",
    }
    return _Offence(
        "CUSTODY_GAP",
        fact.id,
        messages.get(error.code, f"{what}: {error.message}"),
        partner_messages.get(error.code, f"{what}: {error.public}"),
    )


def check_custody_continuity(inp: VerificationInput) -> CheckResult:
    """Replays the records: hash chain; the custody rules of domain/custody.py (every
    handover accepted by exactly the named party before the next handover, only the
    custodian hands over or declares transit, …); custody times monotonic; containers and
    seals as in the previous custody record (or the declaration) unless the record says
    why. The consignment's head on chain must be the last record on chain here
    (CHAIN_HEAD_UNEXPLAINED, ERROR: records this instance does not know)."""
    offences: list[_Offence] = []
    unreadable: list[_Offence] = []
    previous = bytes(32)
    for fact in inp.records:
        if fact.record.previous != previous:
            expected = "zero (first record)" if previous == bytes(32) else _short(_id_hex(previous))
            offences.append(
                _Offence("BROKEN_HASH_CHAIN", fact.id, f"record {_short(fact.id)}'s previous is not {expected}")
            )
        try:
            previous = _hex_bytes(fact.id)
        except ValueError:
            previous = b""

    pending_handover = ""
    last_time: datetime | None = None
    containers: frozenset[str] | None = None
    seals: frozenset[str] | None = None
    steps, after = _custody_walk(inp)
    for step in steps:
        fact = step.fact
        short, kind = _short(fact.id), fact.record.kind
        offence = _custody_offence(step, pending_handover)
        if offence is not None:
            offences.append(offence)
        if kind == RecordKind.HANDOVER:
            pending_handover = fact.id
        payload = _payload(fact)
        if kind == RecordKind.DECLARATION:
            if not step.before.declared and isinstance(payload, DeclarationPayload):
                containers, seals = frozenset(payload.containers), frozenset(payload.seals)
            continue
        if kind not in (RecordKind.HANDOVER, RecordKind.ACCEPTANCE):
            continue  # a transit, decision or revocation moves no goods: nothing of its payload to compare
        if offence is not None and offence.code == "ACCEPTED_BY_WRONG_PARTY":
            continue  # not the goods' next custodian: its time, containers and seals say nothing of them

        # A custody record (handover or acceptance): time, containers and seals.
        if not isinstance(payload, CustodyPayload):
            unreadable.append(_unreadable(fact, "custody record"))
            continue
        if last_time is not None and payload.time < last_time:
            offences.append(
                _Offence(
                    "TIME_NOT_MONOTONIC",
                    fact.id,
                    f"custody record {short} at {payload.time.isoformat()} is before {last_time.isoformat()}",
                )
            )
        last_time = payload.time if last_time is None else max(last_time, payload.time)
        explained = bool(payload.seal_change_reason and payload.seal_change_reason.strip())
        now_containers, now_seals = frozenset(payload.containers), frozenset(payload.seals)
        if containers is not None and now_containers != containers and not explained:
            offences.append(
                _Offence(
                    "CONTAINER_CHANGE_UNEXPLAINED",
                    fact.id,
                    f"custody record {short} has containers {sorted(now_containers)}, before {sorted(containers)}",
                    f"custody record {short} has other containers than before",
                )
            )
        if seals is not None and now_seals != seals and not explained:
            offences.append(
                _Offence(
                    "SEAL_CHANGE_UNEXPLAINED",
                    fact.id,
                    f"custody record {short} has seals {sorted(now_seals)}, before {sorted(seals)}",
                    f"custody record {short} has other seals than before",
                )
            )
        containers, seals = now_containers, now_seals

    head = _unexplained_head(inp)
    if head is not None:
        unreadable.append(head)
    result = _judge(
        "CUSTODY_CONTINUITY", offences, "custody moved only when both sides signed", _all_ids(inp), unreadable
    )
    if result.status == Status.VALID and after.pending_custodian != ZERO_ADDRESS:
        reason = Reason.of(
            "IN_TRANSIT",
            f"handover {_short(pending_handover)} to {after.pending_custodian} awaits acceptance",
            f"handover {_short(pending_handover)} awaits acceptance",
        )
        return CheckResult("CUSTODY_CONTINUITY", Status.VALID, reason, (pending_handover,))
    return result


def _unexplained_head(inp: VerificationInput) -> _Offence | None:
    """The consignment's head on chain, if it is not the last record on chain here."""
    if inp.chain_head is None:
        return None
    written = [f for f in inp.records if f.mode == "single" and _on_chain_block(f, inp.as_of_block) is not None]
    last = written[-1].id if written else None
    if last is not None and _same(last, inp.chain_head):
        return None
    here = f"the last record on chain here is {_short(last)}" if last else "no record of it on chain is known here"
    return _Offence(
        "CHAIN_HEAD_UNEXPLAINED",
        inp.chain_head,
        f"the consignment's head on chain is {_short(inp.chain_head)}, but {here}: records between are not known",
    )


def check_declaration(inp: VerificationInput) -> CheckResult:
    """Exactly one declaration, first, by a party with the EXPORTER role at its block, with a
    valid payload whose origin is the country where custody began."""
    name = "DECLARATION"
    declarations = [f for f in inp.records if f.record.kind == RecordKind.DECLARATION]
    if not inp.records:
        return CheckResult(name, Status.SKIPPED, Reason.of("DECLARATION_MISSING", "the consignment has no records"), ())
    if not declarations:
        reason = Reason.of("DECLARATION_MISSING", "the consignment's records include no declaration")
        return CheckResult(name, Status.INVALID, reason, ())
    first = declarations[0]
    offences: list[_Offence] = []
    if inp.records[0] is not first:
        offences.append(_Offence("DECLARATION_NOT_FIRST", first.id, f"declaration {_short(first.id)} is not first"))
    offences.extend(
        _Offence("DECLARATION_DUPLICATE", extra.id, f"second declaration {_short(extra.id)}")
        for extra in declarations[1:]
    )
    standing = _standing(_parties(inp), first, inp.as_of_block)
    if standing is None or not standing.roles & Role.EXPORTER:
        offences.append(
            _Offence(
                "DECLARATION_NOT_BY_EXPORTER",
                first.id,
                f"declaration signed by {first.record.party}, not a registered exporter",
            )
        )
    unreadable: list[_Offence] = []
    payload = _payload(first)
    problem = _payload_problem(first)
    if isinstance(payload, DeclarationPayload):
        custody = next((f for f in inp.records if f.record.kind in (RecordKind.HANDOVER, RecordKind.ACCEPTANCE)), None)
        custody_payload = None if custody is None else _payload(custody)
        if custody is not None and isinstance(custody_payload, CustodyPayload):
            where = custody_payload.location[:2]
            if where != payload.origin_country:
                offences.append(
                    _Offence(
                        "ORIGIN_MISMATCH",
                        first.id,
                        f"origin {payload.origin_country}, but custody began in {custody_payload.location} ({where})",
                        f"origin {payload.origin_country}, but custody began in {where}",
                    )
                )
        elif custody is not None:
            unreadable.append(_unreadable(custody, "first custody record"))
    elif problem is not None and problem[0] == "PAYLOAD_INVALID":
        offences.append(_Offence("DECLARATION_INVALID", first.id, f"declaration payload is invalid: {problem[1]}"))
    else:
        unreadable.append(_unreadable(first, "declaration"))
    return _judge(name, offences, "declared by the exporter; origin matches", (first.id,), unreadable)


def check_export_release(inp: VerificationInput) -> CheckResult:
    """Customs of the declared origin country released the consignment for export: the
    decision names the origin country as authority and is signed by a party of that
    country holding the CUSTOMS role at its block. A release later revoked does not count."""
    name = "EXPORT_RELEASE"
    first = _declaration(inp)
    declaration = None if first is None else _payload(first)
    if first is None:
        return CheckResult(name, Status.SKIPPED, Reason.of("DECLARATION_MISSING", "nothing declared to release"), ())
    if not isinstance(declaration, DeclarationPayload):
        return CheckResult(
            name, Status.SKIPPED, Reason.of("DECLARATION_INVALID", "the declaration cannot be read"), (first.id,)
        )
    origin = declaration.origin_country
    revoked = _revoked_ids(inp)
    parties = _parties(inp)
    wrong: list[_Offence] = []
    unreadable: list[_Offence] = []
    for fact in inp.records:
        if fact.record.kind != RecordKind.CUSTOMS_DECISION or fact.id.lower() in revoked:
            continue
        payload = _payload(fact)
        if not isinstance(payload, DecisionPayload):
            unreadable.append(_unreadable(fact, "customs decision"))
            continue
        if payload.decision != "EXPORT_RELEASE":
            continue
        signer = parties.get(fact.record.party.lower())
        signer_country = None if signer is None else signer.country
        standing = _standing(parties, fact, inp.as_of_block)
        is_customs = standing is not None and bool(standing.roles & Role.CUSTOMS)
        if payload.authority_country == origin and signer_country == origin and is_customs:
            return _valid(name, f"released for export by customs of {origin}", (fact.id,))
        wrong.append(
            _Offence(
                "EXPORT_RELEASE_WRONG_AUTHORITY",
                fact.id,
                f"release {_short(fact.id)} by authority {payload.authority_country} signed by "
                f"{'customs' if is_customs else 'a non-customs party'} of {signer_country}, origin is {origin}",
            )
        )
    if wrong:
        return _judge(name, wrong, "", ())
    if unreadable:
        return _judge(name, [], "", (), unreadable)
    reason = Reason.of("EXPORT_NOT_RELEASED", f"no export release by customs of {origin}")
    return CheckResult(name, Status.INVALID, reason, (first.id,))


def _revoked_ids(inp: VerificationInput) -> set[str]:
    revoked: set[str] = set()
    for fact in inp.records:
        payload = _payload(fact) if fact.record.kind == RecordKind.REVOCATION else None
        if isinstance(payload, RevocationPayload):
            revoked.add(payload.revoked_record.lower())
    return revoked


def check_revocation(inp: VerificationInput) -> CheckResult:
    """No record revoked without a replacement among the consignment's records (a
    custodian cancelling its pending handover needs none), and no record written by a
    party that was suspended or revoked at its block."""
    by_id = {f.id.lower(): f for f in inp.records}
    parties = _parties(inp)
    offences: list[_Offence] = []
    unreadable: list[_Offence] = []
    concerned: list[str] = []
    for fact in inp.records:
        short = _short(fact.id)
        standing = _standing(parties, fact, inp.as_of_block)
        if standing is not None and standing.status in (PartyStatus.SUSPENDED, PartyStatus.REVOKED):
            status = status_name(standing.status)
            block = _standing_block(fact, inp.as_of_block)
            offences.append(
                _Offence(
                    "PARTY_SUSPENDED_WHEN_WRITING",
                    fact.id,
                    f"{fact.record.party} was {status} at block {block} when it wrote {short}",
                )
            )
        if fact.record.kind != RecordKind.REVOCATION:
            continue
        concerned.append(fact.id)
        payload = _payload(fact)
        if not isinstance(payload, RevocationPayload):
            unreadable.append(_unreadable(fact, "revocation"))
            continue
        target = by_id.get(payload.revoked_record)
        if target is None:
            offences.append(
                _Offence("REVOCATION_TARGET_UNKNOWN", fact.id, f"{short} revokes unknown {payload.revoked_record}")
            )
            continue
        cancels_handover = (
            target.record.kind == RecordKind.HANDOVER
            and fact.record.counterparty != ZERO_ADDRESS
            and _same(fact.record.counterparty, target.record.counterparty)
        )
        replaced = payload.replacement_record is not None and payload.replacement_record in by_id
        if not replaced and not cancels_handover:
            offences.append(
                _Offence(
                    "REVOKED_WITHOUT_REPLACEMENT",
                    fact.id,
                    f"{short} revokes {_short(target.id)} without a replacement in the consignment",
                )
            )
    return _judge("REVOCATION", offences, "nothing revoked without replacement", concerned, unreadable)


def check_aeo_recognition(inp: VerificationInput) -> CheckResult:
    """The exporter's AEO status is recognised by the verifying country at the time that
    matters (the facts say which)."""
    name = "AEO_RECOGNITION"
    first = _declaration(inp)
    if first is None:
        return CheckResult(name, Status.SKIPPED, Reason.of("DECLARATION_MISSING", "no exporter to recognise"), ())
    fact = inp.recognition
    if fact is None:
        reason = Reason.of("AEO_FACTS_MISSING", f"no recognition facts for {first.record.party}")
        return CheckResult(name, Status.ERROR, reason, (first.id,))
    if not _same(fact.operator, first.record.party) or fact.country != inp.verifying_country:
        reason = Reason.of(
            "AEO_FACTS_MISMATCH",
            f"facts are about {fact.operator} in {fact.country}, not {first.record.party} in {inp.verifying_country}",
        )
        return CheckResult(name, Status.ERROR, reason, (first.id,))
    if not fact.recognised:
        reason = Reason.of(
            "AEO_NOT_RECOGNISED", f"{fact.operator} is not recognised by {fact.country} at {fact.at}: {fact.reason}"
        )
        return CheckResult(name, Status.INVALID, reason, (first.id,))
    under = f" under MRA {fact.mra_id}" if fact.mra_id is not None else ""
    programme = f" ({fact.programme})" if fact.programme else ""
    return _valid(name, f"{fact.operator} is a recognised AEO{programme} in {fact.country}{under}", (first.id,))


def check_confirmations(inp: VerificationInput) -> CheckResult:
    """Every record is on chain as of the block asked, with at least the required
    confirmations counted up to that block."""
    offences: list[_Offence] = []
    for fact in inp.records:
        block = _on_chain_block(fact, inp.as_of_block)
        if block is None:
            offences.append(
                _Offence("RECORD_PENDING", fact.id, f"record {_short(fact.id)} is not on chain at {inp.as_of_block}")
            )
            continue
        confirmations = min(fact.confirmations, inp.as_of_block - block + 1)
        if confirmations < inp.confirmations_required:
            offences.append(
                _Offence(
                    "CONFIRMATIONS_PENDING",
                    fact.id,
                    f"record {_short(fact.id)} has {confirmations} of {inp.confirmations_required} confirmations",
                )
            )
    return _judge("CONFIRMATIONS", offences, "every record is confirmed", _all_ids(inp))


# ---------------------------------------------------------------- verdict

CHECKS: tuple[tuple[str, Callable[[VerificationInput], CheckResult]], ...] = (
    ("RECORD_SIGNATURE", check_record_signature),
    ("PAYLOAD_INTEGRITY", check_payload_integrity),
    ("SIGNER_AUTHORITY", check_signer_authority),
    ("CUSTODY_CONTINUITY", check_custody_continuity),
    ("DECLARATION", check_declaration),
    ("EXPORT_RELEASE", check_export_release),
    ("REVOCATION", check_revocation),
    ("AEO_RECOGNITION", check_aeo_recognition),
    ("CONFIRMATIONS", check_confirmations),
)
CHECK_NAMES: tuple[str, ...] = tuple(name for name, _ in CHECKS)


def verdict_of(checks: Iterable[CheckResult]) -> Verdict:
    """FAILED on any INVALID with a reason that is not "not yet"; else INCOMPLETE on any
    ERROR, SKIPPED or "not yet" reason; else VERIFIED."""
    checks = tuple(checks)
    if any(c.status == Status.INVALID and c.reason.code not in INCOMPLETE_REASONS for c in checks):
        return Verdict.FAILED
    if any(c.status in (Status.ERROR, Status.SKIPPED) or c.reason.code in INCOMPLETE_REASONS for c in checks):
        return Verdict.INCOMPLETE
    return Verdict.VERIFIED


def verify(inp: VerificationInput) -> VerificationResult:
    """Runs every check, in DESIGN.md's order, and the verdict over them."""
    if not inp.records:
        reason = Reason.of("DECLARATION_MISSING", "the consignment has no records as of this block")
        checks = tuple(CheckResult(name, Status.SKIPPED, reason, ()) for name in CHECK_NAMES)
    else:
        checks = tuple(check(inp) for _, check in CHECKS)
    return VerificationResult(verdict_of(checks), checks, inp.as_of_block, inp.ucr)
