"""The officer's worklist over the demo consignments (JP -> NL): the consignments on the
asking country's route, awaiting its decision, ranked RED first and then by score, with
the rules that fired, the exporter's AEO status, the custodian by name and the last event;
filters, cursor paging, who may ask, the live stream; and the risk rules' hit rates."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
from eth_account import Account
from support.demo_service import DemoService
from support.payloads import decision

from ledger_api import demo
from ledger_api.client import LedgerClient
from ledger_api.domain.receipts import verify_receipt

NL_AUTHORITY, JP_AUTHORITY = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
UCR = {n: f"{demo.UCR_PREFIX}{n:04d}" for n in range(1, 6)}


def _ucrs(http: httpx.Client, **params: Any) -> list[str]:
    response = http.get("/v1/worklist", params={"country": "NL", **params})
    assert response.status_code == 200, response.text
    return [item["ucr"] for item in response.json()["items"]]


def _token(demo_service: DemoService, address: str) -> str:
    _, runtime = demo_service
    assert runtime.credentials is not None
    return runtime.credentials.issue(address, "worklist test")


def test_nl_customs_sees_the_demo_lane_awaiting_its_decision_amber_first_then_by_score(demo_service: DemoService):
    http, _ = demo_service
    # 0003 (seals changed without a reason) is AMBER; 0002 (in transit) and 0005 (released
    # for export, still with the exporter) are GREEN; 0001 and 0004 are released for import.
    assert _ucrs(http) == [UCR[3], UCR[2], UCR[5]]
    assert _ucrs(http, status="all") == [UCR[3], UCR[1], UCR[2], UCR[4], UCR[5]]
    first = http.get("/v1/worklist", params={"country": "NL"}).json()["items"][0]
    assert (first["lane"], [f["id"] for f in first["fired"]]) == ("AMBER", ["R004", "R007"])
    assert first["fired"][0]["description"] == "Seals changed in custody without a stated reason"
    assert (first["exporter"]["name"], first["exporter_aeo_recognised"]) == ("Sakura Precision KK", True)
    assert first["exporter_aeo_programme"] == "JP-AEO-EXPORTER"
    assert first["custodian"] == {
        "address": demo.RAIL.account.address,
        "name": "Rotterdam Hinterland Rail B.V.",
        "identifiers": demo.RAIL.identifiers,
    }
    assert (first["last_event"]["kind"], first["last_event"]["place"]) == ("ACCEPTANCE", "NLRTM")
    assert (first["awaiting_decision"], first["last_decision"], first["hs_chapters"]) == (True, None, ["84", "90"])


def test_the_worklist_filters_by_lane_decision_hs_chapter_party_and_arrival(demo_service: DemoService):
    http, _ = demo_service
    assert _ucrs(http, status="decided") == [UCR[1], UCR[4]]
    assert _ucrs(http, lane="AMBER") == [UCR[3]] and _ucrs(http, lane="RED") == []
    assert _ucrs(http, hs_chapter="90") == [UCR[3], UCR[2], UCR[5]] and _ucrs(http, hs_chapter="01") == []
    assert _ucrs(http, party=demo.OCEAN.account.address) == [UCR[3], UCR[2]]  # 0005 never left the exporter
    assert _ucrs(http, party=demo.OCEAN.account.address.lower(), status="decided") == [UCR[1], UCR[4]]
    assert _ucrs(http, arrived_until=1) == [] and _ucrs(http, arrived_from=1) == [UCR[3], UCR[2], UCR[5]]


def test_cursor_paging_walks_the_whole_ranking_once(demo_service: DemoService):
    http, _ = demo_service
    seen, cursor = [], None
    for _ in range(5):
        params: dict[str, Any] = {"country": "NL", "status": "all", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = http.get("/v1/worklist", params=params).json()
        seen += [item["ucr"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == _ucrs(http, status="all") and cursor is None
    bad = http.get("/v1/worklist", params={"country": "NL", "cursor": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


def test_a_worklist_is_for_the_customs_of_its_country_only(demo_service: DemoService):
    http, _ = demo_service
    refused = http.get("/v1/worklist", params={"country": "JP"})  # NL customs asks for JP's
    assert refused.status_code == 403 and refused.json()["code"] == "NOT_CUSTOMS_OF"
    exporter = {"Authorization": f"Bearer {_token(demo_service, demo.EXPORTER_P.account.address)}"}
    assert http.get("/v1/worklist", params={"country": "JP"}, headers=exporter).status_code == 403
    anonymous = httpx.get(f"{str(http.base_url).rstrip('/')}/v1/worklist", params={"country": "NL"})
    assert anonymous.status_code == 401
    jp = {"Authorization": f"Bearer {_token(demo_service, JP_AUTHORITY)}"}
    # Japan released all five for export: none awaits it
    assert http.get("/v1/worklist", params={"country": "JP"}, headers=jp).json()["items"] == []
    decided = http.get("/v1/worklist", params={"country": "JP", "status": "decided"}, headers=jp).json()
    assert sorted(i["ucr"] for i in decided["items"]) == sorted(UCR.values())
    assert {i["last_decision"] for i in decided["items"]} == {"EXPORT_RELEASE"}


def _events(http: httpx.Client, lines: list[str], stop: threading.Event) -> None:
    """Reads the stream into `lines` until the test closes `http` (its own client)."""
    try:
        with http.stream("GET", "/v1/worklist/events", params={"country": "NL"}, timeout=30) as stream:
            for line in stream.iter_lines():
                lines.append(line)
                if stop.is_set():
                    return
    except httpx.HTTPError:
        if not stop.is_set():
            raise


def test_an_inspection_outcome_closes_the_open_decision_is_streamed_live_and_counts_in_the_rules_hit_rates(
    demo_service: DemoService,
):
    http, _ = demo_service
    lines: list[str] = []
    stop = threading.Event()
    stream_client = httpx.Client(base_url=http.base_url, headers=dict(http.headers))
    listener = threading.Thread(target=_events, args=(stream_client, lines, stop), daemon=True)
    listener.start()
    customs = LedgerClient(
        str(http.base_url).rstrip("/"),
        Account.from_key(demo.ANVIL_AUTHORITY_KEYS[NL_AUTHORITY]),
        token=http.headers["Authorization"].removeprefix("Bearer "),
    )
    try:
        _wait(lambda: "event: ready" in lines, "the stream's first event")
        ordered = decision(
            UCR[3], decision="INSPECTION_ORDERED", inspection={"method": "PHYSICAL", "result": "PENDING"}
        )
        customs.wait_confirmed(customs.submit(ordered))
        _wait(lambda: "event: changed" in lines, "a change on the stream")
        assert _ucrs(http)[0] == UCR[3]  # an inspection order leaves the decision open
        # the verdict names the order in force, RED, and its receipt says so too
        verdict = http.get(f"/v1/consignments/{UCR[3]}/verification", params={"country": "NL"}).json()
        in_force = verdict["decision"]
        assert (in_force["decision"], in_force["by"], in_force["country"]) == ("INSPECTION_ORDERED", NL_AUTHORITY, "NL")
        assert verdict["risk"]["lane"] == "RED" and "R014" in [f["id"] for f in verdict["risk"]["fired"]]
        claims = verify_receipt(verdict["receipt"], http.get("/v1/keys").json())
        assert claims["decision"] == in_force and claims["risk"]["lane"] == "RED"
        line = http.get("/v1/worklist", params={"country": "NL"}).json()["items"][0]
        assert (line["lane"], line["fired"][-1]["id"]) == ("RED", "R014")
        inspection = {"method": "PHYSICAL", "result": "NON_CONFORM", "discrepancies": ["SEALS"], "findings": "resealed"}
        customs.wait_confirmed(customs.submit(decision(UCR[3], decision="INSPECTED", inspection=inspection)))
    finally:
        stop.set()
        stream_client.close()
        listener.join(timeout=10)
        customs.close()
    assert UCR[3] not in _ucrs(http)
    # the outcome closed the order: nothing in force keeps it RED
    verdict = http.get(f"/v1/consignments/{UCR[3]}/verification", params={"country": "NL"}).json()
    assert verdict["decision"]["decision"] == "INSPECTED" and "R014" not in [f["id"] for f in verdict["risk"]["fired"]]
    closed = next(i for i in http.get("/v1/worklist", params={"country": "NL", "status": "decided"}).json()["items"])
    assert (closed["ucr"], closed["last_decision"], closed["inspected"], closed["discrepancy"]) == (
        UCR[3],
        "INSPECTED",
        True,
        True,
    )
    rates = {r["rule"]: r for r in http.get("/v1/rules/hit-rates", params={"country": "NL"}).json()["rules"]}
    assert (rates["R004"]["flagged"], rates["R004"]["inspected"], rates["R004"]["discrepancies"]) == (1, 1, 1)
    assert rates["R004"]["discrepancy_rate"] == 1.0
    assert (rates["R007"]["flagged"], rates["R007"]["inspected"]) == (5, 1)
    assert rates["R001"]["flagged"] == 0 and rates["R001"]["discrepancy_rate"] is None
    future = http.get("/v1/rules/hit-rates", params={"country": "NL", "since": 2**40}).json()
    assert all(r["flagged"] == 0 for r in future["rules"])
    assert json.loads(lines[lines.index("event: ready") + 1].removeprefix("data: "))["marker"]


def _wait(predicate: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
