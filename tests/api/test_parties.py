"""Registry writes through the API: signed by the customs authority of the party's
country, relayed through the forwarder, and refused when anyone else signs them. Parties
by name: a registration carries the legal name and identifiers whose hash goes on chain,
and a party registered on chain by hash alone is named by identifiers that match it."""

from __future__ import annotations

import httpx
from eth_account import Account
from eth_utils.crypto import keccak
from support.forwarding import JP_CUSTOMS, NL_CUSTOMS, carrier_registration
from support.payloads import declaration
from support.service import Service, wait_until

from ledger_api.chain.artifacts import load_artifacts
from ledger_api.client import ClientError, LedgerClient
from ledger_api.domain.forwarding import REGISTRY_FUNCTIONS
from ledger_api.domain.parties import identifiers_hash
from ledger_api.settings import PROJECT_ROOT


def party_status(service: Service, address: str) -> str | None:
    response = service.http.get(f"/v1/parties/{address}")
    return response.json()["status"] if response.status_code == 200 else None


def test_customs_registers_suspends_and_reinstates_a_trader_of_its_country(service: Service):
    newcomer = Account.from_key(keccak(text="parties test newcomer"))
    customs = service.as_party(NL_CUSTOMS)
    identifiers = {"name": "Newcomer Trading B.V.", "eori": "NL42", "gln": "8718501001014"}
    accepted = customs.manage_party("register", newcomer.address, roles=["EXPORTER"], identifiers=identifiers)
    assert accepted["status"] == "accepted"
    wait_until(lambda: party_status(service, newcomer.address) == "active", what="registration indexed")
    party = service.http.get(f"/v1/parties/{newcomer.address}").json()
    assert (party["country"], party["roles"]) == ("NL", ["EXPORTER"])
    assert (party["name"], party["identifiers"]) == ("Newcomer Trading B.V.", identifiers)
    assert party["identifiers_hash"] == "0x" + identifiers_hash(identifiers).hex()

    customs.manage_party("suspend", newcomer.address)
    wait_until(lambda: party_status(service, newcomer.address) == "suspended", what="suspension indexed")
    trader = service.as_party(newcomer)
    refused = trader.http.post("/v1/records", json=trader.sign(declaration("6NL123456789-PARTY-01")).body())
    assert refused.status_code == 403 and refused.json()["code"] == "PARTY_NOT_ACTIVE"

    customs.manage_party("reinstate", newcomer.address)
    wait_until(lambda: party_status(service, newcomer.address) == "active", what="reinstatement indexed")
    assert trader.wait_confirmed(trader.submit(declaration("6NL123456789-PARTY-01")))["status"] == "confirmed"


def test_a_trader_cannot_register_parties(service: Service):
    exporter = service.keys["exporter"]
    outsider = Account.from_key(keccak(text="parties test outsider")).address
    info = service.http.get("/v1/ledger").json()
    body = carrier_registration(info, exporter, outsider, nonce=0)
    response = service.post_as(exporter.address, "/v1/parties", body)
    assert response.status_code == 403 and response.json()["code"] == "NOT_AUTHORITY"


def test_customs_of_another_country_cannot_suspend_a_trader(service: Service):
    customs_jp = service.as_party(JP_CUSTOMS)
    try:
        customs_jp.manage_party("suspend", service.address("exporter"))
    except ClientError as exc:
        assert exc.status == 403 and exc.problem["code"] == "NOT_AUTHORITY_OF"
    else:
        raise AssertionError("a JP authority suspended an NL exporter")
    assert party_status(service, service.address("exporter")) == "active"


def test_a_request_signed_by_another_key_is_refused_and_a_repeat_is_the_same_request(service: Service):
    info = service.http.get("/v1/ledger").json()
    target = Account.from_key(keccak(text="parties test forged")).address
    nonce = service.http.get(f"/v1/parties/{NL_CUSTOMS.address}").json()["forwarder_nonce"]
    forged = carrier_registration(info, NL_CUSTOMS, target, nonce=nonce, signer=JP_CUSTOMS)
    response = service.post_as(NL_CUSTOMS.address, "/v1/parties", forged)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "signature"

    good = carrier_registration(info, NL_CUSTOMS, target, nonce=nonce)
    first, again = (service.post_as(NL_CUSTOMS.address, "/v1/parties", good) for _ in range(2))
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    wait_until(lambda: party_status(service, target) == "active", what="registration indexed")


def test_registry_calls_signed_by_authorities_match_the_compiled_abi():
    abi = load_artifacts(PROJECT_ROOT / "build")["PartyRegistry"].abi
    functions = {f["name"]: [i["type"] for i in f["inputs"]] for f in abi if f["type"] == "function"}
    for name, types in REGISTRY_FUNCTIONS.values():
        assert functions[name] == types


def _refusal(customs: LedgerClient, party: str, identifiers: dict[str, str]) -> tuple[int, str, str]:
    try:
        customs.manage_party("register", party, roles=["CARRIER"], identifiers=identifiers)
    except ClientError as exc:
        return exc.status, exc.problem["code"], exc.problem["errors"][0]["field"]
    raise AssertionError(f"a registration with identifiers {identifiers} was accepted")


def test_a_registration_without_a_legal_name_or_with_a_malformed_lei_eori_or_gln_is_refused_naming_it(
    service: Service,
):
    customs = service.as_party(NL_CUSTOMS)
    party = Account.from_key(keccak(text="parties test unnamed")).address
    assert _refusal(customs, party, {"eori": "NL77"}) == (422, "BAD_IDENTIFIER", "identifiers.name")
    named = {"name": "Unnamed B.V."}
    assert _refusal(customs, party, named | {"lei": "353800SKRPRC7Q1D0J46"}) == (
        422,
        "BAD_IDENTIFIER",
        "identifiers.lei",
    )
    assert _refusal(customs, party, named | {"gln": "8718501001015"}) == (422, "BAD_IDENTIFIER", "identifiers.gln")
    assert _refusal(customs, party, named | {"eori": "nl-77"}) == (422, "BAD_IDENTIFIER", "identifiers.eori")
    assert party_status(service, party) is None


def test_a_party_registered_on_chain_by_hash_is_named_only_by_identifiers_that_hash_to_it(service: Service):
    exporter = service.address("exporter")  # registered on chain with identifiers_hash({"name": "exporter"})
    headers = {"Authorization": f"Bearer {service.tokens['exporter']}"}
    wrong = service.http.put(
        f"/v1/parties/{exporter}/identifiers", json={"identifiers": {"name": "Someone Else"}}, headers=headers
    )
    assert wrong.status_code == 422 and wrong.json()["code"] == "IDENTIFIERS_MISMATCH"
    assert wrong.json()["errors"][0]["field"] == "identifiers"
    assert service.http.get(f"/v1/parties/{exporter}").json()["name"] != "Someone Else"

    right = service.http.put(
        f"/v1/parties/{exporter}/identifiers", json={"identifiers": {"name": "exporter"}}, headers=headers
    )
    assert right.status_code == 200, right.text
    assert right.json()["identifiers_hash"] == "0x" + identifiers_hash({"name": "exporter"}).hex()
    party = service.http.get(f"/v1/parties/{exporter}").json()
    assert (party["name"], party["identifiers"]) == ("exporter", {"name": "exporter"})


def test_identifiers_are_taken_only_with_a_credential(service: Service):
    exporter = service.address("exporter")
    response = httpx.put(f"{service.url}/v1/parties/{exporter}/identifiers", json={"identifiers": {"name": "exporter"}})
    assert response.status_code == 401
