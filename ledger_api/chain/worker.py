"""The relayer and the indexer in a process of their own, beside the API's.

In one process they shared one interpreter lock with the HTTP side: under a stream of
single posts a submission holding the store's write lock waited for the interpreter while
the relayer or indexer ran, and the machine had cores to spare (docs/reliability.md).
Here each side has a core.

What ties the two processes together:
- the store: the outbox is the only hand-over, as it was between threads;
- a wake-up: the API writes a byte into a named pipe in the data directory for each
  write it accepts, so a lone record is sent at once rather than at the next poll. A lost
  wake-up costs at most one idle period: the worker polls the outbox anyway;
- one worker per data directory: the worker holds an exclusive lock on a file there for
  its whole life, so a second one (a restart racing the old one's exit) waits for it (on
  PostgreSQL the writers' workers also elect one relayer and indexer among themselves:
  chain/election.py);
- a status file: every second the worker writes how its relayer and indexer steps go,
  which the API's /readyz reads;
- no orphans: the worker stops when its parent is gone, even after a SIGKILL of the
  parent (it watches the parent's multiprocessing sentinel), and ignores Ctrl-C, which
  the terminal sends to the whole process group: the parent stops it in order.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

WAKE_FILE = "chain-worker.wake"
LOCK_FILE = "chain-worker.lock"
STATUS_FILE = "chain-worker.status.json"  # how its relayer and indexer go, for the API's /readyz
STATUS_SECONDS = 1.0
RESTART_BACK_OFF = (1.0, 2.0, 5.0, 10.0, 30.0)  # seconds before restarting a worker that died


class WakeSender:
    """The API's end of the wake-up pipe. `set()` never blocks and never fails: with no
    worker reading, or the pipe full of unread wake-ups, there is nothing more to say."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._lock = threading.Lock()

    def set(self) -> None:
        with self._lock:
            try:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
                os.write(self._fd, b"\x01")
            except OSError as exc:
                if exc.errno == errno.EAGAIN:  # full: the worker has wake-ups enough
                    return
                # ENXIO/ENOENT: no worker yet; EPIPE: it went away. Reopen next time.
                self._close_locked()

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def make_wake_pipe(data_dir: Path) -> Path:
    path = data_dir / WAKE_FILE
    with contextlib.suppress(FileExistsError):
        os.mkfifo(path, 0o600)
    return path


@contextlib.contextmanager
def exclusive(data_dir: Path, wait_seconds: float = 60.0) -> Iterator[None]:
    """Held for the worker's life: one relayer per data directory, whatever else runs."""
    with open(data_dir / LOCK_FILE, "a+") as lock:
        deadline = time.monotonic() + wait_seconds
        waited = False
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"another chain worker holds {data_dir / LOCK_FILE} after {wait_seconds:.0f} s"
                    ) from None
                if not waited:
                    log.info("chain worker: waiting for the previous one on this data directory to stop")
                    waited = True
                time.sleep(0.1)
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield


def write_status(data_dir: Path, status: dict[str, Any]) -> None:
    """Replaces the status file at once (a reader sees the old one or the new one)."""
    path = data_dir / STATUS_FILE
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(status))
    os.replace(temporary, path)


def forget_status(data_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (data_dir / STATUS_FILE).unlink()


def read_status(data_dir: Path) -> dict[str, Any] | None:
    """The worker's last status report, or None if it has written none (yet)."""
    try:
        status: dict[str, Any] = json.loads((data_dir / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return status


def run_worker(
    data_dir: Path,
    start: Callable[[], tuple[threading.Event, Callable[[], None]]],
    report: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """The worker process's life: `start()` starts the relayer and indexer and returns the
    relayer's wake-up event and how to stop them (runtime.chain_worker_process); they run
    until SIGTERM or until the parent is gone. `report()`, written to the status file
    every STATUS_SECONDS, tells the API process how they go."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    parent = multiprocessing.parent_process()
    with exclusive(data_dir):
        relayer_wake, stop_all = start()
        # Read and write: with a writer of its own the pipe never reads as closed (end of
        # file, readable for ever) when the API's end goes away.
        wake = os.open(make_wake_pipe(data_dir), os.O_RDWR | os.O_NONBLOCK)
        try:
            log.info("chain worker %d: relayer and indexer running", os.getpid())
            reported = 0.0
            while not stop.is_set():
                if report is not None and time.monotonic() - reported >= STATUS_SECONDS:
                    with contextlib.suppress(OSError):
                        write_status(data_dir, report())
                    reported = time.monotonic()
                watched = [wake] + ([parent.sentinel] if parent is not None else [])
                ready, _, _ = select.select(watched, [], [], 0.5)
                if parent is not None and parent.sentinel in ready:
                    log.warning("chain worker %d: the service process is gone; stopping", os.getpid())
                    break
                if wake in ready:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake, 4096)
                    relayer_wake.set()
        finally:
            os.close(wake)
            stop_all()


@contextlib.contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Ctrl-C goes to the whole process group: a worker still starting up, before
    run_worker ignores it, would die of it with a traceback. An ignored SIGINT stays
    ignored across the spawn's exec, and Python then installs no KeyboardInterrupt
    handler, so the worker ignores it from its first instruction. Only the main thread may
    change a handler: a restart from the monitor thread (after a crash) goes without."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class ChainWorker:
    """The API process's handle on its worker: starts it, restarts it if it dies (with a
    growing pause), stops it with the service. `target(*args)` is the process's entry (a
    module-level function: the process is spawned, not forked) and calls run_worker."""

    def __init__(self, target: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.target, self.args = target, args
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # a restart and a stop never cross
        self._spawned_at = 0.0
        self.restarts = 0

    def start(self) -> ChainWorker:
        self._spawn()
        threading.Thread(target=self._watch, name="chain-worker-monitor", daemon=True).start()
        return self

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def _spawn(self) -> None:
        process = self._context.Process(target=self.target, args=self.args, name="ledger-chain-worker", daemon=True)
        with _children_ignore_sigint():
            process.start()
        self._process, self._spawned_at = process, time.monotonic()

    def _watch(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            process = self._process
            assert process is not None
            multiprocessing.connection.wait([process.sentinel])
            if self._stopping.is_set():
                return
            if time.monotonic() - self._spawned_at > 60:  # it ran a while: start the back-off over
                failures = 0
            pause = RESTART_BACK_OFF[min(failures, len(RESTART_BACK_OFF) - 1)]
            failures += 1
            log.error(
                "chain worker %s exited with %s: writes queue up until it is back; restarting in %.0f s",
                process.pid,
                process.exitcode,
                pause,
            )
            if self._stopping.wait(pause):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self.restarts += 1
                self._spawn()

    def stop(self, timeout: float = 15.0) -> None:
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is None or process.pid is None:
            return
        if process.is_alive():
            process.terminate()  # SIGTERM: the worker finishes its step and stops
            process.join(timeout)
        if process.is_alive():
            log.warning("chain worker %d did not stop in %.0f s; killing it", process.pid, timeout)
            process.kill()
            process.join(5)
