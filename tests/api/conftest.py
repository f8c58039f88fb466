"""A real service for the API tests: its own anvil, store and uvicorn server on free
loopback ports, and a cast of registered parties signing with their own keys."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import HTTPProvider, Web3

from ledger_api.chain.artifacts import load_artifacts
from ledger_api.chain.deploy import Manifest
from ledger_api.chain.node import free_port
from ledger_api.client import LedgerClient
from ledger_api.domain.parties import identifiers_hash
from ledger_api.main import create_app
from ledger_api.runtime import Runtime
from ledger_api.settings import PROJECT_ROOT, Settings

ROLES = {"EXPORTER": 1, "CARRIER": 2, "IMPORTER": 16, "CUSTOMS": 32}
CAST = {
    # name: (country, roles)
    "exporter": ("NL", ROLES["EXPORTER"]),
    "carrier": ("NL", ROLES["CARRIER"]),
    "carrier_jp": ("JP", ROLES["CARRIER"]),
    "importer": ("JP", ROLES["IMPORTER"]),
    "customs_nl": ("NL", ROLES["CUSTOMS"]),
}


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


def serve(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, Any]:
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.05)
    return server, thread, app


def register_cast(w3: Web3, manifest: Manifest, keys: dict[str, LocalAccount]) -> None:
    registry = w3.eth.contract(
        address=manifest.address("PartyRegistry"),
        abi=load_artifacts(PROJECT_ROOT / "build")["PartyRegistry"].abi,
    )
    authorities = {a["country"]: a["address"] for a in manifest.authorities}
    for name, (country, roles) in CAST.items():
        tx = registry.functions.registerParty(keys[name].address, roles, identifiers_hash({"name": name}))
        w3.eth.wait_for_transaction_receipt(tx.transact({"from": authorities[country]}))


def wait_until(predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data: Path = tmp_path_factory.mktemp("service")
    settings = Settings(data_dir=data, anvil_port=free_port(), port=free_port(), confirmations=1)
    server, thread, app = serve(settings)
    runtime: Runtime = app.state.runtime
    assert runtime.node is not None
    w3 = Web3(HTTPProvider(runtime.node.url))
    keys = {name: Account.from_key(keccak(text=f"api test {name}")) for name in CAST}
    assert runtime.manifest is not None
    register_cast(w3, runtime.manifest, keys)
    assert runtime.credentials is not None
    tokens = {name: runtime.credentials.issue(keys[name].address, name) for name in CAST}
    # The tests' own HTTP client reads as NL customs: the customs of the consignments' origin.
    http = httpx.Client(
        base_url=f"http://127.0.0.1:{settings.port}",
        timeout=30,
        headers={"Authorization": f"Bearer {tokens['customs_nl']}"},
    )
    for name in CAST:
        wait_until(lambda n=name: http.get(f"/v1/parties/{keys[n].address}").status_code == 200, what=f"{name} indexed")
    try:
        by_address = {keys[n].address: tokens[n] for n in CAST}
        yield Service(f"http://127.0.0.1:{settings.port}", runtime, settings, http, w3, keys, tokens, by_address)
    finally:
        http.close()
        server.should_exit = True
        thread.join(timeout=30)


# ---------------------------------------------------------------- payloads

# Re-exported: the API tests import them from here.
from payload_examples import custody, decision, declaration  # noqa: E402, F401
