"""What the fault tests share: a service run as deployed (`python -m ledger_api.run`, a
process a test can SIGKILL), the cast registered on a running service's chain and seen
from its exporter, and an ingest of many records: signed in advance, posted until
accepted, and checked on chain exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import HTTPProvider, Web3

from ledger_api.chain.artifacts import load_artifacts
from ledger_api.chain.deploy import Manifest
from ledger_api.chain.node import EXTERNAL_ANVIL_ARGS, AnvilNode, free_port
from ledger_api.client import LedgerClient, SignedRecord
from ledger_api.runtime import Runtime
from ledger_api.services.credentials import Credentials
from ledger_api.settings import ANVIL_ACCOUNT_9_KEY, PROJECT_ROOT
from ledger_api.store.db import Store

from .payloads import declaration
from .service import CAST, register_cast, url_of, wait_until

# `figure(row, measured)`: one row of docs/reliability.md (the `figure` fixture, tests/faults/conftest.py).
Figure = Callable[[str, str], None]
# anvil's development account 0 (public): deploys the contracts on the test's own anvil.
ANVIL_DEPLOYER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

# ---------------------------------------------------------------- the cast, seen from its exporter


@dataclass(frozen=True)
class Exporter:
    """The CAST registered on a running service's chain, seen from its exporter."""

    w3: Web3
    url: str
    http: httpx.Client  # with the exporter's credential
    client: LedgerClient  # signs as the exporter


def registered_exporter(runtime: Runtime, label: str) -> Exporter:
    """Registers the cast (keys derived from `label`), issues the exporter a credential and
    waits until the service's index knows it (mining blocks until it is deep enough)."""
    assert runtime.node is not None and runtime.credentials is not None and runtime.manifest is not None
    return _exporter(
        runtime.node.url, runtime.manifest, runtime.credentials, url_of(runtime), runtime.settings.confirmations, label
    )


def service_process_exporter(
    tmp_path: Path, node_url: str, url: str, label: str, database_url: str | None = None
) -> Exporter:
    """`registered_exporter` for a service_process: its credential goes straight into the
    service's store (the operator's way, `ledger admin`)."""
    manifest = Manifest.load(tmp_path / "service" / "deployment.json")
    credentials = Credentials(Store(store_of_service_process(tmp_path, database_url)))
    return _exporter(node_url, manifest, credentials, url, 1, label)


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


# ---------------------------------------------------------------- the service as a process


def store_of_service_process(tmp_path: Path, database_url: str | None) -> str:
    """The store URL of a service_process: `database_url`, or the SQLite file in its data folder."""
    return database_url or f"sqlite:///{tmp_path / 'service' / 'ledger.db'}"


def service_process(
    tmp_path: Path, rpc_url: str, port: int, database_url: str | None = None
) -> subprocess.Popen[bytes]:
    """`python -m ledger_api.run` (what `make run` starts) on the test's anvil, its data in
    tmp_path/service and its log in tmp_path/service.log: a process the test can SIGKILL.
    Its store is `database_url`, or SQLite in its data folder without one."""
    env = {
        **os.environ,
        "LEDGER_DATA_DIR": str(tmp_path / "service"),
        "LEDGER_RPC_URL": rpc_url,
        "LEDGER_DEPLOYER_KEY": ANVIL_DEPLOYER_KEY,
        "LEDGER_RELAYER_KEY": ANVIL_ACCOUNT_9_KEY,
        "LEDGER_PORT": str(port),
        "LEDGER_RESEND_AFTER_SECONDS": "1",
        "LEDGER_DEV_CHAIN": "true",  # the test's own anvil, with its public accounts
    }
    env.pop("LEDGER_DATABASE_URL", None)
    if database_url is not None:
        env["LEDGER_DATABASE_URL"] = database_url
    log = open(tmp_path / "service.log", "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "ledger_api.run"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log)


@dataclass(frozen=True)
class RunningService:
    node: AnvilNode
    process: subprocess.Popen[bytes]
    url: str
    http: httpx.Client  # with an operator's credential: /readyz says more to a credential


@contextmanager
def service_on_its_own_anvil(tmp_path: Path, database_url: str | None = None) -> Iterator[RunningService]:
    """A service_process on a fresh anvil, once it answers; stopped afterwards (SIGTERM)
    unless the test killed it."""
    url = f"http://127.0.0.1:{free_port()}"
    with AnvilNode(tmp_path / "anvil", extra_args=EXTERNAL_ANVIL_ARGS) as node:
        process = service_process(tmp_path, node.url, int(url.rpartition(":")[2]), database_url)
        try:
            http = httpx.Client(base_url=url, timeout=30)
            wait_until(lambda: up(http), timeout=60, what="service up")
            store = Store(f"sqlite:///{tmp_path / 'service' / 'ledger.db'}")
            token = Credentials(store).issue(Account.from_key(keccak(text="operator")).address, "operator")
            store.close()
            http.headers["Authorization"] = f"Bearer {token}"
            yield RunningService(node, process, url, http)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)


def up(http: httpx.Client) -> bool:
    try:
        return http.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


# ---------------------------------------------------------------- an ingest


def presign(client: LedgerClient, prefix: str, count: int) -> list[SignedRecord]:
    """Declarations of `count` new consignments, nonces 0…count-1, signed in advance so
    that the posting loop can run at full speed."""
    return [
        client.sign(declaration(f"{prefix}{n:05d}"), previous=bytes(32), nonce=n, deadline=int(time.time()) + 3600)
        for n in range(count)
    ]


def post_until_accepted(http: httpx.Client, signed: SignedRecord, deadline: float) -> None:
    """A client's retry loop: the same signed record again until the service takes it.
    Safe because a re-post of the same record returns the same id and creates nothing."""
    while True:
        try:
            response = http.post("/v1/records", json=signed.body())
            if response.status_code in (200, 202):
                return
            assert response.status_code >= 500, response.text
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"record {signed.id} was never accepted")
        time.sleep(0.05)


def post_in_the_background(http: httpx.Client, signed: list[SignedRecord], deadline: float) -> threading.Thread:
    """A client posting `signed` in order, each until accepted (post_until_accepted), in a
    thread of its own, started; the caller joins it."""
    poster = threading.Thread(target=lambda: [post_until_accepted(http, s, deadline) for s in signed])
    poster.start()
    return poster


def on_chain_record_ids(w3: Web3, manifest: Manifest) -> list[str]:
    ledger = w3.eth.contract(
        address=manifest.address("ConsignmentLedger"),
        abi=load_artifacts(PROJECT_ROOT / "build")["ConsignmentLedger"].abi,
    )
    logs = ledger.events.RecordWritten().get_logs(from_block=manifest.deploy_block)
    return ["0x" + bytes(log["args"]["recordId"]).hex() for log in logs]


def assert_all_confirmed_once(http: httpx.Client, w3: Web3, manifest: Manifest, signed: list[SignedRecord]) -> None:
    ids = [s.id for s in signed]

    def statuses() -> dict[str, int]:
        counts: dict[str, int] = {}
        for i in ids:
            status = http.get(f"/v1/records/{i}").json()["status"]
            counts[status] = counts.get(status, 0) + 1
        return counts

    try:
        wait_until(lambda: statuses() == {"confirmed": len(ids)}, timeout=120, what="every record confirmed")
    except AssertionError:
        pool = w3.provider.make_request("txpool_status", [])  # type: ignore[arg-type]
        raise AssertionError(f"not all confirmed: {statuses()}; node pool {pool.get('result')}") from None
    on_chain = on_chain_record_ids(w3, manifest)
    assert len(on_chain) == len(set(on_chain)), "a record was written twice"
    assert sorted(set(on_chain) & set(ids)) == sorted(ids), "a record is missing on chain"


def transactions_in_state_but_in_no_block(state_file: Path, sender: str) -> int:
    """How many of `sender`'s transactions anvil's state file has applied to its state but
    holds in none of its blocks. anvil 1.7.1's periodic dump (`--state-interval`) races its
    miner: reading each dump while a stream of transactions came in, 10 of 23 had an
    account's nonce one or two ahead of the transactions in their blocks. A node restarted
    from such a dump has run transactions it can show no block, receipt or event for, and
    nothing (no service, on any node) can confirm those records."""
    data = json.loads(state_file.read_text())
    account = next((a for k, a in data["accounts"].items() if k.lower() == sender.lower()), {"nonce": 0})
    in_blocks = {entry["transaction"]["hash"] for block in data["blocks"] for entry in block["transactions"]}
    ours = {t["info"]["transaction_hash"] for t in data["transactions"] if t["info"]["from"].lower() == sender.lower()}
    return int(account["nonce"]) - len(ours & in_blocks)
