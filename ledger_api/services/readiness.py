"""What /readyz says of a writer beyond the chain and the index: whether its deployment is
the store's, which instance holds the relayer and indexer, whether this instance's relayer
or indexer step keeps failing, and whether the write queue moves; in its details, whether
the node's new blocks are followed (chain/heads.py: not a problem, the indexer polls).

The queue "moves" while its oldest waiting row (outbox: pending, signed or sent) changes;
one that stays the oldest for `stalled_after` seconds means nothing gets through, whoever
holds the relayer, and every writer says so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ledger_api.store import deployment, leases, outbox
from ledger_api.store.db import Store

__all__ = ["FAILING_STEPS", "SILENT_SECONDS", "Readiness"]

FAILING_STEPS = 5  # steps failed in a row before a loop counts as failing
SILENT_SECONDS = 15.0  # a worker that has not reported for this long counts as stuck


class Readiness:
    def __init__(
        self,
        store: Store,
        manifest: dict[str, Any],
        lease: str | None,
        worker_status: Callable[[], dict[str, Any] | None],
        *,
        stalled_after: float,
        worker_expected: Callable[[], bool] = lambda: False,
    ) -> None:
        """`worker_status()` is None until the relayer and indexer report; `worker_expected()`
        says whether they should (a worker process started), so a silence is a problem."""
        self.store, self.manifest, self.lease = store, manifest, lease
        self.worker_status, self.stalled_after = worker_status, stalled_after
        self.worker_expected = worker_expected
        self._oldest: tuple[int | None, float] = (None, time.monotonic())
        self._lock = threading.Lock()

    def check(self) -> tuple[list[str], dict[str, Any]]:
        """The problems (empty: ready) and the details for a credentialed caller."""
        problems: list[str] = []
        body: dict[str, Any] = {}
        found = deployment.stored(self.store)
        if found is None or found.manifest != self.manifest:
            problems.append(
                "this instance's deployment is not the store's"
                + ("" if found is None else f" (the store's was recorded by {found.deployed_by})")
                + ": restart it to use the store's"
            )
        if self.lease is not None:
            holder = leases.holder(self.store, self.lease)
            body["relayer_holder"] = holder.owner if holder is not None and holder.live else None
        status = self.worker_status()
        if status is None and self.worker_expected():
            problems.append("the relayer and indexer process has not reported yet (starting)")
        if status is not None:
            body["chain_worker_status"] = {k: status.get(k) for k in ("active", "token", "relayer", "indexer", "heads")}
            silent = time.time() - float(status.get("updated", 0))
            if silent > SILENT_SECONDS:
                problems.append(f"the relayer and indexer process has not reported for {silent:.0f} s")
            elif status.get("active", True):
                for name in ("relayer", "indexer"):
                    loop = status.get(name) or {}
                    if int(loop.get("failures", 0)) >= FAILING_STEPS:
                        problems.append(
                            f"this instance's {name} step keeps failing ({loop['failures']} times in a row): "
                            f"{loop.get('last_error')}"
                        )
        stalled = self._stalled()
        if stalled is not None:
            problems.append(stalled)
        return problems, body

    def _stalled(self) -> str | None:
        with self.store.session() as session:
            oldest = outbox.oldest_waiting(session)
        now = time.monotonic()
        with self._lock:
            if oldest is None or oldest != self._oldest[0]:
                self._oldest = (oldest, now)
                return None
            waited = now - self._oldest[1]
        if waited < self.stalled_after:
            return None
        return f"the write queue has not moved for {waited:.0f} s (outbox entry {oldest} still waits for the chain)"
