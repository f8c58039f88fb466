"""`measure_stream` (ledger_bench/ingest.py): what its figures span. The service's part is
stubbed here (posting, the wait for the last records, the reads of each record, the CPU
readings) to see the order the benchmark does things in; tests/bench/test_ingest.py runs
it against a real service."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from ledger_bench import ingest


class _Client:
    http = None

    def next_nonce(self) -> int:
        return 0

    def sign(self, payload: dict[str, Any], **fields: Any) -> SimpleNamespace:
        return SimpleNamespace(id=f"0x{fields['nonce']:064x}", body=lambda: {"payload": payload})


def test_the_streams_cpu_figures_end_when_its_last_record_is_confirmed_before_each_record_is_read(
    monkeypatch: pytest.MonkeyPatch,
):
    events: list[str] = []
    cpu = iter([{"API": 1.0, "anvil": 0.5}, {"API": 3.5, "anvil": 0.75}])
    monkeypatch.setattr(ingest, "post_all", lambda clients, bodies: events.append("posted") or 0.1)
    monkeypatch.setattr(ingest, "wait", lambda predicate, timeout, what: events.append("last confirmed"))
    monkeypatch.setattr(ingest, "confirmed", lambda http, record_id: events.append("read") or True)
    monkeypatch.setattr(ingest, "_cpu_by_process", lambda pid: events.append("cpu") or next(cpu))

    run = ingest.measure_stream([_Client(), _Client()], 3, service_pid=1)

    assert events == ["cpu", "posted", "last confirmed", "last confirmed", "cpu", *["read"] * 6]
    assert run.cpu_seconds == {"API": 2.5, "anvil": 0.25}
    assert run.accepted_seconds == 0.1 and run.confirmed_seconds >= 0
    assert 0 <= run.busy <= 1


def test_without_the_services_pid_the_stream_reads_no_cpu(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(ingest, "post_all", lambda clients, bodies: 0.1)
    monkeypatch.setattr(ingest, "wait", lambda predicate, timeout, what: None)
    monkeypatch.setattr(ingest, "confirmed", lambda http, record_id: True)
    monkeypatch.setattr(ingest, "_cpu_by_process", lambda pid: pytest.fail("read the CPU of no process"))
    assert ingest.measure_stream([_Client()], 2).cpu_seconds == {}


def test_a_record_of_the_stream_left_unconfirmed_fails_the_run(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(ingest, "post_all", lambda clients, bodies: 0.1)
    monkeypatch.setattr(ingest, "wait", lambda predicate, timeout, what: None)
    monkeypatch.setattr(ingest, "confirmed", lambda http, record_id: not record_id.endswith("1"))
    with pytest.raises(RuntimeError, match="1 records of the stream are not confirmed"):
        ingest.measure_stream([_Client()], 3)


def test_the_machines_cpu_is_read_as_busy_and_total_ticks_that_only_grow():
    busy, total = ingest._machine_cpu()
    sum(range(200_000))
    later_busy, later_total = ingest._machine_cpu()
    assert 0 <= busy <= total and busy <= later_busy and total <= later_total


class _Http:
    """A client whose posts are answered 202, but the `refused`-th (counted from 0) 503."""

    def __init__(self, refused: int | None = None) -> None:
        self.posts, self.refused = 0, refused

    def post(self, path: str, **request: Any) -> httpx.Response:
        n, self.posts = self.posts, self.posts + 1
        return httpx.Response(503 if n == self.refused else 202, text="queue full" if n == self.refused else "")


def test_a_refused_post_fails_the_run_once_the_other_clients_are_done():
    refusing, steady = _Http(refused=1), _Http()
    with pytest.raises(RuntimeError, match="the service refused: 503 queue full"):
        ingest.post_all([refusing, steady], [[b"{}"] * 3, [b"{}"] * 3])  # type: ignore[list-item]
    assert (refusing.posts, steady.posts) == (2, 3)
