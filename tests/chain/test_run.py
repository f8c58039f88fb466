"""`make run` as far as it goes today: it starts its own anvil, deploys once, stops
cleanly on Ctrl-C, and the next start resumes the same chain and deployment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ledger_api.chain.node import free_port
from ledger_api.settings import PROJECT_ROOT


def start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "LEDGER_DATA_DIR": str(data_dir), "LEDGER_ANVIL_PORT": str(port)}
    return subprocess.Popen(
        [sys.executable, "-m", "ledger_api.run"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(proc: subprocess.Popen[str], text: str, timeout: float = 60) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    proc.kill()
    raise AssertionError(f"{text!r} not seen; output:\n{''.join(lines)}")


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=30)


def test_run_deploys_once_stops_on_ctrl_c_and_resumes_the_same_chain(tmp_path):
    port = free_port()
    first = start(tmp_path, port)
    output = "".join(wait_for(first, "press Ctrl-C"))
    assert "deployed contracts" in output
    manifest = json.loads((tmp_path / "deployment.json").read_text())
    assert stop(first) == 0
    assert (tmp_path / "chain" / "state.json").exists()

    second = start(tmp_path, port)
    output = "".join(wait_for(second, "press Ctrl-C"))
    try:
        assert "reusing contracts" in output
        assert json.loads((tmp_path / "deployment.json").read_text()) == manifest

        third = start(tmp_path, port)
        third_output = third.communicate(timeout=30)[0]
        assert third.returncode == 1
        assert "running already" in third_output
    finally:
        assert stop(second) == 0
