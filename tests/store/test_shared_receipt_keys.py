"""Receipt keys shared by every instance of an authority (#13): kept in the store, sealed
with the store key, so a receipt from any instance verifies against any instance's
/v1/keys; a rotation is published before it signs; keys kept on disk before are brought
into an empty store; a wrong store key is refused, naming the variable."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from sqlalchemy import select
from support.postgres import STORES, database_url
from typer.testing import CliRunner

from ledger_api.cli import app
from ledger_api.domain.receipts import verify_receipt
from ledger_api.store import receipt_keys
from ledger_api.store.db import Store
from ledger_api.store.receipt_keys import (
    RECEIPT_KEYS,
    KeyRingError,
    load_or_create_keyring,
    load_or_create_shared_keyring,
)

STORE_KEY = bytes(range(32))


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request, request.param) or f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def stores(store_url: str):
    """Two instances' views of one store."""
    opened = [Store(store_url), Store(store_url)]
    yield opened
    for store in opened:
        store.close()


def test_a_receipt_from_one_instance_verifies_against_the_keys_of_another(stores):
    one = load_or_create_shared_keyring(stores[0], STORE_KEY)
    other = load_or_create_shared_keyring(stores[1], STORE_KEY)
    assert one.jwks() == other.jwks() and len(one.keys) == 1
    assert verify_receipt(one.issue({"verdict": "VERIFIED"}), other.jwks())["verdict"] == "VERIFIED"
    assert verify_receipt(other.issue({"verdict": "FAILED"}), one.jwks())["verdict"] == "FAILED"


def test_the_store_holds_the_keys_sealed_and_a_wrong_store_key_is_refused(stores):
    ring = load_or_create_shared_keyring(stores[0], STORE_KEY)
    with stores[0].connection() as connection:
        row = connection.execute(select(RECEIPT_KEYS)).one()
    raw = ring.active.private.private_bytes_raw()
    assert raw not in base64.b64decode(row.sealed) and row.kid == ring.active.kid
    with pytest.raises(KeyRingError, match="does not open with LEDGER_STORE_KEY"):
        load_or_create_shared_keyring(stores[1], bytes(32))


def test_a_rotated_key_is_published_at_once_and_signs_once_every_instance_publishes_it(stores, monkeypatch):
    one = load_or_create_shared_keyring(stores[0], STORE_KEY)
    other = load_or_create_shared_keyring(stores[1], STORE_KEY)
    first = one.active
    old_receipt = one.issue({"verdict": "VERIFIED"})
    new = other.rotate()
    one.reload()
    assert [k["kid"] for k in one.jwks()["keys"]] == [new.kid, first.kid]
    assert one.active.kid == other.active.kid == first.kid, "a key not yet published everywhere signs nothing"
    monkeypatch.setattr(receipt_keys, "PUBLISH_BEFORE_SIGNING", 0.0)
    assert one.active.kid == other.active.kid == new.kid
    assert verify_receipt(old_receipt, other.jwks())["verdict"] == "VERIFIED"
    assert verify_receipt(other.issue({"verdict": "FAILED"}), one.jwks())["verdict"] == "FAILED"


def test_keys_an_instance_kept_on_disk_are_brought_into_an_empty_store_and_still_sign(stores, tmp_path):
    folder = tmp_path / "receipt-keys"
    on_disk = load_or_create_keyring(folder)
    on_disk.rotate()
    old_receipt = on_disk.issue({"verdict": "VERIFIED"})
    shared = load_or_create_shared_keyring(stores[0], STORE_KEY, import_from=folder)
    assert shared.jwks() == on_disk.jwks() and shared.active.kid == on_disk.active.kid
    reader = load_or_create_shared_keyring(stores[1], STORE_KEY)  # a reader: no folder of its own
    assert verify_receipt(old_receipt, reader.jwks())["verdict"] == "VERIFIED"


def test_an_operator_rotates_the_shared_key_with_the_cli(store_url, tmp_path):
    env = {
        "LEDGER_DATA_DIR": str(tmp_path),
        "LEDGER_DATABASE_URL": store_url,
        "LEDGER_STORE_KEY": STORE_KEY.hex(),
    }
    rotated = CliRunner().invoke(app, ["admin", "receipt-keys", "rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    assert "published now" in rotated.stdout
    listed = CliRunner().invoke(app, ["admin", "receipt-keys", "list"], env=env).stdout.split()
    store = Store(store_url)
    try:
        ring = load_or_create_shared_keyring(store, STORE_KEY)
        assert listed == [k["kid"] for k in ring.jwks()["keys"]] and len(listed) == 2
        assert listed[0] in rotated.stdout
    finally:
        store.close()


def test_production_on_postgresql_requires_a_store_key_of_its_own(tmp_path):
    from ledger_api.errors import ConfigurationError
    from ledger_api.settings import DEV_STORE_KEY, Settings

    production = {
        "environment": "production",
        "rpc_url": "http://127.0.0.1:1",
        "deployer_key": "0x" + "12" * 32,
        "relayer_key": "0x" + "34" * 32,
        "deployment_config": tmp_path / "authorities.yaml",
        "database_url": "postgresql+psycopg://ledger@db/ledger",
    }
    with pytest.raises(ConfigurationError, match="LEDGER_STORE_KEY is required in production"):
        Settings.load(**production)
    with pytest.raises(ConfigurationError, match="public development key"):
        Settings.load(**production, store_key=DEV_STORE_KEY.hex())
    with pytest.raises(ConfigurationError, match="must be 32 bytes"):
        Settings.load(**production, store_key="too short")
    key = base64.b64encode(STORE_KEY).decode()
    assert Settings.load(**production, store_key=key).receipt_store_key == STORE_KEY
    assert Settings.load(data_dir=tmp_path).receipt_store_key is None, "a lone SQLite instance keeps its folder"
