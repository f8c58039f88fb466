"""Consortium benchmark: two instances, Japan Customs' and the Netherlands Customs', each
in a process of its own (`python -m ledger_api.run`) with its own store, data folder and
relayer key, on one anvil that mines a block every 2 seconds, as a consortium chain
would. Run through `ledger bench consortium`. Figures, from one run:

- the time from a record's POST at Japan's instance until the Dutch instance holds it
  with its payload (learnt from the chain, fetched from Japan's instance, checked against
  the chain): verifiable there; p50 / p99 over N records posted at a steady rate, each
  the declaration of a consignment of its own from Japan to the Netherlands;
- verification throughput at the Dutch instance (receipt included), closed-loop load on
  the demo's delivered consignment (written through Japan's instance, its payloads
  fetched by the Dutch one), while Japan's instance runs beside it on the same machine.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from web3 import HTTPProvider, Web3

from ledger_api import demo
from ledger_api.chain.deploy import Manifest
from ledger_api.chain.node import AnvilNode, free_port
from ledger_api.client import LedgerClient
from ledger_api.services.credentials import Credentials
from ledger_api.settings import ANVIL_DEV_KEYS, PROJECT_ROOT
from ledger_api.store.db import Store
from ledger_api.store.tables import RECORDS
from ledger_bench.service import percentile, registered, wait
from ledger_bench.verify import VERIFY_RATE_TARGET, LoadRun, _run_load

BLOCK_TIME = 2
JP_CUSTOMS = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
NL_CUSTOMS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
DELIVERED = f"{demo.UCR_PREFIX}0001"  # the demo's consignment delivered and released for import


@dataclass(frozen=True)
class ConsortiumFigures:
    records: int
    rate: float  # records posted per second at Japan's instance
    p50_s: float
    p99_s: float
    max_s: float
    verdict: str
    load_average: float  # the machine's 1-minute load average as the records were posted
    load: LoadRun  # at NL's instance
    load_jp: LoadRun  # the same consignment at JP's, which wrote it: for comparison, same run
    tool: str


class Instance:
    """One authority's instance in a child process (a session of its own: a Ctrl-C at the
    terminal reaches the launcher, which stops it), on the shared chain, logging to
    `data/service.log`; started once it shows its endpoint published on chain."""

    def __init__(
        self,
        name: str,
        data: Path,
        chain_url: str,
        manifest: Path,
        authority: str,
        relayer_key: str,
        port: int | None = None,
    ) -> None:
        data.mkdir(parents=True, exist_ok=True)
        self.name, self.data, self.port = name, data, port or free_port()
        env = {
            **os.environ,
            "LEDGER_DATA_DIR": str(data),
            "LEDGER_PORT": str(self.port),
            "LEDGER_RPC_URL": chain_url,
            "LEDGER_DEV_CHAIN": "true",
            "LEDGER_DEPLOYER_KEY": ANVIL_DEV_KEYS[0],
            "LEDGER_RELAYER_KEY": relayer_key,
            "LEDGER_AUTHORITY": authority,
            "LEDGER_MANIFEST_PATH": str(manifest),
        }
        self.log = open(data / "service.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ledger_api.run"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(base_url=self.url, timeout=60)
        try:
            wait(self._up, 120, f"{name}'s instance to start")
        except BaseException:  # a failed start or a Ctrl-C while waiting: the process is not left behind
            self._end_process()
            raise
        self.store = Store(f"sqlite:///{data / 'ledger.db'}")  # read beside the instance, as an operator may
        self.credentials = Credentials(self.store)

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name}'s instance exited; see {self.data / 'service.log'}")
        try:
            return self.http.get("/v1/instance").json().get("up_to_date") is True
        except (httpx.HTTPError, ValueError):
            return False

    def stop(self) -> None:
        self._end_process()
        self.store.close()

    def _end_process(self) -> None:
        self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def held(self, record_ids: Collection[str]) -> set[str]:
        """Which of `record_ids` this instance holds with their payloads, in one query."""
        with self.store.connection() as conn:
            return set(
                conn.scalars(
                    select(RECORDS.c.id).where(
                        RECORDS.c.id.in_(list(record_ids)), RECORDS.c.payload.is_not(None), RECORDS.c.status != "failed"
                    )
                )
            )


def run_consortium(
    records: int = 200,
    rate: float = 10.0,
    seconds: float = 10,
    connections: int = 8,
    progress: Callable[[str], None] = lambda _: None,
) -> ConsortiumFigures:
    with tempfile.TemporaryDirectory(prefix="ledger-bench-consortium-") as tmp:
        root = Path(tmp)
        manifest_path = root / "deployment.json"
        with AnvilNode(root / "anvil", port=free_port(), extra_args=("--block-time", str(BLOCK_TIME))) as node:
            w3 = Web3(HTTPProvider(node.url))
            w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type] # the setup at once
            progress("starting Japan Customs' and the Netherlands Customs' instances")
            jp = Instance("JP", root / "jp", node.url, manifest_path, JP_CUSTOMS, ANVIL_DEV_KEYS[9])
            nl: Instance | None = None
            try:
                nl = Instance("NL", root / "nl", node.url, manifest_path, NL_CUSTOMS, ANVIL_DEV_KEYS[8])
                progress("the demo consignments written through JP's instance")
                issue = partial(jp.credentials.issue, label="bench consortium")
                demo.seed(jp.url, Manifest.load(manifest_path), PROJECT_ROOT / "build", node.url, issue)
                exporter = demo.EXPORTER_P.account
                wait(partial(registered, nl.http, exporter.address), 60, "NL indexing")
                wait(partial(_all_held, jp, nl, DELIVERED), 120, f"NL to hold {DELIVERED}")
                w3.provider.make_request("evm_setIntervalMining", [BLOCK_TIME])  # type: ignore[arg-type]
                progress(f"the chain mines every {BLOCK_TIME} s; {records} records posted at {rate:g}/s at JP")
                latencies, _ = _stream(jp, nl, exporter, records, rate)
                load_average = os.getloadavg()[0]
                nl_token = nl.credentials.issue(NL_CUSTOMS, "bench consortium")
                path = f"/v1/consignments/{DELIVERED}/verification?country=NL"
                url = nl.url + path
                verdict = httpx.get(url, headers={"Authorization": f"Bearer {nl_token}"}).json()["verdict"]
                progress(f"verification at NL, {connections} connections for {seconds:.0f} s, JP running beside it")
                load, tool = _run_load(nl.url, [path], nl_token, seconds, connections, VERIFY_RATE_TARGET)
                progress("the same at JP's instance, for comparison")
                jp_token = jp.credentials.issue(JP_CUSTOMS, "bench consortium")
                load_jp, _ = _run_load(jp.url, [path], jp_token, seconds, connections, VERIFY_RATE_TARGET)
            finally:
                for started in (nl, jp):
                    if started is not None:
                        started.stop()
    return ConsortiumFigures(
        records,
        rate,
        statistics.median(latencies),
        percentile(latencies, 99),
        max(latencies),
        verdict,
        load_average,
        load,
        load_jp,
        tool,
    )


def _all_held(jp: Instance, nl: Instance, ucr: str) -> bool:
    """Whether NL holds every record JP has on chain of `ucr`, and JP has them all there."""
    with jp.store.connection() as conn:
        rows = conn.execute(select(RECORDS.c.id, RECORDS.c.status).where(RECORDS.c.ucr == ucr)).all()
    ids = {r.id for r in rows}
    return bool(ids) and all(r.status == "included" for r in rows) and nl.held(ids) == ids


def _stream(
    jp: Instance, nl: Instance, exporter: LocalAccount, records: int, rate: float
) -> tuple[list[float], list[str]]:
    """Posts `records` declarations at JP at `rate` per second and watches NL until it
    holds each with its payload; the seconds from each POST to that, and the UCRs."""
    client = LedgerClient(jp.url, exporter, token=jp.credentials.issue(exporter.address, "bench consortium"))
    first_nonce = client.next_nonce()
    run = int(time.time())
    posted: dict[str, float] = {}
    held: dict[str, float] = {}
    ucrs: list[str] = []
    done = threading.Event()
    lock = threading.Lock()

    def watch() -> None:
        """Polls NL's store (one query each 20 ms) for the records posted and not held yet."""
        while not done.is_set() and len(held) < records:
            with lock:
                pending = [rid for rid in posted if rid not in held]
            if pending:
                now = time.monotonic()
                for rid in nl.held(pending):
                    held[rid] = now
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    for i in range(records):
        ucr = f"6JP7010001008-CONS{run % 100000:05d}-{i:04d}"
        signed = client.sign(demo.declaration(ucr, f"JP-SEAL-{i:06d}"), nonce=first_nonce + i)
        due = started + i / rate
        time.sleep(max(0.0, due - time.monotonic()))
        with lock:
            posted[signed.id] = time.monotonic()
        client.post(signed)
        ucrs.append(ucr)
    wait(lambda: len(held) == records, 120, "NL to hold every record")
    done.set()
    watcher.join(timeout=10)
    client.close()
    return [held[rid] - posted[rid] for rid in posted], ucrs


def render_consortium(f: ConsortiumFigures, command: str) -> str:
    return (
        f"`{command}` — two instances (Japan Customs', the Netherlands Customs'), each a process with its own "
        f"store and relayer, on one anvil mining a block every {BLOCK_TIME} s, on the same 2-core machine "
        f"(shared: 1-minute load average {f.load_average:.1f} as the records were posted).\n\n"
        f"| figure | value |\n|---|---|\n"
        f"| records posted at JP's instance ({f.rate:g}/s), each a consignment JP → NL | {f.records} |\n"
        f"| POST at JP until NL holds it with its payload, checked against the chain: p50 / p99 / max "
        f"| **{f.p50_s:.2f} s** / **{f.p99_s:.2f} s** / {f.max_s:.2f} s |\n"
        f"| verification at NL of the demo's delivered consignment (verdict {f.verdict}, receipt included), "
        f"{f.load.connections} connections, "
        f"{f.tool}, JP's instance running beside it | **{f.load.requests_per_second:,.0f}/s**, "
        f"p50 {f.load.p50_ms:.1f} ms, p99 {f.load.p99_ms:.1f} ms, {f.load.errors} errors |\n"
        f"| the same verification at JP's instance, right after (for comparison) "
        f"| {f.load_jp.requests_per_second:,.0f}/s, p50 {f.load_jp.p50_ms:.1f} ms, p99 {f.load_jp.p99_ms:.1f} ms, "
        f"{f.load_jp.errors} errors |\n\n"
        f"A record is on chain in the first block after its POST (0 to {BLOCK_TIME} s); the Dutch instance then "
        "indexes it, asks Japan's instance for it (the relayer that sent it is Japan's), checks it and keeps it."
    )
