"""`make run`: it starts its own anvil, deploys once, serves the API with the demo
consignments, stops cleanly on Ctrl-C, resumes the same chain and data on the next start,
and says so when it is already running."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from ledger_api.chain.node import free_port
from ledger_api.demo import UCR_PREFIX
from ledger_api.settings import PROJECT_ROOT


def start(data_dir: Path, port: int, anvil_port: int, *, own_group: bool = False) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "LEDGER_DATA_DIR": str(data_dir),
        "LEDGER_PORT": str(port),
        "LEDGER_ANVIL_PORT": str(anvil_port),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "ledger_api.run"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=own_group,  # a process group of its own, as a terminal gives it
    )


def wait_for(proc: subprocess.Popen[str], text: str, timeout: float = 120) -> str:
    """The output up to the line holding `text`; fails after `timeout` seconds even if the
    service prints nothing at all (a blocking readline would wait for ever)."""
    lines: list[str] = []
    found = threading.Event()
    assert proc.stdout is not None
    stdout = proc.stdout

    def read() -> None:
        for line in stdout:
            lines.append(line)
            if text in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    if found.wait(timeout):
        return "".join(lines)
    proc.kill()
    raise AssertionError(f"{text!r} not seen within {timeout:.0f} s; output:\n{''.join(lines)}")


def stop(proc: subprocess.Popen[str], anvil_port: int) -> None:
    """Ctrl-C: the service shuts down and takes its anvil with it. (uvicorn re-raises the
    signal once it has shut down, so the exit status is that of SIGINT, as for any
    program stopped with Ctrl-C.)"""
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode in (0, -signal.SIGINT), output
    assert "Application shutdown complete" in output
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", anvil_port)) != 0, "anvil still running"


def wait_confirmed(http: httpx.Client, ucr: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = http.get(f"/v1/consignments/{ucr}").json()
        if all(r["status"] == "confirmed" for r in body["records"]) or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_run_serves_the_demo_consignments_stops_on_ctrl_c_and_resumes_with_the_same_data(tmp_path):
    port, anvil_port = free_port(), free_port()
    first = start(tmp_path, port, anvil_port)
    output = wait_for(first, "demo consignments seeded")
    assert "deployed contracts" in output
    # make run leaves credentials for trying the demo: read as the Dutch customs.
    tokens = json.loads((tmp_path / "demo-credentials.json").read_text())
    auth = {"Authorization": f"Bearer {tokens['customs NL']['token']}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10, headers=auth) as http:
        delivered = wait_confirmed(http, UCR_PREFIX + "0001")
        assert [r["kind"] for r in delivered["records"]][:2] == ["DECLARATION", "CUSTOMS_DECISION"]
        in_transit = http.get(f"/v1/consignments/{UCR_PREFIX}0002").json()
        assert in_transit["pending_custodian"] is not None
    manifest = json.loads((tmp_path / "deployment.json").read_text())
    stop(first, anvil_port)
    assert (tmp_path / "chain" / "state.json").exists()

    second = start(tmp_path, port, anvil_port)
    output = wait_for(second, "demo consignments seeded")
    try:
        assert "reusing contracts" in output
        assert json.loads((tmp_path / "deployment.json").read_text()) == manifest
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10, headers=auth) as http:
            again = wait_confirmed(http, UCR_PREFIX + "0001")
            assert [r["id"] for r in again["records"]] == [r["id"] for r in delivered["records"]]

        third = start(tmp_path, port, anvil_port)
        third_output = third.communicate(timeout=60)[0]
        assert third.returncode == 1
        assert "running already" in third_output
    finally:
        stop(second, anvil_port)


@pytest.mark.parametrize("moment", ["Uvicorn running", "demo consignments seeded"])
def test_ctrl_c_at_the_terminal_stops_everything_quietly(tmp_path: Path, moment: str):
    """A terminal's Ctrl-C goes to the whole process group (the service, its chain worker
    still starting or running, its anvil): the service stops, with no traceback from any."""
    port, anvil_port = free_port(), free_port()
    proc = start(tmp_path, port, anvil_port, own_group=True)
    try:
        output = wait_for(proc, moment)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    output += rest
    assert proc.returncode in (0, -signal.SIGINT), output
    assert "Application shutdown complete" in output and "Traceback" not in output, output
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", anvil_port)) != 0, "anvil still running"
