"""ConsignmentLedger: signed records one by one. Who may write what, and which signatures
the ledger refuses. Every refusal is checked down to the custom error and its arguments."""

import pytest
from brownie import ConsignmentLedger, chain, web3
from eth_account import Account
from eth_utils import keccak
from helpers import (
    CUSTODIANS,
    KIND,
    RECORD_FIELDS,
    ROLES,
    ZERO_ADDRESS,
    ZERO_HASH,
    as_tuple,
    consignment_key,
    ledger_domain,
    malleate,
    record_digest,
    reverts_with,
)

UCR = "9NL123456789-SHIPMENT-0001"
OTHER_UCR = "9SG987654321-SHIPMENT-0002"
KEY = consignment_key(UCR)


def b32(value: str) -> bytes:
    """A 0x-hex bytes32 as the bytes the ABI encoder (and so reverts_with) expects."""
    return bytes.fromhex(value[2:])


B_KEY = b32(KEY)


def hexstr(value) -> str:
    return "0x" + bytes(value).hex()


def state(ledger, ucr=UCR):
    head, custodian, _origin, _destination, pending, _transit = ledger.consignmentOf(consignment_key(ucr))
    return hexstr(head), custodian, pending


def record_id(tx) -> str:
    return hexstr(tx.events["RecordWritten"][-1]["recordId"])


def recovered_signer(ledger, record, signature) -> str:
    """The address the ledger recovers: the signature checked against the ledger's digest."""
    digest = bytes(ledger.recordId(as_tuple(record)))
    return Account._recover_hash(digest, signature=signature)


@pytest.fixture
def declared(book, cast):
    """UCR declared by the NL exporter, who holds the goods."""
    return book.declare(cast.exporter, UCR)


@pytest.fixture
def handed_over(book, cast, declared):
    """The exporter handed the goods over to the NL carrier, who has not accepted yet."""
    return book.hand_over(cast.exporter, cast.carrier, UCR)


# ---------------------------------------------------------------- signatures


def test_record_signed_by_someone_else_than_its_party_is_rejected(book, cast):
    record = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH)
    with reverts_with("LedgerInvalidSigner", cast.carrier, cast.exporter):
        book.send(record, book.sign(cast.carrier, record))


def test_same_signed_record_is_written_only_once(book, cast, ledger):
    record = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH)
    signature = book.sign(cast.exporter, record)
    book.send(record, signature)
    with reverts_with("InvalidAccountNonce", cast.exporter, 1):
        book.send(record, signature)
    assert ledger.nonces(cast.exporter.address) == 1


def test_exporter_cannot_reuse_a_spent_nonce_for_a_new_record(book, cast, declared):
    record = book.record(cast.exporter, OTHER_UCR, "DECLARATION", previous=ZERO_HASH, nonce=0)
    with reverts_with("InvalidAccountNonce", cast.exporter, 1):
        book.send(record, book.sign(cast.exporter, record))


def test_exporter_cannot_sign_ahead_with_a_future_nonce(book, cast):
    record = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH, nonce=5)
    with reverts_with("InvalidAccountNonce", cast.exporter, 0):
        book.send(record, book.sign(cast.exporter, record))


def test_high_s_twin_of_a_valid_signature_is_rejected(book, cast, ledger):
    record = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH)
    signature = book.sign(cast.exporter, record)
    twin = malleate(signature)
    assert recovered_signer(ledger, record, twin) == cast.exporter.address  # ecrecover would accept it
    with reverts_with("ECDSAInvalidSignatureS", twin[32:64]):
        book.send(record, twin)
    book.send(record, signature)
    assert state(ledger)[1] == cast.exporter.address


def test_signature_of_the_wrong_length_is_rejected(book, cast):
    record = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH)
    with reverts_with("ECDSAInvalidSignatureLength", 64):
        book.send(record, book.sign(cast.exporter, record)[:64])


def test_signature_made_for_another_chain_is_rejected(book, cast, ledger):
    record = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH)
    signature = book.sign(cast.exporter, record, chainId=chain.id + 1)
    signer = recovered_signer(ledger, record, signature)
    assert signer != cast.exporter.address
    with reverts_with("LedgerInvalidSigner", signer, cast.exporter):
        book.send(record, signature)


def test_signature_made_for_another_ledger_deployment_is_rejected(book, cast, ledger, registry, admin):
    other = ConsignmentLedger.deploy(registry, {"from": admin})
    record = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH)
    signature = book.sign(cast.exporter, record, verifyingContract=other.address)
    signer = recovered_signer(ledger, record, signature)
    assert signer != cast.exporter.address
    with reverts_with("LedgerInvalidSigner", signer, cast.exporter):
        book.send(record, signature)


def test_signature_made_for_another_ledger_version_is_rejected(book, cast, ledger):
    record = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH)
    signature = book.sign(cast.exporter, record, version="2")
    signer = recovered_signer(ledger, record, signature)
    with reverts_with("LedgerInvalidSigner", signer, cast.exporter):
        book.send(record, signature)


def test_record_past_its_deadline_is_rejected(book, cast):
    now = chain.time()
    record = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH, deadline=now + 60)
    signature = book.sign(cast.exporter, record)
    web3.provider.make_request("evm_setNextBlockTimestamp", [now + 61])
    with reverts_with("LedgerExpiredSignature", now + 60, now + 61):
        book.send(record, signature)


def test_record_is_accepted_up_to_the_last_second_of_its_deadline(book, cast, ledger):
    now = chain.time()
    record = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH, deadline=now + 60)
    signature = book.sign(cast.exporter, record)
    web3.provider.make_request("evm_setNextBlockTimestamp", [now + 60])
    tx = book.send(record, signature)
    assert web3.eth.get_block(tx.block_number).timestamp == now + 60
    assert state(ledger)[1] == cast.exporter.address


# ---------------------------------------------------------------- contract and wallets agree


def test_wallet_signed_record_is_accepted_and_its_id_is_the_wallets_eip712_hash(book, cast, ledger):
    record = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH)
    wallet_hash = record_digest(ledger_domain(ledger), record)
    tx = book.send(record, book.sign(cast.exporter, record))
    assert hexstr(tx.return_value) == wallet_hash
    assert record_id(tx) == wallet_hash
    assert hexstr(ledger.recordId(as_tuple(record))) == wallet_hash
    assert state(ledger)[0] == wallet_hash


def test_ledger_publishes_the_record_type_and_domain_wallets_sign(ledger):
    type_string = "Record(" + ",".join(f"{f['type']} {f['name']}" for f in RECORD_FIELDS) + ")"
    assert type_string == (
        "Record(bytes32 consignment,uint8 kind,bytes32 payloadHash,bytes32 previous,address party,"
        "address counterparty,uint256 nonce,uint256 deadline,bytes2[] route)"
    )
    assert hexstr(ledger.RECORD_TYPEHASH()) == "0x" + keccak(text=type_string).hex()
    fields, name, version, chain_id, verifying_contract, _salt, extensions = ledger.eip712Domain()
    assert (name, version, chain_id, verifying_contract) == ("ConsignmentLedger", "1", chain.id, ledger.address)
    assert hexstr(fields) == "0x0f"  # name, version, chainId, verifyingContract
    assert extensions == ()


def test_ledger_refuses_to_be_deployed_without_a_registry(admin):
    with reverts_with("LedgerZeroAddress"):
        ConsignmentLedger.deploy(ZERO_ADDRESS, {"from": admin})


def test_anyone_may_relay_a_signed_record_without_any_role(book, cast, ledger):
    record = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH)
    signature = book.sign(cast.exporter, record)
    tx = ledger.write(as_tuple(record), signature, {"from": cast.outsider.account})
    assert tx.events["RecordWritten"][0]["party"] == cast.exporter.address
    assert ledger.nonces(cast.outsider.address) == 0


# ---------------------------------------------------------------- record shape


@pytest.mark.parametrize("kind", [6, 255])
def test_record_of_an_unknown_kind_is_rejected(book, cast, kind):
    record = book.record(cast.exporter, UCR, kind, previous=ZERO_HASH)
    with reverts_with("LedgerUnknownRecordKind", kind):
        book.send(record, book.sign(cast.exporter, record))


def test_record_without_a_consignment_is_rejected(book, cast):
    record = dict(book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH), consignment=ZERO_HASH)
    with reverts_with("LedgerEmptyConsignment"):
        book.send(record, book.sign(cast.exporter, record))


def test_record_without_a_payload_hash_is_rejected(book, cast):
    record = dict(book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH), payloadHash=ZERO_HASH)
    with reverts_with("LedgerEmptyPayloadHash", B_KEY):
        book.send(record, book.sign(cast.exporter, record))


# ---------------------------------------------------------------- declarations


def test_exporter_declares_a_consignment_and_holds_its_goods(book, cast, ledger):
    tx = book.declare(cast.exporter, UCR)
    assert state(ledger) == (record_id(tx), cast.exporter.address, ZERO_ADDRESS)
    assert ledger.nonces(cast.exporter.address) == 1


def test_carrier_cannot_declare_a_consignment(book, cast):
    with reverts_with("LedgerMissingRole", cast.carrier, ROLES["EXPORTER"]):
        book.declare(cast.carrier, UCR)


def test_customs_cannot_declare_a_consignment(book, cast):
    with reverts_with("LedgerMissingRole", cast.customs_nl, ROLES["EXPORTER"]):
        book.declare(cast.customs_nl, UCR)


def test_exporter_cannot_declare_a_consignment_someone_declared_already(book, cast, declared):
    with reverts_with("LedgerConsignmentExists", B_KEY):
        book.declare(cast.exporter_sg, UCR)


def test_exporter_cannot_declare_on_top_of_a_previous_record(book, cast, declared):
    previous = record_id(declared)
    with reverts_with("LedgerStalePrevious", b32(consignment_key(OTHER_UCR)), b32(ZERO_HASH), b32(previous)):
        book.write(cast.exporter, OTHER_UCR, "DECLARATION", previous=previous)


def test_exporter_cannot_declare_naming_a_counterparty(book, cast):
    with reverts_with("LedgerInvalidCounterparty", B_KEY, cast.carrier):
        book.write(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH, counterparty=cast.carrier)


def test_carrier_cannot_write_a_record_for_an_unknown_consignment(book, cast):
    with reverts_with("LedgerUnknownConsignment", B_KEY):
        book.accept(cast.carrier, cast.exporter, UCR)


def test_customs_cannot_decide_on_a_record_that_is_no_longer_the_head(book, cast, declared, handed_over):
    stale = record_id(declared)
    with reverts_with("LedgerStalePrevious", B_KEY, b32(record_id(handed_over)), b32(stale)):
        book.write(cast.customs_nl, UCR, "CUSTOMS_DECISION", previous=stale)


# ---------------------------------------------------------------- handovers


def test_carrier_cannot_hand_over_goods_it_does_not_hold(book, cast, declared):
    with reverts_with("LedgerNotCustodian", B_KEY, cast.carrier, cast.exporter):
        book.hand_over(cast.carrier, cast.terminal, UCR)


def test_exporter_cannot_hand_over_to_the_zero_address(book, cast, declared):
    with reverts_with("LedgerInvalidCounterparty", B_KEY, ZERO_ADDRESS):
        book.write(cast.exporter, UCR, "HANDOVER", counterparty=ZERO_ADDRESS)


def test_exporter_cannot_hand_over_to_itself(book, cast, declared):
    with reverts_with("LedgerInvalidCounterparty", B_KEY, cast.exporter):
        book.hand_over(cast.exporter, cast.exporter, UCR)


def test_exporter_cannot_hand_over_to_an_unregistered_party(book, cast, declared):
    with reverts_with("LedgerPartyNotActive", cast.outsider):
        book.hand_over(cast.exporter, cast.outsider, UCR)


def test_exporter_cannot_hand_over_to_customs(book, cast, declared):
    with reverts_with("LedgerMissingRole", cast.customs_nl, CUSTODIANS):
        book.hand_over(cast.exporter, cast.customs_nl, UCR)


def test_exporter_cannot_hand_over_to_a_suspended_carrier(book, cast, registry, declared):
    registry.suspendParty(cast.carrier.address, {"from": cast.customs_nl.account})
    with reverts_with("LedgerPartyNotActive", cast.carrier):
        book.hand_over(cast.exporter, cast.carrier, UCR)


def test_exporter_cannot_start_a_second_handover_while_one_is_pending(book, cast, handed_over):
    with reverts_with("LedgerHandoverPending", B_KEY, cast.carrier):
        book.hand_over(cast.exporter, cast.carrier_sg, UCR)


def test_carrier_cannot_hand_over_goods_it_has_not_accepted_yet(book, cast, handed_over):
    with reverts_with("LedgerNotCustodian", B_KEY, cast.carrier, cast.exporter):
        book.hand_over(cast.carrier, cast.terminal, UCR)


# ---------------------------------------------------------------- acceptances


def test_carrier_cannot_accept_handover_addressed_to_someone_else(book, cast, handed_over):
    with reverts_with("LedgerNotPendingCustodian", B_KEY, cast.carrier_sg, cast.carrier):
        book.accept(cast.carrier_sg, cast.exporter, UCR)


def test_carrier_cannot_accept_goods_nobody_handed_over(book, cast, declared):
    with reverts_with("LedgerNotPendingCustodian", B_KEY, cast.carrier, ZERO_ADDRESS):
        book.accept(cast.carrier, cast.exporter, UCR)


def test_carrier_cannot_accept_naming_someone_else_as_the_custodian_handing_over(book, cast, handed_over):
    with reverts_with("LedgerInvalidCounterparty", B_KEY, cast.exporter_sg):
        book.accept(cast.carrier, cast.exporter_sg, UCR)


def test_suspended_carrier_cannot_accept_the_goods_handed_to_it(book, cast, registry, handed_over):
    registry.suspendParty(cast.carrier.address, {"from": cast.customs_nl.account})
    with reverts_with("LedgerPartyNotActive", cast.carrier):
        book.accept(cast.carrier, cast.exporter, UCR)


def test_custody_moves_to_the_carrier_only_when_it_accepts(book, cast, ledger, declared):
    handover = book.hand_over(cast.exporter, cast.carrier, UCR)
    assert "CustodyTransferred" not in handover.events
    assert state(ledger) == (record_id(handover), cast.exporter.address, cast.carrier.address)

    acceptance = book.accept(cast.carrier, cast.exporter, UCR)
    assert state(ledger) == (record_id(acceptance), cast.carrier.address, ZERO_ADDRESS)
    transferred = acceptance.events["CustodyTransferred"]
    assert len(transferred) == 1
    assert hexstr(transferred[0]["consignment"]) == KEY
    assert transferred[0]["from"] == cast.exporter.address
    assert transferred[0]["to"] == cast.carrier.address
    assert hexstr(transferred[0]["recordId"]) == record_id(acceptance)


def test_goods_travel_from_exporter_to_importer_along_one_hash_chain(book, cast, ledger):
    ids = [record_id(book.declare(cast.exporter, UCR))]
    for giver, taker in [(cast.exporter, cast.carrier), (cast.carrier, cast.terminal), (cast.terminal, cast.importer)]:
        handover = book.hand_over(giver, taker, UCR)
        acceptance = book.accept(taker, giver, UCR)
        ids += [record_id(handover), record_id(acceptance)]
    ids.append(record_id(book.decide(cast.customs_sg, UCR)))

    logs = ledger.events.get_sequence(0, event_type="RecordWritten")
    chain_of_ucr = [e for e in logs if hexstr(e.args["consignment"]) == KEY]
    assert [hexstr(e.args["recordId"]) for e in chain_of_ucr] == ids
    assert [hexstr(e.args["previous"]) for e in chain_of_ucr] == [ZERO_HASH, *ids[:-1]]
    assert state(ledger) == (ids[-1], cast.importer.address, ZERO_ADDRESS)


# ---------------------------------------------------------------- customs decisions


def test_customs_records_a_decision_without_moving_custody(book, cast, ledger, declared):
    tx = book.decide(cast.officer_nl, UCR)
    assert tx.events["RecordWritten"][0]["kind"] == KIND["CUSTOMS_DECISION"]
    assert "CustodyTransferred" not in tx.events
    assert state(ledger) == (record_id(tx), cast.exporter.address, ZERO_ADDRESS)


def test_carrier_cannot_record_a_customs_decision(book, cast, declared):
    with reverts_with("LedgerMissingRole", cast.carrier, ROLES["CUSTOMS"]):
        book.decide(cast.carrier, UCR)


def test_exporter_cannot_record_a_customs_decision_on_its_own_goods(book, cast, declared):
    with reverts_with("LedgerMissingRole", cast.exporter, ROLES["CUSTOMS"]):
        book.decide(cast.exporter, UCR)


def test_customs_cannot_name_a_counterparty_in_a_decision(book, cast, declared):
    with reverts_with("LedgerInvalidCounterparty", B_KEY, cast.exporter):
        book.write(cast.customs_nl, UCR, "CUSTOMS_DECISION", counterparty=cast.exporter)


# ---------------------------------------------------------------- revocations


def test_exporter_revokes_its_pending_handover_and_the_carrier_can_no_longer_accept(book, cast, ledger, handed_over):
    revocation = book.write(cast.exporter, UCR, "REVOCATION", counterparty=cast.carrier)
    assert state(ledger) == (record_id(revocation), cast.exporter.address, ZERO_ADDRESS)
    with reverts_with("LedgerNotPendingCustodian", B_KEY, cast.carrier, ZERO_ADDRESS):
        book.accept(cast.carrier, cast.exporter, UCR)
    book.hand_over(cast.exporter, cast.carrier_sg, UCR)
    assert state(ledger)[2] == cast.carrier_sg.address


def test_custodian_revoking_without_naming_anyone_leaves_the_handover_pending(book, cast, ledger, handed_over):
    revocation = book.write(cast.exporter, UCR, "REVOCATION")
    assert state(ledger) == (record_id(revocation), cast.exporter.address, cast.carrier.address)


def test_custodian_cannot_cancel_a_handover_to_someone_it_did_not_name(book, cast, handed_over):
    with reverts_with("LedgerInvalidCounterparty", B_KEY, cast.carrier_sg):
        book.write(cast.exporter, UCR, "REVOCATION", counterparty=cast.carrier_sg)


def test_custodian_cannot_cancel_a_handover_when_none_is_pending(book, cast, declared):
    with reverts_with("LedgerInvalidCounterparty", B_KEY, cast.carrier):
        book.write(cast.exporter, UCR, "REVOCATION", counterparty=cast.carrier)


def test_customs_revokes_a_record_of_goods_it_does_not_hold(book, cast, ledger, declared):
    revocation = book.write(cast.customs_nl, UCR, "REVOCATION")
    assert revocation.events["RecordWritten"][0]["party"] == cast.customs_nl.address
    assert state(ledger) == (record_id(revocation), cast.exporter.address, ZERO_ADDRESS)


def test_customs_cannot_cancel_a_handover_between_traders(book, cast, ledger, handed_over):
    with reverts_with("LedgerInvalidCounterparty", B_KEY, cast.carrier):
        book.write(cast.customs_nl, UCR, "REVOCATION", counterparty=cast.carrier)
    assert state(ledger)[2] == cast.carrier.address


def test_carrier_cannot_revoke_records_of_goods_it_does_not_hold(book, cast, handed_over):
    with reverts_with("LedgerNotCustodian", B_KEY, cast.carrier, cast.exporter):
        book.write(cast.carrier, UCR, "REVOCATION")


# ---------------------------------------------------------------- party status


def test_suspended_exporter_writes_nothing(book, cast, registry, ledger):
    registry.suspendParty(cast.exporter.address, {"from": cast.customs_nl.account})
    with reverts_with("LedgerPartyNotActive", cast.exporter):
        book.declare(cast.exporter, UCR)
    assert ledger.nonces(cast.exporter.address) == 0


def test_revoked_exporter_cannot_hand_over_goods_it_holds(book, cast, registry, declared):
    registry.revokeParty(cast.exporter.address, {"from": cast.customs_nl.account})
    with reverts_with("LedgerPartyNotActive", cast.exporter):
        book.hand_over(cast.exporter, cast.carrier, UCR)


def test_suspended_customs_officer_cannot_record_a_decision(book, cast, registry, declared):
    registry.suspendParty(cast.officer_nl.address, {"from": cast.customs_nl.account})
    with reverts_with("LedgerPartyNotActive", cast.officer_nl):
        book.decide(cast.officer_nl, UCR)


def test_reinstated_exporter_writes_again(book, cast, registry, ledger):
    registry.suspendParty(cast.exporter.address, {"from": cast.customs_nl.account})
    registry.reinstateParty(cast.exporter.address, {"from": cast.customs_nl.account})
    tx = book.declare(cast.exporter, UCR)
    assert state(ledger) == (record_id(tx), cast.exporter.address, ZERO_ADDRESS)


def test_outsider_writes_nothing(book, cast, declared):
    with reverts_with("LedgerPartyNotActive", cast.outsider):
        book.decide(cast.outsider, UCR)


def test_customs_revokes_a_handover_stuck_with_a_revoked_carrier_only_as_a_record(
    book, cast, registry, ledger, handed_over
):
    registry.revokeParty(cast.carrier.address, {"from": cast.customs_nl.account})
    book.write(cast.customs_nl, UCR, "REVOCATION")
    assert state(ledger)[2] == cast.carrier.address
    book.write(cast.exporter, UCR, "REVOCATION", counterparty=cast.carrier)
    assert state(ledger)[1:] == (cast.exporter.address, ZERO_ADDRESS)


# ---------------------------------------------------------------- events


def test_record_written_event_carries_every_field_of_the_record(book, cast, ledger, declared):
    record = book.record(cast.exporter, UCR, "HANDOVER", counterparty=cast.carrier, payload="bill of lading 42")
    tx = book.send(record, book.sign(cast.exporter, record))
    (event,) = tx.events["RecordWritten"]
    assert hexstr(event["consignment"]) == record["consignment"]
    assert hexstr(event["recordId"]) == record_digest(ledger_domain(ledger), record)
    assert event["party"] == cast.exporter.address
    assert event["kind"] == KIND["HANDOVER"]
    assert hexstr(event["payloadHash"]) == record["payloadHash"] == "0x" + keccak(text="bill of lading 42").hex()
    assert hexstr(event["previous"]) == record["previous"] == record_id(declared)
    assert event["counterparty"] == cast.carrier.address
    assert event["nonce"] == record["nonce"] == 1


# ---------------------------------------------------------------- hops (writeHop)


def test_hop_moves_custody_in_one_transaction(book, cast, ledger, declared):
    tx = book.hop(cast.exporter, cast.carrier, UCR)
    handover, acceptance = tx.events["RecordWritten"]
    assert (handover["kind"], acceptance["kind"]) == (KIND["HANDOVER"], KIND["ACCEPTANCE"])
    assert hexstr(handover["previous"]) == record_id(declared)
    assert hexstr(acceptance["previous"]) == hexstr(handover["recordId"])
    (transferred,) = tx.events["CustodyTransferred"]
    assert (transferred["from"], transferred["to"]) == (cast.exporter.address, cast.carrier.address)
    assert tuple(hexstr(i) for i in tx.return_value) == (hexstr(handover["recordId"]), hexstr(acceptance["recordId"]))
    assert state(ledger) == (hexstr(acceptance["recordId"]), cast.carrier.address, ZERO_ADDRESS)
    assert ledger.nonces(cast.exporter.address) == 2
    assert ledger.nonces(cast.carrier.address) == 1


def _hop_records(book, ledger, custodian, to):
    handover = book.record(custodian, UCR, "HANDOVER", counterparty=to)
    acceptance = book.record(
        to, UCR, "ACCEPTANCE", counterparty=custodian, previous=hexstr(ledger.recordId(as_tuple(handover)))
    )
    return handover, book.sign(custodian, handover), acceptance, book.sign(to, acceptance)


def test_hop_with_its_two_records_swapped_is_rejected(book, cast, ledger, relayer, declared):
    handover, handover_sig, acceptance, acceptance_sig = _hop_records(book, ledger, cast.exporter, cast.carrier)
    with reverts_with("LedgerUnexpectedKind", KIND["HANDOVER"], KIND["ACCEPTANCE"]):
        ledger.writeHop(as_tuple(acceptance), acceptance_sig, as_tuple(handover), handover_sig, {"from": relayer})


def test_hop_ending_in_something_else_than_an_acceptance_is_rejected(book, cast, ledger, relayer, declared):
    handover, handover_sig, _, _ = _hop_records(book, ledger, cast.exporter, cast.carrier)
    decision = book.record(cast.customs_nl, UCR, "CUSTOMS_DECISION")
    with reverts_with("LedgerUnexpectedKind", KIND["ACCEPTANCE"], KIND["CUSTOMS_DECISION"]):
        ledger.writeHop(
            as_tuple(handover),
            handover_sig,
            as_tuple(decision),
            book.sign(cast.customs_nl, decision),
            {"from": relayer},
        )


def test_hop_accepted_by_someone_else_than_the_named_carrier_writes_nothing(book, cast, ledger, relayer, declared):
    handover, handover_sig, _, _ = _hop_records(book, ledger, cast.exporter, cast.carrier)
    previous = hexstr(ledger.recordId(as_tuple(handover)))
    intruder = book.record(cast.carrier_sg, UCR, "ACCEPTANCE", counterparty=cast.exporter, previous=previous)
    with reverts_with("LedgerNotPendingCustodian", B_KEY, cast.carrier_sg, cast.carrier):
        ledger.writeHop(
            as_tuple(handover),
            handover_sig,
            as_tuple(intruder),
            book.sign(cast.carrier_sg, intruder),
            {"from": relayer},
        )
    assert state(ledger) == (record_id(declared), cast.exporter.address, ZERO_ADDRESS)
    assert ledger.nonces(cast.exporter.address) == 1


def test_hop_whose_acceptance_does_not_follow_the_handover_is_rejected(book, cast, ledger, relayer, declared):
    handover, handover_sig, _, _ = _hop_records(book, ledger, cast.exporter, cast.carrier)
    acceptance = book.record(cast.carrier, UCR, "ACCEPTANCE", counterparty=cast.exporter)  # previous: the declaration
    with reverts_with(
        "LedgerStalePrevious", B_KEY, bytes(ledger.recordId(as_tuple(handover))), b32(record_id(declared))
    ):
        ledger.writeHop(
            as_tuple(handover),
            handover_sig,
            as_tuple(acceptance),
            book.sign(cast.carrier, acceptance),
            {"from": relayer},
        )


def test_hop_with_a_forged_acceptance_signature_is_rejected(book, cast, ledger, relayer, declared):
    handover, handover_sig, acceptance, _ = _hop_records(book, ledger, cast.exporter, cast.carrier)
    with reverts_with("LedgerInvalidSigner", cast.exporter, cast.carrier):
        ledger.writeHop(
            as_tuple(handover),
            handover_sig,
            as_tuple(acceptance),
            book.sign(cast.exporter, acceptance),
            {"from": relayer},
        )
