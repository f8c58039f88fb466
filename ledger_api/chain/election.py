"""One active relayer and indexer per relayer key among the writer instances on one store.

Each writer's chain worker runs a `Leadership`: it stands by until it holds the store's
lease for its relayer key (store/leases.py), then starts the relayer and the indexer on a
store fenced by that lease's token, renews the lease every `RENEW_SECONDS`, and stops them
the moment a renewal finds the lease gone. A standby takes an expired lease within
`STANDBY_POLL_SECONDS`: when the active worker stops in order it releases the lease, and a
takeover follows within a poll; when it dies without a word (SIGKILL, a lost machine) the
lease expires `LEASE_SECONDS` after its last renewal.

Only PostgreSQL stores elect (Settings.shared_store): a SQLite store belongs to one
instance, whose data folder's lock keeps its workers single (chain/worker.py).

`StepHealth` counts how the relayer's and indexer's steps go, for /readyz.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ledger_api.store import leases
from ledger_api.store.db import Store
from ledger_api.store.leases import FencedStore

log = logging.getLogger(__name__)

LEASE_SECONDS = 5.0
RENEW_SECONDS = 1.0
STANDBY_POLL_SECONDS = 0.5


def lease_name(relayer: str) -> str:
    return f"chain:{relayer.lower()}"


@dataclass
class StepHealth:
    """How a loop's steps go: consecutive failures and the last error, the time of the
    last step that went through. Updated by the loop's thread, read by /readyz."""

    failures: int = 0
    last_error: str | None = None
    last_ok: float = field(default_factory=time.time)

    def watch(self, step: Callable[[], int]) -> Callable[[], int]:
        def watched() -> int:
            try:
                handled = step()
            except Exception as exc:
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                raise
            self.failures, self.last_ok = 0, time.time()
            return handled

        return watched

    def as_json(self) -> dict[str, Any]:
        return {"failures": self.failures, "last_error": self.last_error, "last_ok": self.last_ok}


class Leadership:
    """Holds (or waits for) the lease `name` for `owner`; while held, the loops `start`
    began run on a FencedStore, and the callable it returned stops them."""

    def __init__(
        self,
        store: Store,
        name: str,
        owner: str,
        start: Callable[[Store], Callable[[], None]],
        *,
        lease_seconds: float = LEASE_SECONDS,
        renew_seconds: float = RENEW_SECONDS,
        poll_seconds: float = STANDBY_POLL_SECONDS,
    ) -> None:
        self.store, self.name, self.owner, self.start = store, name, owner, start
        self.lease_seconds, self.renew_seconds, self.poll_seconds = lease_seconds, renew_seconds, poll_seconds
        self.token: int | None = None  # held now (None: standing by)
        self.elected_at: float | None = None

    @property
    def active(self) -> bool:
        return self.token is not None

    def run(self, stop: threading.Event) -> None:
        log.info("chain worker %s: standing by for the relayer and indexer (%s)", self.owner, self.name)
        while not stop.is_set():
            try:
                token = leases.acquire(self.store, self.name, self.owner, self.lease_seconds)
            except Exception as exc:  # the store is away: keep standing by
                log.warning("chain worker: cannot reach the store for the lease: %s", exc)
                token = None
            if token is None:
                stop.wait(self.poll_seconds)
                continue
            self._lead(stop, token)

    def _lead(self, stop: threading.Event, token: int) -> None:
        log.info("chain worker %s: running the relayer and indexer of %s (token %d)", self.owner, self.name, token)
        stop_loops = self.start(FencedStore(self.store, self.name, self.owner, token))
        self.token, self.elected_at = token, time.time()
        renewed = time.monotonic()
        try:
            while not stop.wait(self.renew_seconds):
                try:
                    if not leases.renew(self.store, self.name, self.owner, token, self.lease_seconds):
                        log.error(
                            "chain worker %s: lease %s taken over; stopping the relayer and indexer",
                            self.owner,
                            self.name,
                        )
                        return
                    renewed = time.monotonic()
                except Exception as exc:
                    # Past the lease's life another worker may have taken it: stop rather
                    # than run beside it (the fence would refuse our writes anyway).
                    if time.monotonic() - renewed > self.lease_seconds:
                        log.error(
                            "chain worker %s: could not renew lease %s for %.0f s: %s",
                            self.owner,
                            self.name,
                            self.lease_seconds,
                            exc,
                        )
                        return
        finally:
            self.token = None
            stop_loops()
            if stop.is_set():
                try:
                    leases.release(self.store, self.name, self.owner, token)
                except Exception as exc:
                    log.warning("chain worker: could not release lease %s: %s", self.name, exc)
