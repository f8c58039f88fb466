"""Two instances of the ledger on one chain, as two customs authorities run them: Japan
Customs' and the Netherlands Customs', each with its own store, data folder and relayer
key, both on one anvil that mines a block every 2 seconds (--block-time 2) and is an
external chain to them (LEDGER_RPC_URL, declared a development chain: LEDGER_DEV_CHAIN).

The chain is set up quickly (the deployment, the parties, the demo's recognition) with
anvil mining on arrival; then it mines on its schedule, as a consortium chain does, for
what the tests watch. Japan's instance is reached through a switchable TCP relay, its
published URL: a test takes it "down" for the other instances without stopping it."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from web3 import HTTPProvider, Web3

from ledger_api.chain.node import AnvilNode, free_port
from ledger_api.runtime import Runtime
from ledger_api.settings import ANVIL_DEV_KEYS

from .forwarding import JP_CUSTOMS, NL_CUSTOMS
from .service import local_settings, served, url_of, wait_until

BLOCK_TIME = 2


class Relay:
    """A TCP relay from a port of its own to `target_port`: the address an instance
    publishes, as a reverse proxy's would be. `up = False` makes it drop every
    connection at once, open ones (a client's keep-alive pool) included, as a server
    that is down."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._up = True
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name="relay", daemon=True).start()

    @property
    def up(self) -> bool:
        return self._up

    @up.setter
    def up(self, value: bool) -> None:
        self._up = value
        if not value:
            with self._lock:
                dropped, self._open = self._open, set()
            for s in dropped:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    for s in (source, sink):
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)


@dataclass
class Instance:
    """One authority's instance: its runtime, its URL, and a client reading with the
    authority's own credential there."""

    name: str
    authority: str
    runtime: Runtime
    url: str
    http: httpx.Client

    def credential(self, address: str) -> str:
        assert self.runtime.credentials is not None
        return self.runtime.credentials.issue(address, "consortium test")


@dataclass
class Consortium:
    node: AnvilNode
    w3: Web3
    jp: Instance
    nl: Instance
    jp_relay: Relay
    manifest_path: Path

    def interval_mining(self) -> None:
        """From now on the chain mines every BLOCK_TIME seconds, and only then."""
        self.w3.provider.make_request("evm_setIntervalMining", [BLOCK_TIME])  # type: ignore[arg-type]


@contextmanager
def _instance(
    name: str, authority: str, relayer_key: str, data: Path, node: AnvilNode, manifest: Path, **extra: object
) -> Iterator[Instance]:
    settings = local_settings(
        data,
        rpc_url=node.url,
        dev_chain=True,
        deployer_key=ANVIL_DEV_KEYS[0],
        relayer_key=relayer_key,
        authority=authority,
        manifest_path=manifest,
        peer_fetch_on_verify_seconds=3.0,
        peer_timeout_seconds=2.0,
        **extra,
    )
    with served(settings) as runtime:
        assert runtime.credentials is not None
        token = runtime.credentials.issue(authority, f"{name} customs")
        with httpx.Client(base_url=url_of(runtime), timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
            yield Instance(name, authority, runtime, url_of(runtime), http)


@contextmanager
def consortium(tmp: Path) -> Iterator[Consortium]:
    """Japan Customs' and the Netherlands Customs' instances on one anvil, each having
    published its endpoint on chain and seen the other's. The chain mines on arrival
    until the test calls `interval_mining`."""
    manifest = tmp / "deployment.json"  # the one deployment both instances join
    with AnvilNode(tmp / "anvil", port=free_port(), extra_args=("--block-time", str(BLOCK_TIME))) as node:
        w3 = Web3(HTTPProvider(node.url))
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        jp_port = free_port()
        relay = Relay(jp_port)
        try:
            with (
                _instance(
                    "JP",
                    JP_CUSTOMS.address,
                    ANVIL_DEV_KEYS[9],
                    tmp / "jp",
                    node,
                    manifest,
                    port=jp_port,
                    public_url=relay.url,
                ) as jp,
                _instance("NL", NL_CUSTOMS.address, ANVIL_DEV_KEYS[8], tmp / "nl", node, manifest) as nl,
            ):
                for one, other in ((jp, nl), (nl, jp)):
                    wait_until(
                        lambda o=one, t=other: _knows(o, t.authority), timeout=60, what=f"{one.name} sees {other.name}"
                    )
                yield Consortium(node, w3, jp, nl, relay, manifest)
        finally:
            relay.close()


def _knows(instance: Instance, authority: str) -> bool:
    from ledger_api.store.peers import current_endpoint

    assert instance.runtime.store is not None
    with instance.runtime.store.session() as session:
        return current_endpoint(session, authority) is not None
