"""The authority's encryption key shared by every instance of the authority (#13, #16):
kept in the store, sealed with the store key as the receipt keys are, so a flag sealed to
the one key its authority publishes opens on whichever instance fetches it; a key an
instance kept on disk before is brought into an empty store; instances starting at the
same moment keep one key; a wrong store key is refused, naming the variable."""

from __future__ import annotations

import base64
import logging
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_utils.address import to_checksum_address
from sqlalchemy import select
from support.flags import TEXT, flag_sealed_to
from support.postgres import STORES, database_url

from ledger_api.domain.intelligence import open_flag
from ledger_api.store.db import Store
from ledger_api.store.instance_keys import (
    ENCRYPTION_KEY_STATE,
    STATE,
    load_or_create_encryption_key,
    load_or_create_shared_encryption_key,
    raw_public_encryption_key,
)
from ledger_api.store.receipt_keys import KeyRingError

STORE_KEY = bytes(range(32))
NL = to_checksum_address("0x" + "b2" * 20)  # the recipient authority


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request, request.param) or f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def stores(store_url: str):
    """Three instances' views of one store."""
    opened = [Store(store_url) for _ in range(3)]
    yield opened
    for store in opened:
        store.close()


def public(key: X25519PrivateKey) -> bytes:
    return raw_public_encryption_key(key)


def test_every_instance_of_the_authority_opens_the_flag_sealed_to_its_one_published_key(stores, tmp_path):
    writer = load_or_create_shared_encryption_key(stores[0], STORE_KEY, tmp_path / "writer" / "receipt-keys")
    other_writer = load_or_create_shared_encryption_key(stores[1], STORE_KEY, tmp_path / "other" / "receipt-keys")
    reader = load_or_create_shared_encryption_key(stores[2], STORE_KEY)  # a reader: no folder of its own
    assert public(writer) == public(other_writer) == public(reader)
    document, shared = flag_sealed_to(NL, public(writer))
    for key in (writer, other_writer, reader):
        assert open_flag(document, shared, NL, key).text == TEXT
    assert not (tmp_path / "other" / "receipt-keys" / "encryption-key.pem").exists(), "no key of its own on disk"


def test_the_store_holds_the_key_sealed_and_a_wrong_store_key_is_refused(stores):
    key = load_or_create_shared_encryption_key(stores[0], STORE_KEY)
    with stores[0].connection() as connection:
        sealed = connection.execute(select(STATE.c.value).where(STATE.c.key == ENCRYPTION_KEY_STATE)).scalar_one()
    assert key.private_bytes_raw() not in base64.b64decode(sealed)
    with pytest.raises(KeyRingError, match="does not open with LEDGER_STORE_KEY"):
        load_or_create_shared_encryption_key(stores[1], bytes(32))


def test_the_key_an_instance_kept_on_disk_is_brought_into_an_empty_store_so_its_published_key_stays_valid(
    stores, tmp_path, caplog
):
    folder = tmp_path / "receipt-keys"
    on_disk = load_or_create_encryption_key(folder)  # what the authority published before the upgrade
    document, shared = flag_sealed_to(NL, public(on_disk))
    with caplog.at_level(logging.INFO, logger="ledger_api.store.instance_keys"):
        brought = load_or_create_shared_encryption_key(stores[0], STORE_KEY, import_from=folder)
    assert public(brought) == public(on_disk)
    assert "brought into the store" in caplog.text
    other = load_or_create_shared_encryption_key(stores[1], STORE_KEY)
    assert open_flag(document, shared, NL, other) == open_flag(document, shared, NL, on_disk)


def test_a_second_instance_with_a_key_file_of_its_own_uses_the_store_s_and_says_its_file_is_not_used(
    stores, tmp_path, caplog
):
    first = load_or_create_shared_encryption_key(stores[0], STORE_KEY, folder_with_key_file(tmp_path / "a"))
    with caplog.at_level(logging.WARNING, logger="ledger_api.store.instance_keys"):
        second = load_or_create_shared_encryption_key(stores[1], STORE_KEY, folder_with_key_file(tmp_path / "b"))
    assert public(second) == public(first)
    assert public(second) != public(load_or_create_encryption_key(tmp_path / "b"))
    assert "the store holds another key than" in caplog.text and str(tmp_path / "b") in caplog.text


def test_instances_starting_at_the_same_moment_on_an_empty_store_keep_one_key(stores, tmp_path):
    folders = [folder_with_key_file(tmp_path / str(n)) for n in range(len(stores))]
    keys: dict[int, bytes] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def instance(n: int) -> None:
        try:
            start.wait()
            keys[n] = public(load_or_create_shared_encryption_key(stores[n], STORE_KEY, folders[n]))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=instance, args=(n,)) for n in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(keys) == len(stores) and len(set(keys.values())) == 1
    on_disk = {public(load_or_create_encryption_key(folder)) for folder in folders}
    assert set(keys.values()) <= on_disk, "the key is one instance's file key, not a new one"


def folder_with_key_file(folder: Path) -> Path:
    """A data folder's receipt-key folder holding an encryption key file, as an instance
    that ran before the key moved to the store left it."""
    load_or_create_encryption_key(folder)
    return folder
