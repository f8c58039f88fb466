"""One authority, many instances (#13), on PostgreSQL: three writer instances (real
processes, as deployed) started at the same moment on one empty database and one anvil
make one schema and one deployment; records posted across them, single and batched, while
the instance holding the relayer is SIGKILLed with its worker, all end confirmed, each on
chain once, none failed, with the relayer's nonces without a gap or a collision, and a
standby took over (how long it took is a figure). A reader started with only the store's
and the chain's URLs serves verifications whose receipts verify against every instance's
/v1/keys, and theirs against its own.

The size here is a few hundred records of each kind (LEDGER_FAULTS_MANY_WRITERS_RECORDS
sets it: 3,000 is the issue's run)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from sqlalchemy import func, select
from support.faults import ANVIL_DEPLOYER_KEY, Figure, on_chain_record_ids, presign, up
from support.service import wait_until
from web3 import HTTPProvider, Web3

from ledger_api.chain.artifacts import load_artifacts
from ledger_api.chain.deploy import Manifest
from ledger_api.chain.deployed import stored_manifest
from ledger_api.chain.node import EXTERNAL_ANVIL_ARGS, AnvilNode, free_port
from ledger_api.client import LedgerClient
from ledger_api.domain.parties import Role, identifiers_hash
from ledger_api.domain.receipts import verify_receipt
from ledger_api.services.credentials import Credentials
from ledger_api.settings import ANVIL_ACCOUNT_9_KEY, PROJECT_ROOT
from ledger_api.store import migrations
from ledger_api.store.db import Store
from ledger_api.store.tables import BatchRow, DeploymentRow, OutboxRow, RecordRow

WRITERS = 3
# Records of each kind, a few hundred here; the issue's run is 3,000 of each:
# LEDGER_FAULTS_MANY_WRITERS_RECORDS=3000 (the figure's command names it).
RECORDS = int(os.environ.get("LEDGER_FAULTS_MANY_WRITERS_RECORDS", "300"))
SINGLE_CLIENTS, BATCH_CLIENTS = 3, 3
SINGLE_PER_CLIENT, BATCH_PER_CLIENT = RECORDS // SINGLE_CLIENTS, RECORDS // BATCH_CLIENTS
BATCH_SIZE = max(25, BATCH_PER_CLIENT // 4)
RELAYER = Account.from_key(ANVIL_ACCOUNT_9_KEY).address


def _clean_env() -> dict[str, str]:
    """The test's environment without any LEDGER_ setting of its own."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}


def writer_process(folder: Path, name: str, rpc_url: str, database: str, port: int) -> subprocess.Popen[bytes]:
    """`python -m ledger_api.run` as a writer instance of the authority, named `name`."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        **_clean_env(),
        "LEDGER_DATA_DIR": str(folder / "data"),
        "LEDGER_RPC_URL": rpc_url,
        "LEDGER_DATABASE_URL": database,
        "LEDGER_DEPLOYER_KEY": ANVIL_DEPLOYER_KEY,
        "LEDGER_RELAYER_KEY": ANVIL_ACCOUNT_9_KEY,
        "LEDGER_PORT": str(port),
        "LEDGER_INSTANCE_NAME": name,
        "LEDGER_RESEND_AFTER_SECONDS": "1",
        "LEDGER_DEV_CHAIN": "true",
    }
    log = open(folder / "service.log", "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "ledger_api.run"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log)


@dataclass
class Writer:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    folder: Path


@dataclass
class Authority:
    node: AnvilNode
    w3: Web3
    database: str
    store: Store
    manifest: Manifest
    writers: list[Writer]
    operator: str  # a credential /readyz says more to


@pytest.fixture(scope="module")
def authority(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Authority]:
    """Three writers started at the same moment on one new PostgreSQL database and one anvil."""
    from support.postgres import database_url

    tmp = tmp_path_factory.mktemp("many-writers")
    database = database_url(request, "postgresql")
    assert database is not None
    with AnvilNode(tmp / "anvil", extra_args=EXTERNAL_ANVIL_ARGS) as node:
        writers = []
        for n in range(WRITERS):
            port = free_port()
            process = writer_process(tmp / f"writer-{n}", f"writer-{n}", node.url, database, port)
            writers.append(Writer(f"writer-{n}", f"http://127.0.0.1:{port}", process, tmp / f"writer-{n}"))
        try:
            for writer in writers:
                with httpx.Client(base_url=writer.url, timeout=10) as http:
                    wait_until(lambda h=http, w=writer: up(h) or w.process.poll() is not None, timeout=120, what="up")
                assert writer.process.poll() is None, (writer.folder / "service.log").read_text()[-3000:]
            store = Store(database)
            operator = Credentials(store).issue(Account.from_key(keccak(text="operator")).address, "operator")
            authority = Authority(
                node, Web3(HTTPProvider(node.url)), database, store, stored_manifest(store), writers, operator
            )
            # The workers start after the API (a process each, spawned): the cast is
            # indexed only once one of them holds the relayer and indexer.
            wait_until(lambda: _readyz(authority, writers[0]).get("relayer_holder"), timeout=120, what="elected")
            yield authority
            store.close()
        finally:
            for writer in writers:
                if writer.process.poll() is None:
                    writer.process.send_signal(signal.SIGTERM)
                    writer.process.wait(timeout=60)


def _readyz(authority: Authority, writer: Writer) -> dict:
    with httpx.Client(base_url=writer.url, timeout=10) as http:
        return http.get("/readyz", headers={"Authorization": f"Bearer {authority.operator}"}).json()


def test_three_writers_started_at_the_same_moment_on_an_empty_database_make_one_schema_and_one_deployment(
    authority: Authority,
):
    assert migrations.current(authority.store.engine) == migrations.head()
    with authority.store.session() as session:
        assert session.scalar(select(func.count()).select_from(DeploymentRow)) == 1
    files = [Manifest.load(w.folder / "data" / "deployment.json") for w in authority.writers]
    assert all(m == authority.manifest for m in files)
    logs = [(w.folder / "service.log").read_text() for w in authority.writers]
    assert sum("deployed contracts" in log for log in logs) == 1, "one instance deploys"
    assert sum("reusing contracts" in log for log in logs) == WRITERS - 1
    holders = {_readyz(authority, w).get("relayer_holder") for w in authority.writers}
    assert len(holders) == 1 and None not in holders, holders

    # The lease is taken before the holder's relayer and indexer have started, and each
    # worker reports once a second: the holder reads as active a moment after it holds.
    def actives() -> list[bool] | None:
        workers = [_readyz(authority, w).get("chain_worker_status") for w in authority.writers]
        return None if None in workers else sorted(bool(w["active"]) for w in workers)

    wait_until(lambda: actives() == [False, False, True], timeout=90, what="one worker active")
    for _ in range(5):  # and it stays so: the two others stand by
        assert actives() == [False, False, True], "one active, two standing by"
        time.sleep(0.5)


def _exporters(authority: Authority, label: str, count: int) -> list[LocalAccount]:
    registry = authority.w3.eth.contract(
        address=authority.manifest.address("PartyRegistry"),
        abi=load_artifacts(PROJECT_ROOT / "build")["PartyRegistry"].abi,
    )
    nl = next(a["address"] for a in authority.manifest.authorities if a["country"] == "NL")
    keys = [Account.from_key(keccak(text=f"{label} exporter {i}")) for i in range(count)]
    hashes = [
        registry.functions.registerParty(
            k.address, int(Role.EXPORTER), identifiers_hash({"name": f"{label} {i}"})
        ).transact({"from": nl})
        for i, k in enumerate(keys)
    ]
    for h in hashes:
        assert authority.w3.eth.wait_for_transaction_receipt(h)["status"] == 1
    return keys


class Poster:
    """A client posting across the writers in turn: a writer that does not answer (the
    one killed) is skipped for the next, the same request again, until one accepts it."""

    def __init__(self, authority: Authority, token: str) -> None:
        self.clients = [
            httpx.Client(base_url=w.url, timeout=15, headers={"Authorization": f"Bearer {token}"})
            for w in authority.writers
        ]
        self.turn = 0
        self.accepted = 0

    def post(self, path: str, body: dict, deadline: float) -> None:
        while True:
            client = self.clients[self.turn % len(self.clients)]
            self.turn += 1
            try:
                response = client.post(path, json=body)
                if response.status_code in (200, 202):
                    self.accepted += 1
                    return
                assert response.status_code >= 500, response.text
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"never accepted: {path}"
            time.sleep(0.05)

    def close(self) -> None:
        for client in self.clients:
            client.close()


def _included(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).where(RecordRow.status == "included")) or 0)


def test_records_posted_across_three_writers_all_confirm_once_when_the_relayer_holder_is_killed(
    authority: Authority, figure: Figure
):
    keys = _exporters(authority, "many writers", SINGLE_CLIENTS + BATCH_CLIENTS)
    credentials = Credentials(authority.store)
    clients = []
    for key in keys:
        token = credentials.issue(key.address, "many writers")
        with httpx.Client(
            base_url=authority.writers[0].url, timeout=10, headers={"Authorization": f"Bearer {token}"}
        ) as h:
            wait_until(lambda a=key.address: h.get(f"/v1/parties/{a}").status_code == 200, timeout=60, what="indexed")
        clients.append((LedgerClient(authority.writers[0].url, key, token=token), token))
    singles = [
        presign(c, f"6NL10000000{i}-MS-", SINGLE_PER_CLIENT) for i, (c, _) in enumerate(clients[:SINGLE_CLIENTS])
    ]
    # Declarations posted in batches: nonces need only be unique among the party's batch records.
    batched = [presign(c, f"6NL20000000{i}-MB-", BATCH_PER_CLIENT) for i, (c, _) in enumerate(clients[SINGLE_CLIENTS:])]
    total = SINGLE_CLIENTS * SINGLE_PER_CLIENT + BATCH_CLIENTS * BATCH_PER_CLIENT

    deadline = time.monotonic() + 240 + RECORDS / 5
    threads = []
    for (_, token), signed in zip(clients[:SINGLE_CLIENTS], singles, strict=True):
        poster = Poster(authority, token)
        threads.append(
            threading.Thread(target=lambda p=poster, s=signed: [p.post("/v1/records", r.body(), deadline) for r in s])
        )
    for (_, token), signed in zip(clients[SINGLE_CLIENTS:], batched, strict=True):
        poster = Poster(authority, token)
        chunks = [signed[k : k + BATCH_SIZE] for k in range(0, len(signed), BATCH_SIZE)]
        threads.append(
            threading.Thread(
                target=lambda p=poster, cs=chunks: [
                    p.post("/v1/records/batch", {"records": [r.body() for r in chunk]}, deadline) for chunk in cs
                ]
            )
        )
    for thread in threads:
        thread.start()

    wait_until(lambda: _included(authority.store) >= total // 3, timeout=120, what="a third of the records on chain")
    status = _readyz(authority, authority.writers[0])
    holder_name = status["relayer_holder"].split(" pid ")[0]
    (holder,) = [w for w in authority.writers if w.name == holder_name]
    worker_pid = _readyz(authority, holder)["chain_worker"]["pid"]
    os.kill(holder.process.pid, signal.SIGKILL)
    os.kill(worker_pid, signal.SIGKILL)  # the whole instance: its lease is left to expire
    killed = time.monotonic()
    holder.process.wait()
    standby = next(w for w in authority.writers if w is not holder)

    def new_holder() -> str | None:
        owner = _readyz(authority, standby).get("relayer_holder")
        return owner if owner is not None and not owner.startswith(holder_name + " ") else None

    wait_until(new_holder, timeout=30, what="a standby holding the relayer")
    took_over = time.monotonic() - killed
    taken_by = new_holder()

    for thread in threads:
        thread.join(timeout=300 + RECORDS / 5)
    wait_until(lambda: _included(authority.store) == total, timeout=180 + RECORDS / 10, what="every record on chain")

    with authority.store.session() as session:
        assert session.scalar(select(func.count()).where(RecordRow.status == "failed")) == 0
        batches = session.scalars(select(BatchRow)).all()
        nonces = sorted(n for n in session.scalars(select(OutboxRow.relayer_nonce)) if n is not None)
    written = on_chain_record_ids(authority.w3, authority.manifest)
    single_ids = [r.id for s in singles for r in s]
    assert len(written) == len(set(written)), "a record was written twice"
    assert sorted(set(written) & set(single_ids)) == sorted(single_ids), "a single record is missing on chain"
    ledger = authority.w3.eth.contract(
        address=authority.manifest.address("ConsignmentLedger"),
        abi=load_artifacts(PROJECT_ROOT / "build")["ConsignmentLedger"].abi,
    )
    roots = [
        "0x" + bytes(e["args"]["root"]).hex()
        for e in ledger.events.RootAnchored().get_logs(from_block=authority.manifest.deploy_block)
    ]
    assert len(roots) == len(set(roots)), "a batch was anchored twice"
    assert (
        sorted(roots) == sorted(b.root for b in batches)
        and sum(b.count for b in batches) == BATCH_CLIENTS * BATCH_PER_CLIENT
    )
    assert nonces == list(range(len(nonces))), "relayer nonces with a gap or taken twice"
    assert authority.w3.eth.get_transaction_count(RELAYER) == len(nonces)
    for (_, token), sample in ((clients[0], singles[0][::10]), (clients[SINGLE_CLIENTS], batched[0][::10])):
        with httpx.Client(base_url=standby.url, timeout=15, headers={"Authorization": f"Bearer {token}"}) as own:
            for r in sample:  # the API agrees, on a sample, each party reading its own
                assert own.get(f"/v1/records/{r.id}").json()["status"] == "confirmed"
    figure(
        f"{WRITERS} writer instances on one PostgreSQL, {total} records ({SINGLE_CLIENTS * SINGLE_PER_CLIENT} single, "
        f"{BATCH_CLIENTS * BATCH_PER_CLIENT} in batches of {BATCH_SIZE}) posted across them; the instance holding "
        "the relayer SIGKILLed with its worker a third of the way",
        f"{total} of {total} confirmed, each on chain once, none failed, {len(nonces)} relayer nonces without a gap; "
        f"{(taken_by or '').split(' pid ')[0]} took over {took_over:.1f} s after the kill",
    )


def _reader_process(folder: Path, rpc_url: str, database: str, port: int) -> subprocess.Popen[bytes]:
    """A reader given the store's URL and the chain's, nothing else (two uvicorn workers)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**_clean_env(), "LEDGER_ROLE": "reader", "LEDGER_DATABASE_URL": database, "LEDGER_RPC_URL": rpc_url}
    log = open(folder / "reader.log", "ab")  # noqa: SIM115 - closed with the process
    command = [sys.executable, "-m", "uvicorn", "--factory", "ledger_api.main:app_from_env", "--workers", "2"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=log)


def test_a_reader_with_only_the_two_urls_serves_receipts_that_verify_against_every_instance(
    authority: Authority, tmp_path: Path
):
    nl = next(a["address"] for a in authority.manifest.authorities if a["country"] == "NL")
    customs = Credentials(authority.store).issue(nl, "customs NL")
    ucr = "6NL100000000-MS-00000"  # the first single record of the ingest above
    port = free_port()
    reader = _reader_process(tmp_path / "reader", authority.node.url, authority.database, port)
    headers = {"Authorization": f"Bearer {customs}"}
    try:
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15, headers=headers)
        wait_until(lambda: up(http) or reader.poll() is not None, timeout=60, what="reader up")
        assert reader.poll() is None, (tmp_path / "reader" / "reader.log").read_text()[-3000:]
        assert not any((tmp_path / "reader").glob("data*")), "a reader writes nothing beside it"
        live = [w for w in authority.writers if w.process.poll() is None]
        writers = [httpx.Client(base_url=w.url, timeout=15, headers=headers) for w in live]
        key_sets = [c.get("/v1/keys").json() for c in [http, *writers]]
        assert all(k == key_sets[0] for k in key_sets)
        # The chain makes a block a second (EXTERNAL_ANVIL_ARGS), and a verdict names the
        # block it was reached at: every instance is asked at the block of the first answer.
        first = http.get(f"/v1/consignments/{ucr}/verification", params={"country": "NL"}).json()
        at = {"country": "NL", "at_block": first["as_of_block"]}
        receipts = [first] + [http.get(f"/v1/consignments/{ucr}/verification", params=at).json() for _ in range(5)]
        receipts += [c.get(f"/v1/consignments/{ucr}/verification", params=at).json() for c in writers]
        assert {r["as_of_block"] for r in receipts} == {first["as_of_block"]}
        assert len({(r["verdict"], r["evidence_hash"]) for r in receipts}) == 1, "one answer, wherever asked"
        for answer in receipts:
            for keys in key_sets:
                assert verify_receipt(answer["receipt"], keys)["verdict"] == answer["verdict"]
    finally:
        reader.send_signal(signal.SIGTERM)
        reader.wait(timeout=30)
