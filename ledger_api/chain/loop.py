"""The loop the relayer and the indexer run in their threads: step while there is work,
wait for a wake-up (or a short idle time) when there is none, back off when the chain
cannot be reached, and never die of one bad step.

The idle time is short for a while after the last work, when more is likely, and longer
after that: polling the node at the short idle time for good kept an idle service busy
(docs/benchmarks.md). Work of our own never waits for it: a submission wakes the relayer
and a mined transaction the indexer.

A step that found a backlog (more than one item to handle) is followed by a short pause
before the next: a step costs about the same for one record as for many (a few queries,
a commit, JSON-RPC round trips), and under a stream of single posts a loop stepping flat
out handled them one or two at a time, spending the process's one core on overhead the
HTTP side needed. One record alone is never held back: the relayer reports the most rows
one part of its step handled, the indexer the transactions whose events it applied."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ledger_api.errors import ChainError

BACK_OFF_SECONDS = 0.5
QUIET_AFTER_SECONDS = 2.0  # without work for this long, the loop polls at QUIET_IDLE_SECONDS
QUIET_IDLE_SECONDS = 0.25
GATHER_SECONDS = 0.05  # the pause after a step that found a backlog


def run_steps(
    name: str,
    step: Callable[[], int],
    stop: threading.Event,
    wake: threading.Event,
    idle: float | Callable[[], float],
) -> None:
    """`step` returns how much it handled (0 when there was nothing; a bool will do).
    `idle`: the pause without work, or what tells it before each pause."""
    log = logging.getLogger(f"ledger_api.{name}")
    last_work = time.monotonic()
    while not stop.is_set():
        try:
            handled = int(step())
        except ChainError as exc:
            log.warning("%s: chain unavailable: %s", name, exc)
            handled = 0
            stop.wait(BACK_OFF_SECONDS)
        except Exception:
            log.exception("%s step failed", name)
            handled = 0
            stop.wait(BACK_OFF_SECONDS)
        if handled:
            last_work = time.monotonic()
            if handled > 1:
                stop.wait(GATHER_SECONDS)
        else:
            quiet = time.monotonic() - last_work > QUIET_AFTER_SECONDS
            pause = idle() if callable(idle) else idle
            wake.wait(max(pause, QUIET_IDLE_SECONDS) if quiet else pause)
            wake.clear()
