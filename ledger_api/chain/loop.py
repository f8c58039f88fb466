"""The loop the relayer and the indexer run in their threads: step while there is work,
wait for a wake-up (or a short idle time) when there is none, back off when the chain
cannot be reached, and never die of one bad step."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ledger_api.errors import ChainError

BACK_OFF_SECONDS = 0.5


def run_steps(name: str, step: Callable[[], bool], stop: threading.Event, wake: threading.Event, idle: float) -> None:
    log = logging.getLogger(f"ledger_api.{name}")
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
        if not busy:
            wake.wait(idle)
            wake.clear()
