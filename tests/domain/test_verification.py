"""The verification engine, without a chain: a trade lane from Rotterdam to Tokyo signed
by its own cast of parties, then spoilt one way at a time. Each spoilt lane fails exactly
the check that should catch it, with the reason customs would read."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from support import payloads as examples

from ledger_api.domain.evidence import from_bundle, to_bundle
from ledger_api.domain.facts import PartyCheckpoint, PartyFact, PayloadRefusal, RecordFact, VerificationInput
from ledger_api.domain.merkle import MerkleTree
from ledger_api.domain.parties import Role
from ledger_api.domain.payloads import canonical_json, container_check_digit, parse_payload, record_route_of
from ledger_api.domain.recognition import Recognition
from ledger_api.domain.records import (
    ZERO_ADDRESS,
    ZERO_HASH,
    LedgerDomain,
    Record,
    RecordKind,
    consignment_key,
    record_id,
    sign_record,
)
from ledger_api.domain.verification import (
    CHECK_NAMES,
    PUBLISHED_REASON_CODES,
    REASON_CODES,
    Status,
    Verdict,
    VerificationResult,
    check_custody_continuity,
    verify,
)

CARRIER, CUSTOMS, EXPORTER, IMPORTER = Role.CARRIER, Role.CUSTOMS, Role.EXPORTER, Role.IMPORTER
DOMAIN = LedgerDomain(chain_id=31337, verifying_contract="0x5FbDB2315678afecb367f032d93F642f64180aa3")
UCR = "4NL123456789-INV2026-0001"
AS_OF = 100
REQUIRED = 12
CAST = {
    # name: (country, roles)
    "exporter": ("NL", EXPORTER),
    "carrier": ("NL", CARRIER),
    "carrier_jp": ("JP", CARRIER),
    "importer": ("JP", IMPORTER),
    "customs_nl": ("NL", CUSTOMS),
    "customs_jp": ("JP", CUSTOMS),
    "customs_sg": ("SG", CUSTOMS),
}
KEYS = {name: Account.from_key(keccak(text=f"verification test {name}")) for name in CAST}


def address(name: str) -> str:
    return str(KEYS[name].address)


# ---------------------------------------------------------------- payloads


def declaration(**changes: Any) -> dict[str, Any]:
    return examples.declaration(UCR, **changes)


def custody(kind: str, location: str = "NLRTM", time: str = "2026-03-01T10:30:00Z", **changes: Any) -> dict[str, Any]:
    return examples.custody(UCR, kind, location, time=time, **changes)


def decision(**changes: Any) -> dict[str, Any]:
    return examples.decision(UCR, **changes)


def import_release(**changes: Any) -> dict[str, Any]:
    return decision(
        authority_country="JP",
        customs_office="JPTYO",
        decision="IMPORT_RELEASE",
        time="2026-03-20T12:00:00Z",
        **changes,
    )


def revocation(revoked: str, replacement: str | None = None) -> dict[str, Any]:
    payload = {
        "schema_version": "1",
        "kind": "REVOCATION",
        "ucr": UCR,
        "revoked_record": revoked,
        "reason": "issued in error",
    }
    if replacement is not None:
        payload["replacement_record"] = replacement
    return payload


# ---------------------------------------------------------------- the lane


@dataclass
class Step:
    kind: RecordKind
    party: str  # a name of the cast
    payload: dict[str, Any] | Callable[[list[str]], dict[str, Any]]  # a callable gets the ids written so far
    counterparty: str | None = None
    block: int | None = -1  # -1: the next block of the lane; None: not on chain yet
    previous: bytes | None = None  # to break the hash chain
    signer: str | None = None  # to sign with someone else's key


def good_steps() -> list[Step]:
    """Declaration, export release, handover, acceptance, handover, acceptance, import release."""
    return [
        Step(RecordKind.DECLARATION, "exporter", declaration()),
        Step(RecordKind.CUSTOMS_DECISION, "customs_nl", decision()),
        Step(RecordKind.HANDOVER, "exporter", custody("HANDOVER"), counterparty="carrier"),
        Step(
            RecordKind.ACCEPTANCE,
            "carrier",
            custody("ACCEPTANCE", time="2026-03-01T10:45:00Z"),
            counterparty="exporter",
        ),
        Step(
            RecordKind.HANDOVER,
            "carrier",
            custody("HANDOVER", location="JPTYO", time="2026-03-20T08:00:00Z"),
            counterparty="importer",
        ),
        Step(
            RecordKind.ACCEPTANCE,
            "importer",
            custody("ACCEPTANCE", location="JPTYO", time="2026-03-20T09:00:00Z"),
            counterparty="carrier",
        ),
        Step(RecordKind.CUSTOMS_DECISION, "customs_jp", import_release()),
    ]


def active(name: str, *later: tuple[int, int]) -> PartyFact:
    """A party registered and active from block 1; `later` adds (block, status) changes."""
    country, roles = CAST[name]
    history = (PartyCheckpoint(1, roles, 1), *(PartyCheckpoint(b, roles, s) for b, s in later))
    return PartyFact(address(name), country, 1, history)


def recognised(**changes: Any) -> Recognition:
    fact = Recognition(
        operator=address("exporter"),
        country="JP",
        at=1772355600,
        recognised=True,
        reason="RECOGNISED",
        programme="NL-AEO-F",
        mra_id=1,
        valid_until=1893456000,
    )
    return replace(fact, **changes)


def build(
    steps: list[Step],
    *,
    batch: bool = False,
    parties: dict[str, PartyFact] | None = None,
    recognition: Recognition | None = None,
    no_recognition: bool = False,
) -> VerificationInput:
    key = consignment_key(UCR)
    nonces: dict[str, int] = {}
    ids: list[str] = []
    written: list[tuple[str, Record, bytes, bytes, int | None]] = []
    previous = ZERO_HASH
    for position, step in enumerate(steps):
        payload = step.payload(ids) if callable(step.payload) else step.payload
        parsed = parse_payload(payload)
        canonical = canonical_json(parsed)
        record = Record(
            consignment=key,
            kind=step.kind,
            payload_hash=keccak(canonical),
            previous=step.previous if step.previous is not None else previous,
            party=address(step.party),
            counterparty=address(step.counterparty) if step.counterparty else ZERO_ADDRESS,
            nonce=nonces.get(step.party, 0),
            deadline=2**40,
            route=record_route_of(parsed),
        )
        nonces[step.party] = record.nonce + 1
        rid = record_id(record, DOMAIN)
        signature = sign_record(record, DOMAIN, KEYS[step.signer or step.party].key)
        block = (50 if batch else 10 + position) if step.block == -1 else step.block
        written.append(("0x" + rid.hex(), record, signature, canonical, block))
        ids.append("0x" + rid.hex())
        previous = rid
    # A batch root covers the lane's records and two of another consignment.
    tree = (
        MerkleTree([bytes.fromhex(i[2:]) for i in ids] + [keccak(text="other 1"), keccak(text="other 2")])
        if ids
        else None
    )
    facts = []
    for rid, record, signature, canonical, block in written:
        common: dict[str, Any] = dict(
            id=rid,
            record=record,
            signature=signature,
            payload=json.loads(canonical),
            payload_canonical=canonical,
            block_number=block,
            block_hash=None if block is None else "0x" + keccak(text=str(block)).hex(),
            block_timestamp=None if block is None else 1772355600 + 12 * block,
            confirmations=0 if block is None else AS_OF - block + 1,
        )
        if batch and tree is not None:
            proof = ["0x" + p.hex() for p in tree.proof(bytes.fromhex(rid[2:]))]
            fact = RecordFact(
                **common,
                mode="batch",
                batch_root="0x" + tree.root.hex(),
                inclusion_proof=proof,
                root_anchored_block=block,
            )
        else:
            fact = RecordFact(**common, mode="single", written_on_chain=block is not None)
        facts.append(fact)
    return VerificationInput(
        ucr=UCR,
        consignment=key,
        domain=DOMAIN,
        records=tuple(facts),
        parties=parties if parties is not None else {address(n): active(n) for n in CAST},
        verifying_country="JP",
        as_of_block=AS_OF,
        confirmations_required=REQUIRED,
        recognition=None if no_recognition else (recognition or recognised()),
        chain_id=DOMAIN.chain_id,
    )


def with_record(inp: VerificationInput, index: int, **changes: Any) -> VerificationInput:
    records = list(inp.records)
    records[index] = replace(records[index], **changes)
    return replace(inp, records=tuple(records))


def invalid(result: VerificationResult) -> dict[str, str]:
    """The checks that failed, with the reason each gives."""
    return {c.name: c.reason.code for c in result.checks if c.status == Status.INVALID}


def container(owner_serial: str) -> str:
    return owner_serial + str(container_check_digit(owner_serial))


# ---------------------------------------------------------------- the good lane


def test_a_clean_lane_from_rotterdam_to_tokyo_is_verified_with_every_check_valid():
    inp = build(good_steps())
    result = verify(inp)
    assert result.verdict == Verdict.VERIFIED
    assert [c.name for c in result.checks] == list(CHECK_NAMES)
    assert list(CHECK_NAMES) == [
        "RECORD_SIGNATURE",
        "PAYLOAD_INTEGRITY",
        "SIGNER_AUTHORITY",
        "CUSTODY_CONTINUITY",
        "DECLARATION",
        "EXPORT_RELEASE",
        "REVOCATION",
        "AEO_RECOGNITION",
        "CONFIRMATIONS",
    ]
    assert all(c.status == Status.VALID and c.reason.code == "OK" for c in result.checks)
    assert result.check("RECORD_SIGNATURE").records == tuple(f.id for f in inp.records)
    assert result.check("EXPORT_RELEASE").records == (inp.records[1].id,)
    assert (result.ucr, result.as_of_block) == (UCR, AS_OF)


def test_a_verdict_serialises_as_fragments_with_reason_code_and_number():
    fragment = verify(build(good_steps())).as_dict()["checks"][0]
    assert fragment["name"] == "RECORD_SIGNATURE"
    assert fragment["status"] == "VALID"
    assert fragment["reason"]["code"] == "OK" and fragment["reason"]["number"] == 0


def test_a_lane_anchored_in_bulk_is_verified_by_its_inclusion_proofs():
    inp = build(good_steps(), batch=True)
    assert {f.mode for f in inp.records} == {"batch"}
    assert verify(inp).verdict == Verdict.VERIFIED


# ---------------------------------------------------------------- RECORD_SIGNATURE


def test_a_record_signed_by_someone_other_than_the_party_it_names_fails_the_signature_check():
    steps = good_steps()
    steps[3].signer = "carrier_jp"  # carrier_jp forges the carrier's acceptance
    inp = build(steps)
    result = verify(inp)
    assert result.verdict == Verdict.FAILED
    assert invalid(result) == {"RECORD_SIGNATURE": "SIGNER_MISMATCH"}
    assert result.check("RECORD_SIGNATURE").records == (inp.records[3].id,)
    assert address("carrier_jp") in result.check("RECORD_SIGNATURE").reason.message


def test_a_malformed_signature_fails_the_signature_check():
    inp = with_record(build(good_steps()), 0, signature=bytes(65))
    result = verify(inp)
    assert result.verdict == Verdict.FAILED
    assert invalid(result) == {"RECORD_SIGNATURE": "SIGNATURE_INVALID"}


def test_a_record_whose_id_is_not_its_digest_fails_the_signature_check():
    inp = with_record(build(good_steps()), 2, id="0x" + "ab" * 32)
    result = verify(inp)
    assert result.check("RECORD_SIGNATURE").reason.code == "RECORD_ID_MISMATCH"
    assert result.verdict == Verdict.FAILED


def test_a_declaration_whose_route_is_not_the_one_signed_fails_the_signature_check():
    inp = build(good_steps())
    forged = replace(inp.records[0].record, route=("NL", "DE"))  # destination changed after signing
    result = verify(with_record(inp, 0, record=forged))
    assert invalid(result)["RECORD_SIGNATURE"] == "RECORD_ID_MISMATCH"
    assert result.verdict == Verdict.FAILED


# ---------------------------------------------------------------- PAYLOAD_INTEGRITY


def test_a_declaration_changed_after_anchoring_fails_payload_integrity():
    inp = build(good_steps())
    goods = [dict(declaration()["goods"][0], value="2400.00")]
    changed = canonical_json(parse_payload(declaration(goods=goods)))
    result = verify(with_record(inp, 0, payload_canonical=changed, payload=json.loads(changed)))
    assert result.verdict == Verdict.FAILED
    assert invalid(result) == {"PAYLOAD_INTEGRITY": "PAYLOAD_HASH_MISMATCH"}
    assert result.check("PAYLOAD_INTEGRITY").records == (inp.records[0].id,)
    # Nothing is judged on a payload that does not match its anchor.
    assert result.check("DECLARATION").status == Status.ERROR
    assert result.check("DECLARATION").reason.code == "PAYLOAD_HASH_MISMATCH"


def test_a_missing_payload_fails_payload_integrity():
    result = verify(with_record(build(good_steps()), 4, payload_canonical=None, payload=None))
    assert result.verdict == Verdict.FAILED
    assert invalid(result) == {"PAYLOAD_INTEGRITY": "PAYLOAD_MISSING"}
    assert result.check("CUSTODY_CONTINUITY").status == Status.ERROR


def test_a_batch_record_with_a_tampered_proof_fails_payload_integrity():
    inp = build(good_steps(), batch=True)
    proof = list(inp.records[2].inclusion_proof or [])
    proof[0] = "0x" + keccak(text="not a sibling").hex()
    result = verify(with_record(inp, 2, inclusion_proof=proof))
    assert result.verdict == Verdict.FAILED
    assert invalid(result) == {"PAYLOAD_INTEGRITY": "PROOF_INVALID"}
    assert result.check("PAYLOAD_INTEGRITY").records == (inp.records[2].id,)


def test_a_batch_record_whose_root_the_chain_never_anchored_fails_payload_integrity():
    result = verify(with_record(build(good_steps(), batch=True), 0, root_anchored_block=None))
    assert invalid(result) == {"PAYLOAD_INTEGRITY": "ROOT_NOT_ANCHORED"}


def test_a_single_record_the_chain_does_not_know_fails_payload_integrity():
    result = verify(with_record(build(good_steps()), 6, written_on_chain=False))
    assert invalid(result) == {"PAYLOAD_INTEGRITY": "RECORD_NOT_ON_CHAIN"}


# ---------------------------------------------------------------- SIGNER_AUTHORITY and REVOCATION


def test_a_carrier_suspended_before_it_wrote_fails_signer_authority_and_revocation():
    parties = {address(n): active(n) for n in CAST}
    parties[address("carrier")] = active("carrier", (5, 2))
    inp = build(good_steps(), parties=parties)
    result = verify(inp)
    assert result.verdict == Verdict.FAILED
    assert invalid(result) == {"SIGNER_AUTHORITY": "SIGNER_NOT_ACTIVE", "REVOCATION": "PARTY_SUSPENDED_WHEN_WRITING"}
    carrier_records = (inp.records[3].id, inp.records[4].id)
    assert result.check("SIGNER_AUTHORITY").records == carrier_records
    assert result.check("REVOCATION").records == carrier_records


def test_a_carrier_suspended_after_it_wrote_leaves_its_records_valid():
    parties = {address(n): active(n) for n in CAST}
    parties[address("carrier")] = active("carrier", (60, 2))
    assert verify(build(good_steps(), parties=parties)).verdict == Verdict.VERIFIED


def test_a_record_by_an_unregistered_party_fails_signer_authority():
    parties = {address(n): active(n) for n in CAST if n != "importer"}
    result = verify(build(good_steps(), parties=parties))
    assert invalid(result) == {"SIGNER_AUTHORITY": "SIGNER_NOT_REGISTERED"}


def test_a_carrier_releasing_goods_for_export_lacks_the_role_and_releases_nothing():
    steps = good_steps()
    steps[1].party = "carrier"
    result = verify(build(steps))
    assert invalid(result) == {
        "SIGNER_AUTHORITY": "SIGNER_LACKS_ROLE",
        "EXPORT_RELEASE": "EXPORT_RELEASE_WRONG_AUTHORITY",
    }


# ---------------------------------------------------------------- CUSTODY_CONTINUITY


def test_a_handover_never_accepted_before_the_named_carrier_hands_on_is_a_custody_gap():
    steps = good_steps()
    del steps[3]  # the carrier never accepts, yet hands the goods on
    inp = build(steps)
    result = verify(inp)
    assert result.verdict == Verdict.FAILED
    assert invalid(result) == {"CUSTODY_CONTINUITY": "CUSTODY_GAP"}
    assert inp.records[3].id in result.check("CUSTODY_CONTINUITY").records


def test_a_customs_decision_while_a_handover_awaits_acceptance_is_no_gap():
    steps = good_steps()
    hold = Step(RecordKind.CUSTOMS_DECISION, "customs_nl", decision(decision="HOLD", inspection=None))
    steps.insert(3, hold)
    assert verify(build(steps)).verdict == Verdict.VERIFIED


def test_an_acceptance_signed_by_a_party_other_than_the_named_one_fails_custody_continuity():
    steps = good_steps()
    steps[5].party = "carrier_jp"  # the handover named the importer
    inp = build(steps)
    result = verify(inp)
    assert result.verdict == Verdict.FAILED
    assert invalid(result) == {"CUSTODY_CONTINUITY": "ACCEPTED_BY_WRONG_PARTY"}
    assert result.check("CUSTODY_CONTINUITY").records == (inp.records[5].id,)


def test_a_seal_changed_without_a_reason_fails_custody_continuity():
    steps = good_steps()
    for step in steps[4:6]:
        assert isinstance(step.payload, dict)
        step.payload["seals"] = ["JP-SEAL-000777"]
    inp = build(steps)
    result = verify(inp)
    assert result.verdict == Verdict.FAILED
    assert invalid(result) == {"CUSTODY_CONTINUITY": "SEAL_CHANGE_UNEXPLAINED"}
    assert result.check("CUSTODY_CONTINUITY").records == (inp.records[4].id,)


def test_a_partner_customs_reads_of_a_seal_or_container_change_but_not_the_numbers():
    steps = good_steps()
    for step in steps[4:6]:
        assert isinstance(step.payload, dict)
        step.payload["seals"] = ["JP-SEAL-000777"]
    assert isinstance(steps[3].payload, dict)
    steps[3].payload["containers"] = [container("MSCU123456")]
    check = verify(build(steps)).check("CUSTODY_CONTINUITY")
    full, partner = check.as_dict(), check.as_dict(partner=True)
    assert "JP-SEAL-000777" in full["reason"]["message"] and "MSCU123456" in full["reason"]["message"]
    assert "SEAL" not in partner["reason"]["message"] and "MSCU" not in partner["reason"]["message"]
    assert "other containers than before" in partner["reason"]["message"]
    assert "other seals than before" in partner["reason"]["message"]
    assert {k: v for k, v in partner.items() if k != "reason"} == {k: v for k, v in full.items() if k != "reason"}
    assert (partner["reason"]["code"], partner["reason"]["number"]) == (
        full["reason"]["code"],
        full["reason"]["number"],
    )


def test_a_message_that_names_no_seal_reads_the_same_for_a_partner_customs():
    result = verify(build(good_steps()))
    assert [c.as_dict(partner=True) for c in result.checks] == [c.as_dict() for c in result.checks]


def test_a_seal_changed_with_a_reason_is_consistent():
    steps = good_steps()
    for step in steps[4:6]:
        assert isinstance(step.payload, dict)
        step.payload["seals"] = ["JP-SEAL-000777"]
    assert isinstance(steps[4].payload, dict)
    steps[4].payload["seal_change_reason"] = "re-sealed after a non-intrusive inspection at Tokyo"
    assert verify(build(steps)).verdict == Verdict.VERIFIED


def test_a_container_swapped_without_a_reason_fails_custody_continuity():
    steps = good_steps()
    assert isinstance(steps[3].payload, dict)
    steps[3].payload["containers"] = [container("MSCU123456")]
    result = verify(build(steps))
    assert invalid(result) == {"CUSTODY_CONTINUITY": "CONTAINER_CHANGE_UNEXPLAINED"}


def test_custody_times_going_backwards_fail_custody_continuity():
    steps = good_steps()
    assert isinstance(steps[3].payload, dict)
    steps[3].payload["time"] = "2026-03-01T09:30:00Z"  # accepted before it was handed over
    result = verify(build(steps))
    assert invalid(result) == {"CUSTODY_CONTINUITY": "TIME_NOT_MONOTONIC"}


def test_a_record_that_does_not_chain_to_the_one_before_breaks_the_hash_chain():
    steps = good_steps()
    steps[3].previous = keccak(text="a record of some other history")
    inp = build(steps)
    result = verify(inp)
    assert result.verdict == Verdict.FAILED
    assert invalid(result) == {"CUSTODY_CONTINUITY": "BROKEN_HASH_CHAIN"}
    assert result.check("CUSTODY_CONTINUITY").records == (inp.records[3].id,)


def transit_step(party: str, countries: list[str] | None = None, time: str = "2026-03-05T06:00:00Z") -> Step:
    return Step(RecordKind.TRANSIT, party, examples.transit(UCR, countries, time=time))


def test_a_transit_declared_by_the_custodian_moves_no_custody_and_the_lane_is_verified():
    steps = good_steps()
    # The carrier holds the goods after its acceptance; its transit's time is earlier than
    # that acceptance and names no seals: a transit is no custody record, neither is compared.
    steps.insert(4, transit_step("carrier", ["SG", "LK"], time="2026-02-01T00:00:00Z"))
    inp = build(steps)
    assert inp.records[4].record.route == ("SG", "LK")
    result = verify(inp)
    assert result.verdict == Verdict.VERIFIED, invalid(result)


def test_a_transit_declared_while_a_handover_awaits_acceptance_is_the_handing_custodians():
    steps = good_steps()
    steps.insert(3, transit_step("exporter"))  # handed to the carrier, not yet accepted
    assert verify(build(steps)).verdict == Verdict.VERIFIED


def test_a_transit_declared_by_a_carrier_that_does_not_hold_the_goods_is_a_custody_gap():
    steps = good_steps()
    steps.insert(2, transit_step("carrier"))  # the exporter still holds them
    inp = build(steps)
    result = verify(inp)
    assert result.verdict == Verdict.FAILED
    assert invalid(result) == {"CUSTODY_CONTINUITY": "CUSTODY_GAP"}
    assert result.check("CUSTODY_CONTINUITY").records == (inp.records[2].id,)
    assert "not the custodian" in result.check("CUSTODY_CONTINUITY").reason.message


def test_a_transit_declared_by_customs_lacks_a_custodian_role():
    steps = good_steps()
    steps.insert(2, transit_step("customs_nl"))
    result = verify(build(steps))
    assert invalid(result) == {"SIGNER_AUTHORITY": "SIGNER_LACKS_ROLE", "CUSTODY_CONTINUITY": "CUSTODY_GAP"}
    assert "TRANSIT" in result.check("SIGNER_AUTHORITY").reason.message


def test_a_last_handover_awaiting_acceptance_leaves_the_consignment_in_transit():
    inp = build(good_steps()[:5])
    result = verify(inp)
    assert result.verdict == Verdict.INCOMPLETE
    check = check_custody_continuity(inp)
    assert (check.status, check.reason.code) == (Status.VALID, "IN_TRANSIT")
    assert check.records == (inp.records[4].id,)
    assert invalid(result) == {}


# ---------------------------------------------------------------- DECLARATION and EXPORT_RELEASE


def test_a_consignment_without_a_declaration_fails():
    result = verify(build(good_steps()[1:]))
    assert result.verdict == Verdict.FAILED
    # With nothing declared, custody began nowhere: the first handover is a gap too.
    assert invalid(result) == {"DECLARATION": "DECLARATION_MISSING", "CUSTODY_CONTINUITY": "CUSTODY_GAP"}
    assert result.check("EXPORT_RELEASE").status == Status.SKIPPED
    assert result.check("AEO_RECOGNITION").status == Status.SKIPPED


def test_a_consignment_with_no_records_yet_is_incomplete_with_every_check_skipped():
    result = verify(build([]))
    assert result.verdict == Verdict.INCOMPLETE
    assert {(c.status, c.reason.code) for c in result.checks} == {(Status.SKIPPED, "DECLARATION_MISSING")}
    assert [c.name for c in result.checks] == list(CHECK_NAMES)


def test_custody_that_begins_outside_the_declared_origin_country_is_an_origin_mismatch():
    steps = good_steps()
    for step in steps[2:4]:
        assert isinstance(step.payload, dict)
        step.payload["location"] = "BEANR"
    result = verify(build(steps))
    assert invalid(result) == {"DECLARATION": "ORIGIN_MISMATCH"}


def test_a_partner_customs_reads_where_custody_began_by_country_not_by_place():
    steps = good_steps()
    for step in steps[2:4]:
        assert isinstance(step.payload, dict)
        step.payload["location"] = "BEANR"
    check = verify(build(steps)).check("DECLARATION")
    full, partner = check.as_dict(), check.as_dict(partner=True)
    assert "BEANR" in full["reason"]["message"]
    assert "BEANR" not in partner["reason"]["message"] and "ANR" not in partner["reason"]["message"]
    assert partner["reason"]["message"].endswith("but custody began in BE")
    assert {k: v for k, v in partner.items() if k != "reason"} == {k: v for k, v in full.items() if k != "reason"}
    assert partner["reason"]["code"] == full["reason"]["code"] == "ORIGIN_MISMATCH"


def test_a_declaration_by_a_party_that_is_not_an_exporter_fails_the_declaration_check():
    parties = {address(n): active(n) for n in CAST}
    parties[address("exporter")] = PartyFact(address("exporter"), "NL", 1, (PartyCheckpoint(1, CARRIER, 1),))
    result = verify(build(good_steps(), parties=parties))
    assert result.check("DECLARATION").reason.code == "DECLARATION_NOT_BY_EXPORTER"
    assert result.check("SIGNER_AUTHORITY").reason.code == "SIGNER_LACKS_ROLE"


def test_a_consignment_the_export_customs_never_released_fails():
    steps = good_steps()
    del steps[1]
    result = verify(build(steps))
    assert result.verdict == Verdict.FAILED
    assert invalid(result) == {"EXPORT_RELEASE": "EXPORT_NOT_RELEASED"}


def test_an_export_release_by_customs_of_another_country_does_not_count():
    steps = good_steps()
    steps[1] = Step(RecordKind.CUSTOMS_DECISION, "customs_jp", decision(authority_country="JP", customs_office="JPTYO"))
    inp = build(steps)
    result = verify(inp)
    assert invalid(result) == {"EXPORT_RELEASE": "EXPORT_RELEASE_WRONG_AUTHORITY"}
    assert result.check("EXPORT_RELEASE").records == (inp.records[1].id,)


def test_an_export_release_claiming_the_origin_authority_but_signed_by_foreign_customs_does_not_count():
    steps = good_steps()
    steps[1].party = "customs_jp"
    result = verify(build(steps))
    assert invalid(result) == {"EXPORT_RELEASE": "EXPORT_RELEASE_WRONG_AUTHORITY"}


# ---------------------------------------------------------------- REVOCATION


def test_a_decision_revoked_without_a_replacement_fails_the_revocation_check():
    steps = good_steps()
    steps.append(Step(RecordKind.REVOCATION, "customs_jp", lambda ids: revocation(ids[6])))
    inp = build(steps)
    result = verify(inp)
    assert result.verdict == Verdict.FAILED
    assert invalid(result) == {"REVOCATION": "REVOKED_WITHOUT_REPLACEMENT"}
    assert result.check("REVOCATION").records == (inp.records[7].id,)


def test_a_decision_revoked_in_favour_of_a_replacement_is_valid():
    steps = good_steps()
    steps.append(Step(RecordKind.CUSTOMS_DECISION, "customs_jp", import_release(remarks="corrected office")))
    steps.append(Step(RecordKind.REVOCATION, "customs_jp", lambda ids: revocation(ids[6], replacement=ids[7])))
    result = verify(build(steps))
    assert result.verdict == Verdict.VERIFIED
    assert result.check("REVOCATION").records == (build(steps).records[8].id,)


def test_a_revoked_export_release_no_longer_releases_the_consignment():
    steps = good_steps()
    steps.append(Step(RecordKind.REVOCATION, "customs_nl", lambda ids: revocation(ids[1])))
    result = verify(build(steps))
    assert invalid(result) == {
        "REVOCATION": "REVOKED_WITHOUT_REPLACEMENT",
        "EXPORT_RELEASE": "EXPORT_NOT_RELEASED",
    }


def test_a_custodian_cancelling_its_pending_handover_needs_no_replacement():
    steps = good_steps()
    cancel = Step(RecordKind.REVOCATION, "exporter", lambda ids: revocation(ids[2]), counterparty="carrier")
    again = Step(
        RecordKind.HANDOVER, "exporter", custody("HANDOVER", time="2026-03-01T10:40:00Z"), counterparty="carrier"
    )
    steps[3:3] = [cancel, again]
    result = verify(build(steps))
    assert result.verdict == Verdict.VERIFIED, invalid(result)


def test_a_revocation_of_a_record_outside_the_consignment_fails():
    steps = good_steps()
    steps.append(Step(RecordKind.REVOCATION, "customs_jp", revocation("0x" + "12" * 32)))
    assert invalid(verify(build(steps))) == {"REVOCATION": "REVOCATION_TARGET_UNKNOWN"}


# ---------------------------------------------------------------- AEO_RECOGNITION


@pytest.mark.parametrize("why", ["CERTIFICATE_EXPIRED", "ARRANGEMENT_TERMINATED"])
def test_an_exporter_whose_aeo_status_is_not_recognised_fails_aeo_recognition(why):
    inp = build(good_steps(), recognition=recognised(recognised=False, reason=why, mra_id=None))
    result = verify(inp)
    assert result.verdict == Verdict.FAILED
    assert invalid(result) == {"AEO_RECOGNITION": "AEO_NOT_RECOGNISED"}
    assert why in result.check("AEO_RECOGNITION").reason.message
    assert result.check("AEO_RECOGNITION").records == (inp.records[0].id,)


def test_without_recognition_facts_the_aeo_check_errs_and_the_verdict_is_incomplete():
    result = verify(build(good_steps(), no_recognition=True))
    check = result.check("AEO_RECOGNITION")
    assert (check.status, check.reason.code) == (Status.ERROR, "AEO_FACTS_MISSING")
    assert result.verdict == Verdict.INCOMPLETE


def test_recognition_facts_about_another_operator_are_not_evidence():
    result = verify(build(good_steps(), recognition=recognised(operator=address("carrier"))))
    check = result.check("AEO_RECOGNITION")
    assert (check.status, check.reason.code) == (Status.ERROR, "AEO_FACTS_MISMATCH")
    assert result.verdict == Verdict.INCOMPLETE


# ---------------------------------------------------------------- CONFIRMATIONS


def test_a_record_without_enough_confirmations_leaves_the_verdict_incomplete():
    steps = good_steps()
    steps[6].block = AS_OF - 3  # four confirmations of the twelve required
    inp = build(steps)
    result = verify(inp)
    assert result.verdict == Verdict.INCOMPLETE
    check = result.check("CONFIRMATIONS")
    assert (check.status, check.reason.code) == (Status.INVALID, "CONFIRMATIONS_PENDING")
    assert check.records == (inp.records[6].id,)


@pytest.mark.parametrize("block", [None, AS_OF + 5])
def test_a_record_not_on_chain_as_of_the_block_asked_leaves_the_verdict_incomplete(block):
    steps = good_steps()
    steps[6].block = block
    inp = build(steps)
    if block is not None:  # the index knows it, but the verification is asked as of an earlier block
        inp = with_record(inp, 6, confirmations=10)
    result = verify(inp)
    assert result.verdict == Verdict.INCOMPLETE
    assert result.check("CONFIRMATIONS").reason.code == "RECORD_PENDING"
    assert result.check("PAYLOAD_INTEGRITY").status == Status.VALID


def test_a_pending_record_does_not_hide_a_failure():
    steps = good_steps()
    steps[6].block = None
    del steps[1]
    assert verify(build(steps)).verdict == Verdict.FAILED


# ---------------------------------------------------------------- records known from the chain alone


def chain_fact_only(inp: VerificationInput, index: int) -> VerificationInput:
    """`inp` with its record `index` known from the chain alone, as an instance that does not
    hold it knows it: no signature, no payload, no deadline."""
    fact = inp.records[index]
    return with_record(
        inp,
        index,
        held=False,
        signature=None,
        payload=None,
        payload_canonical=None,
        record=replace(fact.record, deadline=0),
    )


def test_a_record_on_chain_whose_payload_is_not_held_leaves_the_verdict_incomplete_naming_it():
    inp = chain_fact_only(build(good_steps()), 2)  # the exporter's handover
    result = verify(inp)
    assert result.verdict == Verdict.INCOMPLETE
    assert invalid(result) == {}
    integrity = result.check("PAYLOAD_INTEGRITY")
    assert (integrity.status, integrity.reason.code, integrity.records) == (
        Status.ERROR,
        "PAYLOAD_UNAVAILABLE",
        (inp.records[2].id,),
    )
    # As far as the chain allows: the chain checked its signature, its signer's standing is known.
    assert result.check("RECORD_SIGNATURE").status == Status.VALID
    assert result.check("SIGNER_AUTHORITY").status == Status.VALID
    custody = result.check("CUSTODY_CONTINUITY")  # its time and seals are in the payload
    assert (custody.status, custody.reason.code) == (Status.ERROR, "PAYLOAD_UNAVAILABLE")
    assert verify(build(good_steps())).verdict == Verdict.VERIFIED  # once held


def test_a_record_whose_payload_a_peer_served_wrong_names_the_peer_while_no_good_copy_is_held():
    refusal = PayloadRefusal("0x" + "5a" * 20, "https://ledger.customs.example.sg", "payload hash mismatch")
    inp = with_record(chain_fact_only(build(good_steps()), 6), 6, refusals=(refusal,))
    result = verify(inp)
    assert result.verdict == Verdict.INCOMPLETE
    integrity = result.check("PAYLOAD_INTEGRITY")
    assert (integrity.status, integrity.reason.code) == (Status.ERROR, "PAYLOAD_REFUSED_FROM_PEER")
    assert refusal.peer_authority in integrity.reason.message and refusal.peer_url in integrity.reason.message


def test_a_partner_customs_is_not_told_which_peers_served_a_payload_wrong_nor_why():
    """Which authorities' instances were asked for a payload, and why their copies were
    refused, is between the route's customs: a partner customs reads that the copies served
    did not match, with the same code and records."""
    refusal = PayloadRefusal("0x" + "5a" * 20, "https://ledger.customs.example.sg", "payload hash mismatch")
    inp = with_record(chain_fact_only(build(good_steps()), 6), 6, refusals=(refusal,))
    integrity = verify(inp).check("PAYLOAD_INTEGRITY")
    full, partner = integrity.as_dict(), integrity.as_dict(partner=True)
    told = partner["reason"]["message"]
    for withheld in (refusal.peer_authority, refusal.peer_url, refusal.reason, "customs.example"):
        assert withheld in full["reason"]["message"] and withheld not in told, withheld
    assert "the payloads served of it do not match the chain" in told
    assert {k: v for k, v in partner.items() if k != "reason"} == {k: v for k, v in full.items() if k != "reason"}
    assert partner["reason"]["code"] == full["reason"]["code"] == "PAYLOAD_REFUSED_FROM_PEER"


def test_a_record_neither_held_nor_on_chain_fails_the_signature_check():
    inp = with_record(chain_fact_only(build(good_steps()), 2), 2, written_on_chain=False)
    assert invalid(verify(inp))["RECORD_SIGNATURE"] == "SIGNATURE_INVALID"


def test_a_head_on_chain_past_the_records_known_here_is_unexplained_and_not_verified():
    inp = build(good_steps())
    assert verify(replace(inp, chain_head=inp.records[-1].id)).verdict == Verdict.VERIFIED
    result = verify(replace(inp, chain_head="0x" + "ab" * 32))
    assert result.verdict == Verdict.INCOMPLETE
    custody = result.check("CUSTODY_CONTINUITY")
    assert (custody.status, custody.reason.code) == (Status.ERROR, "CHAIN_HEAD_UNEXPLAINED")


def test_the_evidence_of_records_not_held_re_derives_the_same_verdict():
    refusal = PayloadRefusal("0x" + "5a" * 20, "https://ledger.customs.example.sg", "signature by someone else")
    inp = with_record(chain_fact_only(build(good_steps()), 3), 3, refusals=(refusal,))
    inp = replace(inp, chain_head=inp.records[-1].id)
    bundle = json.loads(json.dumps(to_bundle(inp, [])))
    assert bundle["records"][3]["held"] is False and bundle["records"][3]["payload_canonical"] is None
    again = from_bundle(bundle)
    assert again.records[3] == replace(inp.records[3], payload=None)
    assert verify(again).checks == verify(replace(inp, recognition=again.recognition)).checks


# ---------------------------------------------------------------- jurisdiction of batch records


def sg_hold(**changes: Any) -> dict[str, Any]:
    return decision(authority_country="SG", customs_office="SGSIN", decision="HOLD", inspection=None, **changes)


def test_customs_of_a_country_off_the_route_deciding_in_a_batch_fails_signer_authority():
    """The contract checks the route of records written one by one; the verifier checks it
    of batch records, which the contract never sees."""
    steps = good_steps()
    steps.insert(4, Step(RecordKind.CUSTOMS_DECISION, "customs_sg", sg_hold()))
    inp = build(steps, batch=True)
    result = verify(inp)
    assert invalid(result) == {"SIGNER_AUTHORITY": "SIGNER_NOT_ON_ROUTE"}
    assert result.check("SIGNER_AUTHORITY").records == (inp.records[4].id,)
    # Once the custodian declares the transit through Singapore, SG customs acts on its route.
    steps.insert(4, transit_step("carrier", ["SG"], time="2026-03-02T06:00:00Z"))
    assert verify(build(steps, batch=True)).verdict == Verdict.VERIFIED


def test_a_revocation_by_a_party_that_neither_holds_the_goods_nor_is_customs_fails_signer_authority():
    steps = good_steps()
    steps.append(Step(RecordKind.REVOCATION, "carrier", lambda ids: revocation(ids[6])))
    result = verify(build(steps, batch=True))
    assert invalid(result) == {"SIGNER_AUTHORITY": "SIGNER_LACKS_ROLE", "REVOCATION": "REVOKED_WITHOUT_REPLACEMENT"}


# ---------------------------------------------------------------- the published table


def test_the_published_reason_codes_are_never_renamed_or_renumbered():
    assert dict(PUBLISHED_REASON_CODES) == {
        "OK": 0,
        "SIGNATURE_INVALID": 1,
        "SIGNER_MISMATCH": 2,
        "RECORD_ID_MISMATCH": 3,
        "PAYLOAD_MISSING": 4,
        "PAYLOAD_HASH_MISMATCH": 5,
        "PAYLOAD_INVALID": 6,
        "PAYLOAD_KIND_MISMATCH": 7,
        "CONSIGNMENT_MISMATCH": 8,
        "PROOF_INVALID": 9,
        "ROOT_NOT_ANCHORED": 10,
        "RECORD_NOT_ON_CHAIN": 11,
        "SIGNER_NOT_REGISTERED": 12,
        "SIGNER_NOT_ACTIVE": 13,
        "SIGNER_LACKS_ROLE": 14,
        "BROKEN_HASH_CHAIN": 15,
        "CUSTODY_GAP": 16,
        "ACCEPTED_BY_WRONG_PARTY": 17,
        "TIME_NOT_MONOTONIC": 18,
        "SEAL_CHANGE_UNEXPLAINED": 19,
        "CONTAINER_CHANGE_UNEXPLAINED": 20,
        "IN_TRANSIT": 21,
        "DECLARATION_MISSING": 22,
        "DECLARATION_DUPLICATE": 23,
        "DECLARATION_NOT_FIRST": 24,
        "DECLARATION_NOT_BY_EXPORTER": 25,
        "DECLARATION_INVALID": 26,
        "ORIGIN_MISMATCH": 27,
        "EXPORT_NOT_RELEASED": 28,
        "EXPORT_RELEASE_WRONG_AUTHORITY": 29,
        "REVOKED_WITHOUT_REPLACEMENT": 30,
        "REVOCATION_TARGET_UNKNOWN": 31,
        "PARTY_SUSPENDED_WHEN_WRITING": 32,
        "AEO_NOT_RECOGNISED": 33,
        "AEO_FACTS_MISSING": 34,
        "AEO_FACTS_MISMATCH": 35,
        "CONFIRMATIONS_PENDING": 36,
        "RECORD_PENDING": 37,
        "PAYLOAD_UNAVAILABLE": 38,
        "PAYLOAD_REFUSED_FROM_PEER": 39,
        "CHAIN_HEAD_UNEXPLAINED": 40,
        "SIGNER_NOT_ON_ROUTE": 41,
    }
    assert dict(REASON_CODES) == dict(PUBLISHED_REASON_CODES)
    assert len(set(PUBLISHED_REASON_CODES.values())) == len(PUBLISHED_REASON_CODES)


def test_the_published_table_cannot_be_changed_at_run_time():
    with pytest.raises(TypeError):
        PUBLISHED_REASON_CODES["NEW"] = 99  # type: ignore[index]


def test_a_partner_customs_reads_of_custody_without_the_parties_addresses():
    # In transit: the pending custodian (the consignee, maybe) is named to the parties only.
    inp = build(good_steps()[:5])
    check = check_custody_continuity(inp)
    pending = inp.records[4].record.counterparty
    full, partner = check.as_dict(), check.as_dict(partner=True)
    assert pending in full["reason"]["message"]
    assert pending not in partner["reason"]["message"] and "awaits acceptance" in partner["reason"]["message"]
    # A transit declared by a carrier that does not hold the goods: neither it nor the custodian.
    steps = good_steps()
    steps.insert(2, transit_step("carrier"))
    inp = build(steps)
    check = verify(inp).check("CUSTODY_CONTINUITY")
    full, partner = check.as_dict(), check.as_dict(partner=True)
    named = re.findall(r"0x[0-9a-fA-F]{40}", full["reason"]["message"])
    assert inp.records[2].record.party in named and len(named) == 2
    assert not re.findall(r"0x[0-9a-fA-F]{40}", partner["reason"]["message"])
    assert "not the custodian" in partner["reason"]["message"]
    assert (partner["reason"]["code"], partner["status"]) == (full["reason"]["code"], full["status"])
