"""The relayer's and indexer's loop: busy steps follow one another (after a short pause
when a step found a backlog, so that the next one gathers more), an idle loop polls often
just after work and rarely once quiet, and a wake-up is answered at once even then."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from ledger_api.chain import loop


def test_a_quiet_loop_polls_rarely_and_a_wake_up_still_gets_an_immediate_step(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(loop, "QUIET_AFTER_SECONDS", 0.3)
    monkeypatch.setattr(loop, "QUIET_IDLE_SECONDS", 0.5)
    steps: list[float] = []
    stop, wake = threading.Event(), threading.Event()

    def step() -> bool:
        steps.append(time.monotonic())
        return len(steps) == 1  # work once, then nothing

    started = time.monotonic()
    thread = threading.Thread(target=loop.run_steps, args=("test", step, stop, wake, 0.01))
    thread.start()
    try:
        time.sleep(1.8)
        early = [t for t in steps if t - started < 0.25]
        quiet = [t for t in steps if 0.8 <= t - started < 1.8]
        assert len(early) >= 5, f"{len(early)} steps in the first 0.25 s after work: polling is not frequent"
        assert len(quiet) <= 3, f"{len(quiet)} steps in one quiet second: polling did not slow down"

        before = len(steps)
        woken = time.monotonic()
        wake.set()
        while len(steps) == before:
            assert time.monotonic() - woken < 0.25, "a wake-up waited for the quiet poll"
            time.sleep(0.005)
    finally:
        stop.set()
        wake.set()
        thread.join(timeout=5)


def test_a_step_that_found_a_backlog_is_followed_by_a_pause_and_a_lone_record_is_not(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(loop, "GATHER_SECONDS", 0.2)
    handled = [5, 5, 1, 1]  # two steps with a backlog, then two with one record each
    steps: list[float] = []
    stop, wake = threading.Event(), threading.Event()

    def step() -> int:
        steps.append(time.monotonic())
        if len(steps) == len(handled) + 1:
            stop.set()
        return handled[len(steps) - 1] if len(steps) <= len(handled) else 0

    thread = threading.Thread(target=loop.run_steps, args=("test", step, stop, wake, 0.01))
    thread.start()
    thread.join(timeout=5)
    gaps = [b - a for a, b in itertools.pairwise(steps)]
    assert len(gaps) == len(handled)
    assert gaps[0] >= 0.19 and gaps[1] >= 0.19, f"no pause after a backlog: {gaps}"
    assert gaps[2] < 0.1 and gaps[3] < 0.1, f"a lone record was held back: {gaps}"
