"""The instance serves the records it holds to the instances of other customs authorities:
to the customs of a country on the consignment's route, asking with a fresh token signed
by the key its authority published on chain. Anything else (no token, a token used
before, expired, for another instance or request, a key nobody published, a country off
the route) is answered exactly as a consignment that does not exist."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_utils.crypto import keccak
from support import peers
from support.forwarding import JP_CUSTOMS, NL_CUSTOMS, SG_CUSTOMS
from support.payloads import declaration, transit
from support.service import Service, wait_until

from ledger_api.domain.merkle import verify as in_tree
from ledger_api.domain.records import consignment_key

UCR = "6NL123456789-PEER-0001"
UNKNOWN = "0x" + keccak(text="a consignment nobody declared").hex()


@dataclass
class Peers:
    service: Service
    jp: Ed25519PrivateKey
    sg: Ed25519PrivateKey
    key: str  # the consignment's ledger key
    record_ids: list[str]


def records_path(key: str) -> str:
    return f"/v1/peer/consignments/{key}/records"


@pytest.fixture(scope="module")
def setup(service: Service) -> Iterator[Peers]:
    assert service.runtime.manifest is not None
    jp, sg = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    for authority, key, url in ((JP_CUSTOMS, jp, "http://127.0.0.1:9"), (SG_CUSTOMS, sg, "http://127.0.0.1:10")):
        peers.publish_endpoint(service.w3, service.runtime.manifest, authority.address, url, key, authority.address)
    exporter = service.client("exporter")
    ids = [exporter.submit(declaration(UCR))]
    exporter.wait_confirmed(ids[0])

    def indexed() -> bool:
        with service.runtime.store.session() as session:  # type: ignore[union-attr]
            from ledger_api.store.peers import active_endpoints

            return {e.authority for e in active_endpoints(session)} >= {JP_CUSTOMS.address, SG_CUSTOMS.address}

    wait_until(indexed, what="the peers' endpoints indexed")
    yield Peers(service, jp, sg, "0x" + consignment_key(UCR).hex(), ids)


def ask(setup: Peers, path: str, authorization: str | None) -> tuple[int, dict]:
    headers = {"Authorization": authorization} if authorization is not None else {"Authorization": ""}
    response = setup.service.http.get(path, headers=headers)
    return response.status_code, response.json()


def as_jp(setup: Peers, path: str, **claims: object) -> str:
    return "Peer " + peers.token(setup.jp, JP_CUSTOMS.address, NL_CUSTOMS.address, path, **claims)  # type: ignore[arg-type]


def not_found(setup: Peers, key: str) -> dict:
    """The answer for a consignment that does not exist, with `key` in its place."""
    status, body = ask(setup, records_path(UNKNOWN), as_jp(setup, records_path(UNKNOWN)))
    assert status == 404
    return json.loads(json.dumps(body).replace(UNKNOWN, key))


def test_customs_of_the_destination_gets_the_signed_records_with_their_payloads(setup: Peers):
    status, body = ask(setup, records_path(setup.key), as_jp(setup, records_path(setup.key)))
    assert status == 200, body
    assert body["authority"] == NL_CUSTOMS.address
    [record] = body["records"]
    assert record["id"] == setup.record_ids[0] and record["ucr"] == UCR and record["mode"] == "single"
    assert record["record"]["route"] == ["NL", "JP"] and record["record"]["kind"] == "DECLARATION"
    assert "0x" + keccak(record["payload"].encode()).hex() == record["record"]["payloadHash"]
    assert json.loads(record["payload"])["ucr"] == UCR and record["proof"] is None


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer not-a-peer",
        "Peer",
        "Peer not.a.token",
    ],
    ids=["no header", "a bearer credential", "no token", "garbage"],
)
def test_a_request_without_a_valid_token_is_answered_as_an_unknown_consignment(setup: Peers, authorization):
    assert ask(setup, records_path(setup.key), authorization) == (404, not_found(setup, setup.key))


def test_a_token_used_twice_is_refused_the_second_time(setup: Peers):
    token = as_jp(setup, records_path(setup.key))
    assert ask(setup, records_path(setup.key), token)[0] == 200
    assert ask(setup, records_path(setup.key), token) == (404, not_found(setup, setup.key))


def test_an_expired_token_is_refused(setup: Peers):
    token = as_jp(setup, records_path(setup.key), now=int(time.time()) - 40)
    assert ask(setup, records_path(setup.key), token) == (404, not_found(setup, setup.key))


def test_a_token_for_another_instance_or_request_is_refused(setup: Peers):
    path = records_path(setup.key)
    for_jp = "Peer " + peers.token(setup.jp, JP_CUSTOMS.address, JP_CUSTOMS.address, path)
    for_another_path = as_jp(setup, records_path(UNKNOWN))
    for token in (for_jp, for_another_path):
        assert ask(setup, path, token) == (404, not_found(setup, setup.key))


def test_a_key_no_authority_published_is_refused(setup: Peers):
    stranger = Ed25519PrivateKey.generate()
    token = "Peer " + peers.token(stranger, JP_CUSTOMS.address, NL_CUSTOMS.address, records_path(setup.key))
    assert ask(setup, records_path(setup.key), token) == (404, not_found(setup, setup.key))


def test_an_authority_whose_country_is_not_on_the_route_is_refused_until_it_is(setup: Peers, caplog):
    path = records_path(setup.key)

    def as_sg() -> str:
        return "Peer " + peers.token(setup.sg, SG_CUSTOMS.address, NL_CUSTOMS.address, path)

    with caplog.at_level(logging.WARNING, logger="ledger_api.services.peer_records"):
        assert ask(setup, path, as_sg()) == (404, not_found(setup, setup.key))
    refusal = next(r.getMessage() for r in caplog.records if "NO_JURISDICTION" in r.getMessage())
    assert SG_CUSTOMS.address in refusal and "SG is not on the route" in refusal
    exporter = setup.service.client("exporter")  # the custodian: it adds the transit country
    exporter.wait_confirmed(exporter.submit(transit(UCR, ["SG"])))
    status, body = ask(setup, path, as_sg())
    assert status == 200 and [r["record"]["kind"] for r in body["records"]] == ["DECLARATION", "TRANSIT"]


def test_a_batch_is_served_with_inclusion_proofs_for_the_consignments_on_the_peer_s_route(setup: Peers):
    exporter = setup.service.client("exporter")
    nonce = 20_000  # batch nonces are the party's own to keep unique
    first = exporter.sign(declaration("6NL123456789-PEER-B001"), previous=bytes(32), nonce=nonce)
    second = exporter.sign(
        declaration("6NL123456789-PEER-B002", destination_country="SG"), previous=bytes(32), nonce=nonce + 1
    )
    batch = exporter.post_batch([first, second])
    wait_until(lambda: exporter.record(batch["ids"][1])["status"] == "confirmed", what="the batch anchored")
    path = f"/v1/peer/batches/{batch['root']}/records"
    status, body = ask(setup, path, as_jp(setup, path))
    assert status == 200, body
    [record] = body["records"]  # the second goes to Singapore: not Japan's to see
    assert record["id"] == first.id and record["batch_root"] == batch["root"] and record["mode"] == "batch"
    proof = [bytes.fromhex(p[2:]) for p in record["proof"]]
    assert in_tree(bytes.fromhex(batch["root"][2:]), bytes.fromhex(first.id[2:]), proof)
    unknown_root = "0x" + "ab" * 32
    status, refused = ask(setup, f"/v1/peer/batches/{unknown_root}/records", None)
    assert (status, refused["detail"]) == (404, f"no batch {unknown_root}")
