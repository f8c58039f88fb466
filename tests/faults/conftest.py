"""The fault suite's figures: each test records what it measured with the `figure`
fixture, and `python -m scripts.reliability_doc` writes the last run's figures into
docs/reliability.md. A figure is only ever what a test saw, never typed by hand."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from api.conftest import CAST, register_cast, wait_until
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import HTTPProvider, Web3

from ledger_api.chain.deploy import Manifest
from ledger_api.chain.node import AnvilNode, free_port
from ledger_api.client import LedgerClient
from ledger_api.runtime import Runtime
from ledger_api.services.credentials import Credentials
from ledger_api.settings import ANVIL_ACCOUNT_9_KEY, PROJECT_ROOT
from ledger_api.store.db import Store

FIGURES = PROJECT_ROOT / "build" / "reliability.json"
Figure = Callable[[str, str], None]


@dataclass(frozen=True)
class Exporter:
    """The api tests' cast registered on a running service's chain, seen from its exporter."""

    w3: Web3
    url: str
    http: httpx.Client  # with the exporter's credential
    client: LedgerClient  # signs as the exporter


def registered_exporter(runtime: Runtime, label: str) -> Exporter:
    """Registers the cast (keys derived from `label`), issues the exporter a credential and
    waits until the service's index knows it (mining blocks until it is deep enough)."""
    assert runtime.node is not None and runtime.credentials is not None and runtime.manifest is not None
    url = f"http://127.0.0.1:{runtime.settings.port}"
    return _exporter(
        runtime.node.url, runtime.manifest, runtime.credentials, url, runtime.settings.confirmations, label
    )


def _exporter(
    node_url: str, manifest: Manifest, credentials: Credentials, url: str, confirmations: int, label: str
) -> Exporter:
    w3 = Web3(HTTPProvider(node_url))
    keys: dict[str, LocalAccount] = {name: Account.from_key(keccak(text=f"{label} {name}")) for name in CAST}
    register_cast(w3, manifest, keys)
    for _ in range(confirmations - 1):
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    exporter = keys["exporter"]
    token = credentials.issue(exporter.address)
    http = httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"})
    wait_until(lambda: http.get(f"/v1/parties/{exporter.address}").status_code == 200, what="indexed")
    return Exporter(w3, url, http, LedgerClient(url, exporter, token=token))


# anvil's development account 0 (public): deploys the contracts on the test's own anvil.
ANVIL_DEPLOYER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def service_process(tmp_path: Path, rpc_url: str, port: int) -> subprocess.Popen[bytes]:
    """`python -m ledger_api.run` (what `make run` starts) on the test's anvil, its data in
    tmp_path/service and its log in tmp_path/service.log: a process the test can SIGKILL."""
    env = {
        **os.environ,
        "LEDGER_DATA_DIR": str(tmp_path / "service"),
        "LEDGER_RPC_URL": rpc_url,
        "LEDGER_DEPLOYER_KEY": ANVIL_DEPLOYER_KEY,
        "LEDGER_RELAYER_KEY": ANVIL_ACCOUNT_9_KEY,
        "LEDGER_PORT": str(port),
        "LEDGER_RESEND_AFTER_SECONDS": "1",
    }
    log = open(tmp_path / "service.log", "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "ledger_api.run"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log)


@dataclass(frozen=True)
class RunningService:
    node: AnvilNode
    process: subprocess.Popen[bytes]
    url: str
    http: httpx.Client  # without a credential


@contextmanager
def service_on_its_own_anvil(tmp_path: Path) -> Iterator[RunningService]:
    """A service_process on a fresh anvil, once it answers; stopped afterwards (SIGTERM)
    unless the test killed it."""
    url = f"http://127.0.0.1:{free_port()}"
    with AnvilNode(tmp_path / "anvil") as node:
        process = service_process(tmp_path, node.url, int(url.rpartition(":")[2]))
        try:
            http = httpx.Client(base_url=url, timeout=30)
            wait_until(lambda: up(http), timeout=60, what="service up")
            yield RunningService(node, process, url, http)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)


def service_process_exporter(tmp_path: Path, node_url: str, url: str, label: str) -> Exporter:
    """`registered_exporter` for a service_process: its credential goes straight into the
    service's store (the operator's way, `ledger admin`)."""
    manifest = Manifest.load(tmp_path / "service" / "deployment.json")
    credentials = Credentials(Store(f"sqlite:///{tmp_path / 'service' / 'ledger.db'}"))
    return _exporter(node_url, manifest, credentials, url, 1, label)


def up(http: httpx.Client) -> bool:
    try:
        return http.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Iterator[Figure]:
    """`figure(row, measured)`: one row of docs/reliability.md, e.g.
    `figure("node SIGKILL during a 1,000-record ingest", "1,000 of 1,000 on chain, 0 duplicates")`.
    Written when the test passes, so the page never shows a figure of a failed run."""
    rows: list[tuple[str, str]] = []
    yield lambda row, measured: rows.append((row, measured))
    report = getattr(request.node, "rep_call", None)
    if not rows or report is None or not report.passed:
        return
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    path, _, name = request.node.nodeid.partition("::")
    # The suite's own knobs (LEDGER_FAULTS_SINGLE_BURST=…) belong to the command that reproduces the row.
    knobs = "".join(f"{k}={v} " for k, v in sorted(os.environ.items()) if k.startswith("LEDGER_FAULTS_"))
    for row, measured in rows:
        data[row] = {
            "measured": measured,
            "command": f"{knobs}.venv/bin/pytest {path} -k {name.split('[')[0]}",
            "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpus": os.cpu_count(),
        }
    FIGURES.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
