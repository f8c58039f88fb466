"""The embedded development chain: an anvil process started and stopped by the project.

anvil comes from the npm package @foundry-rs/anvil-linux-amd64 (node_modules/.bin/anvil).
It keeps its per-block files under $HOME/.foundry, so it is given a HOME of its own inside
its data folder, which is removed with the folder rather than filling the user's home.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from ledger_api.chain.rpc import Rpc
from ledger_api.errors import ChainError, NodeUnavailable

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ANVIL = PROJECT_ROOT / "node_modules" / ".bin" / "anvil"


# The arguments of an anvil that services reach by URL, standing in for a consortium chain
# (the fault tests', `ledger bench multi`'s): it mines on a transaction's arrival and,
# besides, a block every second (mixed mining). On arrival alone, a transaction the node
# holds but left out of the block it was mining waits for the next arrival, which may never
# come: a resend of a known transaction is none, and a service never asks a chain it did not
# start to mine (only its embedded anvil: Relayer._nudge_if_stalled). Seen in CI: after a
# restart the relayer's backlog went out at once, and its last transaction stayed in the
# pool for the test's 120 s, resent 124 times. A consortium chain makes its blocks on its
# own, as the interval here does.
EXTERNAL_ANVIL_ARGS = ("--block-time", "1", "--mixed-mining")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AnvilNode:
    """An anvil process on 127.0.0.1.

    With `state_file`, the chain is loaded from it at start and dumped to it every second
    and at a clean stop, so the next start resumes the same chain. anvil may lose the last
    second of blocks on a hard kill: the service never trusts the node to keep what it
    accepted (its outbox does).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        state_file: Path | None = None,
        binary: Path = DEFAULT_ANVIL,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.state_file = state_file
        self.binary = binary
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "anvil.pid"

    def reclaim_orphan(self) -> bool:
        """Stops an anvil that a previous run of ours started on this data folder and left
        behind (the service was killed before it could stop it). Only a process whose
        command line names our state file is touched."""
        try:
            pid = int(self.pid_file.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            return False
        if "anvil" not in cmdline or (self.state_file is not None and str(self.state_file) not in cmdline):
            return False
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
        return True

    def start(self, timeout: float = 15.0) -> AnvilNode:
        if not self.binary.exists():
            raise NodeUnavailable(f"anvil not found at {self.binary}: run 'make setup'")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.reclaim_orphan()
        home = self.data_dir / "anvil-home"
        home.mkdir(exist_ok=True)
        # History states are kept in memory only (anvil would otherwise write every block's
        # state under $HOME/.foundry: gigabytes in a long run), and 256 of them, so that a
        # call "at latest" racing a new block still finds its state.
        args = [str(self.binary), "--host", "127.0.0.1", "--port", str(self.port), "--prune-history", "256"]
        if self.state_file is not None:
            args += ["--state", str(self.state_file), "--state-interval", "1"]
        args += list(self.extra_args)
        log = open(self.data_dir / "anvil.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HOME": str(home)}, start_new_session=True
        )
        log.close()
        self.pid_file.write_text(str(self.process.pid))
        deadline = time.monotonic() + timeout
        with Rpc(self.url, timeout=0.5) as liveness:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise NodeUnavailable(
                        f"anvil exited with {self.process.returncode}; see {self.data_dir / 'anvil.log'}"
                    )
                try:
                    liveness.call("eth_chainId")
                    return self
                except ChainError:  # not listening yet
                    time.sleep(0.05)
        self.stop()
        raise NodeUnavailable(f"anvil did not answer on {self.url} within {timeout:.0f} s")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (anvil writes its state), then SIGKILL if it does not go."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would: for fault tests."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
