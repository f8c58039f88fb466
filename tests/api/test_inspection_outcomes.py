"""Inspection outcomes are records: customs of a route country records that it examined
the goods, with the result (conforms, or the discrepancies found) and free text, as a
CUSTOMS_DECISION whose decision is INSPECTED; a malformed outcome is a 422 naming the
field. Under an MRA recognising export inspections, the export country's conforming
outcome lowers the import country's lane."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak
from support.forwarding import JP_CUSTOMS, NL_CUSTOMS
from support.payloads import decision, declaration
from support.service import Service, wait_until


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


# ---------------------------------------------------------------- recognised under an MRA


def _verdict(service: Service, ucr: str, at_block: int | None = None) -> dict[str, Any]:
    """The Dutch verification of `ucr`, as NL customs reads it."""
    params: dict[str, Any] = {"country": "NL"} if at_block is None else {"country": "NL", "at_block": at_block}
    response = service.http.get(f"/v1/consignments/{ucr}/verification", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _fired(verdict: dict[str, Any]) -> list[str]:
    return [f["id"] for f in verdict["risk"]["fired"]]


def _in_force_mra(service: Service, proposer: str, controls: list[str]) -> int:
    """`proposer`'s customs proposes an MRA with the other of JP and NL recognising
    `controls`, the other ratifies it; its id once the ratification is indexed."""
    authorities = {"JP": JP_CUSTOMS, "NL": NL_CUSTOMS}
    partner = "NL" if proposer == "JP" else "JP"
    service.as_party(authorities[proposer]).propose_mra(partner, 0, controls=controls)

    def proposed() -> dict[str, Any] | None:
        # Ids are counted on chain: look for the open proposal between the two among the first few.
        for mra_id in range(1, 10):
            response = service.http.get(f"/v1/mras/{mra_id}")
            body = response.json() if response.status_code == 200 else None
            if body and {body["proposer"], body["partner"]} == {"JP", "NL"} and body["terminated_at"] is None:
                return dict(body)
        return None

    wait_until(lambda: proposed() is not None, what="proposal indexed")
    arrangement = proposed()
    assert arrangement is not None and arrangement["recognised_controls"] == controls
    service.as_party(authorities[partner]).ratify_mra(arrangement["mra_id"])
    wait_until(
        lambda: service.http.get(f"/v1/mras/{arrangement['mra_id']}").json()["in_force_now"],
        what="ratification indexed",
    )
    return int(arrangement["mra_id"])


def test_japans_conforming_export_inspection_lowers_the_dutch_lane_only_under_an_mra_recognising_it(
    service: Service,
):
    ucr = "6JP123456789-RC-0001"
    exporter_jp = Account.from_key(keccak(text="inspection test JP exporter"))
    service.as_party(JP_CUSTOMS).manage_party(
        "register", exporter_jp.address, roles=["EXPORTER"], identifiers={"name": "Sakura Trading KK"}
    )
    wait_until(lambda: service.http.get(f"/v1/parties/{exporter_jp.address}").status_code == 200, what="registered")
    exporter, customs_jp = service.as_party(exporter_jp), service.as_party(JP_CUSTOMS)
    goods = [{**declaration(ucr)["goods"][0], "hs_code": "930690", "currency": "JPY"}]  # a sensitive chapter
    exporter.wait_confirmed(
        exporter.submit(
            declaration(
                ucr,
                exporter={
                    "name": "Sakura Trading KK",
                    "address": "1-1 Marunouchi, Tokyo",
                    "country": "JP",
                    "identifier": {"scheme": "TIN", "value": "1234567890123"},
                },
                consignee={"name": "Delta Electronics BV", "address": "Waalhaven 19, Rotterdam", "country": "NL"},
                origin_country="JP",
                destination_country="NL",
                goods=goods,
            )
        )
    )
    inspected = decision(
        ucr,
        authority_country="JP",
        customs_office="JPTYO",
        decision="INSPECTED",
        inspection={"method": "PHYSICAL", "result": "CONFORM"},
    )
    record = customs_jp.wait_confirmed(customs_jp.submit(inspected))["id"]

    without = _verdict(service, ucr)  # no MRA between JP and NL yet
    assert "R012" not in _fired(without)

    aeo_only = _in_force_mra(service, "JP", [])
    recognising_aeo = _verdict(service, ucr)
    assert "R012" not in _fired(recognising_aeo)
    assert recognising_aeo["risk"]["score"] == without["risk"]["score"]

    customs_jp.terminate_mra(aeo_only, int(service.w3.eth.get_block("latest")["timestamp"]) + 5)
    wait_until(lambda: service.http.get(f"/v1/mras/{aeo_only}").json()["terminated_at"] is not None, what="termination")
    mra_id = _in_force_mra(service, "NL", ["EXPORT_INSPECTION"])
    recognised = _verdict(service, ucr)
    conform = next(f for f in recognised["risk"]["fired"] if f["id"] == "R012")
    assert conform["records"] == [record]
    assert (
        conform["reason"]
        == f"JP customs' export inspection found the goods conforming, recognised by NL under MRA {mra_id}"
    )
    assert recognised["risk"]["score"] == without["risk"]["score"] - 30
    assert (without["risk"]["lane"], recognised["risk"]["lane"]) == ("RED", "AMBER")
    # As of a block before that MRA, the Dutch verdict stands as it was.
    assert "R012" not in _fired(_verdict(service, ucr, recognising_aeo["as_of_block"]))
