"""The loop the relayer and the indexer run in their threads: step while there is work,
wait for a wake-up (or a short idle time) when there is none, back off when the chain
cannot be reached, and never die of one bad step.

The idle time is short for a while after the last work, when more is likely, and longer
after that: an idle service otherwise spent a quarter of a core polling its node 50 times
a second. Work of our own never waits for it: a submission wakes the relayer and a mined
transaction the indexer."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ledger_api.errors import ChainError

BACK_OFF_SECONDS = 0.5
QUIET_AFTER_SECONDS = 2.0  # without work for this long, the loop polls at QUIET_IDLE_SECONDS
QUIET_IDLE_SECONDS = 0.25


def run_steps(name: str, step: Callable[[], bool], stop: threading.Event, wake: threading.Event, idle: float) -> None:
    log = logging.getLogger(f"ledger_api.{name}")
    last_work = time.monotonic()
    while not stop.is_set():
        try:
            busy = step()
        except ChainError as exc:
            log.warning("%s: chain unavailable: %s", name, exc)
            busy = False
            stop.wait(BACK_OFF_SECONDS)
        except Exception:
            log.exception("%s step failed", name)
            busy = False
            stop.wait(BACK_OFF_SECONDS)
        if busy:
            last_work = time.monotonic()
        else:
            quiet = time.monotonic() - last_work > QUIET_AFTER_SECONDS
            wake.wait(max(idle, QUIET_IDLE_SECONDS) if quiet else idle)
            wake.clear()
