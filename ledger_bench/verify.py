"""Verification benchmark: `GET /v1/consignments/{ucr}/verification` (receipt included)
of one of the demo consignments, loaded at several concurrencies against N reader
workers, beside the static answer (/healthz) of the same server at the same
concurrencies. Run through `ledger bench verify`."""

from __future__ import annotations

import os
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
from web3 import HTTPProvider, Web3

from ledger_api import demo
from ledger_api.chain.node import free_port
from ledger_api.client import LedgerClient
from ledger_api.settings import PROJECT_ROOT
from ledger_bench.service import Service, confirmed, percentile, registered, wait

VERIFY_RATE_TARGET = 500  # requests/s (issue #4)
VERIFY_P99_TARGET = 50.0  # ms


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

    @property
    def meets_target(self) -> bool:
        return self.requests_per_second >= VERIFY_RATE_TARGET and self.p99_ms <= VERIFY_P99_TARGET


@dataclass(frozen=True)
class VerifyFigures:
    records: int
    verdict: str
    workers: int
    seconds: float
    tool: str
    runs: list[LoadRun]  # verification, one per concurrency
    static: list[LoadRun]  # /healthz of the same server, at the same concurrencies


def _lane_of(records: int) -> list[tuple[str, Any]]:
    """A consignment of `records` records: declaration, export release, custody hops
    between the demo's two carriers, import release."""
    ucr = "6JP7010001008-BENCH-VERIFY"
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


def _run_load(url: str, token: str, seconds: float, connections: int) -> tuple[LoadRun, str]:
    """A load run, and the tool that made it: wrk when installed (C, little CPU), else
    Python threads."""
    if shutil.which("wrk"):
        script = (
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
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        os.unlink(f.name)
        line = next(x for x in out.splitlines() if x.startswith("RESULT"))
        _, n, p50, p99, failed = line.split()
        run = LoadRun(connections, int(n), int(n) / seconds, float(p50) / 1000, float(p99) / 1000, int(failed))
        return run, "wrk"
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    def worker() -> None:
        nonlocal errors
        with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
            while time.perf_counter() < stop_at:
                t = time.perf_counter()
                if http.get(url).status_code != 200:
                    errors += 1
                latencies.append((time.perf_counter() - t) * 1000)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
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
    )
    return run, "python threads"


def run_verify(
    records: int = 20,
    workers: int = 2,
    seconds: float = 10,
    connections: Sequence[int] = (4, 8, 16),
    progress: Callable[[str], None] = lambda _: None,
) -> VerifyFigures:
    """Verification loaded at each of `connections` concurrent clients in turn, and the
    static answer of the same server at the same concurrencies. In a closed loop, latency
    grows with concurrency once the server is busy (each client waits its turn), so the
    target is met when one concurrency meets both the rate and the p99."""
    with tempfile.TemporaryDirectory(prefix="ledger-bench-verify-") as tmp:
        data = Path(tmp)
        service = Service(data)
        reader: subprocess.Popen[bytes] | None = None
        try:
            progress(f"writing a {records}-record consignment")
            w3 = Web3(HTTPProvider(service.chain_url))
            demo.register_on_chain(w3, service.manifest, PROJECT_ROOT / "build")
            authorities = {a["country"]: a["address"] for a in service.manifest.authorities}
            accounts = {
                "exporter": demo.EXPORTER_P.account,
                "ocean": demo.OCEAN.account,
                "rail": demo.RAIL.account,
                "customs JP": Account.from_key(demo.ANVIL_AUTHORITY_KEYS[authorities["JP"]]),
                "customs NL": Account.from_key(demo.ANVIL_AUTHORITY_KEYS[authorities["NL"]]),
            }
            for account in accounts.values():
                wait(partial(registered, service.http, account.address), 30, "indexing")
            clients = {
                n: LedgerClient(service.url, a, token=service.credentials.issue(a.address)) for n, a in accounts.items()
            }
            ucr, last = "", ""
            for who, (payload, to) in _lane_of(records):
                counterparty = accounts[to].address if to else "0x" + "00" * 20
                last = clients[who].submit(payload, counterparty=counterparty)
                ucr = payload["ucr"]
            wait(partial(confirmed, clients["customs NL"].http, last), 60, "the consignment confirmed")
            token = service.credentials.issue(accounts["customs NL"].address, "bench verify")
            progress(f"{workers} uvicorn workers reading the same store")
            port = free_port()
            env = {**os.environ, "LEDGER_DATA_DIR": str(data), "LEDGER_ROLE": "reader"}
            reader = subprocess.Popen(
                [
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
                    "--log-level",
                    "warning",
                ],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=service.log,
                stderr=service.log,
            )
            base = f"http://127.0.0.1:{port}"
            verify_url = f"{base}/v1/consignments/{ucr}/verification?country=NL"
            wait(partial(_answers, verify_url, token), 60, "the readers")
            verdict = httpx.get(verify_url, headers={"Authorization": f"Bearer {token}"}).json()["verdict"]
            runs, static, tool = [], [], ""
            for c in connections:
                progress(f"verification, {c} connections for {seconds:.0f} s")
                run, tool = _run_load(verify_url, token, seconds, c)
                runs.append(run)
                progress(f"the same server's static answer (/healthz), {c} connections, for comparison")
                static.append(_run_load(f"{base}/healthz", token, seconds, c)[0])
        finally:
            if reader is not None:
                reader.send_signal(signal.SIGTERM)
                reader.wait(timeout=30)
            service.stop()
    return VerifyFigures(records, verdict, workers, seconds, tool, runs, static)


def _answers(url: str, token: str) -> bool:
    try:
        return httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    except httpx.HTTPError:
        return False


def render_verify(f: VerifyFigures, command: str) -> str:
    target = f"≥ {VERIFY_RATE_TARGET} requests/s with p99 ≤ {VERIFY_P99_TARGET:.0f} ms"
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
            f"the same machine, {f.seconds:.0f} s per run; verification of a {f.records}-record consignment "
            f"(verdict {f.verdict}), receipt included.",
            "",
            "| connections | verifications/s | p50 / p99 ms | errors | static answers/s | static p99 ms "
            "| verification / static | target met |",
            "|---:|---:|---|---:|---:|---:|---:|---|",
            *rows,
            "",
            verdict,
        ]
    )
