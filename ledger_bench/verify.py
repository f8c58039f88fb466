"""Verification benchmark: `GET /v1/consignments/{ucr}/verification` (receipt included),
loaded at several concurrencies against N reader workers, beside the static answer
(/healthz) of the same server at the same concurrencies. Run through `ledger bench verify`.

Two modes:
- one consignment, asked again and again: the verdict is cached per block after the first
  request, so this measures the service's path around the cache;
- many distinct consignments (`consignments` > 1), written in batches before the readers
  start, each request for the next one of a shuffled list per client, on readers started
  afresh for each concurrency (their caches cold: a run on the readers of the run before
  would find most verdicts cached): this measures verification itself, as a customs
  service verifying thousands of different consignments sees it.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from ledger_api import demo
from ledger_api.chain.node import free_port
from ledger_api.client import LedgerClient
from ledger_api.domain.records import ZERO_ADDRESS, ZERO_HASH
from ledger_api.settings import PROJECT_ROOT
from ledger_bench.service import Served, Service, answers, confirmed, ok, percentile, registered, wait

VERIFY_RATE_TARGET = 500  # requests/s, one consignment (issue #4)
DISTINCT_RATE_TARGET = 300  # requests/s, many distinct consignments (issue #17)
VERIFY_P99_TARGET = 50.0  # ms, both modes


@dataclass(frozen=True)
class LoadRun:
    """One closed-loop load run: `connections` clients, each sending its next request as
    soon as its last one is answered."""

    connections: int
    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    rate_target: float = VERIFY_RATE_TARGET

    @property
    def meets_target(self) -> bool:
        return self.requests_per_second >= self.rate_target and self.p99_ms <= VERIFY_P99_TARGET


@dataclass(frozen=True)
class VerifyFigures:
    records: int
    verdict: str
    workers: int
    seconds: float
    tool: str
    runs: list[LoadRun]  # verification, one per concurrency
    static: list[LoadRun]  # /healthz of the same server, at the same concurrencies
    consignments: int = 1  # distinct consignments the requests are spread over
    verdicts: dict[str, int] | None = None  # distinct mode: how many consignments had each verdict


def reader_command(port: int, workers: int) -> list[str]:
    """uvicorn serving the app factory on 127.0.0.1:`port` with `workers` workers: a reader
    instance as the benchmarks start it (LEDGER_ROLE=reader in its environment)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "ledger_api.main:app_from_env",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        # info for each worker's startup line, which the benchmark waits for; no line per request.
        "--log-level",
        "info",
        "--no-access-log",
    ]


def _lane_of(records: int, ucr: str = "6JP7010001008-BENCH-VERIFY") -> list[tuple[str, Any]]:
    """A consignment of `records` records: declaration, export release, custody hops
    between the demo's two carriers, import release. Each step: (party, (payload, the
    counterparty's name or None))."""
    seal = "JP-SEAL-BENCH"
    start = datetime.now(UTC)

    def at(minutes: int) -> str:
        return (start + timedelta(minutes=minutes)).isoformat(timespec="seconds").replace("+00:00", "Z")

    steps: list[tuple[str, Any]] = [
        ("exporter", (demo.declaration(ucr, seal), None)),
        ("customs JP", (demo.decision(ucr, "JP", "JPYOK", "EXPORT_RELEASE", at(1)), None)),
    ]
    holder, n = "exporter", 0
    # Whole hops only (handover and acceptance), then the import side's decisions.
    while len(steps) + 2 <= records - 2:
        to = "ocean" if holder != "ocean" else "rail"
        where = "JPYOK" if n == 0 else "NLRTM"
        steps.append((holder, (demo.custody(ucr, "HANDOVER", where, at(2 + 2 * n), "IMO9300001", seal), to)))
        steps.append((to, (demo.custody(ucr, "ACCEPTANCE", where, at(3 + 2 * n), "IMO9300001", seal), holder)))
        holder, n = to, n + 1
    if len(steps) < records - 1:
        steps.append(("customs NL", (demo.decision(ucr, "NL", "NL000396", "HOLD", at(4 + 2 * n)), None)))
    steps.append(("customs NL", (demo.decision(ucr, "NL", "NL000396", "IMPORT_RELEASE", at(5 + 2 * n)), None)))
    return steps


def _run_load(
    base: str, paths: Sequence[str], token: str, seconds: float, connections: int, rate_target: float
) -> tuple[LoadRun, str]:
    """A load run over `paths` (each client takes them in turn from its own place in the
    list), and the tool that made it: wrk when installed (C, little CPU), else Python
    threads."""
    if shutil.which("wrk"):
        script = (
            "paths = {" + ",".join(f'"{p}"' for p in paths) + "}\n"
            "i = 0\n"
            'request = function()\n i = i % #paths + 1\n return wrk.format("GET", paths[i])\nend\n'
            "done = function(summary, latency, requests)\n"
            ' io.write(string.format("RESULT %d %f %f %d\\n", summary.requests, latency:percentile(50),'
            " latency:percentile(99), summary.errors.status + summary.errors.connect + summary.errors.read"
            " + summary.errors.write + summary.errors.timeout))\nend\n"
        )
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(script)
        out = subprocess.run(
            [
                "wrk",
                "-t",
                "1",
                "-c",
                str(connections),
                "-d",
                f"{seconds:.0f}s",
                "-s",
                f.name,
                "-H",
                f"Authorization: Bearer {token}",
                base + paths[0],
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        os.unlink(f.name)
        line = next(x for x in out.splitlines() if x.startswith("RESULT"))
        _, n, p50, p99, failed = line.split()
        run = LoadRun(
            connections, int(n), int(n) / seconds, float(p50) / 1000, float(p99) / 1000, int(failed), rate_target
        )
        return run, "wrk"
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    def worker(start: int) -> None:
        nonlocal errors
        i = start
        with httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
            while time.perf_counter() < stop_at:
                t = time.perf_counter()
                if http.get(paths[i % len(paths)]).status_code != 200:
                    errors += 1
                latencies.append((time.perf_counter() - t) * 1000)
                i += 1

    threads = [threading.Thread(target=worker, args=(n * len(paths) // connections,)) for n in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run = LoadRun(
        connections,
        len(latencies),
        len(latencies) / seconds,
        statistics.median(latencies),
        percentile(latencies, 99),
        errors,
        rate_target,
    )
    return run, "python threads"


def _parties(service: Served) -> dict[str, LocalAccount]:
    """The lane's parties, registered on chain and indexed."""
    w3 = Web3(HTTPProvider(service.chain_url))
    demo.register_on_chain(w3, service.manifest, PROJECT_ROOT / "build")
    authorities = {a["country"]: a["address"] for a in service.manifest.authorities}
    accounts: dict[str, LocalAccount] = {
        "exporter": demo.EXPORTER_P.account,
        "ocean": demo.OCEAN.account,
        "rail": demo.RAIL.account,
        "customs JP": Account.from_key(demo.ANVIL_AUTHORITY_KEYS[authorities["JP"]]),
        "customs NL": Account.from_key(demo.ANVIL_AUTHORITY_KEYS[authorities["NL"]]),
    }
    for account in accounts.values():
        wait(partial(registered, service.http, account.address), 30, "indexing")
    return accounts


def _write_one(service: Served, accounts: dict[str, LocalAccount], records: int) -> list[str]:
    """One consignment, record by record (single mode); its UCR."""
    clients = {n: LedgerClient(service.url, a, token=service.credentials.issue(a.address)) for n, a in accounts.items()}
    ucr, last = "", ""
    for who, (payload, to) in _lane_of(records):
        counterparty = accounts[to].address if to else ZERO_ADDRESS
        last = clients[who].submit(payload, counterparty=counterparty)
        ucr = payload["ucr"]
    wait(partial(confirmed, clients["customs NL"].http, last), 60, "the consignment confirmed")
    return [ucr]


def _write_many(service: Served, accounts: dict[str, LocalAccount], records: int, consignments: int) -> list[str]:
    """`consignments` consignments of `records` records each (batch mode): the lane's n-th
    step of every consignment in one batch of its party, the steps in order; their UCRs.
    A batch of a thousand records can take longer than a client's default 30 s to be
    accepted on a busy machine: the writing is not what is measured."""
    clients = {
        n: LedgerClient(service.url, a, token=service.credentials.issue(a.address), timeout=300)
        for n, a in accounts.items()
    }
    lanes = [_lane_of(records, f"6JP7010001008-BV{n:06d}") for n in range(consignments)]
    heads = [ZERO_HASH] * consignments
    nonces = dict.fromkeys(accounts, 0)
    last = ""
    for step in range(records):
        who = lanes[0][step][0]
        signed = []
        for n, lane in enumerate(lanes):
            _, (payload, to) = lane[step]
            counterparty = accounts[to].address if to else ZERO_ADDRESS
            s = clients[who].sign(
                payload, counterparty=counterparty, previous=heads[n], nonce=nonces[who], deadline=2**40
            )
            nonces[who] += 1
            heads[n] = bytes.fromhex(s.id[2:])
            signed.append(s)
        for i in range(0, len(signed), 1_000):
            ok(clients[who].http.post("/v1/records/batch", json={"records": [s.body() for s in signed[i : i + 1_000]]}))
        last = signed[-1].id
    wait(partial(confirmed, clients["customs NL"].http, last), 300, "the consignments confirmed")
    return [lane[0][1][0]["ucr"] for lane in lanes]


def run_verify(
    records: int = 20,
    workers: int = 2,
    seconds: float = 10,
    connections: Sequence[int] = (4, 8, 16),
    progress: Callable[[str], None] = lambda _: None,
    consignments: int = 1,
) -> VerifyFigures:
    """Verification loaded at each of `connections` concurrent clients in turn, and the
    static answer of the same server at the same concurrencies. In a closed loop, latency
    grows with concurrency once the server is busy (each client waits its turn), so the
    target is met when one concurrency meets both the rate and the p99. With
    `consignments` > 1, the requests are spread over that many distinct consignments, and
    each concurrency has readers of its own, started after they are written (cold caches)."""
    rate_target = VERIFY_RATE_TARGET if consignments == 1 else DISTINCT_RATE_TARGET
    with tempfile.TemporaryDirectory(prefix="ledger-bench-verify-") as tmp:
        data = Path(tmp)
        service = Service(data)
        readers: _Readers | None = None
        try:
            accounts = _parties(service)
            if consignments == 1:
                progress(f"writing a {records}-record consignment")
                ucrs = _write_one(service, accounts, records)
            else:
                progress(f"writing {consignments:,} consignments of {records} records, in batches")
                ucrs = _write_many(service, accounts, records, consignments)
            random.Random(17).shuffle(ucrs)
            paths = [f"/v1/consignments/{ucr}/verification?country=NL" for ucr in ucrs]
            token = service.credentials.issue(accounts["customs NL"].address, "bench verify")
            progress(f"{workers} uvicorn workers reading the same store")
            readers = _Readers(data, workers, token)
            verdicts: dict[str, int] | None = None
            if consignments == 1:
                verdict = _verdict(readers.start() + paths[0], token)
            else:
                verdict, verdicts = "", {}
            runs, static, tool = [], [], ""
            for c in connections:
                if consignments > 1:
                    # Fresh readers for each concurrency: the run before warmed their caches.
                    readers.stop()
                base = readers.start()
                progress(f"verification, {c} connections for {seconds:.0f} s")
                run, tool = _run_load(base, paths, token, seconds, c, rate_target)
                runs.append(run)
                progress(f"the same server's static answer (/healthz), {c} connections, for comparison")
                static.append(_run_load(base, ["/healthz"], token, seconds, c, rate_target)[0])
            if verdicts is not None:
                # After the runs, not before: asking first would warm the caches.
                base = readers.start()
                for path in paths:
                    v = _verdict(base + path, token)
                    verdicts[v] = verdicts.get(v, 0) + 1
                verdict = ", ".join(f"{n:,} {v}" for v, n in sorted(verdicts.items()))
        finally:
            if readers is not None:
                readers.stop()
            service.stop()
    return VerifyFigures(records, verdict, workers, seconds, tool, runs, static, consignments, verdicts)


class _Readers:
    """The reader workers on the benchmark's store: `start()` starts them unless they run,
    waits until every worker answers, and returns their base URL; `stop()` stops them."""

    def __init__(self, data: Path, workers: int, token: str) -> None:
        self.data, self.workers, self.token = data, workers, token
        self.process: subprocess.Popen[bytes] | None = None
        self.base = ""

    def start(self) -> str:
        if self.process is not None:
            return self.base
        port = free_port()
        env = {**os.environ, "LEDGER_DATA_DIR": str(self.data), "LEDGER_ROLE": "reader"}
        log_path = self.data / f"readers-{port}.log"
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                reader_command(port, self.workers), cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log
            )
        self.base = f"http://127.0.0.1:{port}"
        # Every worker up before the load starts: wrk's connections stay with the worker that
        # accepted them, and a worker still starting left them all to the other one.
        wait(partial(_started, log_path, self.workers), 60, "the readers")
        # /healthz, not a verification: the caches stay cold until the first run.
        wait(partial(answers, f"{self.base}/healthz", self.token), 60, "the readers")
        return self.base

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
            self.process = None


def _started(log: Path, workers: int) -> bool:
    """All `workers` uvicorn workers logged their startup complete."""
    return log.read_text(errors="replace").count("Application startup complete") >= workers


def _verdict(url: str, token: str) -> str:
    return str(httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30).json()["verdict"])


def render_verify(f: VerifyFigures, command: str) -> str:
    rate = VERIFY_RATE_TARGET if f.consignments == 1 else DISTINCT_RATE_TARGET
    target = f"≥ {rate} requests/s with p99 ≤ {VERIFY_P99_TARGET:.0f} ms"
    what = (
        f"verification of one {f.records}-record consignment (verdict {f.verdict}), asked again and again"
        if f.consignments == 1
        else f"verification of {f.consignments:,} distinct consignments of {f.records} records each (verdicts: "
        f"{f.verdict}), taken in turn from a shuffled list, on readers started afresh for each concurrency "
        "(cold caches)"
    )
    rows = [
        f"| {run.connections} | **{run.requests_per_second:,.0f}** | {run.p50_ms:.1f} / **{run.p99_ms:.1f}** "
        f"| {run.errors} | {st.requests_per_second:,.0f} | {st.p99_ms:.1f} "
        f"| {run.requests_per_second / st.requests_per_second:.0%} | {'yes' if run.meets_target else 'no'} |"
        for run, st in zip(f.runs, f.static, strict=True)
    ]
    met = [str(run.connections) for run in f.runs if run.meets_target]
    verdict = (
        f"The target ({target}) is met at {', '.join(met)} connections in this run."
        if met
        else f"The target ({target}) is not met at any concurrency of this run."
    )
    return "\n".join(
        [
            f"`{command}` — {f.workers} uvicorn workers (reader role) on the 2-core machine; load by {f.tool} on "
            f"the same machine, {f.seconds:.0f} s per run; {what}; receipt included.",
            "",
            "| connections | verifications/s | p50 / p99 ms | errors | static answers/s | static p99 ms "
            "| verification / static | target met |",
            "|---:|---:|---|---:|---:|---:|---:|---|",
            *rows,
            "",
            verdict,
        ]
    )
