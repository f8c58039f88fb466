"""The service under test, started as an operator would (`python -m ledger_api.run`) in a
child process with its own anvil and a throwaway data folder, so that on a 2-core machine
the load generator and the service each have a core; and the small waits and reads the
benchmarks make of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import httpx

from ledger_api.chain.deploy import Manifest
from ledger_api.chain.node import free_port
from ledger_api.services.credentials import Credentials
from ledger_api.settings import PROJECT_ROOT
from ledger_api.store.db import Store


class Served(Protocol):
    """What a benchmark needs of the service under test, one instance or several on one
    store: where to post (`url`, `http` reading as the benchmark's first party), its chain,
    its deployment, the operator's way to issue credentials, and the tokens issued."""

    url: str
    chain_url: str
    http: httpx.Client
    manifest: Manifest
    credentials: Credentials
    tokens: dict[str, str]


class Service:
    """The service in a child process, with its own anvil and data folder. `tokens` holds
    the credentials issued to the benchmark's parties, by address."""

    def __init__(self, data: Path) -> None:
        self.port, self.anvil_port = free_port(), free_port()
        env = {
            **os.environ,
            "LEDGER_DATA_DIR": str(data),
            "LEDGER_PORT": str(self.port),
            "LEDGER_ANVIL_PORT": str(self.anvil_port),
            "LEDGER_SEED_DEMO": "false",
        }
        self.log = open(data / "service.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ledger_api.run"], cwd=PROJECT_ROOT, env=env, stdout=self.log, stderr=self.log
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.chain_url = f"http://127.0.0.1:{self.anvil_port}"
        self.http = httpx.Client(base_url=self.url, timeout=120)
        wait(lambda: self._up(), 120, "the service to start")
        self.manifest = Manifest.load(data / "deployment.json")
        self.tokens: dict[str, str] = {}
        self.credentials = Credentials(Store(f"sqlite:///{data / 'ledger.db'}"))

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError("the service exited; see its service.log")
        try:
            return self.http.get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self.http.close()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        self.log.close()


def wait(predicate: Callable[[], bool], timeout: float, what: str, poll: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(poll)


def ok(response: httpx.Response) -> None:
    if response.status_code >= 400:
        raise RuntimeError(f"the service refused: {response.status_code} {response.text}")


def answers(url: str, token: str | None = None) -> bool:
    """Whether `url` answers 200 (with `token` as the bearer credential); False while
    nothing listens there yet."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return httpx.get(url, headers=headers).status_code == 200
    except httpx.HTTPError:
        return False


def registered(http: httpx.Client, address: str) -> bool:
    return http.get(f"/v1/parties/{address}").status_code == 200


def confirmed(http: httpx.Client, record_id: str) -> bool:
    return bool(http.get(f"/v1/records/{record_id}").json()["status"] == "confirmed")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
