"""Inspection outcomes are records: customs of a route country records that it examined
the goods, with the result (conforms, or the discrepancies found) and free text, as a
CUSTOMS_DECISION whose decision is INSPECTED; a malformed outcome is a 422 naming the
field."""

from __future__ import annotations

from support.payloads import decision, declaration
from support.service import Service


def test_customs_orders_an_inspection_then_records_its_outcome_with_the_discrepancies_found(service: Service):
    ucr = "6NL123456789-INSP-0001"
    exporter, customs = service.client("exporter"), service.client("customs_nl")
    exporter.wait_confirmed(exporter.submit(declaration(ucr)))
    ordered = decision(ucr, decision="INSPECTION_ORDERED", inspection={"method": "PHYSICAL", "result": "PENDING"})
    customs.wait_confirmed(customs.submit(ordered))
    outcome = decision(
        ucr,
        decision="INSPECTED",
        inspection={
            "method": "PHYSICAL",
            "result": "NON_CONFORM",
            "discrepancies": ["SEALS", "QUANTITY"],
            "findings": "Seal NL-SEAL-000123 replaced; 118 of 120 units found.",
        },
    )
    record = customs.wait_confirmed(customs.submit(outcome))
    assert record["status"] == "confirmed"
    history = exporter.consignment(ucr)
    assert history is not None
    last = history["records"][-1]["payload"]
    assert (last["decision"], last["inspection"]["discrepancies"]) == ("INSPECTED", ["QUANTITY", "SEALS"])
    assert last["inspection"]["findings"].startswith("Seal NL-SEAL-000123 replaced")


def _refused_field(service: Service, payload: dict[str, object]) -> tuple[int, list[str]]:
    """The service's answer to `payload` in place of a valid decision's (the client checks
    payloads before it signs: this is what another client would meet)."""
    customs = service.client("customs_nl")
    body = customs.sign(decision(str(payload["ucr"]))).body()
    body["payload"] = payload
    response = service.post_as(customs.address, "/v1/records", body)
    return response.status_code, [e["field"] for e in response.json()["errors"]]


def test_an_outcome_without_a_result_or_with_discrepancies_that_do_not_fit_is_refused_naming_the_field(
    service: Service,
):
    ucr = "6NL123456789-INSP-0002"
    exporter = service.client("exporter")
    exporter.wait_confirmed(exporter.submit(declaration(ucr)))
    pending = decision(ucr, decision="INSPECTED", inspection={"method": "PHYSICAL", "result": "PENDING"})
    assert _refused_field(service, pending) == (422, ["payload.inspection"])
    unnamed = decision(ucr, decision="INSPECTED", inspection={"method": "PHYSICAL", "result": "NON_CONFORM"})
    assert _refused_field(service, unnamed) == (422, ["payload.inspection.discrepancies"])
    unknown = {"method": "PHYSICAL", "result": "NON_CONFORM", "discrepancies": ["COLOUR"]}
    assert _refused_field(service, decision(ucr, decision="INSPECTED", inspection=unknown))[0] == 422
    too_long = {"method": "PHYSICAL", "result": "CONFORM", "findings": "x" * 513}
    assert _refused_field(service, decision(ucr, decision="INSPECTED", inspection=too_long)) == (
        422,
        ["payload.inspection.findings"],
    )
