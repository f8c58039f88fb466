"""Routes through HTTP on a real service: a declaration signs its origin and destination, the
custodian adds transit countries with a TRANSIT record, and customs act only on a
consignment whose route touches their country; the service refuses what the chain would
(403 NOT_ON_ROUTE, 409 NOT_CUSTODIAN) and a route that is not its payload's (422 naming
`record.route`), record by record and in batches. Clients that send no route keep working
for the kinds that carry none."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest
from support.forwarding import SG_CUSTOMS
from support.payloads import custody, decision, declaration, transit
from support.service import Service

from ledger_api.client import ClientError, LedgerClient, SignedRecord
from ledger_api.domain.records import RecordKind, domain_separator, fast_record_id, sign_record

ZERO = bytes(32)


def sg_decision(ucr: str) -> dict[str, Any]:
    return decision(ucr, authority_country="SG", customs_office="SGSIN", decision="HOLD", inspection=None)


def refused(call: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    problem = caught.value.problem
    return caught.value.status, problem["code"], problem["errors"][0]["field"]


def resigned(client: LedgerClient, signed: SignedRecord, **changes: Any) -> SignedRecord:
    """`signed` with its record changed and signed again by the same party."""
    record = replace(signed.record, **changes)
    domain = client.domain()
    rid = "0x" + fast_record_id(record, domain_separator(domain)).hex()
    return SignedRecord(record, sign_record(record, domain, client.account.key), signed.payload, rid)


def posted(client: LedgerClient, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.http.post("/v1/records", json=body)
    return response.status_code, response.json()


@pytest.fixture(scope="module")
def sg_customs(service: Service) -> LedgerClient:
    return service.as_party(SG_CUSTOMS)


def test_customs_of_a_transit_country_decides_once_the_custodian_adds_it_to_the_route(
    service: Service, sg_customs: LedgerClient
):
    ucr = "6NL123456789-ROUTE-0001"
    exporter, carrier = service.client("exporter"), service.client("carrier")
    ids = [exporter.submit(declaration(ucr))]
    # SG customs cannot read the consignment yet (SG is on no route of it): it names the head.
    assert sg_customs.consignment(ucr) is None
    early = sg_customs.sign(sg_decision(ucr), previous=bytes.fromhex(ids[0][2:]))
    assert refused(lambda: sg_customs.post(early)) == (403, "NOT_ON_ROUTE", "record.party")
    not_holding = carrier.sign(transit(ucr, ["SG"]), previous=bytes.fromhex(ids[0][2:]))
    assert refused(lambda: carrier.post(not_holding)) == (409, "NOT_CUSTODIAN", "record.party")

    ids.append(exporter.submit(transit(ucr, ["SG", "NL"])))  # NL is the origin: SG is what it adds
    assert sg_customs.consignment(ucr) is not None  # on the route now: SG customs sees it in full
    ids.append(sg_customs.submit(sg_decision(ucr)))
    assert [exporter.wait_confirmed(i)["status"] for i in ids] == ["confirmed"] * 3

    history = exporter.consignment(ucr)
    assert history is not None
    assert history["route"] == ["NL", "JP", "SG"]
    assert [r["route"] for r in history["records"]] == [["NL", "JP"], ["SG", "NL"], []]
    assert [r["kind"] for r in history["records"]] == ["DECLARATION", "TRANSIT", "CUSTOMS_DECISION"]
    assert exporter.record(ids[1])["route"] == ["SG", "NL"]
    ledger = service.runtime.manifest.address("ConsignmentLedger")  # type: ignore[union-attr]
    on_chain = service.w3.eth.contract(
        address=ledger,
        abi=[
            {
                "name": "routeOf",
                "type": "function",
                "stateMutability": "view",
                "inputs": [{"name": "consignment", "type": "bytes32"}],
                "outputs": [{"name": "", "type": "bytes2[]"}],
            }
        ],
    )
    key = bytes.fromhex(history["consignment"][2:])
    assert on_chain.functions.routeOf(key).call() == [b"NL", b"JP", b"SG"]

    # The transit is the custodian's: the verification's custody checks pass.
    verification = service.http.get(f"/v1/consignments/{ucr}/verification", params={"country": "NL"}).json()
    checks = {c["name"]: c for c in verification["checks"]}
    assert checks["SIGNER_AUTHORITY"]["status"] == checks["CUSTODY_CONTINUITY"]["status"] == "VALID"


def test_a_route_that_is_not_the_payloads_is_refused_naming_record_route(service: Service):
    ucr = "6NL123456789-ROUTE-0002"
    exporter = service.client("exporter")
    signed = exporter.sign(declaration(ucr))
    assert signed.record.route == ("NL", "JP")
    elsewhere = resigned(exporter, signed, route=("NL", "DE"))
    status, body = posted(exporter, elsewhere.body())
    assert (status, body["code"], body["errors"][0]["field"]) == (422, "ROUTE_MISMATCH", "record.route")
    assert "['NL', 'JP']" in body["errors"][0]["reason"]
    # A client that signs no route: a declaration cannot do without one.
    old = resigned(exporter, signed, route=())
    body_without_route = copy.deepcopy(old.body())
    del body_without_route["record"]["route"]
    status, body = posted(exporter, body_without_route)
    assert (status, body["code"], body["errors"][0]["field"]) == (422, "INVALID_ROUTE_LENGTH", "record.route")
    # Lower case is not a country code: refused by the schema, before anything is checked.
    lower = copy.deepcopy(signed.body())
    lower["record"]["route"] = ["nl", "jp"]
    status, body = posted(exporter, lower)
    assert (status, body["code"]) == (422, "VALIDATION")
    assert body["errors"][0]["field"].startswith("record.route")

    same = declaration("6NL123456789-ROUTE-0003", destination_country="NL")
    status, body = posted(exporter, exporter.sign(same).body())
    assert (status, body["code"], body["errors"][0]["field"]) == (422, "SAME_ORIGIN_AND_DESTINATION", "record.route")

    exporter.submit(declaration(ucr))
    signed_transit = exporter.sign(transit(ucr, ["SG", "LK"]))
    reordered = resigned(exporter, signed_transit, route=("LK", "SG"))
    status, body = posted(exporter, reordered.body())
    assert (status, body["code"], body["errors"][0]["field"]) == (422, "ROUTE_MISMATCH", "record.route")
    assert exporter.consignment(ucr)["route"] == ["NL", "JP"]  # type: ignore[index]


def test_a_record_of_a_kind_without_a_route_is_accepted_from_a_client_that_sends_none(service: Service):
    ucr = "6NL123456789-ROUTE-0004"
    exporter, carrier = service.client("exporter"), service.client("carrier")
    exporter.submit(declaration(ucr))
    handover = copy.deepcopy(exporter.sign(custody(ucr, "HANDOVER"), counterparty=carrier.address).body())
    del handover["record"]["route"]  # as a client made before routes sends it
    status, body = posted(exporter, handover)
    assert status == 202, body
    with_route = exporter.sign(custody(ucr, "ACCEPTANCE"), counterparty=exporter.address)
    carrier_signed = resigned(carrier, with_route, party=carrier.address, route=("NL",))
    status, body = posted(carrier, carrier_signed.body())
    assert (status, body["code"], body["errors"][0]["field"]) == (422, "INVALID_ROUTE_LENGTH", "record.route")


def test_batches_are_held_to_the_same_route_rules(service: Service, sg_customs: LedgerClient):
    exporter = service.client("exporter")
    ucr, other = "6NL123456789-ROUTE-0005", "6NL123456789-ROUTE-0006"
    nonce = 40_000  # batch nonces are the party's own to keep unique
    declared = exporter.sign(declaration(ucr), previous=ZERO, nonce=nonce)
    extended = exporter.sign(transit(ucr, ["SG"]), previous=bytes.fromhex(declared.id[2:]), nonce=nonce + 1)
    bad = resigned(exporter, extended, route=("LK",))
    with pytest.raises(ClientError) as caught:
        exporter.post_batch([declared, bad])
    assert (caught.value.problem["code"], caught.value.problem["errors"][0]["field"]) == (
        "ROUTE_MISMATCH",
        "records[1].record.route",
    )
    other_declared = exporter.sign(declaration(other), previous=ZERO, nonce=nonce + 2)
    exporter.post_batch([declared, extended, other_declared])

    def decided(u: str, previous: str, n: int) -> SignedRecord:
        return sg_customs.sign(sg_decision(u), previous=bytes.fromhex(previous[2:]), nonce=n)

    with pytest.raises(ClientError) as caught:
        sg_customs.post_batch([decided(other, other_declared.id, 7)])  # SG is not on that route
    assert (caught.value.status, caught.value.problem["code"], caught.value.problem["errors"][0]["field"]) == (
        403,
        "NOT_ON_ROUTE",
        "records[0].record.party",
    )
    accepted = sg_customs.post_batch([decided(ucr, extended.id, 8)])
    assert sg_customs.wait_confirmed(accepted["ids"][0])["status"] == "confirmed"
    history = exporter.consignment(ucr)
    assert history is not None and history["mode"] == "batch" and history["route"] == ["NL", "JP", "SG"]
    assert RecordKind[history["records"][1]["kind"]] == RecordKind.TRANSIT
