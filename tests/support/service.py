"""A real service for tests that speak HTTP to it: the app under uvicorn in a thread of the
test's process, with its own anvil and store on free loopback ports, and a cast of
registered parties signing with their own keys. The `service` fixture (tests/conftest.py)
is `running_service`; tests that need settings of their own use `local_settings` and
`served`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import HTTPProvider, Web3

from ledger_api.chain.artifacts import load_artifacts
from ledger_api.chain.deploy import Manifest
from ledger_api.chain.node import free_port
from ledger_api.client import LedgerClient
from ledger_api.domain.parties import Role, identifiers_hash
from ledger_api.main import create_app
from ledger_api.runtime import Runtime
from ledger_api.settings import PROJECT_ROOT, Settings

CAST = {
    # name: (country, roles)
    "exporter": ("NL", Role.EXPORTER),
    "carrier": ("NL", Role.CARRIER),
    "carrier_jp": ("JP", Role.CARRIER),
    "importer": ("JP", Role.IMPORTER),
    "customs_nl": ("NL", Role.CUSTOMS),
}


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def local_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings of a service of a test's own: its data in `data_dir`, its anvil and its API
    on free loopback ports, one confirmation, no demo consignments; `overrides` change any
    of it."""
    fields: dict[str, Any] = {
        "data_dir": data_dir,
        "anvil_port": free_port(),
        "port": free_port(),
        "confirmations": 1,
        "seed_demo": False,
    }
    return Settings(**(fields | overrides))


@contextmanager
def served(settings: Settings) -> Iterator[Runtime]:
    """The app of `settings` under uvicorn in a daemon thread while the block runs, from
    the moment it listens; the block gets its runtime."""
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.05)
        yield app.state.runtime
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def url_of(runtime: Runtime) -> str:
    return f"http://127.0.0.1:{runtime.settings.port}"


def register_cast(w3: Web3, manifest: Manifest, keys: dict[str, LocalAccount]) -> None:
    """Each of the CAST registered with its roles by the authority of its country."""
    registry = w3.eth.contract(
        address=manifest.address("PartyRegistry"),
        abi=load_artifacts(PROJECT_ROOT / "build")["PartyRegistry"].abi,
    )
    authorities = {a["country"]: a["address"] for a in manifest.authorities}
    for name, (country, roles) in CAST.items():
        tx = registry.functions.registerParty(keys[name].address, int(roles), identifiers_hash({"name": name}))
        w3.eth.wait_for_transaction_receipt(tx.transact({"from": authorities[country]}))


@dataclass
class Service:
    url: str
    runtime: Runtime
    settings: Settings
    http: httpx.Client
    w3: Web3
    keys: dict[str, LocalAccount]
    tokens: dict[str, str]
    _credentials: dict[str, str] = field(default_factory=dict)

    def client(self, name: str) -> LedgerClient:
        return LedgerClient(self.url, self.keys[name], token=self.tokens[name])

    def address(self, name: str) -> str:
        return str(self.keys[name].address)

    def credential(self, address: str) -> str:
        """A credential of the party at `address` (one per party, issued when first asked)."""
        if address not in self._credentials:
            assert self.runtime.credentials is not None
            self._credentials[address] = self.runtime.credentials.issue(address, "api test")
        return self._credentials[address]

    def as_party(self, account: LocalAccount) -> LedgerClient:
        """A client signing with `account` and sending its own credential, as a party does."""
        return LedgerClient(self.url, account, token=self.credential(account.address))

    def post_as(self, address: str, path: str, body: Any) -> httpx.Response:
        """`body` posted with the credential of the party at `address`: writes go with the
        credential of the party acting in them."""
        return self.http.post(path, json=body, headers={"Authorization": f"Bearer {self.credential(address)}"})


@contextmanager
def running_service(data: Path, database_url: str | None = None, **overrides: Any) -> Iterator[Service]:
    """A service on its own anvil with the CAST registered, each with a credential, and
    indexed; its `http` client reads as NL customs, the customs of the consignments' origin.
    Its store is `database_url`, or SQLite in `data` without one; `overrides` change other
    settings."""
    with served(local_settings(data, database_url=database_url, **overrides)) as runtime:
        assert runtime.node is not None and runtime.manifest is not None and runtime.credentials is not None
        w3 = Web3(HTTPProvider(runtime.node.url))
        keys = {name: Account.from_key(keccak(text=f"api test {name}")) for name in CAST}
        register_cast(w3, runtime.manifest, keys)
        tokens = {name: runtime.credentials.issue(keys[name].address, name) for name in CAST}
        url = url_of(runtime)
        with httpx.Client(
            base_url=url, timeout=30, headers={"Authorization": f"Bearer {tokens['customs_nl']}"}
        ) as http:
            for name in CAST:
                wait_until(
                    lambda n=name: http.get(f"/v1/parties/{keys[n].address}").status_code == 200, what=f"{name} indexed"
                )
            by_address = {keys[n].address: tokens[n] for n in CAST}
            yield Service(url, runtime, runtime.settings, http, w3, keys, tokens, by_address)
