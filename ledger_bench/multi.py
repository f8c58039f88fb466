"""Many instances of one authority on one PostgreSQL (issue #13), beside a lone instance on
SQLite measured in the same run. Run through `ledger bench multi`. Three set-ups, each on
an anvil of its own, one after the other:

- SQLite: one writer instance (`python -m ledger_api.run`) with its store in its data folder;
- PostgreSQL, 1 writer: one writer instance on a new database of a PostgreSQL cluster
  started for the run (ledger_bench/postgres.py), durable as SQLite's store is (fsync and
  synchronous commits on);
- PostgreSQL, 2 writers: two writer instances started at once on another new database,
  one relayer key between them (one holds the relayer and indexer, the other stands by).

Every writer is started as tests/faults/test_many_writers.py starts them (the same
settings), on an anvil the benchmark starts. In each set-up:

- batched ingest: pre-signed declarations posted to /v1/records/batch by two clients at
  once, each its own party, the clients spread over the instances in turn; timed from the
  first POST until every batch is confirmed in the index;
- single-record stream: single records from several clients at once (each its own party,
  in nonce order), spread over the instances the same way; timed until all are confirmed
  (ledger_bench/ingest.py's stream).

Then, on SQLite and on the two-writer PostgreSQL set-up, verification of one consignment
(ledger_bench/verify.py's lane) under closed-loop load (wrk, or Python threads), at the same
total number of connections: through one reader instance (uvicorn, reader role, on the
store), and on PostgreSQL through two reader instances at once, the connections split
between them (both readers are started, and asked a few times, before the first run).
Last, on the two writers: the instance holding the relayer is SIGKILLed with its chain
worker, and one record posted to the standby right after; the figures are the seconds
from the kill until the standby holds the lease, and until that record is confirmed (the
queue moves again).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import HTTPProvider, Web3

from ledger_api import demo
from ledger_api.chain.deploy import Manifest
from ledger_api.chain.node import EXTERNAL_ANVIL_ARGS, AnvilNode, free_port
from ledger_api.client import LedgerClient
from ledger_api.services.credentials import Credentials
from ledger_api.settings import ANVIL_ACCOUNT_9_KEY, ANVIL_DEV_KEYS, PROJECT_ROOT
from ledger_api.store.db import Store
from ledger_bench.ingest import SEAL, _register, measure_stream, post_all
from ledger_bench.postgres import PostgresServer, postgres_server
from ledger_bench.service import answers, confirmed, ok, wait
from ledger_bench.verify import (
    VERIFY_RATE_TARGET,
    LoadRun,
    _parties,
    _run_load,
    _verdict,
    _write_one,
    reader_command,
)

BATCH_CLIENTS = 2
SQLITE, POSTGRESQL = "SQLite", "PostgreSQL"


@dataclass(frozen=True)
class IngestRun:
    """Ingest through `instances` writer instances on `store`."""

    store: str
    instances: int
    batch_seconds: float
    stream_accepted_seconds: float
    stream_confirmed_seconds: float


@dataclass(frozen=True)
class ReadRun:
    """Verification through `instances` reader instances on `store`: the load runs of the
    instances, made at once, taken together (requests summed; the worst p50 and p99)."""

    store: str
    instances: int
    load: LoadRun


@dataclass(frozen=True)
class MultiFigures:
    batch_records: int
    batch_size: int
    stream_records: int
    stream_clients: int
    records: int  # of the verified consignment
    verdict: str
    connections: int  # total, split between the reader instances
    reader_workers: int  # uvicorn workers of each reader instance
    seconds: float  # per load run
    tool: str
    ingest: list[IngestRun]
    reads: list[ReadRun]
    lease_seconds: float  # from the SIGKILL until the standby holds the relayer's lease
    queue_seconds: float  # from the SIGKILL until a record posted to the standby is confirmed
    load_average: float  # the machine's 1-minute load average at the end of the run

    def ingest_of(self, store: str, instances: int) -> IngestRun:
        return next(r for r in self.ingest if r.store == store and r.instances == instances)

    def read_of(self, store: str, instances: int) -> ReadRun:
        return next(r for r in self.reads if r.store == store and r.instances == instances)


def _clean_env() -> dict[str, str]:
    """The environment without any LEDGER_ setting of the caller's: the instances get only
    the benchmark's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}


class Writers:
    """Writer instances of one authority, each `python -m ledger_api.run` in a process (and
    a session) of its own, on one chain and one store: the PostgreSQL database at
    `database_url`, or without it a lone instance's SQLite file in its data folder. Reads
    and credentials go to the first instance's store; `http` reads as the benchmark's
    first party once `_register` has given it a token."""

    def __init__(self, root: Path, chain_url: str, instances: int, database_url: str | None) -> None:
        self.root, self.chain_url, self.database_url = root, chain_url, database_url
        self.names = [f"writer-{n}" for n in range(instances)]
        self.ports = [free_port() for _ in range(instances)]
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.url = self.urls[0]
        self.logs = [open(self._folder(n) / "service.log", "ab") for n in range(instances)]  # noqa: SIM115 - closed in stop()
        self.processes: list[subprocess.Popen[bytes]] = []
        self.http = httpx.Client(base_url=self.url, timeout=120)
        self.tokens: dict[str, str] = {}
        self._store: Store | None = None
        try:
            # All at once, as test_many_writers starts them: one of them deploys.
            for n in range(instances):
                self.processes.append(self._start(n))
            for n in range(instances):
                with httpx.Client(base_url=self.urls[n], timeout=10) as http:
                    wait(partial(self._up, n, http), 180, f"{self.names[n]} to start", poll=0.1)
        except BaseException:
            self.stop()
            raise
        self.manifest = Manifest.load(self.data(0) / "deployment.json")
        self._store = Store(database_url or f"sqlite:///{self.data(0) / 'ledger.db'}")
        self.credentials = Credentials(self._store)

    def _folder(self, n: int) -> Path:
        folder = self.root / self.names[n]
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def data(self, n: int) -> Path:
        return self._folder(n) / "data"

    def _start(self, n: int) -> subprocess.Popen[bytes]:
        env = {
            **_clean_env(),
            "LEDGER_DATA_DIR": str(self.data(n)),
            "LEDGER_RPC_URL": self.chain_url,
            "LEDGER_DEPLOYER_KEY": ANVIL_DEV_KEYS[0],
            "LEDGER_RELAYER_KEY": ANVIL_ACCOUNT_9_KEY,
            "LEDGER_PORT": str(self.ports[n]),
            "LEDGER_INSTANCE_NAME": self.names[n],
            "LEDGER_RESEND_AFTER_SECONDS": "1",
            "LEDGER_DEV_CHAIN": "true",
            **({"LEDGER_DATABASE_URL": self.database_url} if self.database_url else {}),
        }
        # A session of its own: a Ctrl-C at the terminal reaches the benchmark, which stops it.
        return subprocess.Popen(
            [sys.executable, "-m", "ledger_api.run"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=self.logs[n],
            stderr=self.logs[n],
            start_new_session=True,
        )

    def _up(self, n: int, http: httpx.Client) -> bool:
        if self.processes[n].poll() is not None:
            raise RuntimeError(f"{self.names[n]} exited; see {self._folder(n) / 'service.log'}")
        try:
            return http.get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def readyz(self, n: int, token: str) -> dict[str, Any]:
        """What /readyz of instance `n` says to a credentialed caller (ready or not)."""
        with httpx.Client(base_url=self.urls[n], timeout=10) as http:
            return dict(http.get("/readyz", headers={"Authorization": f"Bearer {token}"}).json())

    def reader_env(self) -> dict[str, str]:
        """A reader's settings: the store's URL (SQLite: the writer's data folder) and the chain's."""
        env = {**_clean_env(), "LEDGER_ROLE": "reader", "LEDGER_RPC_URL": self.chain_url}
        if self.database_url:
            return {**env, "LEDGER_DATABASE_URL": self.database_url}
        return {**env, "LEDGER_DATA_DIR": str(self.data(0))}

    def stop(self) -> None:
        self.http.close()
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.logs:
            log.close()
        if self._store is not None:
            self._store.close()


@contextmanager
def _writers(root: Path, instances: int, database_url: str | None) -> Iterator[Writers]:
    """`instances` writers on an anvil of their own, reached by URL as a consortium chain is."""
    root.mkdir(parents=True)
    with AnvilNode(root / "anvil", extra_args=EXTERNAL_ANVIL_ARGS) as node:
        writers = Writers(root, node.url, instances, database_url)
        try:
            yield writers
        finally:
            writers.stop()


def _parties_of(writers: Writers, batch: int, stream: int) -> tuple[list[LocalAccount], list[LocalAccount]]:
    batchers = [Account.from_key(keccak(text=f"bench multi batch {i}")) for i in range(batch)]
    streamers = [Account.from_key(keccak(text=f"bench multi stream {i}")) for i in range(stream)]
    _register(writers, Web3(HTTPProvider(writers.chain_url)), [*batchers, *streamers])
    return batchers, streamers


def measure_batches(writers: Writers, batchers: list[LocalAccount], records: int, batch_size: int) -> float:
    """`records` declarations in batches of `batch_size`, the batches dealt to the clients
    in turn and each client posting its own to one instance (client i to instance i mod
    n), all clients at once; seconds from the first POST until every batch is confirmed."""
    work: list[tuple[LedgerClient, list[bytes], list[str]]] = []
    for i, party in enumerate(batchers):
        url = writers.urls[i % len(writers.urls)]
        client = LedgerClient(url, party, token=writers.tokens[party.address])
        own = range(i * batch_size, records, batch_size * len(batchers))
        chunks = [
            [
                client.sign(
                    demo.declaration(f"6NL00000009{i}-M{n:07d}", SEAL), previous=bytes(32), nonce=n, deadline=2**40
                )
                for n in range(start, min(start + batch_size, records))
            ]
            for start in own
        ]
        # Signed and serialised before the clock starts: the load generator shares the cores.
        bodies = [json.dumps({"records": [s.body() for s in chunk]}).encode() for chunk in chunks]
        work.append((client, bodies, [chunk[-1].id for chunk in chunks]))

    start = time.perf_counter()
    post_all([client.http for client, _, _ in work], [bodies for _, bodies, _ in work], "/v1/records/batch")
    for client, _, lasts in work:
        for last in lasts:
            wait(partial(confirmed, client.http, last), 300, "a batch to be confirmed")
    seconds = time.perf_counter() - start
    for client, _, _ in work:
        client.close()
    return seconds


def measure_ingest(
    store: str,
    writers: Writers,
    batchers: list[LocalAccount],
    streamers: list[LocalAccount],
    batch_records: int,
    batch_size: int,
    stream_records: int,
) -> IngestRun:
    batch_seconds = measure_batches(writers, batchers, batch_records, batch_size)
    clients = [
        LedgerClient(writers.urls[i % len(writers.urls)], a, token=writers.tokens[a.address])
        for i, a in enumerate(streamers)
    ]
    stream = measure_stream(clients, stream_records // len(streamers))
    for client in clients:
        client.close()
    return IngestRun(store, len(writers.urls), batch_seconds, stream.accepted_seconds, stream.confirmed_seconds)


def _reader(env: dict[str, str], folder: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """A reader instance: uvicorn with `workers` workers in the reader role; its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with open(folder / "reader.log", "ab") as log:  # the process keeps its own copy of the descriptor
        process = subprocess.Popen(
            reader_command(port, workers),
            cwd=folder,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    return process, f"http://127.0.0.1:{port}"


def _reader_up(process: subprocess.Popen[bytes], url: str) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"a reader exited; see its reader.log ({url})")
    return answers(f"{url}/healthz")


@contextmanager
def _readers(
    writers: Writers, folder: Path, instances: int, workers: int, path: str, token: str
) -> Iterator[list[str]]:
    """`instances` readers started on the writers' store, each asked `path` a few times
    (warm: a worker's first verification builds its caches, which no load run measures);
    their URLs. Stopped after."""
    readers = []
    try:
        for n in range(instances):
            readers.append(_reader(writers.reader_env(), folder / f"reader-{n}", workers))
        for process, url in readers:
            wait(partial(_reader_up, process, url), 60, "a reader to start", poll=0.1)
            for _ in range(4 * workers):
                _verdict(url + path, token)
        yield [url for _, url in readers]
    finally:
        for process, _ in readers:
            process.send_signal(signal.SIGTERM)
        for process, _ in readers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def measure_reads(
    store: str, urls: list[str], paths: list[str], token: str, seconds: float, connections: int
) -> tuple[ReadRun, str]:
    """The readers at `urls` loaded at once, `connections` split between them (the first
    ones take the remainder): their runs taken together, and the tool that made them."""
    instances = len(urls)
    shares = [connections // instances + (1 if n < connections % instances else 0) for n in range(instances)]
    runs: list[tuple[LoadRun, str] | None] = [None] * instances

    def load(n: int) -> None:
        runs[n] = _run_load(urls[n], paths, token, seconds, shares[n], VERIFY_RATE_TARGET)

    threads = [threading.Thread(target=load, args=(n,)) for n in range(instances)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [run for run in runs if run is not None]
    if len(done) != instances:
        raise RuntimeError("a load run did not finish; see the reader logs")
    requests = sum(r.requests for r, _ in done)
    together = LoadRun(
        connections,
        requests,
        requests / seconds,
        max(r.p50_ms for r, _ in done),
        max(r.p99_ms for r, _ in done),
        sum(r.errors for r, _ in done),
        VERIFY_RATE_TARGET,
    )
    return ReadRun(store, instances, together), done[0][1]


def _verification_paths(writers: Writers, records: int) -> tuple[list[str], str, str]:
    """One consignment of `records` records written through the first writer; the
    verification path, a token of NL customs, and the verdict."""
    accounts = _parties(writers)
    (ucr,) = _write_one(writers, accounts, records)
    token = writers.credentials.issue(accounts["customs NL"].address, "bench multi")
    path = f"/v1/consignments/{ucr}/verification?country=NL"
    return [path], token, _verdict(writers.url + path, token)


def measure_takeover(writers: Writers, streamer: LocalAccount) -> tuple[float, float]:
    """SIGKILLs the writer holding the relayer and its chain worker, posts one record to a
    standby right after; seconds from the kill until a standby holds the relayer's lease,
    and until the record is confirmed."""
    operator = writers.credentials.issue(Account.from_key(keccak(text="bench multi operator")).address, "operator")
    wait(lambda: bool(writers.readyz(0, operator).get("relayer_holder")), 60, "a writer holding the relayer")
    holder_name = str(writers.readyz(0, operator)["relayer_holder"]).split(" pid ")[0]
    holder = writers.names.index(holder_name)
    standby = next(n for n in range(len(writers.names)) if n != holder)
    worker_pid = int(writers.readyz(holder, operator)["chain_worker"]["pid"])
    client = LedgerClient(writers.urls[standby], streamer, token=writers.tokens[streamer.address])
    signed = client.sign(
        demo.declaration("6NL000000099-TAKEOVER", SEAL), previous=bytes(32), nonce=client.next_nonce(), deadline=2**40
    )
    body = json.dumps(signed.body()).encode()

    os.kill(writers.processes[holder].pid, signal.SIGKILL)
    os.kill(worker_pid, signal.SIGKILL)  # the whole instance: its lease is left to expire
    killed = time.monotonic()
    ok(client.http.post("/v1/records", content=body, headers={"content-type": "application/json"}))
    writers.processes[holder].wait()

    def new_holder() -> bool:
        owner = writers.readyz(standby, operator).get("relayer_holder")
        return owner is not None and not str(owner).startswith(holder_name + " ")

    # Both watched in one loop, each moment stamped with the start of the poll that saw
    # it, the record first: a record seen confirmed has its takeover seen in the same poll.
    leased: float | None = None
    moved: float | None = None
    while leased is None or moved is None:
        now = time.monotonic()
        if now - killed > 120:
            raise TimeoutError("no standby carried on within 120 s of the kill")
        if moved is None and confirmed(client.http, signed.id):
            moved = now - killed
        if leased is None and new_holder():
            leased = now - killed
        time.sleep(0.05)
    client.close()
    return leased, moved


def run_multi(
    batch_records: int = 4_000,
    batch_size: int = 500,
    stream_records: int = 1_000,
    stream_clients: int = 4,
    records: int = 20,
    seconds: float = 10,
    connections: int = 8,
    reader_workers: int = 1,
    progress: Callable[[str], None] = lambda _: None,
    server: PostgresServer | None = None,
) -> MultiFigures:
    """The three set-ups in turn. `server`: a PostgreSQL cluster already started (the
    tests', which does not fsync); without it, a durable one is started for the run and
    removed after."""
    if server is None:
        progress("starting a PostgreSQL cluster of the run's own (durable, as SQLite's store is)")
        with postgres_server(durable=True) as own:
            return run_multi(
                batch_records,
                batch_size,
                stream_records,
                stream_clients,
                records,
                seconds,
                connections,
                reader_workers,
                progress,
                own,
            )
    ingest: list[IngestRun] = []
    reads: list[ReadRun] = []
    sizes = (batch_records, batch_size, stream_records)
    with tempfile.TemporaryDirectory(prefix="ledger-bench-multi-") as tmp:
        root = Path(tmp)
        progress("SQLite, one writer: ingest")
        with _writers(root / "sqlite", 1, None) as writers:
            batchers, streamers = _parties_of(writers, BATCH_CLIENTS, stream_clients)
            ingest.append(measure_ingest(SQLITE, writers, batchers, streamers, *sizes))
            progress(f"SQLite: a {records}-record consignment, verified through one reader")
            paths, token, verdict = _verification_paths(writers, records)
            with _readers(writers, root / "sqlite", 1, reader_workers, paths[0], token) as urls:
                read, tool = measure_reads(SQLITE, urls, paths, token, seconds, connections)
            reads.append(read)
        progress("PostgreSQL, one writer: ingest")
        with _writers(root / "pg1", 1, server.new_database("bench multi 1")) as writers:
            batchers, streamers = _parties_of(writers, BATCH_CLIENTS, stream_clients)
            ingest.append(measure_ingest(POSTGRESQL, writers, batchers, streamers, *sizes))
        progress("PostgreSQL, two writers: ingest")
        with _writers(root / "pg2", 2, server.new_database("bench multi 2")) as writers:
            batchers, streamers = _parties_of(writers, BATCH_CLIENTS, stream_clients)
            ingest.append(measure_ingest(POSTGRESQL, writers, batchers, streamers, *sizes))
            paths, token, pg_verdict = _verification_paths(writers, records)
            if pg_verdict != verdict:
                raise RuntimeError(f"the consignment is {pg_verdict} on PostgreSQL and {verdict} on SQLite")
            # Both readers started at once: the second idles through the first's run.
            with _readers(writers, root / "pg2", 2, reader_workers, paths[0], token) as urls:
                for instances in (1, 2):
                    progress(f"PostgreSQL: verified through {instances} reader instance(s)")
                    reads.append(measure_reads(POSTGRESQL, urls[:instances], paths, token, seconds, connections)[0])
            progress("PostgreSQL: the writer holding the relayer SIGKILLed")
            lease_seconds, queue_seconds = measure_takeover(writers, streamers[0])
    return MultiFigures(
        batch_records=batch_records,
        batch_size=batch_size,
        stream_records=stream_records // stream_clients * stream_clients,
        stream_clients=stream_clients,
        records=records,
        verdict=verdict,
        connections=connections,
        reader_workers=reader_workers,
        seconds=seconds,
        tool=tool,
        ingest=ingest,
        reads=reads,
        lease_seconds=lease_seconds,
        queue_seconds=queue_seconds,
        load_average=os.getloadavg()[0],
    )


def _ratio(value: float, base: float) -> str:
    return f" ({value / base:.0%} of SQLite)" if base > 0 else ""


def render_multi(f: MultiFigures, command: str) -> str:
    sqlite, pg1, pg2 = f.ingest_of(SQLITE, 1), f.ingest_of(POSTGRESQL, 1), f.ingest_of(POSTGRESQL, 2)

    def batch(run: IngestRun) -> float:
        return f.batch_records / run.batch_seconds

    def stream(run: IngestRun) -> float:
        return f.stream_records / run.stream_confirmed_seconds

    def rate_cell(value: float, base: float, first: bool) -> str:
        return f"**{value:,.0f}/s**" + ("" if first else _ratio(value, base))

    r_sqlite, r1, r2 = f.read_of(SQLITE, 1).load, f.read_of(POSTGRESQL, 1).load, f.read_of(POSTGRESQL, 2).load

    def read_cell(run: LoadRun, first: bool) -> str:
        return (
            rate_cell(run.requests_per_second, r_sqlite.requests_per_second, first)
            + f", p50 {run.p50_ms:.1f} / p99 {run.p99_ms:.1f} ms, {run.errors} errors"
        )

    rows = [
        (
            f"batched ingest: {f.batch_records:,} records in batches of {f.batch_size:,} from {BATCH_CLIENTS} "
            "clients, until all confirmed (writers)",
            rate_cell(batch(sqlite), 0, True),
            rate_cell(batch(pg1), batch(sqlite), False),
            rate_cell(batch(pg2), batch(sqlite), False),
        ),
        (
            f"single records from {f.stream_clients} clients at once, until all confirmed (writers)",
            rate_cell(stream(sqlite), 0, True),
            rate_cell(stream(pg1), stream(sqlite), False),
            rate_cell(stream(pg2), stream(sqlite), False),
        ),
        (
            f"verification of one {f.records}-record consignment ({f.verdict}, receipt included), "
            f"{f.connections} connections in all (readers)",
            read_cell(r_sqlite, True),
            read_cell(r1, False),
            read_cell(r2, False),
        ),
    ]
    table = [
        "| figure | SQLite, 1 instance | PostgreSQL, 1 instance | PostgreSQL, 2 instances |",
        "|---|---|---|---|",
        *(f"| {' | '.join(row)} |" for row in rows),
    ]
    return "\n".join(
        [
            f"`{command}` — every instance a process of its own on the same 2-core machine as anvil, "
            f"PostgreSQL and the load generator (1-minute load average {f.load_average:.1f} at the end); "
            f"readers of {f.reader_workers} uvicorn worker(s) each, load by {f.tool}, {f.seconds:.0f} s per run; "
            f"single records from the stream's {f.stream_clients} clients: {f.stream_records:,}.",
            "",
            *table,
            "",
            "| takeover after a SIGKILL of the writer holding the relayer (and its chain worker) | seconds |",
            "|---|---:|",
            f"| until the standby holds the relayer's lease | **{f.lease_seconds:.1f}** |",
            f"| until a record posted to the standby right after the kill is confirmed (the queue moves again) "
            f"| **{f.queue_seconds:.1f}** |",
        ]
    )
