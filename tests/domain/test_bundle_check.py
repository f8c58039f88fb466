"""The rules of `verify-bundle --rpc`, without a chain: a bundle whose claims the chain's
facts agree with is contradicted in nothing; each claim the facts differ on is named, with
what each side says."""

from __future__ import annotations

from dataclasses import replace

from ledger_api.domain.bundle_check import (
    AS_OF_BLOCK,
    CHAIN_HEAD,
    CHAIN_ID,
    CONTRACTS_WIRING,
    EIP712_DOMAIN,
    INCLUSION_PROOF,
    LEDGER_NOT_DEPLOYED,
    PARTY_UNKNOWN,
    RECOGNITION,
    RECORD_BLOCK,
    Anchor,
    ChainFacts,
    LedgerOnChain,
    LoggedRecord,
    contradictions,
    questions,
)
from ledger_api.domain.facts import PartyCheckpoint, PartyFact, RecordFact, VerificationInput
from ledger_api.domain.recognition import Recognition
from ledger_api.domain.records import LedgerDomain, Record, RecordKind, consignment_key

LEDGER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
REGISTRY = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
RECOGNITION_REGISTRY = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
EXPORTER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
CARRIER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
UCR = "4NL123456789-INV2026-0001"
SINGLE_ID, BATCH_ID, ROOT = "0x" + "11" * 32, "0x" + "22" * 32, "0x" + "33" * 32
RELAYER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def bundle() -> VerificationInput:
    declaration = Record(consignment_key(UCR), RecordKind.DECLARATION, b"\x01" * 32, bytes(32), EXPORTER, CARRIER, 7, 0)
    handover = replace(declaration, kind=RecordKind.HANDOVER, previous=bytes.fromhex(SINGLE_ID[2:]), nonce=8)
    records = (
        RecordFact(SINGLE_ID, declaration, None, None, None, "single", 10, "0x" + "aa" * 32, 1_000, 5),
        RecordFact(BATCH_ID, handover, None, None, None, "batch", 12, "0x" + "bb" * 32, 1_024, 3, ROOT, [], 12),
    )
    return VerificationInput(
        ucr=UCR,
        consignment=consignment_key(UCR),
        domain=LedgerDomain(31337, LEDGER),
        records=records,
        parties={EXPORTER: PartyFact(EXPORTER, "JP", 3, (PartyCheckpoint(3, 1, 1), PartyCheckpoint(11, 1, 2)))},
        verifying_country="NL",
        as_of_block=14,
        confirmations_required=1,
        recognition=Recognition(EXPORTER, "NL", 1_000, True, "RECOGNISED", mra_id=1),
        chain_id=31337,
        contracts={"ConsignmentLedger": LEDGER, "PartyRegistry": REGISTRY, "RecognitionRegistry": RECOGNITION_REGISTRY},
        chain_head=SINGLE_ID,
    )


def agreeing() -> ChainFacts:
    """What a chain that holds `bundle()` as it says answers."""
    return ChainFacts(
        chain_id=31337,
        head_block=20,
        ledger=LedgerOnChain(
            LEDGER, False, True, "ConsignmentLedger", "1", 31337, LEDGER, REGISTRY, recognition_registry=REGISTRY
        ),
        records={
            SINGLE_ID: LoggedRecord(
                "0x" + consignment_key(UCR).hex(),
                EXPORTER,
                0,
                "0x" + "01" * 32,
                "0x" + "00" * 32,
                CARRIER,
                7,
                10,
                "0x" + "aa" * 32,
            )
        },
        anchors={ROOT: Anchor(12, RELAYER, "0x" + "bb" * 32)},
        proofs={(ROOT, BATCH_ID): True},
        relayers={RELAYER.lower(): 2},
        parties={EXPORTER.lower(): ("JP", 3)},
        states={
            (EXPORTER.lower(), 3): (1, 1),
            (EXPORTER.lower(), 10): (1, 1),
            (EXPORTER.lower(), 11): (1, 2),
            (EXPORTER.lower(), 12): (1, 2),
        },
        recognition=(0, 1),
        as_of_block_hash="0x" + "cc" * 32,
        consignment_head=SINGLE_ID,
    )


def codes(inp: VerificationInput, chain: ChainFacts, consortium: dict[str, str] | None = None) -> list[str]:
    return [c.code for c in contradictions(inp, chain, consortium)]


def test_a_bundle_the_chain_agrees_with_is_contradicted_in_nothing():
    assert contradictions(bundle(), agreeing()) == []


def test_the_questions_ask_for_single_records_roots_proofs_and_each_signer_at_its_block():
    asked = questions(bundle())
    assert asked.record_ids == (SINGLE_ID,) and asked.roots == (ROOT,)
    assert asked.proofs == ((ROOT, BATCH_ID, ()),)
    assert set(asked.states) == set(agreeing().states)
    assert asked.recognition == (EXPORTER, "NL", 1_000)


def test_another_chain_is_the_one_contradiction_named():
    assert codes(bundle(), replace(agreeing(), chain_id=1)) == [CHAIN_ID]


def test_no_contract_at_the_ledger_says_so_and_nothing_else():
    assert codes(bundle(), replace(agreeing(), ledger=LedgerOnChain(LEDGER, True, False))) == [LEDGER_NOT_DEPLOYED]


def test_a_domain_the_ledger_does_not_report_is_contradicted():
    chain = agreeing()
    other = replace(chain.ledger, domain_name="SomethingElse")
    found = contradictions(bundle(), replace(chain, ledger=other))
    assert [c.code for c in found] == [EIP712_DOMAIN]
    assert "reports the domain 'SomethingElse'" in found[0].message


def test_a_bundle_contract_that_is_not_the_consortiums_is_named_when_the_verifier_pins_them():
    found = codes(bundle(), agreeing(), {"RecognitionRegistry": "0x" + "44" * 20})
    assert found == [CONTRACTS_WIRING]


def test_a_record_in_another_block_than_the_chain_wrote_it_is_contradicted():
    chain = agreeing()
    moved = replace(chain.records[SINGLE_ID], block_number=9)
    assert codes(bundle(), replace(chain, records={SINGLE_ID: moved})) == [RECORD_BLOCK]


def test_a_proof_the_ledger_refuses_is_contradicted():
    assert codes(bundle(), replace(agreeing(), proofs={(ROOT, BATCH_ID): False})) == [INCLUSION_PROOF]


def test_a_party_the_registry_never_registered_is_contradicted():
    assert codes(bundle(), replace(agreeing(), parties={EXPORTER.lower(): None})) == [PARTY_UNKNOWN]


def test_two_changes_in_one_block_are_judged_by_the_last_as_the_registry_does():
    inp = bundle()
    party = inp.parties[EXPORTER]
    twice = replace(party, history=(*party.history, PartyCheckpoint(11, 1, 1)))
    chain = agreeing()
    states = {**chain.states, (EXPORTER.lower(), 11): (1, 1), (EXPORTER.lower(), 12): (1, 1)}
    assert contradictions(replace(inp, parties={EXPORTER: twice}), replace(chain, states=states)) == []


def test_a_recognition_the_registry_does_not_give_is_contradicted():
    found = contradictions(bundle(), replace(agreeing(), recognition=(6, 0)))
    assert [c.code for c in found] == [RECOGNITION]
    assert "the registry says NO_ARRANGEMENT (arrangement 0)" in found[0].message


def test_a_bundle_block_past_the_chain_or_another_head_is_contradicted():
    assert codes(bundle(), replace(agreeing(), head_block=13, as_of_block_hash=None)) == [AS_OF_BLOCK]
    assert codes(bundle(), replace(agreeing(), consignment_head="0x" + "99" * 32)) == [CHAIN_HEAD]
