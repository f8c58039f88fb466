"""The authority's encryption key: an X25519 private key whose public half is published
on chain with the authority's endpoint, for messages other authorities encrypt to it
(shared intelligence); the signing key is the active receipt key (store/receipt_keys.py).

Kept where the receipt keys are:
- in the store (`load_or_create_shared_encryption_key`), when there is a store key: one
  key for every instance of the authority, writers and readers, so a flag sealed to the
  published key opens on whichever instance fetches it. Sealed as the receipt keys are
  (AES-GCM with LEDGER_STORE_KEY, its row's name as associated data), in the `state`
  table's ENCRYPTION_KEY_STATE row. An empty store takes the key an instance kept on disk
  before (what its authority published stays valid), or a new one;
- on disk otherwise (`load_or_create_encryption_key`), a lone instance's: beside the
  receipt keys (in their folder, `encryption-key.pem`, PKCS#8, mode 0600), generated once
  at the first start."""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError

from ledger_api.store.db import Store
from ledger_api.store.receipt_keys import KeyRingError, seal, store_cipher, unseal
from ledger_api.store.tables import StateRow

log = logging.getLogger(__name__)

ENCRYPTION_KEY_FILE = "encryption-key.pem"
ENCRYPTION_KEY_STATE = "encryption_key"  # its row in the store's `state` table
STATE: Table = StateRow.__table__  # type: ignore[assignment]
_AD = f"ledger {ENCRYPTION_KEY_STATE}".encode()  # associated data: the sealed key opens in its own row only


def load_or_create_encryption_key(folder: Path, password: bytes | None = None) -> X25519PrivateKey:
    """The key in `folder`, after creating it if there is none. A second process starting
    at the same time keeps the key the first one wrote."""
    path = folder / ENCRYPTION_KEY_FILE
    if not path.exists():
        _write(folder, path, X25519PrivateKey.generate(), password)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=password)
    except (OSError, ValueError, TypeError) as exc:
        raise KeyRingError(f"{path}: cannot load the instance's encryption key: {exc}") from exc
    if not isinstance(key, X25519PrivateKey):
        raise KeyRingError(f"{path}: not an X25519 private key")
    return key


def load_or_create_shared_encryption_key(
    store: Store, store_key: bytes, import_from: Path | None = None
) -> X25519PrivateKey:
    """The authority's key as the store holds it. A store without one gets the key file of
    `import_from` (the folder an instance kept it in before it moved to the store: flags
    sealed to the key its authority published still open), or a new key. Instances doing
    this at the same moment keep one key: the row's name is its primary key, and the one
    that loses reads the other's."""
    cipher = store_cipher(store_key)
    kept = import_from / ENCRYPTION_KEY_FILE if import_from is not None else None
    on_disk = load_or_create_encryption_key(kept.parent) if kept is not None and kept.exists() else None
    sealed = _sealed(store)
    if sealed is None:
        key = on_disk or X25519PrivateKey.generate()
        try:
            with store.connection() as connection:
                connection.execute(
                    insert(STATE), {"key": ENCRYPTION_KEY_STATE, "value": seal(cipher, key.private_bytes_raw(), _AD)}
                )
            if on_disk is not None:
                log.info("encryption key: the key of %s brought into the store", kept)
        except IntegrityError:
            pass  # another instance was first: its key is the authority's, read below
        sealed = _sealed(store)
        if sealed is None:
            raise KeyRingError("the store holds no encryption key, though one was just put there")
    raw = unseal(cipher, sealed, _AD)
    if raw is None:
        raise KeyRingError(
            "the encryption key in the store does not open with LEDGER_STORE_KEY: "
            "every instance of the authority needs the same store key"
        )
    key = X25519PrivateKey.from_private_bytes(raw)
    if on_disk is not None and raw_public_encryption_key(on_disk) != raw_public_encryption_key(key):
        log.warning(
            "encryption key: the store holds another key than %s (another instance gave it its key first): "
            "flags sealed to the key in that file do not open here",
            kept,
        )
    return key


def _sealed(store: Store) -> str | None:
    with store.connection() as connection:
        value = connection.execute(select(STATE.c.value).where(STATE.c.key == ENCRYPTION_KEY_STATE)).scalar()
    return None if value is None else str(value)


def raw_public_encryption_key(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _write(folder: Path, path: Path, key: X25519PrivateKey, password: bytes | None) -> None:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    temporary = folder / f".{ENCRYPTION_KEY_FILE}-{uuid.uuid4().hex}.tmp"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: its key stays
            os.link(temporary, path)
    except OSError as exc:
        raise KeyRingError(f"{folder}: cannot write the instance's encryption key: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
