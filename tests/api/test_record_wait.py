"""A read of a record that waits for it to be confirmed or failed (`?wait=`): answered as
soon as it is, with its status of then when the time is up, refused out of bounds, and
never a way to wait on a record the caller may not see."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

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


def test_reads_held_on_one_record_look_at_it_when_the_index_moves_not_on_a_clock(service: Service, monkeypatch):
    """Eight reads held on a record whose block comes a second later: each looks at the
    record when it begins, when the index moves and every WAIT_POLL_MAX_SECONDS besides
    (made longer than the test here), so a handful of looks in all, not one every few
    milliseconds each; they are answered once the block is indexed; and nothing reads the
    index once no read is held."""
    from ledger_api.api.routes import records as route
    from ledger_api.services.queries import Queries

    monkeypatch.setattr(route, "WAIT_POLL_MAX_SECONDS", 10.0)
    looks = {"record": 0, "index": 0}

    def counted(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def look(self: Queries, *args: Any) -> Any:
            looks[name] += 1
            return method(self, *args)

        return look

    monkeypatch.setattr(Queries, "record_status", counted("record", Queries.record_status))
    monkeypatch.setattr(Queries, "indexed_block", counted("index", Queries.indexed_block))
    exporter = service.client("exporter")
    service.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        record_id = exporter.submit(declaration("6NL123456789-WAIT-0006"))

        def read() -> tuple[str, float]:
            response = exporter.http.get(f"/v1/records/{record_id}", params={"wait": 8})
            return response.json()["status"], time.monotonic()

        with ThreadPoolExecutor(8) as pool:
            held = [pool.submit(read) for _ in range(8)]
            time.sleep(1.0)
            mined = time.monotonic()
            service.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            answers = [h.result() for h in held]
    finally:
        service.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    assert [status for status, _ in answers] == ["confirmed"] * 8
    assert all(at - mined < 5 for _, at in answers)  # woken by the index, not at the end of the wait
    assert looks["record"] <= 8 * 4, looks  # polled, each would look every 2 ms at first: hundreds
    time.sleep(0.1)
    settled = looks["index"]
    time.sleep(0.3)
    assert looks["index"] == settled, looks  # the watch ended with the last read held


def test_a_record_failed_without_a_block_ends_the_reads_held_on_it(service: Service, monkeypatch):
    """The relayer fails a record its preflight finds would revert for good, and no block
    comes of it: the index does not move, so a held read learns of it from its own look
    every WAIT_POLL_MAX_SECONDS, not at the end of its wait. Once the chain holds the
    record after all, the chain's word stands: it is confirmed."""
    from ledger_api.api.routes import records as route
    from ledger_api.store import outbox

    monkeypatch.setattr(route, "WAIT_POLL_MAX_SECONDS", 0.3)
    exporter = service.client("exporter")
    service.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        record_id = exporter.submit(declaration("6NL123456789-WAIT-0007"))
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(lambda: exporter.http.get(f"/v1/records/{record_id}", params={"wait": 8}))
            time.sleep(0.5)
            with service.runtime.store.session() as session:  # the relayer's own way of failing it unsent
                outbox.fail_unsent(session, {record_id: "would revert: test"})
            failed_at = time.monotonic()
            answer = held.result()
        assert answer.status_code == 200 and answer.json()["status"] == "failed", answer.json()
        assert time.monotonic() - failed_at < 4  # its own look, not the end of the 8 s wait
    finally:
        service.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    service.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    # A wait answers "failed" at once (final as far as this instance knows): look until the index has the block.
    deadline = time.monotonic() + 15
    while exporter.record(record_id)["status"] != "confirmed" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert exporter.record(record_id)["status"] == "confirmed"
