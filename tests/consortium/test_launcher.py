"""`make consortium` (scripts/consortium.py): one anvil and two customs authorities'
instances that find each other on chain, the demo written through Japan's; a Ctrl-C stops
all of it quietly and leaves no process behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from support.service import wait_until

from ledger_api import demo
from ledger_api.chain.node import free_port
from ledger_api.settings import PROJECT_ROOT


def _port_open(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
    except httpx.HTTPError:
        return False
    return True


def test_the_launcher_starts_two_instances_that_find_each_other_and_stops_quietly_on_ctrl_c(tmp_path: Path):
    anvil, jp, nl = free_port(), free_port(), free_port()
    log = tmp_path / "launcher.log"
    with log.open("wb") as out:
        args = ["--data", str(tmp_path / "consortium"), "--anvil-port", str(anvil), "--ports", str(jp), str(nl)]
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.consortium", *args],
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "Ctrl-C stops all" in log.read_text() or process.poll() is not None, timeout=240)
        assert process.poll() is None, log.read_text()
        instances = {port: httpx.get(f"http://127.0.0.1:{port}/v1/instance", timeout=10).json() for port in (jp, nl)}
        assert [(i["country"], i["up_to_date"]) for i in instances.values()] == [("JP", True), ("NL", True)]
        # NL's own credentials, in its data folder, read the demo written through JP once NL fetched it.
        token = json.loads((tmp_path / "consortium" / "nl" / "demo-credentials.json").read_text())["customs NL"][
            "token"
        ]
        url = f"http://127.0.0.1:{nl}/v1/consignments/{demo.UCR_PREFIX}0001/verification?country=NL"

        def verified() -> bool:
            response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            return response.status_code == 200 and response.json()["verdict"] == "VERIFIED"

        wait_until(verified, timeout=60, what="NL's verdict on the demo's delivered consignment")
    finally:
        process.send_signal(signal.SIGINT)
        rc = process.wait(timeout=90)
    output = log.read_text()
    assert rc == 0, output
    assert output.rstrip().endswith("stopped") and "Traceback" not in output, output
    time.sleep(0.5)
    assert not any(_port_open(port) for port in (jp, nl))
