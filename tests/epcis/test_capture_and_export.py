"""EPCIS 2.0 through HTTP on a real service: signed events become ledger records (all of a
document or none), the history goes out as a document that validates against GS1's
schema and expands under GS1's JSON-LD context, and GS1's own examples are captured or
refused with a reason per event, never a server error."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from pyld import jsonld
from support.epcis import did, document, inspecting, receiving, shipping
from support.payloads import declaration, transit
from support.service import Service

from ledger_api.client import ClientError

EXAMPLES = [
    "Example_9.6.1-ObjectEvent.jsonld",
    "Example_9.6.2-ObjectEvent.jsonld",
    "Example_9.6.3-AggregationEvent.jsonld",
    "Example-TransactionEvents-2020_07_03y.jsonld",
    "Example-Type-sourceOrDestination_measurement_bizTransaction.jsonld",
]


def validator(gs1: Path) -> Draft7Validator:
    """GS1's EPCIS 2.0 JSON schema."""
    schema = json.loads((gs1 / "EPCIS-JSON-Schema.json").read_text())
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def declared(service: Service, ucr: str) -> None:
    exporter = service.client("exporter")
    assert exporter.wait_confirmed(exporter.submit(declaration(ucr)))["status"] == "confirmed"


def records_of(service: Service, ucr: str) -> list[dict[str, Any]]:
    history = service.client("exporter").consignment(ucr)
    return [] if history is None else list(history["records"])


def test_shipping_receiving_and_inspecting_events_become_the_consignments_custody_records(service: Service):
    ucr = "6NL123456789-EPC-0001"
    declared(service, ucr)
    exporter, carrier, customs = service.client("exporter"), service.client("carrier"), service.client("customs_nl")

    shipped = exporter.capture(exporter.sign_capture(document(shipping(ucr, carrier.address))))
    received = carrier.capture(carrier.sign_capture(document(receiving(ucr, exporter.address))))
    decided = customs.capture(customs.sign_capture(document(inspecting(ucr))))

    assert [r["kind"] for r in shipped["records"] + received["records"] + decided["records"]] == [
        "HANDOVER",
        "ACCEPTANCE",
        "CUSTOMS_DECISION",
    ]
    ids = [r["records"][0]["id"] for r in (shipped, received, decided)]
    assert [exporter.wait_confirmed(i)["status"] for i in ids] == ["confirmed"] * 3
    history = exporter.consignment(ucr)
    assert history is not None and history["custodian"] == carrier.address
    handover = history["records"][1]
    assert handover["counterparty"] == carrier.address
    # The event's time, written at +01:00, is the payload's time in UTC.
    assert handover["payload"]["time"] == "2026-03-01T10:30:00Z"
    assert handover["payload"]["location"] == "NLRTM"


def test_the_same_capture_posted_again_returns_the_same_records_and_stores_nothing_more(service: Service):
    ucr = "6NL123456789-EPC-0002"
    declared(service, ucr)
    exporter, carrier = service.client("exporter"), service.client("carrier")
    signed = exporter.sign_capture(document(shipping(ucr, carrier.address)))
    first = service.http.post("/v1/epcis/capture", json=signed, headers=_as(service, "exporter"))
    again = service.http.post("/v1/epcis/capture", json=signed, headers=_as(service, "exporter"))
    assert (first.status_code, again.status_code) == (202, 200), again.text
    assert first.json()["records"] == again.json()["records"]
    assert len(records_of(service, ucr)) == 2


def test_every_bad_event_is_named_by_index_and_reason_and_nothing_of_the_document_is_stored(service: Service):
    ucr = "6NL123456789-EPC-0003"
    declared(service, ucr)
    carrier = service.address("carrier")
    events = [
        shipping(ucr, carrier),
        shipping(ucr, carrier, bizStep="installing"),
        {k: v for k, v in shipping(ucr, carrier).items() if k != "ledger:ucr"},
        shipping(ucr, carrier, **{"ledger:location": "XXRTM"}),
    ]
    body = {"signer": service.address("exporter"), "epcisDocument": document(*events), "signatures": [_blank()] * 4}
    response = service.http.post("/v1/epcis/capture", json=body, headers=_as(service, "exporter"))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    fields = {e["field"]: e["reason"] for e in problem["errors"]}
    base = "epcisDocument.epcisBody.eventList"
    assert set(fields) == {f"{base}[1].bizStep", f"{base}[2].ledger:ucr", f"{base}[3].ledger:location"}
    assert "installing" in fields[f"{base}[1].bizStep"]
    assert "unknown country" in fields[f"{base}[3].ledger:location"]
    assert len(records_of(service, ucr)) == 1  # the declaration only


def test_an_event_that_breaks_the_custody_order_refuses_the_whole_document(service: Service):
    ucr = "6NL123456789-EPC-0004"
    declared(service, ucr)
    exporter, carrier = service.client("exporter"), service.client("carrier")
    # The second handover while the first is pending breaks the custody order.
    signed = exporter.sign_capture(document(shipping(ucr, carrier.address), shipping(ucr, carrier.address)))
    with pytest.raises(ClientError) as refused:
        exporter.capture(signed)
    assert refused.value.status == 409
    assert refused.value.problem["errors"][0]["field"].startswith("epcisDocument.epcisBody.eventList[1]")
    assert len(records_of(service, ucr)) == 1


def test_a_forged_signature_is_refused_naming_the_events_signature(service: Service):
    ucr = "6NL123456789-EPC-0005"
    declared(service, ucr)
    exporter = service.client("exporter")
    signed = exporter.sign_capture(document(shipping(ucr, service.address("carrier"))))
    signed["signatures"][0]["signature"] = service.client("carrier").sign_capture(
        document(shipping(ucr, service.address("carrier")))
    )["signatures"][0]["signature"]
    with pytest.raises(ClientError) as refused:
        exporter.capture(signed)
    assert refused.value.status == 422
    assert refused.value.problem["errors"][0]["field"] == "signatures[0].signature"
    assert len(records_of(service, ucr)) == 1


def test_an_event_naming_another_party_as_the_actor_or_a_credential_of_another_party_is_forbidden(service: Service):
    ucr = "6NL123456789-EPC-0006"
    declared(service, ucr)
    exporter, carrier = service.client("exporter"), service.client("carrier")
    # The carrier cannot write "the exporter shipped": the source party must be the signer.
    event = shipping(ucr, carrier.address, sourceList=[{"type": "possessing_party", "source": did(exporter.address)}])
    with pytest.raises(ClientError) as refused:
        carrier.capture(carrier.sign_capture(document(event)))
    assert refused.value.status == 403
    # A capture signed by the exporter, posted with the carrier's credential.
    signed = exporter.sign_capture(document(shipping(ucr, carrier.address)))
    response = service.http.post("/v1/epcis/capture", json=signed, headers=_as(service, "carrier"))
    assert response.status_code == 403 and response.json()["errors"][0]["field"] == "signer"
    assert len(records_of(service, ucr)) == 1


def test_a_batch_consignments_events_are_anchored_under_one_merkle_root(service: Service):
    exporter, carrier = service.client("exporter"), service.client("carrier")
    ucrs = [f"6NL123456789-EPB-{n:04d}" for n in range(3)]
    exporter.post_batch(
        [exporter.sign(declaration(u), previous=bytes(32), nonce=10**15 + n) for n, u in enumerate(ucrs)]
    )
    captured = exporter.capture(exporter.sign_capture(document(*(shipping(u, carrier.address) for u in ucrs))))
    assert captured["batch_root"] and len(captured["records"]) == 3
    record = exporter.wait_confirmed(captured["records"][2]["id"])
    assert record["status"] == "confirmed" and record["batch_root"] == captured["batch_root"]


def test_the_exported_history_validates_against_gs1s_epcis_2_schema(service: Service, gs1: Path):
    ucr = "6NL123456789-EPC-0007"
    declared(service, ucr)
    exporter, carrier, customs = service.client("exporter"), service.client("carrier"), service.client("customs_nl")
    exporter.capture(exporter.sign_capture(document(shipping(ucr, carrier.address))))
    carrier.capture(carrier.sign_capture(document(receiving(ucr, exporter.address))))
    carrier.submit(transit(ucr, ["SG", "LK"]))  # a transit: signed as a record, exported as an event
    last = customs.capture(customs.sign_capture(document(inspecting(ucr))))
    exporter.wait_confirmed(last["records"][0]["id"])
    exporter.publish_identifiers(exporter.address, {"name": "exporter"})  # its registration's, by hash

    response = service.http.get(f"/v1/consignments/{ucr}/epcis")
    assert response.status_code == 200 and response.headers["content-type"] == "application/ld+json"
    exported = response.json()
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator(gs1).iter_errors(exported)]
    assert errors == []
    events = exported["epcisBody"]["eventList"]
    assert [(e["type"], e.get("bizStep")) for e in events] == [
        ("TransactionEvent", None),
        ("ObjectEvent", "shipping"),
        ("ObjectEvent", "receiving"),
        ("ObjectEvent", "transporting"),
        ("ObjectEvent", "inspecting"),
    ]
    history = records_of(service, ucr)
    assert [e["ledger:record"]["id"] for e in events] == [r["id"] for r in history]
    assert [e["ledger:record"]["route"] for e in events] == [["NL", "JP"], [], [], ["SG", "LK"], []]
    assert (events[3]["disposition"], events[3]["ledger:transitCountries"]) == ("in_transit", ["SG", "LK"])
    assert events[3]["sourceList"] == [{"type": "possessing_party", "source": did(carrier.address)}]
    assert events[1]["destinationList"] == [{"type": "possessing_party", "destination": did(carrier.address)}]
    assert events[2]["sourceList"] == [{"type": "possessing_party", "source": did(exporter.address)}]
    assert all(e["ledger:record"]["status"] == "confirmed" for e in events)
    # the parties by name where the service holds their identifiers; the others by DID alone
    assert exported["ledger:parties"][did(exporter.address)] == {"name": "exporter"}


def test_the_schema_check_bites_an_export_with_a_field_broken_fails_it(service: Service, gs1: Path):
    ucr = "6NL123456789-EPC-0008"
    declared(service, ucr)
    exported = service.http.get(f"/v1/consignments/{ucr}/epcis").json()
    assert list(validator(gs1).iter_errors(exported)) == []
    for breakage in ("eventTimeZoneOffset", "action"):
        broken = copy.deepcopy(exported)
        del broken["epcisBody"]["eventList"][0][breakage]
        assert list(validator(gs1).iter_errors(broken)), f"removing {breakage} went unnoticed"


def test_every_term_of_the_export_expands_under_gs1s_json_ld_context(service: Service, gs1: Path):
    ucr = "6NL123456789-EPC-0009"
    declared(service, ucr)
    exporter, carrier = service.client("exporter"), service.client("carrier")
    exporter.capture(exporter.sign_capture(document(shipping(ucr, carrier.address))))
    exporter.submit(transit(ucr, ["SG"]))  # still the custodian until the carrier accepts
    exported = service.http.get(f"/v1/consignments/{ucr}/epcis").json()
    context = json.loads((gs1 / "epcis-context.jsonld").read_text())

    def local_loader(url: str, options: dict[str, Any]) -> dict[str, Any]:
        # No internet at run time: GS1's context from the shared folder. The CBV value
        # vocabularies it scopes to some terms (bizStep values as IRIs…) are separate GS1
        # files not in the shared folder: they map values, not keys, so empty ones leave
        # the check of the keys intact.
        if url == "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld":
            return {"contextUrl": None, "documentUrl": url, "document": context}
        assert url.startswith("https://gs1.github.io/EPCIS/") and url.endswith("-context-" + url.split("-context-")[-1])
        return {"contextUrl": None, "documentUrl": url, "document": {"@context": {}}}

    expanded = jsonld.expand(exported, {"documentLoader": local_loader})
    (body,) = expanded[0]["https://ref.gs1.org/epcis/epcisBody"]
    nodes = body["https://ref.gs1.org/epcis/eventList"]
    events = exported["epcisBody"]["eventList"]
    assert len(nodes) == len(events) == 3
    for event, node in zip(events, nodes, strict=True):
        # One expanded property per key: a term the context does not define would be
        # dropped silently by a JSON-LD processor, and the ledger's data lost to it.
        assert len(node) == len(event), sorted(set(node) ^ set(event))
        record = node["urn:customs-provenance-ledger:epcis:record"][0]
        assert record == {"@type": "@json", "@value": event["ledger:record"]}
        payload = node["urn:customs-provenance-ledger:epcis:payload"][0]["@value"]
        assert payload == event["ledger:payload"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_gs1s_own_examples_are_refused_with_a_reason_per_event_never_a_server_error(
    service: Service, gs1: Path, name: str
):
    example = json.loads((gs1 / "examples" / name).read_text())
    assert list(validator(gs1).iter_errors(example)) == []  # GS1's examples are valid EPCIS
    events = example["epcisBody"]["eventList"]
    body = {"signer": service.address("exporter"), "epcisDocument": example, "signatures": [_blank()] * len(events)}
    response = service.http.post("/v1/epcis/capture", json=body, headers=_as(service, "exporter"))
    # None of them names a consignment (ledger:ucr) or a ledger party: each event is
    # refused with its own reason, nothing is stored, and the service does not fail.
    assert response.status_code == 422, response.text
    indexed = {e["field"].split("]")[0] + "]" for e in response.json()["errors"]}
    assert indexed == {f"epcisDocument.epcisBody.eventList[{i}]" for i in range(len(events))}


def test_a_gs1_example_given_a_consignment_and_parties_is_captured(service: Service, gs1: Path):
    """GS1's shipping example (9.6.1), with what the ledger needs added: it is recorded."""
    ucr = "6NL123456789-EPC-0010"
    declared(service, ucr)
    exporter, carrier = service.client("exporter"), service.client("carrier")
    example = json.loads((gs1 / "examples" / "Example_9.6.1-ObjectEvent.jsonld").read_text())
    event = example["epcisBody"]["eventList"][0]  # bizStep shipping
    event.update(
        shipping(ucr, carrier.address, eventTime=event["eventTime"], eventTimeZoneOffset=event["eventTimeZoneOffset"])
    )
    example["epcisBody"]["eventList"] = [event]
    example["@context"].append({"ledger": "urn:customs-provenance-ledger:epcis:"})
    captured = exporter.capture(exporter.sign_capture(example))
    assert captured["records"][0]["kind"] == "HANDOVER"
    assert records_of(service, ucr)[1]["payload"]["time"] == "2005-04-04T02:33:31.116Z"


def test_the_export_is_only_for_those_who_may_see_the_history(service: Service):
    ucr = "6NL123456789-EPC-0011"
    declared(service, ucr)
    path = f"/v1/consignments/{ucr}/epcis"
    assert service.http.get(path, headers={"Authorization": ""}).status_code == 401
    # The JP carrier is no party to it and no customs: it does not exist for them.
    assert service.http.get(path, headers=_as(service, "carrier_jp")).status_code == 404
    assert service.http.get(path, headers=_as(service, "exporter")).status_code == 200


def _as(service: Service, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {service.tokens[name]}"}


def _blank() -> dict[str, Any]:
    return {"nonce": 0, "deadline": 4_000_000_000, "previous": "0x" + "00" * 32, "signature": "0x" + "11" * 65}
