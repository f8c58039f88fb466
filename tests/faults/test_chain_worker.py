"""The relayer and indexer's own process (ledger_api/chain/worker.py) under faults: it
goes when the service is SIGKILLed (no orphan relayer on the same key), it is restarted
when it dies alone while what is accepted meanwhile waits in the outbox, and a second one
on the same data directory waits for the first. The wake-up pipe never blocks the API."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from support.faults import Figure, presign, registered_exporter, service_on_its_own_anvil, service_process_exporter
from support.service import local_settings, served, wait_until

from ledger_api.chain.worker import WakeSender, exclusive, make_wake_pipe


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (a reparented child may wait to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _readiness(http: httpx.Client) -> tuple[int, dict]:
    response = http.get("/readyz")
    return response.status_code, response.json()


def test_the_worker_goes_with_the_service_when_the_service_is_sigkilled(tmp_path: Path, figure: Figure):
    with service_on_its_own_anvil(tmp_path) as service:
        wait_until(lambda: _readiness(service.http)[0] == 200, what="ready")
        worker = _readiness(service.http)[1]["chain_worker"]
        assert worker["running"] is True and _running(worker["pid"])
        service.process.send_signal(signal.SIGKILL)
        service.process.wait()
        killed = time.monotonic()
        wait_until(lambda: not _running(worker["pid"]), timeout=15, what="the orphaned worker to stop")
        figure(
            "service process SIGKILLed: its relayer and indexer process stops too (no second relayer on the key)",
            f"the worker stopped {time.monotonic() - killed:.1f} s after the service was killed",
        )


def test_a_worker_that_dies_is_restarted_and_writes_accepted_meanwhile_reach_the_chain(tmp_path: Path, figure: Figure):
    with service_on_its_own_anvil(tmp_path) as service:
        plain = service.http
        exporter = service_process_exporter(tmp_path, service.node.url, service.url, "worker test")
        before, during = presign(exporter.client, "6NL123456789-WK-", 2)
        assert exporter.http.post("/v1/records", json=before.body()).status_code == 202
        wait_until(lambda: _status(exporter.http, before.id) == "confirmed", what="the first record confirmed")

        old = _readiness(plain)[1]["chain_worker"]["pid"]
        os.kill(old, signal.SIGKILL)
        killed = time.monotonic()
        wait_until(lambda: _readiness(plain)[0] == 503, timeout=10, what="readiness to say the worker is gone")
        problems = _readiness(plain)[1]["problems"]
        assert any("relayer and indexer" in p for p in problems), problems
        # Accepted while nothing sends it: it waits in the outbox.
        assert exporter.http.post("/v1/records", json=during.body()).status_code == 202

        wait_until(lambda: _readiness(plain)[0] == 200, timeout=60, what="the worker restarted")
        restarted = _readiness(plain)[1]["chain_worker"]
        assert restarted["pid"] != old and restarted["running"] is True and restarted["restarts"] == 1
        wait_until(lambda: _status(exporter.http, during.id) == "confirmed", what="the queued record confirmed")
        figure(
            "relayer and indexer process SIGKILLed alone: /readyz 503 naming it, writes still accepted, restarted",
            f"restarted and the record accepted meanwhile confirmed {time.monotonic() - killed:.1f} s after the kill",
        )


def test_with_chain_worker_thread_the_relayer_and_indexer_run_in_the_api_process(tmp_path: Path):
    """LEDGER_CHAIN_WORKER=thread, the way before the worker process: still relays and indexes."""
    with served(local_settings(tmp_path, chain_worker="thread")) as runtime:
        assert runtime.worker is None and runtime.relayer is not None
        exporter = registered_exporter(runtime, "thread mode")
        (record,) = presign(exporter.client, "6NL123456789-TH-", 1)
        assert exporter.http.post("/v1/records", json=record.body()).status_code == 202
        wait_until(lambda: _status(exporter.http, record.id) == "confirmed", what="the record confirmed")
        assert "chain_worker" not in exporter.http.get("/readyz").json()


def _status(http: httpx.Client, record_id: str) -> str | None:
    response = http.get(f"/v1/records/{record_id}")
    return response.json()["status"] if response.status_code == 200 else None


def test_a_second_worker_on_the_same_data_directory_waits_for_the_first(tmp_path: Path):
    refused = pytest.raises(RuntimeError, match="another chain worker holds")
    with exclusive(tmp_path), refused, exclusive(tmp_path, wait_seconds=0.3):
        pass
    with exclusive(tmp_path, wait_seconds=0.3):  # free once the first is gone
        assert (tmp_path / "chain-worker.lock").read_text().strip() == str(os.getpid())


def test_waking_the_worker_never_blocks_or_fails_whether_or_not_it_listens(tmp_path: Path):
    path = make_wake_pipe(tmp_path)
    sender = WakeSender(path)
    sender.set()  # no worker yet: nothing to wake, nothing raised
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        sender.set()
        assert os.read(reader, 16) == b"\x01"
        for _ in range(100_000):  # more than the pipe holds: the surplus is dropped, not waited for
            sender.set()
        held = 0
        while True:
            try:
                chunk = os.read(reader, 1 << 16)
            except BlockingIOError:
                break
            held += len(chunk)
        assert 0 < held < 100_000
    finally:
        os.close(reader)
    sender.set()  # the worker went away (a broken pipe): nothing raised
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a new worker
    try:
        sender.set()
        assert os.read(reader, 16) == b"\x01"
    finally:
        os.close(reader)
        sender.close()
