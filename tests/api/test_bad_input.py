"""Bad input through HTTP on a real service: every kind of refusal is a 4xx RFC 9457
problem+json with a stable `type` and an `errors` list naming the field at fault, and
nothing of a refused submission is stored (its record id and, where it has one, its
consignment read back as 404 or unchanged). The service never answers 500 to any of it."""

from __future__ import annotations

import copy
import json
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from support.payloads import custody, decision, declaration
from support.service import CAST, Service

from ledger_api.api.problems import MEDIA_TYPE, TYPE_PREFIX
from ledger_api.api.schemas import MAX_BATCH_RECORDS
from ledger_api.client import LedgerClient, SignedRecord
from ledger_api.domain.payloads import container_check_digit
from ledger_api.domain.records import (
    SECP256K1_HALF_N,
    Record,
    RecordKind,
    consignment_key,
    domain_separator,
    fast_record_id,
    sign_record,
)

SECP256K1_N = 2 * SECP256K1_HALF_N + 1
ZERO = bytes(32)

# The credential of each party (by address): `post` sends a body with the credential of the
# party acting in it, as that party would, so that what is refused is the body, not the caller.
CREDENTIALS: dict[str, str] = {}


def _never_5xx(response: httpx.Response) -> None:
    """Every answer to every client of this module, checked as it arrives: never a server error."""
    assert response.status_code < 500, (response.request.method, str(response.request.url), response.status_code)


@pytest.fixture(scope="module")
def http(service: Service) -> Iterator[httpx.Client]:
    CREDENTIALS.update({service.address(name): service.tokens[name] for name in CAST})
    # Reads as NL customs, which sees every consignment of this module (origin NL).
    headers = {"Authorization": f"Bearer {service.tokens['customs_nl']}"}
    with httpx.Client(
        base_url=service.url, timeout=60, headers=headers, event_hooks={"response": [_never_5xx]}
    ) as client:
        yield client


@pytest.fixture(scope="module")
def party(service: Service) -> Iterator[dict[str, LedgerClient]]:
    clients = {name: service.client(name) for name in CAST}
    for client in clients.values():
        client.http.event_hooks["response"].append(_never_5xx)
    yield clients
    for client in clients.values():
        client.close()


# ---------------------------------------------------------------- helpers


def ucr_of(n: int) -> str:
    return f"6NL123456789-BAD-{n:04d}"


def assert_problem(
    response: httpx.Response, status: int, code: str | None = None, field: str | None = None
) -> dict[str, Any]:
    """A problem+json of `status`; with `code`, its stable type; with `field`, an error
    naming exactly that field (and every error names a field and gives a reason)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith(TYPE_PREFIX) and body["title"] and body["detail"]
    if code is not None:
        assert body["code"] == code, body
        assert body["type"] == TYPE_PREFIX + code.lower().replace("_", "-")
    assert isinstance(body["errors"], list)
    for error in body["errors"]:
        assert isinstance(error["field"], str) and error["field"]
        assert isinstance(error["reason"], str) and error["reason"]
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body["errors"]
    return body


def snapshot(http: httpx.Client, ucr: str) -> dict[str, Any] | None:
    """What a consignment's read-back says about its content (not its chain status)."""
    response = http.get(f"/v1/consignments/{ucr}")
    if response.status_code == 404:
        assert_problem(response, 404, "NOT_FOUND")
        return None
    assert response.status_code == 200, response.text
    body = response.json()
    return {
        "ids": [r["id"] for r in body["records"]],
        "custodian": body["custodian"],
        "pending_custodian": body["pending_custodian"],
    }


def assert_not_stored(http: httpx.Client, record_id: str, ucr: str | None = None, before: Any = None) -> None:
    """The refused record reads back as 404; its consignment as 404 or as it was before."""
    assert_problem(http.get(f"/v1/records/{record_id}"), 404, "NOT_FOUND")
    if ucr is not None:
        assert snapshot(http, ucr) == before


def post(http: httpx.Client, body: Any, path: str = "/v1/records") -> httpx.Response:
    """`body` posted with the credential of the party acting in it (its record's party, or
    its first record's), else with the client's own."""
    records = body.get("records") if isinstance(body, dict) else None
    first = records[0] if isinstance(records, list) and records else body
    record = first.get("record") if isinstance(first, dict) else None
    party = record.get("party") if isinstance(record, dict) else None
    token = CREDENTIALS.get(party) if isinstance(party, str) else None
    return http.post(path, json=body, headers={"Authorization": f"Bearer {token}"} if token else None)


def resign(service: Service, name: str, signed: SignedRecord, record: Record, **domain: Any) -> SignedRecord:
    """`record` signed by `name` (for another chain or contract with `domain` changes);
    its id is the one the service computes, for the service's own domain."""
    ours = service.runtime.submissions.domain
    signature = sign_record(record, replace(ours, **domain), service.keys[name].key)
    rid = "0x" + fast_record_id(record, domain_separator(ours)).hex()
    return SignedRecord(record, signature, signed.payload, rid)


def body_of(signed: SignedRecord) -> dict[str, Any]:
    """The request body of a signed record, a copy the test may change (SignedRecord.body()
    shares its payload dict)."""
    return copy.deepcopy(signed.body())


def with_signature(signed: SignedRecord, signature: bytes) -> dict[str, Any]:
    body = body_of(signed)
    body["signature"] = "0x" + signature.hex()
    return body


def declared(party: dict[str, LedgerClient], ucr: str) -> str:
    return party["exporter"].submit(declaration(ucr))


def handed_over(party: dict[str, LedgerClient], ucr: str, to: str = "carrier") -> str:
    return party["exporter"].submit(custody(ucr, "HANDOVER"), counterparty=party[to].address)


# ---------------------------------------------------------------- signatures


def test_record_whose_signature_bytes_were_altered_is_refused_and_not_stored(party, http):
    ucr = ucr_of(1)
    signed = party["exporter"].sign(declaration(ucr))
    sig = signed.signature
    altered_r = sig[:5] + bytes([sig[5] ^ 0x01]) + sig[6:]
    r = assert_problem(post(http, with_signature(signed, altered_r)), 422, field="signature")
    assert r["code"] in ("WRONG_SIGNER", "BAD_SIGNATURE")
    assert_not_stored(http, signed.id, ucr, None)
    bad_v = sig[:64] + bytes([sig[64] + 2])
    assert_problem(post(http, with_signature(signed, bad_v)), 422, "BAD_SIGNATURE", "signature")
    zeros = bytes(64) + sig[64:]
    assert_problem(post(http, with_signature(signed, zeros)), 422, "BAD_SIGNATURE", "signature")
    assert_not_stored(http, signed.id, ucr, None)


def test_signature_of_the_wrong_length_or_not_hex_is_refused_and_not_stored(party, http):
    ucr = ucr_of(2)
    signed = party["exporter"].sign(declaration(ucr))
    for bad in (
        "0x" + signed.signature[:64].hex(),
        "0x" + signed.signature.hex() + "00",
        signed.signature.hex(),
        "0x" + "zz" * 65,
    ):
        body = body_of(signed)
        body["signature"] = bad
        assert_problem(post(http, body), 422, "VALIDATION", "signature")
    assert_not_stored(http, signed.id, ucr, None)


def test_record_signed_by_someone_else_is_refused_and_not_stored(service, party, http):
    ucr = ucr_of(3)
    signed = party["exporter"].sign(declaration(ucr))
    by_carrier = resign(service, "carrier", signed, signed.record)
    assert by_carrier.id == signed.id
    body = assert_problem(post(http, body_of(by_carrier)), 422, "WRONG_SIGNER", "signature")
    assert party["carrier"].address in body["errors"][0]["reason"]
    assert_not_stored(http, signed.id, ucr, None)


def test_high_s_malleated_signature_is_refused_and_not_stored(party, http):
    ucr = ucr_of(4)
    signed = party["exporter"].sign(declaration(ucr))
    r, s, v = signed.signature[:32], int.from_bytes(signed.signature[32:64], "big"), signed.signature[64]
    assert s <= SECP256K1_HALF_N
    # (r, n - s) with the other v is the same signature by the same key, in its malleable form.
    malleated = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    assert_problem(post(http, with_signature(signed, malleated)), 422, "BAD_SIGNATURE", "signature")
    assert_not_stored(http, signed.id, ucr, None)


def test_signature_made_for_another_chain_or_contract_is_refused_and_not_stored(service, party, http):
    ucr = ucr_of(5)
    signed = party["exporter"].sign(declaration(ucr))
    ours = party["exporter"].domain()
    for other in ({"chain_id": ours.chain_id + 1}, {"chain_id": 1}, {"verifying_contract": "0x" + "5a" * 20}):
        elsewhere = resign(service, "exporter", signed, signed.record, **other)
        assert elsewhere.id == signed.id and elsewhere.signature != signed.signature
        assert_problem(post(http, body_of(elsewhere)), 422, "WRONG_SIGNER", "signature")
    assert_not_stored(http, signed.id, ucr, None)


def test_record_past_its_deadline_is_refused_and_not_stored(party, http):
    ucr = ucr_of(6)
    signed = party["exporter"].sign(declaration(ucr), deadline=int(time.time()) - 60)
    assert_problem(post(http, body_of(signed)), 422, "EXPIRED", "record.deadline")
    assert_not_stored(http, signed.id, ucr, None)


def test_record_whose_deadline_is_closer_than_the_margin_is_refused_before_it_costs_gas(party, http, service):
    ucr = ucr_of(7)
    margin = service.settings.min_deadline_margin_seconds
    assert margin == 120  # the default
    signed = party["exporter"].sign(declaration(ucr), deadline=int(time.time()) + margin // 2)
    problem = assert_problem(post(http, body_of(signed)), 422, "DEADLINE_TOO_CLOSE", "record.deadline")
    assert "at least 120 s" in problem["detail"], problem
    assert_not_stored(http, signed.id, ucr, None)


# ---------------------------------------------------------------- roles
# Records refused by a custody rule never reach the nonce check, so the tests give parties
# with no records of their own nonce 0 rather than ask the service: for such a party it
# asks the chain (eth_call at "latest"), which anvil --prune-history sometimes answers
# with BlockOutOfRangeError while it mines, a 502 that is not what these tests are about.


def test_carrier_declaring_is_refused_for_missing_role_and_not_stored(party, http):
    ucr = ucr_of(10)
    signed = party["carrier"].sign(declaration(ucr), nonce=0)
    assert_problem(post(http, body_of(signed)), 403, "MISSING_ROLE", "record.party")
    assert_not_stored(http, signed.id, ucr, None)


def test_customs_handing_over_is_refused_as_not_custodian_and_not_stored(party, http):
    ucr = ucr_of(11)
    declared(party, ucr)
    before = snapshot(http, ucr)
    signed = party["customs_nl"].sign(custody(ucr, "HANDOVER"), counterparty=party["carrier"].address, nonce=0)
    assert_problem(post(http, body_of(signed)), 409, "NOT_CUSTODIAN", "record.party")
    assert_not_stored(http, signed.id, ucr, before)


def test_unregistered_key_declaring_is_refused_as_not_active_and_not_stored(service, http):
    ucr = ucr_of(12)
    stranger = service.as_party(Account.from_key(keccak(text="api test stranger")))
    CREDENTIALS[stranger.address] = service.credential(stranger.address)
    stranger.http.event_hooks["response"].append(_never_5xx)
    try:
        signed = stranger.sign(declaration(ucr), nonce=0, previous=bytes(32))  # it may read nothing
        assert_problem(post(http, body_of(signed)), 403, "PARTY_NOT_ACTIVE", "record.party")
    finally:
        stranger.close()
    assert_not_stored(http, signed.id, ucr, None)


# ---------------------------------------------------------------- custody rules


def test_handover_by_someone_who_is_not_the_custodian_is_refused_and_not_stored(party, http):
    ucr = ucr_of(20)
    declared(party, ucr)
    before = snapshot(http, ucr)
    head = bytes.fromhex(before["ids"][-1][2:])  # carrier_jp may not read it: it learnt the head elsewhere
    signed = party["carrier_jp"].sign(
        custody(ucr, "HANDOVER"), counterparty=party["carrier"].address, nonce=0, previous=head
    )
    assert_problem(post(http, body_of(signed)), 409, "NOT_CUSTODIAN", "record.party")
    assert_not_stored(http, signed.id, ucr, before)


def test_acceptance_by_a_party_who_was_not_named_is_refused_and_not_stored(party, http):
    ucr = ucr_of(21)
    declared(party, ucr)
    handed_over(party, ucr, to="carrier")
    before = snapshot(http, ucr)
    head = bytes.fromhex(before["ids"][-1][2:])  # carrier_jp may not read it: it learnt the head elsewhere
    signed = party["carrier_jp"].sign(
        custody(ucr, "ACCEPTANCE"), counterparty=party["exporter"].address, nonce=0, previous=head
    )
    assert_problem(post(http, body_of(signed)), 409, "NOT_PENDING_CUSTODIAN", "record.party")
    assert_not_stored(http, signed.id, ucr, before)
    assert before is not None and before["pending_custodian"] == party["carrier"].address


def test_second_handover_while_one_is_pending_is_refused_and_not_stored(party, http):
    ucr = ucr_of(22)
    declared(party, ucr)
    handed_over(party, ucr, to="carrier")
    before = snapshot(http, ucr)
    signed = party["exporter"].sign(custody(ucr, "HANDOVER", "NLAMS"), counterparty=party["carrier_jp"].address)
    assert_problem(post(http, body_of(signed)), 409, "HANDOVER_PENDING", "record.kind")
    assert_not_stored(http, signed.id, ucr, before)


def test_record_with_a_stale_previous_is_refused_and_not_stored(party, http):
    ucr = ucr_of(23)
    declaration_id = declared(party, ucr)
    handed_over(party, ucr, to="carrier")
    before = snapshot(http, ucr)
    stale = bytes.fromhex(declaration_id[2:])
    signed = party["carrier"].sign(
        custody(ucr, "ACCEPTANCE"), counterparty=party["exporter"].address, previous=stale, nonce=0
    )
    assert_problem(post(http, body_of(signed)), 409, "STALE_PREVIOUS", "record.previous")
    assert_not_stored(http, signed.id, ucr, before)
    # A declaration naming a previous record is refused for the same reason.
    fresh = ucr_of(24)
    signed = party["exporter"].sign(declaration(fresh), previous=stale)
    assert_problem(post(http, body_of(signed)), 409, "STALE_PREVIOUS", "record.previous")
    assert_not_stored(http, signed.id, fresh, None)


def test_declaration_of_an_existing_consignment_is_refused_and_not_stored(party, http):
    ucr = ucr_of(25)
    declared(party, ucr)
    before = snapshot(http, ucr)
    signed = party["exporter"].sign(declaration(ucr, seals=["NL-SEAL-000999"]), previous=ZERO)
    assert_problem(post(http, body_of(signed)), 409, "CONSIGNMENT_EXISTS", "record.consignment")
    assert_not_stored(http, signed.id, ucr, before)


def test_record_with_the_wrong_nonce_is_refused_and_not_stored(party, http):
    exporter = party["exporter"]
    for n, nonce in ((26, exporter.next_nonce() + 1), (27, exporter.next_nonce() - 1), (28, 2**256 - 1)):
        ucr = ucr_of(n)
        signed = exporter.sign(declaration(ucr), nonce=nonce)
        body = assert_problem(post(http, body_of(signed)), 409, "NONCE_MISMATCH", "record.nonce")
        assert str(exporter.next_nonce()) in body["detail"]
        assert_not_stored(http, signed.id, ucr, None)


# ---------------------------------------------------------------- record and payload disagree


def test_payload_hash_not_matching_the_payload_is_refused_and_not_stored(service, party, http):
    ucr = ucr_of(30)
    signed = party["exporter"].sign(declaration(ucr))
    record = replace(signed.record, payload_hash=keccak(b"another payload"))
    refused = resign(service, "exporter", signed, record)
    assert_problem(post(http, body_of(refused)), 422, "PAYLOAD_HASH_MISMATCH", "record.payloadHash")
    assert_not_stored(http, refused.id, ucr, None)
    # The hash is over the parsed payload: a changed value with the old hash is refused too.
    body = body_of(signed)
    body["payload"]["goods"][0]["value"] = "24000.01"
    assert_problem(post(http, body), 422, "PAYLOAD_HASH_MISMATCH", "record.payloadHash")
    assert_not_stored(http, signed.id, ucr, None)


def test_payload_ucr_not_matching_the_record_consignment_is_refused_and_not_stored(service, party, http):
    ucr, other = ucr_of(31), ucr_of(32)
    signed = party["exporter"].sign(declaration(ucr))
    record = replace(signed.record, consignment=consignment_key(other))
    refused = resign(service, "exporter", signed, record)
    assert_problem(post(http, body_of(refused)), 422, "CONSIGNMENT_MISMATCH", "record.consignment")
    assert_not_stored(http, refused.id, ucr, None)
    assert snapshot(http, other) is None


def test_payload_kind_not_matching_the_record_kind_is_refused_and_not_stored(service, party, http):
    ucr = ucr_of(33)
    signed = party["exporter"].sign(declaration(ucr))
    for kind in (RecordKind.HANDOVER, RecordKind.CUSTOMS_DECISION, RecordKind.REVOCATION):
        refused = resign(service, "exporter", signed, replace(signed.record, kind=kind))
        body = assert_problem(post(http, body_of(refused)), 422, "KIND_MISMATCH", "record.kind")
        assert "DECLARATION" in body["detail"]
        assert_not_stored(http, refused.id, ucr, None)


# ---------------------------------------------------------------- payload fields


def _with_payload(signed: SignedRecord, payload: dict[str, Any]) -> dict[str, Any]:
    body = body_of(signed)
    body["payload"] = payload
    return body


def test_malformed_ucr_is_refused_naming_payload_ucr_and_not_stored(party, http):
    ucr = ucr_of(40)
    signed = party["exporter"].sign(declaration(ucr))
    for bad in ("6nl123456789-bad-0040", "NL123456789", "6XX123456789-BAD", "6NL" + "A" * 33, "6NL 12345", 6):
        assert_problem(post(http, _with_payload(signed, declaration(bad))), 422, "VALIDATION", "payload.ucr")
    assert_not_stored(http, signed.id, ucr, None)


def test_hs_code_with_letters_or_not_in_the_nomenclature_is_refused_naming_the_goods_line_and_not_stored(party, http):
    ucr = ucr_of(41)
    signed = party["exporter"].sign(declaration(ucr))
    for bad in ("8504A090", "8504.40.90", "850440901234", "999999", "000000", "850499"):
        payload = declaration(ucr)
        second = copy.deepcopy(payload["goods"][0]) | {"line_number": 2, "hs_code": bad}
        payload["goods"] = [payload["goods"][0], second]
        body = assert_problem(post(http, _with_payload(signed, payload)), 422, "VALIDATION", "payload.goods[1].hs_code")
        assert [e["field"] for e in body["errors"]] == ["payload.goods[1].hs_code"]
    assert_not_stored(http, signed.id, ucr, None)


def test_malformed_or_unknown_un_locode_is_refused_naming_payload_location_and_not_stored(party, http):
    ucr = ucr_of(42)
    declared(party, ucr)
    before = snapshot(http, ucr)
    signed = party["exporter"].sign(custody(ucr, "HANDOVER"), counterparty=party["carrier"].address)
    for bad in ("NLRT1", "nlrtm", "NL RTM", "XXRTM", "NLRTMX"):
        assert_problem(
            post(http, _with_payload(signed, custody(ucr, "HANDOVER", bad))), 422, "VALIDATION", "payload.location"
        )
    assert_not_stored(http, signed.id, ucr, before)


def test_container_number_with_a_wrong_check_digit_is_refused_naming_the_container_and_not_stored(party, http):
    ucr = ucr_of(43)
    signed = party["exporter"].sign(declaration(ucr))
    wrong = "CSQU305438" + str((container_check_digit("CSQU305438") + 1) % 10)
    for bad in (wrong, "CSQX3054383", "CSQU305438"):
        payload = declaration(ucr, containers=["CSQU3054383", bad])
        assert_problem(post(http, _with_payload(signed, payload)), 422, "VALIDATION", "payload.containers[1]")
    assert_not_stored(http, signed.id, ucr, None)


# ---------------------------------------------------------------- the shape of the body


def test_unknown_fields_at_top_level_in_record_and_in_payload_are_refused_and_not_stored(party, http):
    ucr = ucr_of(50)
    signed = party["exporter"].sign(declaration(ucr))
    top = body_of(signed) | {"comment": "hello"}
    assert_problem(post(http, top), 422, "VALIDATION", "comment")
    in_record = body_of(signed)
    in_record["record"]["chainId"] = 1
    assert_problem(post(http, in_record), 422, "VALIDATION", "record.chainId")
    in_payload = body_of(signed)
    in_payload["payload"]["priority"] = "high"
    assert_problem(post(http, in_payload), 422, "VALIDATION", "payload.priority")
    in_goods = body_of(signed)
    in_goods["payload"]["goods"][0]["colour"] = "red"
    assert_problem(post(http, in_goods), 422, "VALIDATION", "payload.goods[0].colour")
    assert_not_stored(http, signed.id, ucr, None)


def test_fields_of_the_wrong_type_are_refused_and_not_stored(party, http):
    ucr = ucr_of(51)
    signed = party["exporter"].sign(declaration(ucr))
    nonce = signed.record.nonce
    cases: list[tuple[str, str, Any]] = [
        # A float or a boolean of the right value must not pass for the signed integer.
        ("record", "nonce", float(nonce)),
        ("record", "nonce", [nonce]),
        ("record", "nonce", -1),
        ("record", "nonce", "0x1"),
        ("record", "deadline", float(signed.record.deadline)),
        ("record", "kind", int(signed.record.kind)),
        ("record", "party", 1),
        ("record", "consignment", None),
        ("payload", "goods", "85044090"),
        ("payload", "containers", "CSQU3054383"),
    ]
    if nonce in (0, 1):
        cases.append(("record", "nonce", bool(nonce)))
    for part, name, value in cases:
        body = body_of(signed)
        body[part][name] = value
        assert_problem(post(http, body), 422, "VALIDATION", f"{part}.{name}")
    body = body_of(signed)
    body["record"] = "not an object"
    assert_problem(post(http, body), 422, "VALIDATION", "record")
    assert_not_stored(http, signed.id, ucr, None)


def test_missing_fields_are_refused_and_not_stored(party, http):
    ucr = ucr_of(52)
    signed = party["exporter"].sign(declaration(ucr))
    for part in ("record", "signature", "payload"):
        body = body_of(signed)
        del body[part]
        assert_problem(post(http, body), 422, "VALIDATION", part)
    for part, name in (("record", "deadline"), ("record", "nonce"), ("payload", "goods"), ("payload", "ucr")):
        body = body_of(signed)
        del body[part][name]
        assert_problem(post(http, body), 422, "VALIDATION", f"{part}.{name}")
    body = body_of(signed)
    del body["payload"]["kind"]
    assert_problem(post(http, body), 422, "VALIDATION", "payload")
    assert_problem(post(http, {}), 422, "VALIDATION", "record")
    assert_not_stored(http, signed.id, ucr, None)


def test_a_member_named_twice_anywhere_is_refused_naming_its_path_and_not_stored(service, party, http):
    """A signed record must read one way: parsers disagree on which of two values wins."""
    ucr = ucr_of(55)
    signed = party["exporter"].sign(declaration(ucr))
    text = json.dumps(body_of(signed))
    other = service.address("carrier")
    cases = {
        # The last value would win here, and it is not what the party signed.
        "record.party": text.replace('"party": ', f'"party": "{other}", "party": ', 1),
        "payload.consignee": text.replace('"consignee": {', '"consignee": {"name": "x"}, "consignee": {', 1),
        "signature": text.replace('"signature": ', '"signature": "0x00", "signature": ', 1),
    }
    for field, content in cases.items():
        assert content != text, field
        response = http.post(
            "/v1/records",
            content=content.encode(),
            headers={"content-type": "application/json", "Authorization": f"Bearer {CREDENTIALS[signed.record.party]}"},
        )
        body = assert_problem(response, 422, "VALIDATION", field)
        assert "more than once" in body["errors"][0]["reason"]
    batch = json.dumps({"records": [body_of(signed)]}).replace('"kind": ', '"kind": "HANDOVER", "kind": ', 1)
    response = http.post("/v1/records/batch", content=batch.encode(), headers={"content-type": "application/json"})
    assert_problem(response, 422, "VALIDATION", "records[0].record.kind")
    assert_not_stored(http, signed.id, ucr, None)


def test_a_body_that_is_not_json_is_refused_naming_the_body_and_the_service_stays_up(http):
    for content in (b"not json at all", b'{"record": ', b'{"record": {}} trailing', b'"a\x01b"', b"\xef\xbb\xbf{}"):
        response = http.post(
            "/v1/records", content=content, headers={"content-type": "application/json; charset=utf-8"}
        )
        body = assert_problem(response, 422, "VALIDATION", "body")
        assert [e["field"] for e in body["errors"]] == ["body"]
        assert body["errors"][0]["reason"].startswith("not JSON: ")
    # Not declared as JSON, or empty: not parsed, so refused as a body of the wrong shape.
    for content, content_type in (
        (b"", "application/json"),
        (b"record=1", "application/x-www-form-urlencoded"),
        (b'{"record": {}}', "text/plain"),
    ):
        response = http.post("/v1/records", content=content, headers={"content-type": content_type})
        assert_problem(response, 422, "VALIDATION", "body")
    # Two Content-Type headers: whichever the parser believes, the body is checked.
    response = http.post(
        "/v1/records",
        content=b"[" * 20_000 + b"]" * 20_000,
        headers=[("content-type", "application/json"), ("content-type", "text/plain")],
    )
    assert_problem(response, 422, "VALIDATION", "body")
    assert http.get("/healthz").status_code == 200


def test_a_body_that_is_not_utf8_is_refused_naming_the_body_and_the_service_stays_up(party, http):
    signed = party["exporter"].sign(declaration(ucr_of(53)))
    text = json.dumps(body_of(signed)).encode()
    # Invalid UTF-8, a truncated sequence, and lone surrogates (encoded, which Python's own
    # JSON decoder lets through, or escaped): none of it is text that can be hashed.
    for bad in (b"\xff\xfe\xfd", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\\ud800"):
        content = text.replace(b"Delta Electronics", b"Delta " + bad)
        response = http.post("/v1/records", content=content, headers={"content-type": "application/json"})
        body = assert_problem(response, 422, "VALIDATION", "body")
        assert body["errors"][0]["reason"].startswith("not JSON: ")
    response = http.post(
        "/v1/records", content=text.decode().encode("utf-16"), headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "VALIDATION", "body")
    assert_not_stored(http, signed.id, ucr_of(53), None)
    assert http.get("/healthz").status_code == 200


def test_json_nested_ten_thousand_levels_deep_is_refused_and_the_service_stays_up(http):
    deep = (
        ("/v1/records", b"[" * 10_000 + b"]" * 10_000),
        ("/v1/records", b'{"record": ' + b'{"a":' * 10_000 + b"1" + b"}" * 10_001),
        ("/v1/records", b'{"payload": {"goods": ' + b"[" * 30_000 + b"]" * 30_000 + b"}}"),
        # A million levels fit in a batch body: the stdlib parser, left to it, crashed the process.
        ("/v1/records/batch", b'{"records": ' + b"[" * 1_000_000 + b"]" * 1_000_000 + b"}"),
    )
    for path, content in deep:
        response = http.post(path, content=content, headers={"content-type": "application/json"})
        body = assert_problem(response, 422, "VALIDATION", "body")
        assert "nested too deeply" in body["errors"][0]["reason"]
        assert http.get("/healthz").status_code == 200
    # Nesting well below the limit reaches validation, which refuses it as a wrong type.
    shallow = b'{"record": ' + b"[" * 150 + b"]" * 150 + b"}"
    response = http.post("/v1/records", content=shallow, headers={"content-type": "application/json"})
    assert_problem(response, 422, "VALIDATION", "record")
    assert http.get("/healthz").status_code == 200


# ---------------------------------------------------------------- sizes


def _raw(service: Service, head: bytes, chunks: list[bytes] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 exchange on a raw socket, for bodies httpx would insist on sending."""
    url = httpx.URL(service.url)
    with socket.create_connection((url.host, url.port), timeout=60) as sock:
        sock.sendall(head)
        for chunk in chunks or []:
            try:
                sock.sendall(chunk)
            except OSError:
                break  # refused before the client finished: read the answer
        data = b""
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            assert more, data
            data += more
        header, _, rest = data.partition(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            more = sock.recv(65536)
            assert more
            rest += more
    assert status < 500, (head.split(b"\r\n")[0], status)
    return status, headers, rest


def test_body_over_64_kib_on_records_is_refused_with_413_with_or_without_content_length(service, party, http):
    ucr = ucr_of(60)
    signed = party["exporter"].sign(declaration(ucr))
    body = body_of(signed)
    body["payload"]["goods"][0]["description"] = "x" * (service.settings.max_body_bytes + 1)
    content = json.dumps(body).encode()
    response = http.post("/v1/records", content=content, headers={"content-type": "application/json"})
    assert_problem(response, 413, "TOO_LARGE", "body")

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(content), 8192):
            yield content[i : i + 8192]

    # Chunked, without Content-Length, declared as JSON or not (then FastAPI reads the body
    # itself, and once turned the limit's error into a 400).
    for content_type in ("application/json", "application/octet-stream"):
        response = http.post("/v1/records", content=chunks(), headers={"content-type": content_type})
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert_problem(response, 413, "TOO_LARGE", "body")
    # A Content-Length that is not a number is refused the same way.
    head = b"POST /v1/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: lots\r\n\r\n"
    status, _, _ = _raw(service, head)
    assert 400 <= status < 500
    assert_not_stored(http, signed.id, ucr, None)
    assert http.get("/healthz").status_code == 200


def test_batch_body_over_16_mib_is_refused_with_413_with_or_without_content_length(service, http):
    limit = service.settings.max_batch_body_bytes
    assert limit == 16 * 1024 * 1024
    head = (
        b"POST /v1/records/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {limit + 1}\r\nConnection: close\r\n\r\n".encode()
    )
    status, headers, content = _raw(service, head)  # refused on the header, before any body
    assert status == 413 and headers["content-type"].split(";")[0] == MEDIA_TYPE
    assert json.loads(content)["code"] == "TOO_LARGE"
    # Chunked, without a length: refused once more than the limit has arrived.
    head = b"POST /v1/records/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    piece = 1024 * 1024
    chunks = [f"{piece:x}\r\n".encode() + b" " * piece + b"\r\n"] * 16 + [b"1\r\n \r\n"]
    status, headers, content = _raw(service, head, chunks)
    assert status == 413 and json.loads(content)["code"] == "TOO_LARGE"
    status, headers, content = _raw(service, head.replace(b"application/json", b"text/plain"), chunks)
    assert status == 413 and json.loads(content)["code"] == "TOO_LARGE"
    assert http.get("/healthz").status_code == 200


def test_batch_of_more_than_max_batch_records_is_refused_naming_records_and_not_stored(service, party, http):
    assert service.settings.max_batch_records == MAX_BATCH_RECORDS == 10_000
    ucr = ucr_of(61)
    signed = party["customs_nl"].sign(decision(ucr), previous=ZERO, nonce=1)
    one = json.dumps(body_of(signed), separators=(",", ":")).encode()
    content = b'{"records":[' + b",".join([one] * (MAX_BATCH_RECORDS + 1)) + b"]}"
    assert len(content) < service.settings.max_batch_body_bytes
    response = http.post("/v1/records/batch", content=content, headers={"content-type": "application/json"})
    body = assert_problem(response, 422, "VALIDATION", "records")
    assert len(body["errors"]) == 1
    assert_not_stored(http, signed.id, ucr, None)


def test_empty_batch_is_refused_naming_records(http):
    assert_problem(post(http, {"records": []}, "/v1/records/batch"), 422, "VALIDATION", "records")
    assert_problem(post(http, {"records": {}}, "/v1/records/batch"), 422, "VALIDATION", "records")
    assert_problem(post(http, [], "/v1/records/batch"), 422, "VALIDATION", "body")


def test_batch_with_one_bad_record_in_the_middle_is_refused_whole_naming_it_and_nothing_is_stored(service, party, http):
    exporter = party["exporter"]
    ucrs = [ucr_of(70 + n) for n in range(3)]

    def batch(nonce: int) -> list[SignedRecord]:
        return [exporter.sign(declaration(u), previous=ZERO, nonce=nonce + n) for n, u in enumerate(ucrs)]

    def refused(records: list[dict[str, Any]], status: int, code: str, field: str, ids: list[str]) -> None:
        assert_problem(post(http, {"records": records}, "/v1/records/batch"), status, code, field)
        for rid, ucr in zip(ids, ucrs, strict=True):
            assert_not_stored(http, rid, ucr, None)

    # A payload field wrong in the middle record: refused by validation.
    good = batch(20_000)
    bodies = [body_of(s) for s in good]
    bodies[1]["payload"]["goods"][0]["hs_code"] = "85A44090"
    refused(bodies, 422, "VALIDATION", "records[1].payload.goods[0].hs_code", [s.id for s in good])
    # A signature by someone else in the middle: refused by the checks before the store.
    bodies = [body_of(s) for s in good]
    bodies[1] = body_of(resign(service, "carrier", good[1], good[1].record))
    refused(bodies, 422, "WRONG_SIGNER", "records[1].signature", [s.id for s in good])
    # A custody rule broken in the middle: refused inside the store's transaction, rolled back.
    middle = exporter.sign(
        custody(ucrs[1], "HANDOVER"), counterparty=party["carrier"].address, previous=ZERO, nonce=20_001
    )
    records = [good[0], middle, good[2]]
    refused(
        [body_of(s) for s in records],
        409,
        "UNKNOWN_CONSIGNMENT",
        "records[1].record.consignment",
        [s.id for s in records],
    )
    # The same record twice: refused as a duplicate.
    refused(
        [body_of(good[0]), body_of(good[1]), body_of(good[0])], 422, "DUPLICATE_RECORD", "records", [s.id for s in good]
    )
    # The good records alone are accepted afterwards: the refusals left nothing behind.
    accepted = exporter.post_batch(good)
    assert accepted["ids"] == [s.id for s in good]


# ---------------------------------------------------------------- reads


def test_reading_a_record_by_something_that_is_not_a_hash_is_refused(http):
    for bad in ("not-a-hash", "0x" + "ab" * 31, "0x" + "ab" * 33, "ab" * 32, "0x" + "zz" * 32):
        assert_problem(http.get(f"/v1/records/{bad}"), 422, "VALIDATION", "path.record_id")


def test_reading_an_unknown_record_is_a_404_problem(http):
    body = assert_problem(http.get("/v1/records/0x" + "ab" * 32), 404, "NOT_FOUND")
    assert body["errors"] == []
    assert_problem(http.get("/v1/records/0x" + "AB" * 32), 404, "NOT_FOUND")


def test_reading_a_consignment_by_a_malformed_ucr_is_refused(http):
    for bad in ("6nl123456789-lowercase", "NL123", "6NL" + "A" * 33):
        assert_problem(http.get(f"/v1/consignments/{bad}"), 422, "VALIDATION", "path.ucr")


def test_reading_an_unknown_consignment_is_a_404_problem(http):
    assert_problem(http.get("/v1/consignments/6NL123456789-NEVER-DECLARED"), 404, "NOT_FOUND")


# ---------------------------------------------------------------- and never a 500


# This module's kinds of bad input, for every operation: bodies for those that take one,
# values for every path and query parameter.
BAD_BODIES: list[tuple[bytes, str]] = [
    (b"not json at all", "application/json"),
    (b'{"record": ', "application/json"),
    (b"\xff\xfe\xfd", "application/json"),
    (b"\xef\xbb\xbf{}", "application/json"),
    (b"[" * 10_000 + b"]" * 10_000, "application/json"),
    (b"", "application/json"),
    (b"{}", "application/json"),
    (b"[]", "application/json"),
    (b"null", "application/json"),
    (b'{"records": {}, "record": "not an object", "nonce": -1}', "application/json"),
    (b"x" * (64 * 1024 + 1), "application/json"),
    (b"record=1", "application/x-www-form-urlencoded"),
    (b'{"record": {}}', "text/plain"),
]
BAD_VALUES = [
    "not-a-hash",
    "0x" + "ab" * 31,
    "0x" + "zz" * 20,
    "6nl123456789-lowercase",
    "A" * 300,
    "-1",
    "9" * 40,
    "%00",
]
PARAMETER = re.compile(r"\{[^}]+\}")


def test_the_service_never_answered_500_to_any_of_this(service):
    """On its own: every operation of the service's OpenAPI is sent this module's kinds of
    bad input, and refuses each with a 4xx (the module's other tests check every answer
    they get as it comes: `_never_5xx`)."""
    operations = service.http.get("/openapi.json").json()["paths"]
    answers: list[tuple[str, str, int]] = []
    with httpx.Client(base_url=service.url, timeout=60, headers=service.http.headers) as http:
        for path, methods in operations.items():
            for method, operation in methods.items():
                query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
                if PARAMETER.search(path) or query:
                    for value in BAD_VALUES:
                        url = PARAMETER.sub(value, path)
                        answer = http.request(method, url, params={name: value for name in query})
                        answers.append((method, url, answer.status_code))
                if "requestBody" in operation:
                    url = PARAMETER.sub("1", path)
                    for content, content_type in BAD_BODIES:
                        answer = http.request(method, url, content=content, headers={"content-type": content_type})
                        answers.append((method, url, answer.status_code))
    assert len(answers) > 100
    assert [a for a in answers if not 400 <= a[2] < 500] == []
    assert service.http.get("/healthz").status_code == 200
