"""The chain node down: writes are still accepted and queued, up to a limit beyond which
they are refused with 503 and Retry-After; reads from the index go on; /readyz says the
chain is unreachable and how many writes wait; and once the node is back the queue
drains and every accepted record is on chain exactly once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.faults import Figure, assert_all_confirmed_once, presign, registered_exporter
from support.postgres import STORES
from support.service import local_settings, served, wait_until

QUEUE_LIMIT = 25


@pytest.mark.parametrize("database", STORES, indirect=True)
def test_with_the_chain_down_writes_queue_up_to_a_limit_reads_go_on_and_all_drains_once_it_is_back(
    tmp_path: Path, database: str | None, figure: Figure
):
    settings = local_settings(tmp_path, resend_after_seconds=1.0, max_queued_writes=QUEUE_LIMIT, database_url=database)
    with served(settings) as runtime:
        assert runtime.node is not None and runtime.manifest is not None
        exporter = registered_exporter(runtime, "unreachable test")
        w3, http = exporter.w3, exporter.http
        spec = http.get("/openapi.json").json()["paths"]
        for path in ("/v1/records", "/v1/records/batch"):
            assert "503" in spec[path]["post"]["responses"], f"503 missing from the OpenAPI of POST {path}"

        signed = presign(exporter.client, "6NL123456789-UN-", QUEUE_LIMIT + 2)
        first, queued, refused = signed[0], signed[1 : QUEUE_LIMIT + 1], signed[QUEUE_LIMIT + 1]
        assert http.post("/v1/records", json=first.body()).status_code == 202
        wait_until(lambda: http.get(f"/v1/records/{first.id}").json()["status"] == "confirmed", what="first")
        assert http.get("/readyz").status_code == 200

        # Stopped, not killed: unreachable is the fault here. A SIGKILLed anvil also forgets
        # its last second of blocks (here: the test's party registrations, so the queued
        # records would rightly revert); test_kill_and_restart covers that.
        runtime.node.stop()
        down = time.monotonic()
        codes = [http.post("/v1/records", json=s.body()).status_code for s in queued]
        assert codes == [202] * QUEUE_LIMIT, codes
        full = http.post("/v1/records", json=refused.body())
        assert full.status_code == 503, full.text
        assert full.headers["content-type"].startswith("application/problem+json")
        retry_after = full.headers.get("Retry-After")
        assert retry_after is not None and int(retry_after) > 0
        problem = full.json()
        assert problem["code"] == "CHAIN_UNAVAILABLE" and "waiting for the chain" in problem["detail"], problem
        # A replay of a queued record is still answered: it creates nothing.
        assert http.post("/v1/records", json=queued[0].body()).status_code == 200

        # Reads come from the index and keep working.
        assert http.get(f"/v1/consignments/{first.payload['ucr']}").status_code == 200
        assert http.get(f"/v1/records/{first.id}").json()["status"] == "confirmed"
        assert http.get(f"/v1/records/{queued[-1].id}").json()["status"] == "accepted"

        ready = http.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert any("chain unreachable" in p for p in body["problems"]), body
        assert body["queued_writes"] == QUEUE_LIMIT, body

        time.sleep(max(0.0, down + 3 - time.monotonic()))  # the relayer and indexer keep failing meanwhile
        runtime.node.start()
        back = time.monotonic()
        wait_until(lambda: http.get("/readyz").status_code == 200, timeout=60, what="ready again")
        wait_until(lambda: http.post("/v1/records", json=refused.body()).status_code == 202, what="refused one taken")
        assert_all_confirmed_once(http, w3, runtime.manifest, signed)
        drained = time.monotonic() - back
        figure(
            f"chain node stopped while writes come in; queue limit {QUEUE_LIMIT} (LEDGER_MAX_QUEUED_WRITES)",
            f"node down {back - down:.0f} s: {QUEUE_LIMIT} writes accepted (202) and queued, the next refused "
            f"with 503 problem+json and Retry-After {retry_after} s; reads 200; /readyz 503 naming the chain unreachable and "
            f"{QUEUE_LIMIT} queued writes; node back: ready again, all {len(signed)} records confirmed "
            f"{drained:.0f} s later, 0 duplicates",
        )


BACKLOG = 1_000  # more single-record transactions than fit in one block (30 M gas, ~90 k each)


def test_a_backlog_longer_than_a_block_drains_once_the_node_is_back(tmp_path: Path, figure: Figure):
    """The relayer hands the node its whole backlog at once. anvil's automine then fills a
    block, mines what the next arrivals trigger, and leaves the rest in its pool until some
    new transaction comes, which may be never: the relayer must notice that the next nonce
    it waits for sits in the node unmined, and see it mined."""
    with served(local_settings(tmp_path, resend_after_seconds=1.0)) as runtime:
        assert runtime.node is not None and runtime.manifest is not None
        exporter = registered_exporter(runtime, "backlog test")
        w3, http = exporter.w3, exporter.http
        signed = presign(exporter.client, "6NL123456789-BL-", BACKLOG)

        # The party's first record while the node is up: its nonce base comes from the chain.
        assert http.post("/v1/records", json=signed[0].body()).status_code == 202
        wait_until(lambda: http.get(f"/v1/records/{signed[0].id}").json()["status"] == "confirmed", what="first")
        runtime.node.stop()
        codes = {http.post("/v1/records", json=s.body()).status_code for s in signed[1:]}
        assert codes == {202}, codes
        assert http.get("/readyz").json()["queued_writes"] == BACKLOG - 1
        runtime.node.start()
        back = time.monotonic()
        assert_all_confirmed_once(http, w3, runtime.manifest, signed)
        drained = time.monotonic() - back
        blocks = w3.eth.block_number - runtime.manifest.deploy_block
        figure(
            f"a backlog of {BACKLOG:,} single-record transactions handed to the node at once when it comes back",
            f"all {BACKLOG:,} confirmed {drained:.0f} s after the node came back, 0 duplicates "
            f"({blocks} blocks since the deployment)",
        )
