"""ConsignmentLedger.writeMany: many signed records in one transaction, each written
exactly as `write` would, in order; a record `write` refuses is skipped with a
RecordRejected event carrying the custom error, and the others are written."""

import eth_abi
import pytest
from brownie import web3
from helpers import (
    KIND,
    ROLES,
    ZERO_ADDRESS,
    ZERO_HASH,
    _error_abis,
    as_tuple,
    consignment_key,
    country,
    encode_error,
    ledger_domain,
    pack,
    record_digest,
    reverts_with,
)

UCR = "9NL123456789-PACK-0001"
OTHER_UCR = "9NL123456789-PACK-0002"
KEY = consignment_key(UCR)
B_KEY = bytes.fromhex(KEY[2:])


def hexstr(value) -> str:
    return "0x" + bytes(value).hex()


def outcomes(tx) -> list[tuple[str, str]]:
    """(event name, record id) of each record of the pack, in order."""
    return [(e.name, hexstr(e["recordId"])) for e in tx.events if e.name in ("RecordWritten", "RecordRejected")]


def decode_error(reason: bytes) -> tuple[str, tuple]:
    """What an indexer does with a RecordRejected reason: find the error by its selector, decode its arguments."""
    for name, abi in _error_abis().items():
        types = [i["type"] for i in abi["inputs"]]
        if web3.keccak(text=f"{name}({','.join(types)})")[:4] == reason[:4]:
            return name, eth_abi.decode(types, reason[4:])
    raise AssertionError(f"unknown error selector {reason[:4].hex()}")


def write_many(ledger, relayer, book, signed):
    records, signatures = pack(book, signed)
    return ledger.writeMany(records, signatures, {"from": relayer})


def digest(ledger, record) -> str:
    return record_digest(ledger_domain(ledger), record)


def test_bad_record_in_the_middle_is_rejected_and_the_two_around_it_are_written(book, cast, ledger, relayer):
    declaration = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH)
    declared = digest(ledger, declaration)
    # DE customs is not on the NL -> SG route.
    decision = book.record(cast.customs_de, UCR, "CUSTOMS_DECISION", previous=declared)
    handover = book.record(
        cast.exporter, UCR, "HANDOVER", counterparty=cast.carrier, previous=declared, nonce=declaration["nonce"] + 1
    )
    tx = write_many(
        ledger, relayer, book, [(cast.exporter, declaration), (cast.customs_de, decision), (cast.exporter, handover)]
    )
    assert tx.return_value == 2
    assert outcomes(tx) == [
        ("RecordWritten", declared),
        ("RecordRejected", digest(ledger, decision)),
        ("RecordWritten", digest(ledger, handover)),
    ]
    (rejected,) = tx.events["RecordRejected"]
    assert (hexstr(rejected["consignment"]), rejected["party"]) == (KEY, cast.customs_de.address)
    reason = bytes(rejected["reason"])
    assert reason == encode_error("LedgerNotOnRoute", B_KEY, cast.customs_de, country("DE"))
    assert decode_error(reason) == ("LedgerNotOnRoute", (B_KEY, cast.customs_de.address.lower(), b"DE"))
    head, custodian, _, _, pending, _ = ledger.consignmentOf(KEY)
    assert (hexstr(head), custodian, pending) == (digest(ledger, handover), cast.exporter.address, cast.carrier.address)
    assert ledger.nonces(cast.exporter.address) == 2
    assert ledger.nonces(cast.customs_de.address) == 0


def test_declaration_handover_and_acceptance_of_one_consignment_land_in_one_pack(book, cast, ledger, relayer):
    declaration = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH, route=("NL", "JP"))
    handover = book.record(
        cast.exporter,
        UCR,
        "HANDOVER",
        counterparty=cast.carrier,
        previous=digest(ledger, declaration),
        nonce=declaration["nonce"] + 1,
    )
    acceptance = book.record(
        cast.carrier, UCR, "ACCEPTANCE", counterparty=cast.exporter, previous=digest(ledger, handover)
    )
    tx = write_many(
        ledger, relayer, book, [(cast.exporter, declaration), (cast.exporter, handover), (cast.carrier, acceptance)]
    )
    assert tx.return_value == 3
    assert [e["kind"] for e in tx.events["RecordWritten"]] == [
        KIND["DECLARATION"],
        KIND["HANDOVER"],
        KIND["ACCEPTANCE"],
    ]
    assert "RecordRejected" not in tx.events
    (moved,) = tx.events["CustodyTransferred"]
    assert (moved["from"], moved["to"]) == (cast.exporter.address, cast.carrier.address)
    (route,) = tx.events["RouteExtended"]
    assert [bytes(c) for c in route["countries"]] == [b"NL", b"JP"]
    head, custodian, _, _, pending, _ = ledger.consignmentOf(KEY)
    assert (hexstr(head), custodian, pending) == (digest(ledger, acceptance), cast.carrier.address, ZERO_ADDRESS)


def test_nonce_of_a_rejected_record_stays_unused_for_the_next_one(book, cast, ledger, relayer):
    bad = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH, route=("NL", "NL"))
    good = book.record(cast.exporter, OTHER_UCR, "DECLARATION", previous=ZERO_HASH, nonce=bad["nonce"])
    forged = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH, nonce=bad["nonce"] + 1)
    records, signatures = pack(book, [(cast.exporter, bad), (cast.exporter, good), (cast.carrier, forged)])
    tx = ledger.writeMany(records, signatures, {"from": relayer})
    assert tx.return_value == 1
    assert outcomes(tx) == [
        ("RecordRejected", digest(ledger, bad)),
        ("RecordWritten", digest(ledger, good)),
        ("RecordRejected", digest(ledger, forged)),
    ]
    first, second = tx.events["RecordRejected"]
    assert bytes(first["reason"]) == encode_error("LedgerSameOriginAndDestination", B_KEY, country("NL"))
    assert bytes(second["reason"]) == encode_error("LedgerInvalidSigner", cast.carrier, cast.exporter)
    assert ledger.nonces(cast.exporter.address) == 1
    assert ledger.consignmentOf(KEY)[0] == ZERO_HASH


def test_same_record_twice_in_a_pack_is_written_once(book, cast, ledger, relayer):
    declaration = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH)
    signature = book.sign(cast.exporter, declaration)
    tx = ledger.writeMany([as_tuple(declaration)] * 2, [signature] * 2, {"from": relayer})
    assert tx.return_value == 1
    assert outcomes(tx) == [
        ("RecordWritten", digest(ledger, declaration)),
        ("RecordRejected", digest(ledger, declaration)),
    ]
    assert bytes(tx.events["RecordRejected"][0]["reason"]) == encode_error("InvalidAccountNonce", cast.exporter, 1)


def test_record_rejected_by_a_library_error_carries_it_too(book, cast, ledger, relayer):
    declaration = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH)
    signature = book.sign(cast.exporter, declaration)[:64]
    tx = ledger.writeMany([as_tuple(declaration)], [signature], {"from": relayer})
    assert tx.return_value == 0
    assert bytes(tx.events["RecordRejected"][0]["reason"]) == encode_error("ECDSAInvalidSignatureLength", 64)


def test_pack_with_fewer_signatures_than_records_is_refused(book, cast, ledger, relayer):
    first = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH)
    second = book.record(cast.exporter, OTHER_UCR, "DECLARATION", previous=ZERO_HASH, nonce=first["nonce"] + 1)
    with reverts_with("LedgerSignatureCountMismatch", 2, 1):
        ledger.writeMany([as_tuple(first), as_tuple(second)], [book.sign(cast.exporter, first)], {"from": relayer})
    assert ledger.nonces(cast.exporter.address) == 0


def test_empty_pack_writes_nothing(ledger, relayer):
    tx = ledger.writeMany([], [], {"from": relayer})
    assert tx.return_value == 0
    assert len(tx.events) == 0


def test_pack_sent_with_too_little_gas_for_a_record_is_refused_whole(book, cast, ledger, relayer):
    # The relayer cannot make a valid record pass for rejected by starving its call of gas.
    declaration = book.record(cast.exporter, UCR, "DECLARATION", previous=ZERO_HASH)
    records, signatures = pack(book, [(cast.exporter, declaration)])
    with reverts_with("LedgerRecordOutOfGas", 0):
        ledger.writeMany.call(records, signatures, {"from": relayer, "gas_limit": 90_000})
    tx = ledger.writeMany(records, signatures, {"from": relayer})
    assert tx.return_value == 1


def test_records_in_a_pack_follow_every_rule_of_write(book, cast, ledger, relayer, registry):
    """Roles, status and custody rules hold inside a pack as they do one by one."""
    book.declare(cast.exporter, UCR)
    registry.suspendParty(cast.carrier_sg.address, {"from": cast.customs_sg.account})
    carrier_decides = book.record(cast.carrier, UCR, "CUSTOMS_DECISION")
    suspended_accepts = book.record(cast.carrier_sg, UCR, "ACCEPTANCE", counterparty=cast.exporter)
    stranger_hands_over = book.record(cast.carrier, UCR, "HANDOVER", counterparty=cast.terminal)
    tx = write_many(
        ledger,
        relayer,
        book,
        [(cast.carrier, carrier_decides), (cast.carrier_sg, suspended_accepts), (cast.carrier, stranger_hands_over)],
    )
    assert tx.return_value == 0
    assert [bytes(e["reason"]) for e in tx.events["RecordRejected"]] == [
        encode_error("LedgerMissingRole", cast.carrier, ROLES["CUSTOMS"]),
        encode_error("LedgerPartyNotActive", cast.carrier_sg),
        encode_error("LedgerNotCustodian", B_KEY, cast.carrier, cast.exporter),
    ]


@pytest.mark.parametrize("size", [1, 5])
def test_pack_of_declarations_by_one_exporter_writes_them_all(book, cast, ledger, relayer, size):
    nonce = ledger.nonces(cast.exporter.address)
    signed = [
        (cast.exporter, book.record(cast.exporter, f"{UCR}-{i}", "DECLARATION", previous=ZERO_HASH, nonce=nonce + i))
        for i in range(size)
    ]
    tx = write_many(ledger, relayer, book, signed)
    assert tx.return_value == size
    assert [hexstr(e["recordId"]) for e in tx.events["RecordWritten"]] == [digest(ledger, r) for _, r in signed]
    assert ledger.nonces(cast.exporter.address) == nonce + size
