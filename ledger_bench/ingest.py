"""Ingest benchmark: the service's write path measured end to end, beside the raw limit
of the same node in the same run. Run through `ledger bench ingest`. Figures:

- batch ingest: N pre-signed records POSTed to /v1/records/batch in chunks, timed from
  the first POST until every batch's anchor is confirmed in the index;
- raw limit: the same node taking pre-signed `write` transactions (one record each) sent
  directly in JSON-RPC batches with automine off, then mined in full blocks, timed until
  the last receipt;
- raw latency: one `write` transaction at a time, signed (eth-account) and sent to the
  node (mining on arrival) until its receipt, the floor under any service's single-record
  latency (both raw figures with the service's own processes paused: the node's alone);
- single-record latency: one record at a time, POST until the index reports it confirmed;
- single-record stream: several clients, each its own party, posting single records at
  once (the relayer packs those waiting together into `writeMany` transactions), timed
  until all are accepted and until all are confirmed, with the CPU time each of the
  service's processes spent per record meanwhile (Linux: /proc), which says where a
  stream's time goes on a machine of few cores, and the load generator's own;
- what HTTP alone allows: the stream's clients posting as many bodies to an endpoint that
  only reads them and answers 202 (ledger_bench/floor.py), the service paused; and one
  client's POST and GET round trips to it, one at a time;
- the I/O under one record's way from POST to confirmed, each part alone beside the node's
  own latency: those two round trips, the preflight's `eth_call` of a `write`, the
  indexer's read of one new block, and a durable commit (three on the way: the outbox's,
  the signed transaction's, the index's). Their sum is the I/O this write path does in
  turn for a lone record (the outbox stored durably, the transaction stored before it is
  sent, the confirmation taken from the chain's events, asked for with a held read), with
  none of the service's own work: what a record's latency cannot go below on this machine
  while the path stays as it is;
- both latencies again, right after the first pair and at about its chain state, with the
  node mining a block every second as a consortium chain does, each sample sent at a
  random point of the period; and for each sample the time from the node announcing the
  block that holds it (a newHeads subscription of the bench's own) until its client
  heard it confirmed: the service's own share of a record's wait at that period, which
  the period's draw does not blur.

Every record is a declaration like the demo consignments' (ledger_api/demo.py), each of its own
consignment.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import HTTPProvider, Web3

from ledger_api import demo
from ledger_api.chain.abi import ContractAbi
from ledger_api.chain.artifacts import load_artifacts
from ledger_api.chain.contracts import Contracts
from ledger_api.chain.heads import follow_heads, ws_url_of
from ledger_api.chain.node import free_port
from ledger_api.chain.rpc import Rpc
from ledger_api.client import LedgerClient, SignedRecord
from ledger_api.domain.parties import Role, identifiers_hash
from ledger_api.settings import PROJECT_ROOT
from ledger_bench.service import Served, Service, answers, confirmed, ok, percentile, registered, wait

# anvil's development account 8 (public key material, local chains only): sends the raw-limit transactions.
RAW_SENDER_KEY = "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97"
SEAL = "JP-SEAL-BENCH"
JSON_BODY = {"content-type": "application/json"}


# A pause before a latency sample, outside the clock (None: none).
Arrival = Callable[[], float] | None
# Where a latency sample notes the block holding its write and when its client heard of
# it (time.perf_counter), for the time after the block (None: not noted).
Heard = list[tuple[int, float]] | None


@dataclass(frozen=True)
class BlockPeriodFigures:
    """One record's latency against the node's own, the node mining every `seconds`."""

    seconds: int
    samples: int
    raw_p50_ms: float  # sign, send, receipt
    raw_p99_ms: float
    single_p50_ms: float  # POST until confirmed in the index
    single_p99_ms: float
    # From the node announcing the block holding the write until its client heard of it:
    # the service's client (confirmed in the index), the node's own (its receipt, polled every ms).
    single_after_block_p50_ms: float
    single_after_block_p99_ms: float
    raw_after_block_p50_ms: float


@dataclass(frozen=True)
class FloorFigures:
    """The stream's clients posting to an endpoint that does nothing (ledger_bench/floor.py)."""

    posts: int
    seconds: float
    server_cpu_ms: float  # per post
    load_cpu_ms: float  # the load generator's, per post
    # One client, one request at a time: a POST of a stream's body, a GET (p50, ms).
    post_p50_ms: float
    get_p50_ms: float


@dataclass(frozen=True)
class PathParts:
    """Parts of one record's way from POST to confirmed besides HTTP and the node's own
    sign-send-receipt, each measured alone (p50, ms)."""

    call_ms: float  # the preflight: a `write` called (eth_call) against the latest block
    read_ms: float  # the indexer's one round trip for a new block: head, block, logs, the block before
    commit_ms: float  # a row inserted and committed durably, as the store commits (SQLite: WAL, synchronous=FULL)

    def floor_ms(self, floor: FloorFigures, node_ms: float) -> float:
        """The sum on the way: the POST, the outbox's commit, the preflight, the node's
        sign-send-receipt with the signed transaction's commit before the send, the
        indexer's read and commit, the held GET answering."""
        return floor.post_p50_ms + 3 * self.commit_ms + self.call_ms + node_ms + self.read_ms + floor.get_p50_ms


@dataclass(frozen=True)
class IngestFigures:
    records: int
    batch_size: int
    seconds: float
    records_per_second: float
    request_p50_ms: float
    request_p99_ms: float
    raw_records: int
    raw_seconds: float
    raw_records_per_second: float
    raw_single_p50_ms: float  # sign, send, receipt
    raw_send_p50_ms: float  # of that, send to receipt
    single_samples: int
    single_p50_ms: float
    single_p99_ms: float
    stream_clients: int
    stream_records: int
    stream_accepted_seconds: float
    stream_confirmed_seconds: float
    chain_blocks_at_end: int
    # CPU milliseconds per streamed record, by process: "API", "relayer and indexer", "anvil",
    # "load generator"
    stream_cpu_ms: dict[str, float] = field(default_factory=dict)
    stream_busy: float | None = None  # the machine's CPU share in use during the stream (0..1)
    block_period: BlockPeriodFigures | None = None  # not measured: None
    floor: FloorFigures | None = None  # not measured: None
    parts: PathParts | None = None  # not measured: None


def _process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux); [] where /proc does not tell."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [pid, *(p for child in children for p in _process_tree(int(child)))]


def _cpu_seconds(pid: int) -> tuple[str, float] | None:
    """What the process is (its command line, read as API, relayer and indexer, or anvil)
    and the CPU seconds it has used (user and system), or None once it is gone."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if "anvil" in command:
        what = "anvil"
    elif "spawn_main" in command:
        what = "relayer and indexer"
    elif "ledger_api.run" in command:
        what = "API"
    else:
        what = "other"
    return what, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_by_process(pid: int) -> dict[str, float]:
    totals: dict[str, float] = {}
    for each in _process_tree(pid):
        used = _cpu_seconds(each)
        if used is not None:
            totals[used[0]] = totals.get(used[0], 0.0) + used[1]
    return totals


def _machine_cpu() -> tuple[int, int]:
    """The machine's CPU time so far, in clock ticks over all cores: busy, and in all
    (/proc/stat; busy is all but idle and I/O wait)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(ticks[:8])  # guest time is counted in user time already
    return total - ticks[3] - ticks[4], total


@contextlib.contextmanager
def _service_paused(pid: int) -> Iterator[None]:
    """The service's own processes (API, relayer and indexer: not the node) stopped with
    SIGSTOP meanwhile, so that the node's raw figures are the node's alone: left running,
    the indexer and the payload exchange work through the raw records as they are mined
    (reading each one's sender, asking for its payload) on the same 2 cores, and the raw
    latency measured that way came out several times slower than the node's own."""
    paused = [p for p in _process_tree(pid) if (_cpu_seconds(p) or ("anvil", 0.0))[0] != "anvil"]
    for p in paused:
        os.kill(p, signal.SIGSTOP)
    try:
        yield
    finally:
        for p in paused:
            os.kill(p, signal.SIGCONT)


def _indexed_to(service: Service, block: int) -> bool:
    return int(service.http.get("/readyz").json().get("indexed_block", -1)) >= block


def _register(service: Served, w3: Web3, parties: list[LocalAccount]) -> None:
    contracts = Contracts.load(w3, service.manifest, PROJECT_ROOT / "build")
    nl = next(a["address"] for a in service.manifest.authorities if a["country"] == "NL")
    for account in parties:
        # As an int: web3 takes an IntFlag, which iterates over its flags, for a list.
        fn = contracts.registry.functions.registerParty(
            account.address, int(Role.EXPORTER), identifiers_hash({"bench": "1"})
        )
        w3.eth.wait_for_transaction_receipt(fn.transact({"from": nl}))
    for account in parties:
        wait(partial(registered, service.http, account.address), 30, "indexing")
    # The load generator reads as the first party (every bench consignment is its own or
    # the others', and each client below carries its own party's credential).
    service.tokens = {a.address: service.credentials.issue(a.address, "bench") for a in parties}
    service.http.headers["Authorization"] = f"Bearer {service.tokens[parties[0].address]}"


def measure_batches(service: Service, client: LedgerClient, records: int, batch_size: int) -> tuple[float, list[float]]:
    signed = [
        client.sign(demo.declaration(f"6NL000000001-B{n:07d}", SEAL), previous=bytes(32), nonce=n, deadline=2**40)
        for n in range(records)
    ]
    chunks = [signed[i : i + batch_size] for i in range(0, records, batch_size)]
    # Signed and serialised before the clock starts: the load generator shares the two
    # cores with the service, and its own JSON encoding is not the service's ingest.
    bodies = [json.dumps({"records": [s.body() for s in chunk]}).encode() for chunk in chunks]
    latencies = []
    start = time.perf_counter()
    for body in bodies:
        t = time.perf_counter()
        response = client.http.post("/v1/records/batch", content=body, headers={"content-type": "application/json"})
        latencies.append((time.perf_counter() - t) * 1000)
        ok(response)
    for chunk in chunks:
        wait(partial(confirmed, client.http, chunk[-1].id), 300, "a batch to be confirmed")
    return time.perf_counter() - start, latencies


def _raw_writes(
    service: Service, w3: Web3, party: LocalAccount, prefix: str, first_nonce: int, count: int, sent_before: int = 0
) -> list[dict[str, Any]]:
    """`count` declarations of `party` (nonces from `first_nonce`), each signed by the party
    and made a `write` transaction from RAW_SENDER_KEY, unsigned yet (_signed), to send to
    the node after `sent_before` others of that sender."""
    sender: LocalAccount = Account.from_key(RAW_SENDER_KEY)
    client = LedgerClient(service.url, party, token=service.tokens[party.address])
    abi = ContractAbi(load_artifacts(PROJECT_ROOT / "build"))
    ledger = service.manifest.address("ConsignmentLedger")
    base_nonce = w3.eth.get_transaction_count(sender.address) + sent_before
    gas_price = 2 * w3.eth.gas_price + 1
    txs = []
    for n in range(count):
        s: SignedRecord = client.sign(
            demo.declaration(f"{prefix}{n:07d}", SEAL), previous=bytes(32), nonce=first_nonce + n, deadline=2**40
        )
        txs.append(
            {
                "nonce": base_nonce + n,
                "gasPrice": gas_price,
                "gas": 300_000,
                "to": ledger,
                "value": 0,
                "data": abi.encode_call("ConsignmentLedger", "write", s.record.as_tuple(), s.signature),
                "chainId": service.manifest.chain_id,
            }
        )
    client.close()
    return txs


def _signed(tx: dict[str, Any], sender: LocalAccount) -> str:
    """The transaction signed by `sender` (RAW_SENDER_KEY's account) with eth-account, as a
    client of the node would sign it (0x hex)."""
    return "0x" + bytes(sender.sign_transaction(tx).raw_transaction).hex()


def measure_raw(service: Service, raw: list[str]) -> float:
    """Pre-signed `write` transactions (_raw_writes), one record each, straight to the node."""
    records = len(raw)
    rpc = Rpc(service.chain_url)
    last_hash = "0x" + keccak(bytes.fromhex(raw[-1][2:])).hex()
    # The node at its best: everything sent in JSON-RPC batches with automine off, then
    # mined in full blocks. The service is paused meanwhile (_service_paused).
    rpc.call("evm_setAutomine", False)
    start = time.perf_counter()
    try:
        for i in range(0, records, 500):
            rpc.batch([("eth_sendRawTransaction", [tx]) for tx in raw[i : i + 500]])
        while rpc.call("eth_getTransactionReceipt", last_hash) is None:
            rpc.call("evm_mine")
            if time.perf_counter() - start > 300:
                raise TimeoutError("the raw transactions were not mined")
        seconds = time.perf_counter() - start
    finally:
        rpc.call("evm_setAutomine", True)
    rpc.close()
    return seconds


def measure_raw_latency(
    service: Service, txs: list[dict[str, Any]], arrival: Arrival = None, heard: Heard = None
) -> tuple[list[float], list[float]]:
    """One `write` (_raw_writes) at a time: signed (eth-account), sent and waited for until
    its receipt; and of that the part from the send to the receipt. The issue's raw figure
    is the first (sign, send, receipt); the second is the node's alone. `arrival` and
    `heard`: as for measure_single."""
    rpc = Rpc(service.chain_url)
    sender: LocalAccount = Account.from_key(RAW_SENDER_KEY)  # a client holds its account
    latencies, sent_to_receipt = [], []
    for tx in txs:
        if arrival is not None:
            time.sleep(arrival())
        t = time.perf_counter()
        raw = _signed(tx, sender)
        sent = time.perf_counter()
        tx_hash = rpc.call("eth_sendRawTransaction", raw)
        while (receipt := rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
            time.sleep(0.001)
        done = time.perf_counter()
        if heard is not None:
            heard.append((int(receipt["blockNumber"], 16), done))
        latencies.append((done - t) * 1000)
        sent_to_receipt.append((done - sent) * 1000)
    rpc.close()
    return latencies, sent_to_receipt


def measure_at_block_period(
    service: Service,
    w3: Web3,
    single: LedgerClient,
    raw_party: LocalAccount,
    first_raw_nonce: int,
    period: int,
    samples: int,
) -> BlockPeriodFigures:
    """The single record's latency and the node's own sign-send-receipt again, with the node
    mining a block every `period` seconds, as a consortium chain does (QBFT's and IBFT
    2.0's `blockperiodseconds`), instead of on arrival. Each sample is sent at a random
    point of the period (a writer does not time its posts to the blocks), so each waits for
    the next block, as on such a chain; a record the service hands to the node after that
    block's cut waits for the one after. The single records first, then the node's own with
    the service paused, both at the same chain state and with the same pauses before each
    sample, so that the period's draw is not what tells them apart. Beside each sample, the
    time from the node announcing the block that holds it until its client heard of it."""
    rpc = Rpc(service.chain_url)

    def arrivals() -> Arrival:  # the same pauses for both, in the same order
        return partial(random.Random(17).uniform, 0, period)

    single_heard: list[tuple[int, float]] = []
    raw_heard: list[tuple[int, float]] = []
    with _announced(service.chain_url) as announced:
        rpc.call("evm_setIntervalMining", period)
        try:
            single_ms = measure_single(service, single, samples, "6NL000000001-P", arrivals(), single_heard)
            txs = _raw_writes(service, w3, raw_party, "6NL000000002-P", first_raw_nonce, samples)
            with _service_paused(service.process.pid):
                raw_ms, _ = measure_raw_latency(service, txs, arrivals(), raw_heard)
        finally:
            rpc.call("evm_setAutomine", True)  # ends the interval mining
            rpc.close()
        # A client asking for its receipt every millisecond can hear of the last block before
        # the subscription does: its announcement is awaited (at most 2 s) before it closes.
        deadline = time.monotonic() + 2.0
        while {b for b, _ in (*single_heard, *raw_heard)} - announced.keys() and time.monotonic() < deadline:
            time.sleep(0.01)
    single_after = _after_block(single_heard, announced)
    return BlockPeriodFigures(
        seconds=period,
        samples=samples,
        raw_p50_ms=statistics.median(raw_ms),
        raw_p99_ms=percentile(raw_ms, 99),
        single_p50_ms=statistics.median(single_ms),
        single_p99_ms=percentile(single_ms, 99),
        single_after_block_p50_ms=statistics.median(single_after),
        single_after_block_p99_ms=percentile(single_after, 99),
        raw_after_block_p50_ms=statistics.median(_after_block(raw_heard, announced)),
    )


@contextlib.contextmanager
def _announced(chain_url: str) -> Iterator[dict[int, float]]:
    """When the node announced each new block (time.perf_counter), by number, while the
    block runs: the bench's own newHeads subscription (chain/heads.py), the number of the
    head asked at each announcement (one block at a time on a block period)."""
    seen: dict[int, float] = {}
    rpc, stop = Rpc(chain_url), threading.Event()

    def on_head() -> None:
        at = time.perf_counter()
        seen.setdefault(int(rpc.call("eth_blockNumber"), 16), at)

    thread = threading.Thread(target=follow_heads, args=(ws_url_of(chain_url), on_head, stop), daemon=True)
    thread.start()
    try:
        wait(lambda: bool(seen), 30, "the bench's newHeads subscription")  # its first call: subscribed
        yield seen
    finally:
        stop.set()
        thread.join(timeout=10)
        rpc.close()


def _after_block(heard: list[tuple[int, float]], announced: dict[int, float]) -> list[float]:
    """Milliseconds from each write's block being announced until its client heard of it."""
    missing = sorted({block for block, _ in heard} - announced.keys())
    if missing:
        raise RuntimeError(f"the node did not announce block {missing[0]}, which holds a sample")
    return [(at - announced[block]) * 1000 for block, at in heard]


def measure_single(
    service: Service,
    client: LedgerClient,
    samples: int,
    prefix: str = "6NL000000001-S",
    arrival: Arrival = None,
    heard: Heard = None,
) -> list[float]:
    """One record at a time, POST until the index reports it confirmed. `arrival`: a pause
    before each (outside the clock), for a node that mines on a block period; `heard`:
    where to note each record's block and when its confirmation was heard."""
    nonce = client.next_nonce()
    latencies = []
    for n in range(samples):
        signed = client.sign(demo.declaration(f"{prefix}{n:07d}", SEAL), previous=bytes(32), nonce=nonce + n)
        if arrival is not None:
            time.sleep(arrival())
        t = time.perf_counter()
        ok(client.http.post("/v1/records", json=signed.body()))
        # The service holds the read until the record is confirmed (?wait=): a client
        # polling instead would spend the cores the service and the node share with it.
        answer = client.wait_confirmed(signed.id, timeout=30)
        done = time.perf_counter()
        if answer["status"] != "confirmed":
            raise RuntimeError(f"single record {signed.id} was not confirmed in 30 s")
        latencies.append((done - t) * 1000)
        if heard is not None:
            heard.append((answer["block_number"], done))
    return latencies


@dataclass(frozen=True)
class StreamRun:
    accepted_seconds: float  # until every record was accepted
    confirmed_seconds: float  # until every record was confirmed
    load_seconds: float  # CPU the load generator (this process) used meanwhile
    # CPU seconds the service's processes used meanwhile, by what they are (_cpu_seconds):
    # empty without the service's pid
    cpu_seconds: dict[str, float]
    busy: float  # the machine's CPU share in use meanwhile, all processes (0..1)


def measure_stream(clients: list[LedgerClient], per_client: int, service_pid: int | None = None) -> StreamRun:
    """Each client posts its own party's single records in nonce order, all clients at
    once, timed until every record was accepted and until every one was confirmed. The
    CPU figures end there too: the check that every record is confirmed, a read of each,
    comes after them (counted in, it had doubled the API's share)."""
    bodies = []
    for i, client in enumerate(clients):
        base = client.next_nonce()
        signed = [
            client.sign(
                demo.declaration(f"6NL00000000{i}-T{n:07d}", SEAL), previous=bytes(32), nonce=base + n, deadline=2**40
            )
            for n in range(per_client)
        ]
        bodies.append([(s.id, json.dumps(s.body()).encode()) for s in signed])  # before the clock starts

    cpu_before = _cpu_by_process(service_pid) if service_pid is not None else {}
    machine_before = _machine_cpu()
    start, load_before = time.perf_counter(), time.process_time()
    accepted_after = post_all([c.http for c in clients], [[body for _, body in own] for own in bodies])
    for client, own in zip(clients, bodies, strict=True):  # each party's last record, confirmed last
        wait(partial(confirmed, client.http, own[-1][0]), 300, "the stream to be confirmed")
    confirmed_after, load_seconds = time.perf_counter() - start, time.process_time() - load_before
    machine_after = _machine_cpu()
    cpu_after = _cpu_by_process(service_pid) if service_pid is not None else {}
    unconfirmed = [rid for c, own in zip(clients, bodies, strict=True) for rid, _ in own if not confirmed(c.http, rid)]
    if unconfirmed:
        raise RuntimeError(f"{len(unconfirmed)} records of the stream are not confirmed, e.g. {unconfirmed[0]}")
    busy, total = (after - before for after, before in zip(machine_after, machine_before, strict=True))
    return StreamRun(
        accepted_seconds=accepted_after,
        confirmed_seconds=confirmed_after,
        load_seconds=load_seconds,
        cpu_seconds={what: cpu_after[what] - cpu_before.get(what, 0.0) for what in cpu_after},
        busy=busy / total if total else 0.0,
    )


def post_all(clients: list[httpx.Client], bodies: list[list[bytes]], path: str = "/v1/records") -> float:
    """Each client posts its bodies (JSON) to `path` in order, all clients at once; the
    seconds until all were answered. A refused post ends its client's posts and, once the
    others are done, raises here (in its client's thread it would end that client's
    stream unseen)."""
    errors: list[Exception] = []

    def post(client: httpx.Client, own: list[bytes]) -> None:
        try:
            for body in own:
                ok(client.post(path, content=body, headers=JSON_BODY))
        except Exception as exc:  # raised in the caller's thread, below
            errors.append(exc)

    posters = [threading.Thread(target=post, args=pair) for pair in zip(clients, bodies, strict=True)]
    start = time.perf_counter()
    for t in posters:
        t.start()
    for t in posters:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - start


def measure_http_floor(clients: list[LedgerClient], per_client: int, round_trips: int) -> FloorFigures:
    """Each client posts one of its own signed records `per_client` times to an endpoint
    that only reads the JSON body and answers 202 (ledger_bench/floor.py), in its own
    process, all clients at once, as in measure_stream: the rate HTTP alone allows on
    this machine, and the CPU it costs the server and the load generator per post. Before
    that, the first client alone, one request at a time: `round_trips` POSTs of its body
    and as many GETs, the HTTP under one record's POST and its held read."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ledger_bench.floor", str(port)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    http = [httpx.Client(base_url=url, headers=c.http.headers, timeout=60) for c in clients]
    try:
        wait(partial(answers, f"{url}/healthz"), 60, "the empty endpoint to start")
        bodies = []
        for i, client in enumerate(clients):
            signed = client.sign(demo.declaration(f"6NL00000000{i}-F", SEAL), previous=bytes(32), nonce=0)
            bodies.append([json.dumps(signed.body()).encode()] * per_client)
        post_ms, get_ms = [], []
        for _ in range(round_trips):
            post_ms.append(_timed_ms(lambda: ok(http[0].post("/v1/records", content=bodies[0][0], headers=JSON_BODY))))
            get_ms.append(_timed_ms(lambda: ok(http[0].get("/healthz"))))
        cpu_before, load_before = _cpu_seconds(server.pid), time.process_time()
        seconds = post_all(http, bodies)
        cpu_after, load_after = _cpu_seconds(server.pid), time.process_time()
    finally:
        for h in http:
            h.close()
        server.terminate()
        server.wait(timeout=30)
    assert cpu_before is not None and cpu_after is not None
    posts = per_client * len(clients)
    return FloorFigures(
        posts=posts,
        seconds=seconds,
        server_cpu_ms=1000 * (cpu_after[1] - cpu_before[1]) / posts,
        load_cpu_ms=1000 * (load_after - load_before) / posts,
        post_p50_ms=statistics.median(post_ms),
        get_p50_ms=statistics.median(get_ms),
    )


def measure_path_parts(service: Service, txs: list[dict[str, Any]], scratch: Path) -> PathParts:
    """The node's and the disk's parts of one record's way, each alone, once per write of
    `txs` (_raw_writes), sent one at a time with the service paused: the write called as
    the relayer's preflight calls it, then signed and sent until its receipt (not timed:
    the raw latency is that), then its block read as the indexer reads a new one; and as
    many durable commits of one row to a scratch SQLite file in `scratch` (the store's
    file system), with the store's settings."""
    rpc = Rpc(service.chain_url)
    sender: LocalAccount = Account.from_key(RAW_SENDER_KEY)
    call_ms, read_ms = [], []
    for tx in txs:
        call = {"from": sender.address, "to": tx["to"], "data": "0x" + bytes(tx["data"]).hex()}
        call_ms.append(_timed_ms(partial(rpc.call, "eth_call", call, "latest")))
        tx_hash = rpc.call("eth_sendRawTransaction", _signed(tx, sender))
        while (receipt := rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
            time.sleep(0.001)
        block = int(receipt["blockNumber"], 16)
        logs = {"fromBlock": hex(block), "toBlock": hex(block), "address": [tx["to"]]}
        read: list[tuple[str, list[Any]]] = [
            ("eth_blockNumber", []),
            ("eth_getBlockByNumber", [hex(block), False]),
            ("eth_getLogs", [logs]),
            ("eth_getBlockByNumber", [hex(block - 1), False]),
        ]
        read_ms.append(_timed_ms(partial(rpc.batch, read)))
    rpc.close()
    db = sqlite3.connect(scratch / "commit-floor.sqlite", isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT)")
        body = "x" * 300

        def commit() -> None:
            db.execute("BEGIN")
            db.execute("INSERT INTO rows (body) VALUES (?)", (body,))
            db.execute("COMMIT")

        commit_ms = [_timed_ms(commit) for _ in txs]
    finally:
        db.close()
    return PathParts(
        call_ms=statistics.median(call_ms), read_ms=statistics.median(read_ms), commit_ms=statistics.median(commit_ms)
    )


def _timed_ms(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def run_ingest(
    records: int = 10_000,
    batch_size: int = 1_000,
    raw_records: int = 2_000,
    samples: int = 200,
    stream_records: int = 10_000,
    stream_clients: int = 4,
    block_period: int = 1,
    block_period_samples: int = 40,
    progress: Callable[[str], None] = lambda _: None,
) -> IngestFigures:
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        service = Service(Path(tmp))
        try:
            w3 = Web3(HTTPProvider(service.chain_url))
            batcher, raw_party, single = (
                Account.from_key(keccak(text=f"bench {n}")) for n in ("batch", "raw", "single")
            )
            streamers = [Account.from_key(keccak(text=f"bench stream {i}")) for i in range(stream_clients)]
            _register(service, w3, [batcher, raw_party, single, *streamers])
            progress(f"batch ingest: {records:,} records in batches of {batch_size:,}")
            seconds, request_ms = measure_batches(
                service, LedgerClient(service.url, batcher, token=service.tokens[batcher.address]), records, batch_size
            )
            progress(f"single-record latency: {samples} records one at a time")
            single_client = LedgerClient(service.url, single, token=service.tokens[single.address])
            single_ms = measure_single(service, single_client, samples)
            # The node's own latency beside it, at the same chain state (anvil's cost per block
            # grows with the contract's storage, which the stream below adds to), the service paused.
            # Signed first: signing asks the service for the party's domain.
            raw_one_by_one = _raw_writes(service, w3, raw_party, "6NL000000002-L", 0, samples)
            for_parts = _raw_writes(service, w3, raw_party, "6NL000000002-Q", samples, samples, sent_before=samples)
            with _service_paused(service.process.pid):
                progress(f"raw latency: {samples} write transactions one at a time, signed, sent, until receipt")
                raw_single_ms, raw_send_ms = measure_raw_latency(service, raw_one_by_one)
                progress(f"the parts of one record's way: {samples} preflight calls, block reads and durable commits")
                parts = measure_path_parts(service, for_parts, Path(tmp))
            raw_party_nonce = 2 * samples
            period = None
            if block_period:
                # The service resumed with the raw transactions to index: its records would queue behind them.
                wait(partial(_indexed_to, service, w3.eth.block_number), 60, "the raw transactions indexed")
                progress(
                    f"the node mining every {block_period} s: {block_period_samples} single records, "
                    f"then {block_period_samples} write transactions, one at a time"
                )
                period = measure_at_block_period(
                    service, w3, single_client, raw_party, raw_party_nonce, block_period, block_period_samples
                )
                raw_party_nonce += block_period_samples
            head = w3.eth.block_number  # the stream starts once the service has indexed those
            wait(partial(_indexed_to, service, head), 60, "the raw transactions indexed")
            progress(f"single-record stream: {stream_records:,} records from {stream_clients} clients at once")
            streaming = [LedgerClient(service.url, a, token=service.tokens[a.address]) for a in streamers]
            stream = measure_stream(streaming, stream_records // stream_clients, service.process.pid)
            streamed = stream_records // stream_clients * stream_clients
            stream_cpu_ms: dict[str, float] = {
                what: 1000 * stream.cpu_seconds[what] / streamed
                for what in ("API", "relayer and indexer", "anvil")
                if what in stream.cpu_seconds
            }
            stream_cpu_ms["load generator"] = 1000 * stream.load_seconds / streamed
            with _service_paused(service.process.pid):
                progress(f"the same clients posting {streamed:,} bodies to an endpoint that does nothing")
                floor = measure_http_floor(streaming, stream_records // stream_clients, samples)
            raw_txs = _raw_writes(service, w3, raw_party, "6NL000000002-R", raw_party_nonce, raw_records)
            raw_sender: LocalAccount = Account.from_key(RAW_SENDER_KEY)
            raw = [_signed(tx, raw_sender) for tx in raw_txs]
            with _service_paused(service.process.pid):
                progress(f"raw limit: {raw_records:,} pre-signed write transactions straight to the node")
                raw_seconds = measure_raw(service, raw)
            blocks = w3.eth.block_number
        finally:
            service.stop()
    return IngestFigures(
        records=records,
        batch_size=batch_size,
        seconds=seconds,
        records_per_second=records / seconds,
        request_p50_ms=statistics.median(request_ms),
        request_p99_ms=percentile(request_ms, 99),
        raw_records=raw_records,
        raw_seconds=raw_seconds,
        raw_records_per_second=raw_records / raw_seconds,
        raw_single_p50_ms=statistics.median(raw_single_ms),
        raw_send_p50_ms=statistics.median(raw_send_ms),
        single_samples=samples,
        single_p50_ms=statistics.median(single_ms),
        single_p99_ms=percentile(single_ms, 99),
        stream_clients=stream_clients,
        stream_records=stream_records // stream_clients * stream_clients,
        stream_accepted_seconds=stream.accepted_seconds,
        stream_confirmed_seconds=stream.confirmed_seconds,
        stream_busy=stream.busy,
        chain_blocks_at_end=blocks,
        stream_cpu_ms=stream_cpu_ms,
        block_period=period,
        floor=floor,
        parts=parts,
    )


def render_ingest(f: IngestFigures, command: str) -> str:
    anvil = subprocess.run(
        [str(PROJECT_ROOT / "node_modules/.bin/anvil"), "--version"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    ratio = f.records_per_second / f.raw_records_per_second
    stream_rate = f.stream_records / f.stream_confirmed_seconds
    stream_ratio = stream_rate / f.raw_records_per_second
    latency_ratio = f.single_p50_ms / f.raw_single_p50_ms
    rows = [
        (
            "batch ingest through the API, anchored and confirmed",
            f"{f.records:,} records in {f.seconds:.2f} s",
            f"**{f.records_per_second:,.0f} records/s**",
            "≥ 2,000 records/s",
        ),
        (
            f"one batch request of {f.batch_size:,} records, p50 / p99",
            f"{f.request_p50_ms:.0f} / {f.request_p99_ms:.0f} ms",
            "",
            "",
        ),
        (
            "raw limit of the same node (pre-signed `write` txs, manual mining)",
            f"{f.raw_records:,} records in {f.raw_seconds:.2f} s",
            f"{f.raw_records_per_second:,.0f} records/s",
            "",
        ),
        ("service / raw limit", "", f"**{ratio:.0%}**", "≥ 50%"),
        (
            f"raw latency of the same node: one `write` signed (eth-account), sent, until its receipt, p50 "
            f"({f.single_samples})",
            f"of which send to receipt {f.raw_send_p50_ms:.1f} ms",
            f"{f.raw_single_p50_ms:.1f} ms",
            "",
        ),
        (
            f"single record, POST until confirmed in the index, p50 / p99 ({f.single_samples} samples)",
            "",
            f"**{f.single_p50_ms:.1f}** / {f.single_p99_ms:.1f} ms",
            f"p50 ≤ twice the raw latency: {latency_ratio:.1f} times ({'met' if latency_ratio <= 2 else 'not met'}; "
            f"{f.single_p50_ms / f.raw_send_p50_ms:.1f} times send to receipt)",
        ),
    ]
    if f.floor is not None and f.parts is not None:
        floor_ms = f.parts.floor_ms(f.floor, f.raw_single_p50_ms)
        rows.append(
            (
                "the least that way can take here: the I/O under it, each part alone, p50 — a POST and a GET round "
                "trip to the endpoint that does nothing (below), three durable commits (the outbox's, the signed "
                "transaction's, the index's), the relayer's preflight `eth_call`, the node's sign-send-receipt "
                "(above), the indexer's read of the block",
                f"POST {f.floor.post_p50_ms:.2f}, GET {f.floor.get_p50_ms:.2f}, commit {f.parts.commit_ms:.2f}, "
                f"call {f.parts.call_ms:.2f}, read {f.parts.read_ms:.2f} ms",
                f"{floor_ms:.1f} ms",
                f"{floor_ms / f.raw_single_p50_ms:.1f} times the raw latency, before any work of the service's",
            )
        )
    rows += [
        (
            f"single records from {f.stream_clients} clients at once (packed by the relayer), until all confirmed",
            f"{f.stream_records:,} records in {f.stream_confirmed_seconds:.1f} s "
            f"(all accepted after {f.stream_accepted_seconds:.1f} s)",
            f"**{stream_rate:,.0f} records/s**",
            f"≥ 50% of the raw limit: {stream_ratio:.0%} ({'met' if stream_ratio >= 0.5 else 'not met'})",
        ),
    ]
    if f.block_period is not None:
        b = f.block_period
        period_ratio = b.single_p50_ms / b.raw_p50_ms
        rows += [
            (
                f"raw latency of the same node mining a block every {b.seconds} s (a consortium chain's block "
                f"period), each sent at a random point of it, p50 / p99 ({b.samples})",
                "",
                f"{b.raw_p50_ms:.0f} / {b.raw_p99_ms:.0f} ms",
                "",
            ),
            (
                f"single record at that block period, POST until confirmed in the index, p50 / p99 "
                f"({b.samples} samples)",
                "",
                f"**{b.single_p50_ms:.0f}** / {b.single_p99_ms:.0f} ms",
                f"p50 ≤ twice the raw latency at that period: {period_ratio:.2f} times "
                f"({'met' if period_ratio <= 2 else 'not met'})",
            ),
            (
                "of which after its block: from the node announcing the block holding the record until the client "
                f"heard it confirmed, p50 / p99 ({b.samples})",
                f"the node's own writes, their receipts asked for every ms: p50 {b.raw_after_block_p50_ms:.1f} ms",
                f"**{b.single_after_block_p50_ms:.1f}** / {b.single_after_block_p99_ms:.1f} ms",
                "",
            ),
        ]
    if f.floor is not None:
        floor_rate = f.floor.posts / f.floor.seconds
        rows.append(
            (
                f"the same {f.stream_clients} clients posting to an endpoint that only reads the JSON body and "
                "answers 202 (FastAPI and uvicorn as the service's; no checks, store or chain)",
                f"{f.floor.posts:,} posts in {f.floor.seconds:.1f} s; CPU per post: server "
                f"{f.floor.server_cpu_ms:.2f} ms, load generator {f.floor.load_cpu_ms:.2f} ms",
                f"{floor_rate:,.0f} posts/s",
                f"{floor_rate / f.raw_records_per_second:.0%} of the raw limit",
            )
        )
    if f.stream_cpu_ms:
        rows.append(
            (
                "CPU time per streamed record, by process, until the last was confirmed",
                ", ".join(f"{what} {ms:.1f} ms" for what, ms in f.stream_cpu_ms.items()),
                "" if f.stream_busy is None else f"the two cores {f.stream_busy:.0%} busy meanwhile",
                "",
            )
        )
    lines = [
        f"`{command}` — {anvil}; service and load generator in separate processes on the same 2-core",
        f"machine; the chain had {f.chain_blocks_at_end:,} blocks at the end of the run.",
        "",
        "| figure | measured | rate | target |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
    ]
    return "\n".join(lines)
