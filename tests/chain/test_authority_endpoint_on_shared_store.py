"""An authority's writers on one PostgreSQL store and a development chain (#13, #16): every
instance, a reader too, holds the one encryption key its authority publishes (the key file
the first writer kept before keys moved to the store), so a flag sealed to it opens on
each; a writer with another LEDGER_PUBLIC_URL leaves the endpoint on chain as it is, and a
new key of the authority is published at the URL already on chain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.flags import TEXT, flag_sealed_to
from support.postgres import database_url
from support.service import local_settings

from ledger_api.chain.endpoints import published_endpoints
from ledger_api.chain.node import AnvilNode
from ledger_api.domain.intelligence import open_flag
from ledger_api.runtime import Runtime
from ledger_api.settings import ANVIL_DEV_KEYS
from ledger_api.store import receipt_keys
from ledger_api.store.instance_keys import load_or_create_encryption_key, raw_public_encryption_key


@pytest.fixture
def instances(request: pytest.FixtureRequest, tmp_path: Path, anvil: AnvilNode) -> Iterator[Callable[..., Runtime]]:
    """`instances(name, **settings)`: an instance of the development deployment's first
    authority on the test's anvil (an external development chain) and one PostgreSQL store,
    its data in its own folder, reached at http://<name>.jp.example; nothing runs in the
    background. Stopped after the test."""
    store_url = database_url(request, "postgresql")
    started: list[Runtime] = []

    def start(name: str, **settings: Any) -> Runtime:
        fields: dict[str, Any] = {
            "rpc_url": anvil.url,
            "dev_chain": True,
            "database_url": store_url,
            "deployer_key": ANVIL_DEV_KEYS[0],
            "relayer_key": ANVIL_DEV_KEYS[9],
            "public_url": f"http://{name}.jp.example",
            "instance_name": name,
        }
        runtime = Runtime(local_settings(tmp_path / name, **(fields | settings)))
        started.append(runtime)
        if runtime.settings.role == "reader":
            return runtime.start_reader()
        return runtime.start(background=False)

    yield start
    for runtime in started:
        runtime.stop()


def test_writers_on_one_store_publish_one_endpoint_whose_encryption_key_opens_flags_on_each(
    instances: Callable[..., Runtime], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    kept = load_or_create_encryption_key(tmp_path / "a" / "receipt-keys")  # a ran alone before the upgrade
    a = instances("a")
    assert a.rpc is not None and a.manifest is not None and a.instance is not None
    registry, authority = a.manifest.address("PartyRegistry"), a.instance.authority

    def endpoints() -> list[tuple[str, str, str]]:
        assert a.rpc is not None
        return [(e.url, e.kid, e.encryption_key) for e in published_endpoints(a.rpc, registry, authority)]

    encryption_key = raw_public_encryption_key(kept)
    first = ("http://a.jp.example", a.instance.keyring.active.kid, "0x" + encryption_key.hex())
    assert endpoints() == [first], "the authority's endpoint, with the key a kept on disk"

    b = instances("b")
    reader = instances("reader", role="reader")
    assert endpoints() == [first], "b, reached at another URL, publishes nothing over a's endpoint"
    document, shared = flag_sealed_to(authority, encryption_key)
    for instance in (a, b, reader):
        assert instance.instance is not None and instance.flags is not None
        assert instance.instance.identity.encryption_key == encryption_key
        assert open_flag(document, shared, authority, instance.flags.encryption_key).text == TEXT
    assert not (tmp_path / "b" / "receipt-keys" / "encryption-key.pem").exists(), "no key of b's own"

    monkeypatch.setattr(receipt_keys, "PUBLISH_BEFORE_SIGNING", 0.0)
    rotated = b.instance.keyring.rotate()  # type: ignore[union-attr]
    instances("c")
    assert endpoints() == [first, ("http://a.jp.example", rotated.kid, "0x" + encryption_key.hex())], (
        "the authority's new signing key, published by the next writer to start, at the URL on chain"
    )
    instances("d")
    assert len(endpoints()) == 2, "the chain shows the authority's endpoint: nothing more to publish"
