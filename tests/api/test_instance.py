"""An instance and its endpoint on chain: it says whom it acts for and with which keys, a
development chain shows it from the start, and its authority publishes a change (a new
URL) with a signed request the instance relays; nobody else can."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from support.forwarding import JP_CUSTOMS, NL_CUSTOMS, forwarded
from support.service import Service, wait_until

from ledger_api.chain.artifacts import load_artifacts
from ledger_api.domain.forwarding import ENDPOINT_CALL_GAS, ENDPOINT_FUNCTION, endpoint_calldata
from ledger_api.domain.peer_tokens import key_id
from ledger_api.settings import PROJECT_ROOT

# The longest URL the registry takes: its publication must fit the forwarded call's gas.
LONGEST_URL = "https://ledger.douane.example/nl/" + "a" * (256 - len("https://ledger.douane.example/nl/"))


def test_the_instance_acts_for_the_first_authority_and_the_chain_shows_it_from_the_start(service: Service):
    wait_until(lambda: service.http.get("/v1/instance").json()["up_to_date"], what="the endpoint indexed")
    instance = service.http.get("/v1/instance", headers={"Authorization": ""}).json()  # public
    assert (instance["authority"], instance["country"]) == (NL_CUSTOMS.address, "NL")
    assert instance["public_url"] == service.url
    assert instance["kid"] == key_id(bytes.fromhex(instance["signing_key"][2:]))
    assert instance["kid"] == service.http.get("/v1/keys").json()["keys"][0]["kid"]  # the receipt key
    assert len(bytes.fromhex(instance["encryption_key"][2:])) == 32 and int(instance["encryption_key"], 16) != 0
    assert instance["relayer"] == "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"  # anvil's account 9
    published = instance["published"]
    assert (published["url"], published["signing_key"], published["relayer"]) == (
        service.url,
        instance["signing_key"],
        instance["relayer"],
    )


def test_the_authority_publishes_a_new_url_through_the_instance(service: Service):
    instance = service.http.get("/v1/instance").json()
    customs = service.as_party(NL_CUSTOMS)
    result = customs.publish_endpoint(
        LONGEST_URL, instance["signing_key"], instance["encryption_key"], instance["relayer"]
    )
    assert result["status"] == "accepted" and result["id"].startswith(NL_CUSTOMS.address + ":")

    def published_url() -> str | None:
        published = service.http.get("/v1/instance").json()["published"]
        return published and published["url"]

    wait_until(lambda: published_url() == LONGEST_URL, what="the new URL indexed")
    assert service.http.get("/v1/instance").json()["up_to_date"] is False  # the instance itself is elsewhere


def _publication(
    service: Service, url: str, *, signer: LocalAccount | None = None, authority: LocalAccount = NL_CUSTOMS
) -> dict[str, Any]:
    ledger = service.http.get("/v1/ledger").json()
    instance = service.http.get("/v1/instance").json()
    # A party that is not an authority has no forwarder nonce: it signs with 0.
    nonce = service.http.get(f"/v1/parties/{authority.address}").json()["forwarder_nonce"] or 0
    data = endpoint_calldata(
        url,
        bytes.fromhex(instance["signing_key"][2:]),
        bytes.fromhex(instance["encryption_key"][2:]),
        instance["relayer"],
    )
    signed = forwarded(ledger, authority, "PartyRegistry", data, nonce=nonce, signer=signer, gas=ENDPOINT_CALL_GAS)
    return {
        "url": url,
        "signing_key": instance["signing_key"],
        "encryption_key": instance["encryption_key"],
        "relayer": instance["relayer"],
        **signed,
    }


def test_a_publication_signed_by_anyone_but_the_authority_is_refused(service: Service):
    body = _publication(service, "https://evil.example", signer=JP_CUSTOMS)
    response = service.post_as(NL_CUSTOMS.address, "/v1/instance/endpoint", body)
    assert response.status_code == 422 and response.json()["code"] == "WRONG_SIGNER"


def test_a_publication_sent_with_another_party_s_credential_is_refused(service: Service):
    body = _publication(service, "https://ledger.douane.example")
    response = service.post_as(service.address("exporter"), "/v1/instance/endpoint", body)
    assert response.status_code == 403 and response.json()["code"] == "WRONG_CREDENTIAL"


def test_a_url_peers_may_not_be_sent_to_is_refused_before_it_costs_gas(service: Service):
    for url, reason in (("ftp://ledger.douane.example", "http or https"), ("https://u:p@x.example", "user info")):
        body = _publication(service, url)
        response = service.post_as(NL_CUSTOMS.address, "/v1/instance/endpoint", body)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "INVALID_URL" and reason in response.json()["errors"][0]["reason"]


def test_only_an_authority_publishes_an_endpoint(service: Service):
    exporter = service.keys["exporter"]
    body = _publication(service, "https://exporter.example", authority=exporter)
    response = service.post_as(exporter.address, "/v1/instance/endpoint", body)
    assert response.status_code == 403 and response.json()["code"] == "NOT_AUTHORITY"


def test_the_endpoint_call_is_the_registry_s():
    name, types = ENDPOINT_FUNCTION
    abi = load_artifacts(PROJECT_ROOT / "build")["PartyRegistry"].abi
    function = next(item for item in abi if item.get("name") == name)
    assert [i["type"] for i in function["inputs"]] == types
