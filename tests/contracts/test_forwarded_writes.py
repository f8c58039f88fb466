"""Registry writes relayed through the trusted ERC-2771 forwarder: a customs authority
signs an OpenZeppelin ForwardRequest (EIP-712) and the relayer, which holds no role,
submits it; the registries see the authority as the caller. Forged and replayed
requests are refused by the forwarder."""

import pytest
from brownie import chain
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from helpers import DOMAIN_FIELDS, ROLES, STATUS, country, payload_hash, reverts_with

# OpenZeppelin 5 ERC2771Forwarder: FORWARD_REQUEST_TYPEHASH is
# ForwardRequest(address from,address to,uint256 value,uint256 gas,uint256 nonce,uint48 deadline,bytes data)
FORWARD_REQUEST_FIELDS = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "gas", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint48"},
    {"name": "data", "type": "bytes"},
]
DAY = 24 * 3600
AEOF = b"AEOF".ljust(32, b"\x00")
NEWCOMER = "0x" + keccak(text="forwarded writes newcomer")[-20:].hex()


def forward_typed_data(forwarder, request: dict) -> dict:
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, "ForwardRequest": FORWARD_REQUEST_FIELDS},
        "primaryType": "ForwardRequest",
        "domain": {
            "name": "LedgerForwarder",
            "version": "1",
            "chainId": chain.id,
            "verifyingContract": forwarder.address,
        },
        "message": request,
    }


def forward_request(forwarder, sender, target, data: str, *, gas: int = 500_000, deadline: int | None = None) -> dict:
    """A request that `sender` (an address) makes to call `target` with `data`, at its current nonce."""
    return {
        "from": str(sender),
        "to": target.address,
        "value": 0,
        "gas": gas,
        "nonce": forwarder.nonces(str(sender)),
        "deadline": chain[-1].timestamp + 3600 if deadline is None else deadline,
        "data": bytes.fromhex(data[2:]),
    }


def sign_request(forwarder, key: str, request: dict) -> bytes:
    """Signs with eth-account's standard EIP-712 encoder, as the authority's wallet would."""
    message = encode_typed_data(full_message=forward_typed_data(forwarder, request))
    return bytes(Account.sign_message(message, key).signature)


def signer_of(forwarder, request: dict, signature: bytes) -> str:
    """Whom the forwarder recovers from `signature` over `request` (at the request's nonce)."""
    message = encode_typed_data(full_message=forward_typed_data(forwarder, request))
    return Account.recover_message(message, signature=signature)


def request_data(request: dict, signature: bytes) -> tuple:
    """ERC2771Forwarder.ForwardRequestData: (from, to, value, gas, deadline, data, signature), no nonce."""
    return (
        request["from"],
        request["to"],
        request["value"],
        request["gas"],
        request["deadline"],
        request["data"],
        signature,
    )


def relay(forwarder, relayer, request: dict, signature: bytes):
    return forwarder.execute(request_data(request, signature), {"from": relayer})


def register_newcomer_input(registry) -> str:
    return registry.registerParty.encode_input(NEWCOMER, ROLES["EXPORTER"], payload_hash("newcomer"))


def issue_certificate_input(recognition, operator) -> tuple[str, tuple[int, int]]:
    now = chain[-1].timestamp
    window = (now - DAY, now + 30 * DAY)
    return recognition.issueCertificate.encode_input(operator, AEOF, *window), window


# ---------------------------------------------------------------- PartyRegistry.registerParty


def test_relayer_holds_no_role_and_cannot_register_parties_itself(registry, relayer, cast):
    with reverts_with("RegistryNotAuthorityOf", relayer.address, b"\x00\x00"):
        registry.registerParty(NEWCOMER, ROLES["EXPORTER"], payload_hash("newcomer"), {"from": relayer})
    assert registry.partyOf(NEWCOMER)[2] == 0


def test_relayer_submits_a_party_registration_signed_by_an_authority(registry, forwarder, relayer, cast):
    authority = cast.customs_nl
    request = forward_request(forwarder, authority, registry, register_newcomer_input(registry))
    signature = sign_request(forwarder, authority.key, request)
    assert forwarder.verify(request_data(request, signature)) is True
    tx = relay(forwarder, relayer, request, signature)
    executed = tx.events["ExecutedForwardRequest"]
    assert (executed["signer"], executed["nonce"], executed["success"]) == (authority.address, 0, True)
    registered = tx.events["PartyRegistered"]
    assert registered["party"].lower() == NEWCOMER.lower()
    assert registered["registeredBy"] == authority.address
    assert registered["roles"] == ROLES["EXPORTER"]
    party = registry.partyOf(NEWCOMER)
    assert bytes(party[0]) == b"NL" and party[1] is False
    roles, status = registry.stateOf(NEWCOMER)
    assert (int(roles), int(status)) == (ROLES["EXPORTER"], STATUS["Active"])
    assert forwarder.nonces(authority.address) == 1


@pytest.mark.parametrize("forger", ["outsider", "customs_sg", "officer_nl"])
def test_registration_request_forged_with_another_key_is_refused(registry, forwarder, relayer, cast, forger):
    authority, impostor = cast.customs_nl, getattr(cast, forger)
    request = forward_request(forwarder, authority, registry, register_newcomer_input(registry))
    signature = sign_request(forwarder, impostor.key, request)
    with reverts_with("ERC2771ForwarderInvalidSigner", impostor.address, authority.address):
        relay(forwarder, relayer, request, signature)
    assert registry.partyOf(NEWCOMER)[2] == 0
    assert forwarder.nonces(authority.address) == 0


def test_replayed_registration_request_is_refused(registry, forwarder, relayer, cast):
    authority = cast.customs_nl
    request = forward_request(forwarder, authority, registry, register_newcomer_input(registry))
    signature = sign_request(forwarder, authority.key, request)
    relay(forwarder, relayer, request, signature)
    # The nonce moved on: the forwarder now recovers some other address from the old signature.
    stale = dict(request, nonce=forwarder.nonces(authority.address))
    assert stale["nonce"] == 1
    with reverts_with("ERC2771ForwarderInvalidSigner", signer_of(forwarder, stale, signature), authority.address):
        relay(forwarder, relayer, request, signature)
    assert forwarder.nonces(authority.address) == 1


def test_registration_request_with_a_tampered_call_is_refused(registry, forwarder, relayer, cast):
    authority = cast.customs_nl
    request = forward_request(forwarder, authority, registry, register_newcomer_input(registry))
    signature = sign_request(forwarder, authority.key, request)
    tampered = dict(
        request,
        data=bytes.fromhex(
            registry.registerParty.encode_input(NEWCOMER, ROLES["CUSTOMS"], payload_hash("newcomer"))[2:]
        ),
    )
    with reverts_with("ERC2771ForwarderInvalidSigner", signer_of(forwarder, tampered, signature), authority.address):
        relay(forwarder, relayer, tampered, signature)
    assert registry.partyOf(NEWCOMER)[2] == 0


def test_expired_registration_request_is_refused(registry, forwarder, relayer, cast):
    authority = cast.customs_nl
    deadline = chain[-1].timestamp - 1
    request = forward_request(forwarder, authority, registry, register_newcomer_input(registry), deadline=deadline)
    signature = sign_request(forwarder, authority.key, request)
    with reverts_with("ERC2771ForwarderExpiredRequest", deadline):
        relay(forwarder, relayer, request, signature)
    assert registry.partyOf(NEWCOMER)[2] == 0


def test_forwarded_registration_signed_by_a_non_authority_fails_in_the_registry(registry, forwarder, relayer, cast):
    # The forwarder accepts the exporter's own signature, but the registry sees the exporter as caller.
    exporter = cast.exporter
    request = forward_request(forwarder, exporter, registry, register_newcomer_input(registry))
    signature = sign_request(forwarder, exporter.key, request)
    with reverts_with("FailedCall"):
        relay(forwarder, relayer, request, signature)
    assert registry.partyOf(NEWCOMER)[2] == 0
    assert forwarder.nonces(exporter.address) == 0


def test_authority_suspends_a_party_through_the_relayer(registry, forwarder, relayer, cast):
    authority = cast.customs_sg
    data = registry.suspendParty.encode_input(cast.importer.address)
    request = forward_request(forwarder, authority, registry, data)
    tx = relay(forwarder, relayer, request, sign_request(forwarder, authority.key, request))
    event = tx.events["PartyStatusChanged"]
    assert (event["party"], event["status"], event["changedBy"]) == (
        cast.importer.address,
        STATUS["Suspended"],
        authority.address,
    )


# ---------------------------------------------------------------- RecognitionRegistry.issueCertificate


def test_relayer_submits_a_certificate_signed_by_the_operator_authority(recognition, forwarder, relayer, cast):
    authority = cast.customs_nl
    data, window = issue_certificate_input(recognition, cast.exporter.address)
    request = forward_request(forwarder, authority, recognition, data)
    tx = relay(forwarder, relayer, request, sign_request(forwarder, authority.key, request))
    issued = tx.events["CertificateIssued"]
    assert issued["operator"] == cast.exporter.address
    assert issued["issuedBy"] == authority.address
    assert (issued["validFrom"], issued["validUntil"]) == window
    cert = recognition.certificateOf(cast.exporter.address)
    assert (cert[4], cert[6]) == (1, authority.address)
    assert recognition.isRecognised(cast.exporter.address, country("NL"), chain[-1].timestamp) is True


@pytest.mark.parametrize("forger", ["outsider", "customs_sg", "exporter"])
def test_certificate_request_forged_with_another_key_is_refused(recognition, forwarder, relayer, cast, forger):
    authority = cast.customs_nl
    key, address = getattr(cast, forger).key, getattr(cast, forger).address
    data, _ = issue_certificate_input(recognition, cast.exporter.address)
    request = forward_request(forwarder, authority, recognition, data)
    with reverts_with("ERC2771ForwarderInvalidSigner", address, authority.address):
        relay(forwarder, relayer, request, sign_request(forwarder, key, request))
    assert recognition.certificateOf(cast.exporter.address)[4] == 0


def test_replayed_certificate_request_is_refused(recognition, forwarder, relayer, cast):
    authority = cast.customs_nl
    data, _ = issue_certificate_input(recognition, cast.exporter.address)
    request = forward_request(forwarder, authority, recognition, data)
    signature = sign_request(forwarder, authority.key, request)
    relay(forwarder, relayer, request, signature)
    stale = dict(request, nonce=forwarder.nonces(authority.address))
    with reverts_with("ERC2771ForwarderInvalidSigner", signer_of(forwarder, stale, signature), authority.address):
        relay(forwarder, relayer, request, signature)
    assert forwarder.nonces(authority.address) == 1


def test_forwarded_certificate_signed_by_a_foreign_authority_fails_in_the_registry(
    recognition, forwarder, relayer, cast
):
    foreign = cast.customs_sg
    data, _ = issue_certificate_input(recognition, cast.exporter.address)
    request = forward_request(forwarder, foreign, recognition, data)
    with reverts_with("FailedCall"):
        relay(forwarder, relayer, request, sign_request(forwarder, foreign.key, request))
    assert recognition.certificateOf(cast.exporter.address)[4] == 0


# ---------------------------------------------------------------- PartyRegistry.publishEndpoint

ENDPOINT = ("https://ledger.customs.example.sg", keccak(text="sg signing key"), keccak(text="sg encryption key"))


def test_relayer_submits_an_endpoint_signed_by_the_authority(registry, forwarder, relayer, cast):
    authority = cast.customs_sg
    data = registry.publishEndpoint.encode_input(*ENDPOINT, relayer.address)
    request = forward_request(forwarder, authority, registry, data)
    tx = relay(forwarder, relayer, request, sign_request(forwarder, authority.key, request))
    event = tx.events["EndpointPublished"]
    assert (event["authority"], bytes(event["country"]), event["url"], event["relayer"]) == (
        authority.address,
        b"SG",
        ENDPOINT[0],
        relayer.address,
    )
    url, signing, _, endpoint_relayer, published_at = registry.endpointOf(authority.address)
    assert (url, bytes(signing), endpoint_relayer, published_at) == (
        ENDPOINT[0],
        ENDPOINT[1],
        relayer.address,
        tx.block_number,
    )
    # The relayer itself published nothing: the registry saw the authority as the caller.
    assert registry.endpointOf(relayer.address)[4] == 0


@pytest.mark.parametrize("signer", ["officer_nl", "exporter_sg"])
def test_forwarded_endpoint_signed_by_a_non_authority_fails_in_the_registry(registry, forwarder, relayer, cast, signer):
    party = getattr(cast, signer)
    data = registry.publishEndpoint.encode_input(*ENDPOINT, relayer.address)
    request = forward_request(forwarder, party, registry, data)
    with reverts_with("FailedCall"):
        relay(forwarder, relayer, request, sign_request(forwarder, party.key, request))
    assert registry.endpointOf(party.address)[4] == 0


def test_endpoint_request_forged_with_another_key_is_refused(registry, forwarder, relayer, cast):
    authority, impostor = cast.customs_sg, cast.exporter_sg
    data = registry.publishEndpoint.encode_input(*ENDPOINT, impostor.address)
    request = forward_request(forwarder, authority, registry, data)
    with reverts_with("ERC2771ForwarderInvalidSigner", impostor.address, authority.address):
        relay(forwarder, relayer, request, sign_request(forwarder, impostor.key, request))
    assert registry.endpointOf(authority.address)[4] == 0
