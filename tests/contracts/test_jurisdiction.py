"""ConsignmentLedger jurisdiction: a consignment's route (origin and destination from its
declaration, transit countries added by its custodian) is on chain, and only customs of
a route country decides on it or revokes its records."""

import pytest
from brownie import chain
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak
from helpers import (
    KIND,
    ROLES,
    as_tuple,
    consignment_key,
    country,
    ledger_domain,
    record_digest,
    reverts_with,
    route_of,
)

UCR = "9NL123456789-ROUTE-0001"
KEY = consignment_key(UCR)
B_KEY = bytes.fromhex(KEY[2:])
TRANSIT_CODES = [
    "AE", "AT", "BE", "CH", "CN", "CZ", "DK", "ES", "FR", "GB", "HK", "IN", "IT", "KR", "LU", "MY", "PL",
]  # fmt: skip


def b32(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def hexstr(value) -> str:
    return "0x" + bytes(value).hex()


def route(ledger, ucr=UCR) -> list[str]:
    return [bytes(c).decode() for c in ledger.routeOf(consignment_key(ucr))]


def extended(tx) -> list[tuple[str, str, list[str]]]:
    """The RouteExtended events of `tx`: (consignment, record id, countries)."""
    if "RouteExtended" not in tx.events:
        return []
    return [
        (hexstr(e["consignment"]), hexstr(e["recordId"]), [bytes(c).decode() for c in e["countries"]])
        for e in tx.events["RouteExtended"]
    ]


def record_id(tx) -> str:
    return hexstr(tx.events["RecordWritten"][-1]["recordId"])


@pytest.fixture
def nl_to_jp(book, cast):
    """UCR declared by the NL exporter for Japan: NL is its origin, JP its destination."""
    return book.declare(cast.exporter, UCR, route=("NL", "JP"))


# ---------------------------------------------------------------- declarations name the route


def test_declaration_puts_origin_and_destination_on_the_route(book, cast, ledger):
    tx = book.declare(cast.exporter, UCR, route=("NL", "JP"))
    assert route(ledger) == ["NL", "JP"]
    assert extended(tx) == [(KEY, record_id(tx), ["NL", "JP"])]
    _, _, origin, destination, _, transit = ledger.consignmentOf(KEY)
    assert (bytes(origin), bytes(destination), bytes(transit)) == (b"NL", b"JP", b"\x00" * 32)
    for code, on in (("NL", True), ("JP", True), ("SG", False), ("DE", False)):
        assert ledger.isOnRoute(KEY, country(code)) is on
    assert ledger.isOnRoute(KEY, b"\x00\x00") is False


def test_consignment_never_declared_has_no_route(ledger):
    assert list(ledger.routeOf(KEY)) == []
    assert ledger.isOnRoute(KEY, country("NL")) is False


@pytest.mark.parametrize("codes", [(), ("NL",), ("NL", "SG", "JP")])
def test_declaration_must_name_exactly_an_origin_and_a_destination(book, cast, ledger, codes):
    with reverts_with("LedgerInvalidRouteLength", B_KEY, KIND["DECLARATION"], len(codes)):
        book.declare(cast.exporter, UCR, route=codes)
    assert ledger.nonces(cast.exporter.address) == 0


@pytest.mark.parametrize(
    "codes, bad", [((b"nl", b"SG"), b"nl"), ((b"NL", b"S1"), b"S1"), ((b"NL", b"\x00\x00"), b"\x00\x00")]
)
def test_declaration_with_a_malformed_country_is_rejected(book, cast, codes, bad):
    with reverts_with("LedgerInvalidRouteCountry", B_KEY, bad):
        book.declare(cast.exporter, UCR, route=codes)


def test_declaration_whose_destination_is_its_origin_is_rejected(book, cast, ledger):
    with reverts_with("LedgerSameOriginAndDestination", B_KEY, country("NL")):
        book.declare(cast.exporter, UCR, route=("NL", "NL"))
    assert list(ledger.routeOf(KEY)) == []


@pytest.mark.parametrize("kind", ["HANDOVER", "ACCEPTANCE", "CUSTOMS_DECISION", "REVOCATION"])
def test_records_other_than_declarations_and_transits_carry_no_route(book, cast, nl_to_jp, kind):
    record = book.record(cast.exporter, UCR, kind, route=("SG",))
    with reverts_with("LedgerInvalidRouteLength", B_KEY, KIND[kind], 1):
        book.send(record, book.sign(cast.exporter, record))


# ---------------------------------------------------------------- customs of the route decide


def test_customs_of_a_country_off_the_route_cannot_decide(book, cast, ledger, nl_to_jp):
    with reverts_with("LedgerNotOnRoute", B_KEY, cast.customs_sg, country("SG")):
        book.decide(cast.customs_sg, UCR)
    with reverts_with("LedgerNotOnRoute", B_KEY, cast.customs_de, country("DE")):
        book.decide(cast.customs_de, UCR)
    assert ledger.nonces(cast.customs_sg.address) == 0


def test_customs_of_the_origin_decides_and_so_does_any_customs_officer_of_it(book, cast, ledger, nl_to_jp):
    book.decide(cast.customs_nl, UCR)
    tx = book.decide(cast.officer_nl, UCR)
    assert tx.events["RecordWritten"][0]["kind"] == KIND["CUSTOMS_DECISION"]


def test_customs_of_a_transit_country_decides_once_the_custodian_declared_the_transit(book, cast, ledger, nl_to_jp):
    with reverts_with("LedgerNotOnRoute", B_KEY, cast.customs_sg, country("SG")):
        book.decide(cast.customs_sg, UCR)
    transit = book.transit(cast.exporter, UCR, "SG")
    assert extended(transit) == [(KEY, record_id(transit), ["SG"])]
    assert transit.events["RecordWritten"][0]["kind"] == KIND["TRANSIT"]
    assert "CustodyTransferred" not in transit.events
    assert route(ledger) == ["NL", "JP", "SG"]
    decision = book.decide(cast.customs_sg, UCR)
    assert decision.events["RecordWritten"][0]["party"] == cast.customs_sg.address


def test_customs_of_a_country_off_the_route_cannot_revoke(book, cast, nl_to_jp):
    with reverts_with("LedgerNotOnRoute", B_KEY, cast.customs_de, country("DE")):
        book.write(cast.customs_de, UCR, "REVOCATION")


def test_customs_of_a_route_country_revokes(book, cast, ledger, nl_to_jp):
    book.transit(cast.exporter, UCR, "DE")
    tx = book.write(cast.customs_de, UCR, "REVOCATION")
    assert tx.events["RecordWritten"][0]["party"] == cast.customs_de.address


def test_custodian_revokes_whatever_the_route(book, cast, nl_to_jp):
    # The custodian's right to revoke its own records does not depend on its country.
    book.hop(cast.exporter, cast.carrier_sg, UCR)
    tx = book.write(cast.carrier_sg, UCR, "REVOCATION")
    assert tx.events["RecordWritten"][0]["party"] == cast.carrier_sg.address


def test_law_enforcement_neither_decides_nor_revokes_nor_holds_goods(book, cast, nl_to_jp):
    with reverts_with("LedgerMissingRole", cast.police_nl, ROLES["CUSTOMS"]):
        book.decide(cast.police_nl, UCR)
    with reverts_with("LedgerNotCustodian", B_KEY, cast.police_nl, cast.exporter):
        book.write(cast.police_nl, UCR, "REVOCATION")
    with reverts_with("LedgerMissingRole", cast.police_nl, 1 | 2 | 4 | 8 | 16):
        book.hand_over(cast.exporter, cast.police_nl, UCR)


# ---------------------------------------------------------------- transit


def test_carrier_holding_the_goods_adds_several_transit_countries(book, cast, ledger, nl_to_jp):
    book.hop(cast.exporter, cast.carrier, UCR)
    tx = book.transit(cast.carrier, UCR, "SG", "DE")
    assert route(ledger) == ["NL", "JP", "SG", "DE"]
    assert extended(tx) == [(KEY, record_id(tx), ["SG", "DE"])]
    assert ledger.consignmentOf(KEY)[1] == cast.carrier.address


def test_transit_country_already_on_the_route_is_not_added_again(book, cast, ledger, nl_to_jp):
    book.transit(cast.exporter, UCR, "SG")
    tx = book.transit(cast.exporter, UCR, "JP", "DE", "SG", "DE")
    assert route(ledger) == ["NL", "JP", "SG", "DE"]
    assert extended(tx) == [(KEY, record_id(tx), ["DE"])]


def test_transit_adding_nothing_new_is_written_without_a_route_event(book, cast, ledger, nl_to_jp):
    tx = book.transit(cast.exporter, UCR, "NL")
    assert "RouteExtended" not in tx.events
    assert ledger.consignmentOf(KEY)[0] == tx.events["RecordWritten"][0]["recordId"]
    assert route(ledger) == ["NL", "JP"]


@pytest.mark.parametrize("name", ["carrier", "customs_nl", "importer"])
def test_party_not_holding_the_goods_cannot_add_a_transit_country(book, cast, ledger, nl_to_jp, name):
    party = getattr(cast, name)
    with reverts_with("LedgerNotCustodian", B_KEY, party, cast.exporter):
        book.transit(party, UCR, "SG")
    assert route(ledger) == ["NL", "JP"]


def test_carrier_named_in_a_pending_handover_cannot_add_transit_before_accepting(book, cast, nl_to_jp):
    book.hand_over(cast.exporter, cast.carrier, UCR)
    with reverts_with("LedgerNotCustodian", B_KEY, cast.carrier, cast.exporter):
        book.transit(cast.carrier, UCR, "SG")


def test_transit_for_an_unknown_consignment_is_rejected(book, cast):
    with reverts_with("LedgerUnknownConsignment", B_KEY):
        book.transit(cast.exporter, UCR, "SG")


@pytest.mark.parametrize("count", [0, 17])
def test_transit_must_name_one_to_sixteen_countries(book, cast, nl_to_jp, count):
    codes = [f"{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(count)]
    with reverts_with("LedgerInvalidRouteLength", B_KEY, KIND["TRANSIT"], count):
        book.transit(cast.exporter, UCR, *codes)


def test_transit_with_a_malformed_country_is_rejected(book, cast, ledger, nl_to_jp):
    with reverts_with("LedgerInvalidRouteCountry", B_KEY, b"s9"):
        book.transit(cast.exporter, UCR, "SG", b"s9")
    assert route(ledger) == ["NL", "JP"]


def test_transit_naming_a_counterparty_is_rejected(book, cast, nl_to_jp):
    with reverts_with("LedgerInvalidCounterparty", B_KEY, cast.carrier):
        book.write(cast.exporter, UCR, "TRANSIT", route=("SG",), counterparty=cast.carrier)


def test_route_holds_sixteen_transit_countries_and_refuses_a_seventeenth(book, cast, ledger, nl_to_jp):
    book.transit(cast.exporter, UCR, *TRANSIT_CODES[:10])
    book.transit(cast.exporter, UCR, *TRANSIT_CODES[10:16])
    assert route(ledger) == ["NL", "JP", *TRANSIT_CODES[:16]]
    assert bytes(ledger.consignmentOf(KEY)[5]) == b"".join(country(c) for c in TRANSIT_CODES[:16])
    # A country already on the route still fits: it adds nothing.
    book.transit(cast.exporter, UCR, "NL", "JP", TRANSIT_CODES[0])
    with reverts_with("LedgerRouteFull", B_KEY, country(TRANSIT_CODES[16])):
        book.transit(cast.exporter, UCR, "NL", TRANSIT_CODES[16])
    assert route(ledger) == ["NL", "JP", *TRANSIT_CODES[:16]]


# ---------------------------------------------------------------- signing the route


def test_route_is_hashed_as_eip712_arrays_are(ledger, book, cast, nl_to_jp):
    """The digest built here by hand (an array member is keccak256 of its elements' 32-byte
    encodings, concatenated), eth-account's encode_typed_data and the ledger all agree."""
    record = book.record(cast.exporter, UCR, "TRANSIT", route=("SG", "DE", "AT"))
    route_hash = keccak(b"".join(c.ljust(32, b"\x00") for c in route_of("SG", "DE", "AT")))
    struct_hash = keccak(
        encode(
            [
                "bytes32",
                "bytes32",
                "uint8",
                "bytes32",
                "bytes32",
                "address",
                "address",
                "uint256",
                "uint256",
                "bytes32",
            ],
            [
                bytes(ledger.RECORD_TYPEHASH()),
                b32(record["consignment"]),
                record["kind"],
                b32(record["payloadHash"]),
                b32(record["previous"]),
                record["party"],
                record["counterparty"],
                record["nonce"],
                record["deadline"],
                route_hash,
            ],
        )
    )
    domain_separator = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak(text="ConsignmentLedger"),
                keccak(text="1"),
                chain.id,
                ledger.address,
            ],
        )
    )
    by_hand = "0x" + keccak(b"\x19\x01" + domain_separator + struct_hash).hex()
    assert record_digest(ledger_domain(ledger), record) == by_hand
    assert hexstr(ledger.recordId(as_tuple(record))) == by_hand
    tx = book.send(record, book.sign(cast.exporter, record))
    assert hexstr(tx.return_value) == by_hand


@pytest.mark.parametrize("codes", [(), ("SG",), ("SG", "DE"), ("DE", "SG")])
def test_record_id_is_the_wallets_eip712_hash_whatever_the_route(ledger, book, cast, codes):
    record = book.record(cast.exporter, UCR, "TRANSIT", route=codes)
    assert hexstr(ledger.recordId(as_tuple(record))) == record_digest(ledger_domain(ledger), record)


def test_signature_over_another_route_does_not_recover_to_the_party(ledger, book, cast, nl_to_jp):
    signed = book.record(cast.exporter, UCR, "TRANSIT", route=("SG",))
    sent = dict(signed, route=route_of("DE"))
    signature = book.sign(cast.exporter, signed)
    signer = Account._recover_hash(bytes(ledger.recordId(as_tuple(sent))), signature=signature)
    with reverts_with("LedgerInvalidSigner", signer, cast.exporter):
        book.send(sent, signature)
    assert route(ledger) == ["NL", "JP"]
    assert ledger.nonces(cast.exporter.address) == 1
