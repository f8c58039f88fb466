"""The roles and statuses the service uses are the contracts' own, read from their sources."""

from __future__ import annotations

import re

import pytest

from ledger_api.domain.parties import (
    ALL_ROLES,
    CUSTODIAN_ROLES,
    PartyStatus,
    Role,
    gln_is_valid,
    identifier_errors,
    identifiers_hash,
    lei_is_valid,
    role_names,
    roles_of,
    status_name,
)
from ledger_api.settings import PROJECT_ROOT

CONTRACTS = PROJECT_ROOT / "contracts"


def _solidity_roles() -> dict[str, int]:
    source = (CONTRACTS / "lib" / "PartyRoles.sol").read_text()
    return {name: 1 << int(bit) for name, bit in re.findall(r"uint64 internal constant (\w+) = 1 << (\d+);", source)}


def test_every_role_bit_is_the_one_party_roles_sol_defines():
    assert {role.name: int(role) for role in Role} == _solidity_roles()


def test_custodian_and_all_roles_are_the_contracts_unions():
    source = (CONTRACTS / "lib" / "PartyRoles.sol").read_text()
    for name, value in (("CUSTODIANS", CUSTODIAN_ROLES), ("ALL", ALL_ROLES)):
        members = re.search(rf"constant {name} = ([A-Z_ |]+);", source)
        assert members is not None
        assert roles_of(m.strip() for m in members.group(1).split("|")) == value


def test_statuses_are_ipartyregistry_status_in_its_order():
    source = (CONTRACTS / "interfaces" / "IPartyRegistry.sol").read_text()
    body = re.search(r"enum Status \{([^}]*)\}", source)
    assert body is not None
    names = [n.strip() for n in body.group(1).split(",") if n.strip()]
    assert [s.name for s in PartyStatus] == ["UNREGISTERED" if n == "None" else n.upper() for n in names]


def test_names_read_back_and_an_unknown_status_is_shown_as_its_number():
    assert role_names(Role.EXPORTER | Role.CUSTOMS) == ["EXPORTER", "CUSTOMS"]
    assert roles_of(["CARRIER", "IMPORTER"]) == 18
    assert status_name(2) == "suspended"
    assert status_name(9) == "9"
    with pytest.raises(KeyError):
        roles_of(["CAPTAIN"])


def test_identifiers_hash_is_keccak_of_rfc8785_json_whatever_the_key_order():
    a = identifiers_hash({"name": "Sakura Precision KK", "eori": "JP1"})
    b = identifiers_hash({"eori": "JP1", "name": "Sakura Precision KK"})
    assert a == b
    # RFC 8785: keys sorted, no whitespace, non-ASCII kept as UTF-8.
    from eth_utils.crypto import keccak

    assert identifiers_hash({"name": "Zürich AG"}) == keccak('{"name":"Zürich AG"}'.encode())


def test_a_registration_names_the_legal_name_and_valid_lei_gln_and_eori():
    good = {"name": "Sakura Precision KK", "lei": "353800SKRPRC7Q1D0J45", "gln": "8718501001014", "eori": "NL811223344"}
    assert identifier_errors(good) == []
    assert identifier_errors({"eori": "NL811223344"}) == [("name", "a registration names the party's legal name")]
    assert identifier_errors({"eori": "NL1"}, name_required=False) == []
    assert [key for key, _ in identifier_errors({"name": " padded "})] == ["name"]
    assert [key for key, _ in identifier_errors(good | {"lei": "353800SKRPRC7Q1D0J44"})] == ["lei"]
    assert [key for key, _ in identifier_errors(good | {"gln": "8718501001013"})] == ["gln"]
    assert [key for key, _ in identifier_errors(good | {"eori": "811223344"})] == ["eori"]


def test_lei_and_gln_check_digits_follow_iso_17442_and_gs1():
    assert lei_is_valid("5493001KJTIIGC8Y1R12")  # a published LEI
    assert not lei_is_valid("5493001KJTIIGC8Y1R13") and not lei_is_valid("5493001KJTIIGC8Y1R1")
    assert gln_is_valid("4000001000005")  # GS1's example GLN
    assert not gln_is_valid("4000001000006") and not gln_is_valid("400000100000")
