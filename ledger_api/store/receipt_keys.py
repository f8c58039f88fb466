"""The service's receipt-signing keys on disk (LEDGER_RECEIPT_KEYS, data/receipt-keys/ by
default): one PEM (PKCS#8) file a key, mode 0600, named receipt-key-<sequence>.pem. The
highest sequence is the active signer; the others stay for the JWKS so that receipts they
signed remain verifiable. The order comes from the names, not from file times, which a copy
or a restore from backup changes.

Receipts themselves (claims, signing, verifying) are ledger_api/domain/receipts.py."""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger_api.domain.receipts import SigningKey, issue_receipt
from ledger_api.errors import ConfigurationError

__all__ = ["KeyRing", "KeyRingError", "generate_key", "load_or_create_keyring"]

_KEY_FILE = re.compile(r"receipt-key-([0-9]{6,})\.pem")


class KeyRingError(ConfigurationError):
    """The receipt-signing key folder cannot be read or written, or holds a key that is
    not an Ed25519 private key."""


def generate_key() -> SigningKey:
    """A new Ed25519 key from the operating system's randomness."""
    return SigningKey.from_private(Ed25519PrivateKey.generate())


@dataclass
class KeyRing:
    """The service's receipt-signing keys, oldest first; the last one signs."""

    folder: Path
    keys: list[tuple[int, SigningKey]]  # (sequence, key)
    password: bytes | None = field(default=None, repr=False)

    @property
    def active(self) -> SigningKey:
        return self.keys[-1][1]

    def issue(self, claims: dict[str, Any]) -> str:
        return issue_receipt(self.active, claims)

    def rotate(self) -> SigningKey:
        """Writes a new key and makes it the active signer; the old keys stay in the JWKS."""
        _write_key(self.folder, generate_key(), self.password)
        self.reload()
        return self.active

    def reload(self) -> None:
        """Reads the folder again (another instance may have rotated)."""
        self.keys = _read_keys(self.folder, self.password)
        if not self.keys:
            raise KeyRingError(f"{self.folder}: no receipt-signing key found")

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """Every key's public JWK, the active one first."""
        return {"keys": [key.public_jwk() for _, key in reversed(self.keys)]}


def load_or_create_keyring(folder: Path, password: bytes | None = None) -> KeyRing:
    """The keys in `folder`, after creating the folder (0700) and a first key if there is
    none. `password`, if given, encrypts new key files and decrypts existing ones."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise KeyRingError(f"{folder}: cannot create the receipt key folder: {exc.strerror or exc}") from exc
    keys = _read_keys(folder, password)
    if not keys:
        _write_key(folder, generate_key(), password)
        keys = _read_keys(folder, password)
    return KeyRing(folder, keys, password)


def _read_keys(folder: Path, password: bytes | None) -> list[tuple[int, SigningKey]]:
    keys: list[tuple[int, SigningKey]] = []
    try:
        paths = sorted(folder.iterdir())
    except OSError as exc:
        raise KeyRingError(f"{folder}: cannot list the receipt key folder: {exc.strerror or exc}") from exc
    for path in paths:
        match = _KEY_FILE.fullmatch(path.name)
        if match is None:
            continue
        try:
            private = serialization.load_pem_private_key(path.read_bytes(), password=password)
        except (OSError, ValueError, TypeError) as exc:
            raise KeyRingError(f"{path}: cannot load the receipt-signing key: {exc}") from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyRingError(f"{path}: not an Ed25519 private key")
        keys.append((int(match.group(1)), SigningKey.from_private(private)))
    keys.sort(key=lambda item: item[0])
    return keys


def _write_key(folder: Path, key: SigningKey, password: bytes | None) -> Path:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    pem = key.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    # Written to a private temporary file first, then linked under its final name: a crash
    # leaves no half-written key, and link() fails if another process took the sequence
    # number meanwhile, where a rename would silently replace that process's key.
    temporary = folder / f".receipt-key-{uuid.uuid4().hex}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        for _ in range(100):
            taken = [int(m.group(1)) for p in folder.iterdir() if (m := _KEY_FILE.fullmatch(p.name))]
            target = folder / f"receipt-key-{max(taken, default=0) + 1:06d}.pem"
            try:
                os.link(temporary, target)
            except FileExistsError:
                continue
            _fsync_dir(folder)
            return target
        raise KeyRingError(f"{folder}: could not name a new key file (the folder keeps changing)")
    except OSError as exc:
        raise KeyRingError(f"{folder}: cannot write a receipt-signing key: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
