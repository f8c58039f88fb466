"""PartyRegistry endpoints: each customs authority publishes where its own ledger instance
is reached, its public keys and its relayer account, so that instances find each other
through the chain. Only an active authority publishes; a later publication replaces the
earlier one, and the events keep the history."""

import pytest
from brownie import chain
from eth_utils import keccak
from helpers import ZERO_ADDRESS, ZERO_HASH, reverts_with

URL = "https://ledger.douane.example.nl/v1"
SIGNING_KEY = keccak(text="ed25519 public key of NL customs")
ENCRYPTION_KEY = keccak(text="x25519 public key of NL customs")


def endpoint_of(registry, authority) -> tuple:
    url, signing, encryption, relayer, published_at = registry.endpointOf(authority)
    return url, bytes(signing), bytes(encryption), relayer, published_at


def as_bytes(value) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)


def publish(registry, authority, url=URL, signing=SIGNING_KEY, encryption=ENCRYPTION_KEY, relayer=None):
    relayer = authority.address if relayer is None else relayer
    return registry.publishEndpoint(url, signing, encryption, relayer, {"from": authority.account})


def test_authority_publishes_the_endpoint_of_its_instance(registry, cast, relayer):
    nl = cast.customs_nl
    tx = publish(registry, nl, relayer=relayer.address)
    event = tx.events["EndpointPublished"]
    assert (event["authority"], as_bytes(event["country"]), event["url"]) == (nl.address, b"NL", URL)
    assert (as_bytes(event["signingKey"]), as_bytes(event["encryptionKey"]), event["relayer"]) == (
        SIGNING_KEY,
        ENCRYPTION_KEY,
        relayer.address,
    )
    assert endpoint_of(registry, nl.address) == (URL, SIGNING_KEY, ENCRYPTION_KEY, relayer.address, tx.block_number)


def test_later_publication_replaces_the_endpoint_and_the_events_keep_the_history(registry, cast):
    sg = cast.customs_sg
    first = publish(registry, sg, url="https://one.customs.example.sg")
    chain.mine(2)
    second_key = keccak(text="rotated signing key")
    second = publish(registry, sg, url="https://two.customs.example.sg", signing=second_key, encryption=ZERO_HASH)
    assert endpoint_of(registry, sg.address) == (
        "https://two.customs.example.sg",
        second_key,
        b"\x00" * 32,
        sg.address,
        second.block_number,
    )
    history = registry.events.get_sequence(first.block_number, second.block_number, event_type="EndpointPublished")
    assert [(e.args["url"], as_bytes(e.args["signingKey"])) for e in history] == [
        ("https://one.customs.example.sg", SIGNING_KEY),
        ("https://two.customs.example.sg", second_key),
    ]


def test_authorities_of_different_countries_each_have_their_own_endpoint(registry, cast):
    publish(registry, cast.customs_nl, url="https://nl.example")
    publish(registry, cast.customs_de, url="https://de.example")
    assert endpoint_of(registry, cast.customs_nl.address)[0] == "https://nl.example"
    assert endpoint_of(registry, cast.customs_de.address)[0] == "https://de.example"


def test_party_that_never_published_has_an_empty_endpoint(registry, cast):
    assert endpoint_of(registry, cast.customs_nl.address) == ("", b"\x00" * 32, b"\x00" * 32, ZERO_ADDRESS, 0)


def test_instance_without_an_encryption_key_may_publish(registry, cast):
    publish(registry, cast.customs_nl, encryption=ZERO_HASH)
    assert endpoint_of(registry, cast.customs_nl.address)[2] == b"\x00" * 32


@pytest.mark.parametrize("name", ["officer_nl", "exporter", "police_nl", "outsider"])
def test_party_that_is_no_authority_cannot_publish_an_endpoint(registry, cast, name):
    party = getattr(cast, name)
    with reverts_with("RegistryNotActiveAuthority", party.address):
        publish(registry, party)
    assert endpoint_of(registry, party.address)[4] == 0


def test_admin_is_no_authority_and_cannot_publish_an_endpoint(registry, admin):
    with reverts_with("RegistryNotActiveAuthority", admin.address):
        registry.publishEndpoint(URL, SIGNING_KEY, ENCRYPTION_KEY, admin.address, {"from": admin})


@pytest.mark.parametrize("change", ["suspendParty", "revokeParty"])
def test_authority_that_is_not_active_cannot_publish_an_endpoint(registry, admin, cast, change):
    publish(registry, cast.customs_nl)
    before = endpoint_of(registry, cast.customs_nl.address)
    getattr(registry, change)(cast.customs_nl.address, {"from": admin})
    with reverts_with("RegistryNotActiveAuthority", cast.customs_nl.address):
        publish(registry, cast.customs_nl, url="https://elsewhere.example")
    assert endpoint_of(registry, cast.customs_nl.address) == before


def test_reinstated_authority_publishes_again(registry, admin, cast):
    registry.suspendParty(cast.customs_nl.address, {"from": admin})
    registry.reinstateParty(cast.customs_nl.address, {"from": admin})
    tx = publish(registry, cast.customs_nl)
    assert tx.events["EndpointPublished"]["authority"] == cast.customs_nl.address


@pytest.mark.parametrize("length", [0, 257, 1000])
def test_endpoint_url_must_be_one_to_256_bytes(registry, cast, length):
    with reverts_with("RegistryInvalidEndpointUrl", cast.customs_nl.address, length):
        publish(registry, cast.customs_nl, url="h" * length)
    assert endpoint_of(registry, cast.customs_nl.address)[4] == 0


def test_endpoint_url_of_256_bytes_is_accepted(registry, cast):
    url = "https://" + "a" * 248
    publish(registry, cast.customs_nl, url=url)
    assert endpoint_of(registry, cast.customs_nl.address)[0] == url


def test_endpoint_url_length_counts_bytes_not_characters(registry, cast):
    url = "https://douane.example/" + "é" * 117  # 23 + 234 bytes
    with reverts_with("RegistryInvalidEndpointUrl", cast.customs_nl.address, 257):
        publish(registry, cast.customs_nl, url=url)


def test_endpoint_without_a_signing_key_is_refused(registry, cast):
    with reverts_with("RegistryEmptySigningKey", cast.customs_nl.address):
        publish(registry, cast.customs_nl, signing=ZERO_HASH)


def test_endpoint_without_a_relayer_is_refused(registry, cast):
    with reverts_with("RegistryZeroRelayer", cast.customs_nl.address):
        publish(registry, cast.customs_nl, relayer=ZERO_ADDRESS)
