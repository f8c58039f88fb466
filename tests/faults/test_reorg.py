"""A reorg seen through the running service's API (tests/chain/test_indexer_reorg.py is the
indexer's own test, one record, stepped by hand): with confirmations=3, a block of records
two deep is taken back by the chain (evm_snapshot / evm_revert) and a longer branch
without it grows. While a reader polls every record, none is reported `confirmed` below
three blocks or on a block that did not last; the records of the lost block are written
again and end up confirmed, each on chain exactly once."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from support.faults import Figure, assert_all_confirmed_once, post_until_accepted, presign, registered_exporter
from support.service import local_settings, served, wait_until

RECORDS, CONFIRMATIONS = 20, 3


def test_records_of_a_block_taken_back_by_a_reorg_are_never_confirmed_early_and_are_written_again_once(
    tmp_path: Path, figure: Figure
):
    stop = threading.Event()  # the reader's: set however the test ends, before the service stops
    settings = local_settings(tmp_path, confirmations=CONFIRMATIONS, resend_after_seconds=0.5)
    with served(settings) as runtime, ExitStack() as on_exit:
        on_exit.callback(stop.set)
        assert runtime.node is not None and runtime.manifest is not None and runtime.queries is not None
        exporter = registered_exporter(runtime, "reorg fault test")  # mines the registrations deep enough
        w3, http, url = exporter.w3, exporter.http, exporter.url

        def node(method: str, *params: Any) -> Any:
            return w3.provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]

        signed = presign(exporter.client, "6NL123456789-RO-", RECORDS)
        ids = [s.id for s in signed]

        # A reader polling every record: what it was told "confirmed" must hold.
        seen: list[dict[str, Any]] = []
        reader = httpx.Client(base_url=url, timeout=30, headers=http.headers)

        def watch() -> None:
            while not stop.is_set():
                for i in ids:
                    view = reader.get(f"/v1/records/{i}").json()
                    if view["status"] == "confirmed":
                        seen.append(view)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()

        node("evm_setAutomine", False)
        deadline = time.monotonic() + 60
        for s in signed:
            post_until_accepted(http, s, deadline)
        # Sent (alone or packed with others into writeMany) and held in the node's pool, unmined.
        wait_until(
            lambda: (
                all(http.get(f"/v1/records/{i}").json()["status"] == "submitted" for i in ids)
                and int(node("txpool_status")["pending"], 16) >= 1
            ),
            what="all in the node's pool",
        )
        snapshot = node("evm_snapshot")
        node("evm_mine")
        lost_block = int(node("eth_blockNumber"), 16)
        lost_hash = node("eth_getBlockByNumber", hex(lost_block), False)["hash"]
        node("evm_mine")  # two deep: one short of confirmed
        wait_until(lambda: runtime.queries.indexed_block() == lost_block + 1, what="indexed two deep")
        views = [http.get(f"/v1/records/{i}").json() for i in ids]
        assert {(v["status"], v["confirmations"], v["block_hash"]) for v in views} == {("submitted", 2, lost_hash)}

        reorged = time.monotonic()
        assert node("evm_revert", snapshot) is True
        node("evm_setAutomine", True)
        for _ in range(3):
            node("evm_mine")  # the other branch, longer than the lost one
        wait_until(
            lambda: all(http.get(f"/v1/records/{i}").json()["block_hash"] != lost_hash for i in ids),
            what="the index rewound",
        )
        # automine writes the resent records one block each; later blocks bury them.
        deadline = time.monotonic() + 60
        while {http.get(f"/v1/records/{i}").json()["status"] for i in ids} != {"confirmed"}:
            assert time.monotonic() < deadline, "the reverted records were not confirmed again"
            node("evm_mine")
            time.sleep(0.2)
        again = time.monotonic() - reorged
        assert_all_confirmed_once(http, w3, runtime.manifest, signed)
        stop.set()
        watcher.join(timeout=30)

        assert seen, "the reader never saw a confirmed record"
        for view in seen:
            assert view["confirmations"] >= CONFIRMATIONS, view
            assert view["block_hash"] != lost_hash, view
            canonical = node("eth_getBlockByNumber", hex(view["block_number"]), False)["hash"]
            assert view["block_hash"] == canonical, f"reported confirmed on a block that did not last: {view}"
        figure(
            f"reorg taking back a block of {RECORDS} records two deep, confirmations={CONFIRMATIONS} "
            "(evm_snapshot / evm_revert, then a longer branch)",
            f"{len(seen):,} confirmed answers seen by a polling reader, 0 below {CONFIRMATIONS} blocks or on the lost "
            f"block; all {RECORDS} written again and confirmed {again:.1f} s after the reorg, each on chain once",
        )
