"""A read of a record that waits for it to be confirmed or failed (`?wait=`): answered as
soon as it is, with its status of then when the time is up, refused out of bounds, and
never a way to wait on a record the caller may not see."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from support.payloads import declaration
from support.service import Service


def test_a_wait_answers_once_the_record_is_confirmed_and_with_its_status_when_the_time_is_up(service: Service):
    exporter = service.client("exporter")
    service.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        record_id = exporter.submit(declaration("6NL123456789-WAIT-0001"))
        start = time.monotonic()
        held = exporter.http.get(f"/v1/records/{record_id}", params={"wait": 0.5})
        assert held.status_code == 200 and held.json()["status"] in ("accepted", "submitted")
        assert time.monotonic() - start >= 0.5  # it waited the time asked, no less
    finally:
        service.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    service.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    start = time.monotonic()
    confirmed = exporter.http.get(f"/v1/records/{record_id}", params={"wait": 20})
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    assert time.monotonic() - start < 15  # answered on confirmation, not at the end of the wait
    assert exporter.wait_confirmed(record_id)["status"] == "confirmed"


def test_a_wait_out_of_bounds_is_refused_naming_the_field(service: Service):
    exporter = service.client("exporter")
    record_id = exporter.submit(declaration("6NL123456789-WAIT-0002"))
    for wait in ("31", "-1", "soon", "nan", "inf"):  # NaN would never be reached: a read held for good
        response = exporter.http.get(f"/v1/records/{record_id}", params={"wait": wait})
        assert response.status_code == 422
        assert any(e["field"].endswith("wait") for e in response.json()["errors"]), response.json()


def test_a_wait_on_a_record_the_caller_may_not_see_is_refused_at_once_as_an_unknown_one(service: Service):
    exporter, outsider = service.client("exporter"), service.client("carrier_jp")
    record_id = exporter.submit(declaration("6NL123456789-WAIT-0003"))
    unknown = "0x" + "ab" * 32
    start = time.monotonic()
    hidden = outsider.http.get(f"/v1/records/{record_id}", params={"wait": 5})
    missing = outsider.http.get(f"/v1/records/{unknown}", params={"wait": 5})
    assert time.monotonic() - start < 4  # neither waited
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace(record_id, "?") == missing.json()["detail"].replace(unknown, "?")


def test_reads_held_open_past_a_credentials_bound_are_answered_at_once(service: Service, monkeypatch):
    from ledger_api.api.routes import records as route

    monkeypatch.setattr(route, "WAITS_PER_CREDENTIAL", 2)
    exporter = service.client("exporter")
    service.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        record_id = exporter.submit(declaration("6NL123456789-WAIT-0004"))

        def read() -> float:
            start = time.monotonic()
            response = exporter.http.get(f"/v1/records/{record_id}", params={"wait": 1.5})
            assert response.status_code == 200 and response.json()["status"] in ("accepted", "submitted")
            return time.monotonic() - start

        with ThreadPoolExecutor(3) as pool:
            took = sorted(pool.map(lambda _: read(), range(3)))
        assert took[0] < 1.0 and took[1] >= 1.5  # one answered at once, two held the time asked
        assert route._waits.total == 0 and not route._waits.by_credential  # all let go
    finally:
        service.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    service.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert exporter.wait_confirmed(record_id)["status"] == "confirmed"


def test_the_client_pauses_between_reads_the_service_answered_at_once(service: Service, monkeypatch):
    from ledger_api.api.routes import records as route

    monkeypatch.setattr(route, "WAITS_PER_CREDENTIAL", 0)  # every wait answered at once
    exporter = service.client("exporter")
    asked: list[object] = []
    exporter.http.event_hooks["request"].append(asked.append)
    service.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        record_id = exporter.submit(declaration("6NL123456789-WAIT-0005"))
        asked.clear()
        assert exporter.wait_confirmed(record_id, timeout=1.0)["status"] in ("accepted", "submitted")
    finally:
        service.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    service.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert 3 <= len(asked) <= 7  # a read every EARLY_ANSWER_PAUSE (0.2 s), not a busy loop
