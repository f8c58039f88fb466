"""The instance's encryption key on disk: an X25519 private key, kept beside the receipt
keys (in their folder, `encryption-key.pem`, PKCS#8, mode 0600), generated once at the
first start. Its public half is published on chain with the instance's endpoint, for
messages other authorities encrypt to this one (shared intelligence); the signing key is
the active receipt key (store/receipt_keys.py)."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger_api.store.receipt_keys import KeyRingError

ENCRYPTION_KEY_FILE = "encryption-key.pem"


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
