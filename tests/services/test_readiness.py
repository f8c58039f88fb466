"""/readyz tells the truth (#13): a writer is not ready when the write queue has not moved
for a while, when its relayer or indexer step keeps failing, when its worker stopped
reporting, or when its deployment is not the store's; it names the relayer's holder."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from ledger_api.services.readiness import FAILING_STEPS, SILENT_SECONDS, Readiness
from ledger_api.store import deployment, leases
from ledger_api.store.db import Store
from ledger_api.store.tables import OUTBOX

MANIFEST = {"chain_id": 31337, "deploy_block": 1, "deploy_block_hash": "0x" + "11" * 32, "config_digest": "0x00"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    with deployment.recording(opened) as recording:
        recording.record(MANIFEST, "writer-0")
    yield opened
    opened.close()


def _status(**loops: Any) -> dict[str, Any]:
    ok = {"failures": 0, "last_error": None, "last_ok": time.time()}
    return {"updated": time.time(), "active": True, "relayer": ok, "indexer": ok, **loops}


def _readiness(store: Store, status: dict[str, Any] | None = None, **kwargs: Any) -> Readiness:
    return Readiness(store, kwargs.pop("manifest", MANIFEST), kwargs.pop("lease", None), lambda: status, **kwargs)


def test_a_healthy_writer_is_ready(store: Store):
    problems, _ = _readiness(store, _status(), stalled_after=60).check()
    assert problems == []


def test_a_queue_that_does_not_move_makes_the_writer_not_ready(store: Store):
    with store.connection() as connection:
        connection.execute(OUTBOX.insert().values(action="write", ref="0x01", status="sent", attempts=1))
    readiness = _readiness(store, _status(), stalled_after=0.2)
    assert readiness.check()[0] == []  # first seen now
    time.sleep(0.3)
    (problem,) = readiness.check()[0]
    assert "has not moved" in problem and "outbox entry 1" in problem
    with store.connection() as connection:
        connection.execute(update(OUTBOX).values(status="mined"))
    assert readiness.check()[0] == [], "moved: ready again"


@pytest.mark.parametrize("loop", ["relayer", "indexer"])
def test_a_step_that_keeps_failing_makes_the_writer_not_ready_and_says_why(store: Store, loop: str):
    failing = {"failures": FAILING_STEPS, "last_error": "RpcError: boom", "last_ok": time.time() - 30}
    (problem,) = _readiness(store, _status(**{loop: failing}), stalled_after=60).check()[0]
    assert f"{loop} step keeps failing" in problem and "boom" in problem
    standby = _status(**{loop: failing}, active=False)  # a standby runs no steps: its old count says nothing
    assert _readiness(store, standby, stalled_after=60).check()[0] == []


def test_a_worker_that_stopped_reporting_makes_the_writer_not_ready(store: Store):
    silent = _status(updated=time.time() - SILENT_SECONDS - 1)
    (problem,) = _readiness(store, silent, stalled_after=60).check()[0]
    assert "has not reported" in problem


def test_a_writer_whose_deployment_is_not_the_stores_is_not_ready(store: Store):
    other = {**MANIFEST, "deploy_block": 2}
    (problem,) = _readiness(store, _status(), manifest=other, stalled_after=60).check()[0]
    assert "deployment is not the store's" in problem and "writer-0" in problem


def test_the_relayers_holder_is_named_while_its_lease_is_live(store: Store):
    readiness = _readiness(store, _status(), lease="chain:0xabc", stalled_after=60)
    assert readiness.check()[1]["relayer_holder"] is None
    leases.acquire(store, "chain:0xabc", "writer-1 pid 7", ttl=60)
    assert readiness.check()[1]["relayer_holder"] == "writer-1 pid 7"


def test_a_worker_process_that_has_not_reported_yet_makes_the_writer_not_ready(store: Store):
    starting = Readiness(store, MANIFEST, None, lambda: None, stalled_after=60, worker_expected=lambda: True)
    (problem,) = starting.check()[0]
    assert "has not reported yet" in problem
    assert _readiness(store, None, stalled_after=60).check()[0] == [], "no worker of its own: nothing to wait for"
