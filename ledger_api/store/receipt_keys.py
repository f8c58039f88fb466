"""The service's receipt-signing keys: in the store, shared by every instance of the
authority (`load_or_create_shared_keyring`), or on disk for a lone instance without a
store key (`load_or_create_keyring`).

In the store (table receipt_keys), each key sealed with the store key (LEDGER_STORE_KEY,
AES-GCM from `cryptography`, the key's sequence as associated data so a sealed key cannot
be moved to another row): every instance, writers and readers, signs with the same active
key and publishes the same JWKS, so any instance's receipt verifies against any
instance's /v1/keys. A rotated key is published at once and signs only
`PUBLISH_BEFORE_SIGNING` seconds later, once every instance has re-read the key set
(services/verification.py re-reads it every minute): no instance signs with a key another
does not publish yet. The first start of an instance that kept its keys on disk brings
them into an empty store, so receipts it signed stay verifiable.

On disk (LEDGER_RECEIPT_KEYS, data/receipt-keys/ by default): one PEM (PKCS#8) file a
key, mode 0600, named receipt-key-<sequence>.pem. The highest sequence is the active
signer; the others stay for the JWKS so that receipts they signed remain verifiable. The
order comes from the names, not from file times, which a copy or a restore from backup
changes.

Receipts themselves (claims, signing, verifying) are ledger_api/domain/receipts.py."""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Table, func, insert, select
from sqlalchemy.exc import IntegrityError

from ledger_api.domain.receipts import SigningKey, issue_receipt
from ledger_api.errors import ConfigurationError
from ledger_api.store.db import Store
from ledger_api.store.tables import ReceiptKeyRow

__all__ = [
    "KeyRing",
    "KeyRingError",
    "SharedKeyRing",
    "generate_key",
    "load_or_create_keyring",
    "load_or_create_shared_keyring",
    "seal",
    "store_cipher",
    "unseal",
]

log = logging.getLogger(__name__)

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

    @property
    def where(self) -> str:
        """Where the keys are kept, for an operator."""
        return str(self.folder)


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


# ---------------------------------------------------------------- in the store

RECEIPT_KEYS: Table = ReceiptKeyRow.__table__  # type: ignore[assignment]
# A rotated key signs only after this long, once every instance publishes it (each re-reads
# the key set every minute: services/verification.py).
PUBLISH_BEFORE_SIGNING = 90.0


class SharedKeyRing(KeyRing):
    """The authority's receipt-signing keys as the store holds them, sealed with the store
    key. The active signer is the newest key published for `PUBLISH_BEFORE_SIGNING`
    seconds (the only key, however new); the JWKS lists them all, the newest first."""

    def __init__(self, store: Store, store_key: bytes, folder: Path | None = None) -> None:
        """Reads nothing yet: load_or_create_shared_keyring does."""
        super().__init__(folder or Path("."), [])
        self.store = store
        self._aead = store_cipher(store_key)
        self._created: dict[int, float] = {}  # sequence -> unix time it was created

    @property
    def where(self) -> str:
        return "the store (sealed with LEDGER_STORE_KEY)"

    @property
    def active(self) -> SigningKey:
        now = time.time()
        signing = [key for seq, key in self.keys if now - self._created[seq] >= PUBLISH_BEFORE_SIGNING]
        return signing[-1] if signing else self.keys[0][1]

    @property
    def newest(self) -> SigningKey:
        return self.keys[-1][1]

    def rotate(self) -> SigningKey:
        """Adds a new key: published now, the signer once PUBLISH_BEFORE_SIGNING has passed."""
        key = generate_key()
        while True:
            with self.store.connection() as connection:
                sequence = int(connection.execute(select(func.max(RECEIPT_KEYS.c.sequence))).scalar() or 0) + 1
            try:
                self._insert([(sequence, key)])
                break
            except IntegrityError:  # another instance took the sequence meanwhile
                continue
        self.reload()
        return key

    def reload(self) -> None:
        with self.store.connection() as connection:
            rows = connection.execute(select(RECEIPT_KEYS).order_by(RECEIPT_KEYS.c.sequence)).all()
        keys, created = [], {}
        for row in rows:
            keys.append((row.sequence, self._open(row.sequence, row.sealed, row.kid)))
            created[row.sequence] = row.created_at.timestamp()
        if not keys:
            raise KeyRingError("the store holds no receipt-signing key")
        self.keys, self._created = keys, created

    def _insert(self, keys: list[tuple[int, SigningKey]], created_at: datetime | None = None) -> None:
        now = created_at or datetime.now(UTC)
        with self.store.connection() as connection:
            connection.execute(
                insert(RECEIPT_KEYS),
                [
                    {"sequence": sequence, "kid": key.kid, "sealed": self._seal(sequence, key), "created_at": now}
                    for sequence, key in keys
                ],
            )

    def _seal(self, sequence: int, key: SigningKey) -> str:
        return seal(self._aead, key.private.private_bytes_raw(), _associated(sequence))

    def _open(self, sequence: int, sealed: str, kid: str) -> SigningKey:
        raw = unseal(self._aead, sealed, _associated(sequence))
        if raw is None:
            raise KeyRingError(
                f"receipt key {sequence} ({kid}) in the store does not open with LEDGER_STORE_KEY: "
                "every instance of the authority needs the same store key"
            )
        key = SigningKey.from_private_bytes(raw)
        if key.kid != kid:
            raise KeyRingError(f"receipt key {sequence} in the store is not the key {kid} it is listed as")
        return key


def _associated(sequence: int) -> bytes:
    return f"ledger receipt key {sequence}".encode()


def store_cipher(store_key: bytes) -> AESGCM:
    """The AES-GCM cipher of the store key (LEDGER_STORE_KEY), which seals every private key
    the store holds: the receipt keys here, the authority's encryption key
    (store/instance_keys.py)."""
    if len(store_key) != 32:
        raise KeyRingError("the store key must be 32 bytes (LEDGER_STORE_KEY: 64 hex digits or base64)")
    return AESGCM(store_key)


def seal(cipher: AESGCM, raw: bytes, associated: bytes) -> str:
    """`raw` sealed for a column: base64(nonce || AES-GCM(raw)). `associated` names the
    row, so that a sealed key opens only where it was put."""
    nonce = os.urandom(12)
    return base64.b64encode(nonce + cipher.encrypt(nonce, raw, associated)).decode()


def unseal(cipher: AESGCM, sealed: str, associated: bytes) -> bytes | None:
    """What `seal` sealed, or None when it does not open: another store key, another row,
    or altered."""
    blob = base64.b64decode(sealed)
    try:
        return cipher.decrypt(blob[:12], blob[12:], associated)
    except InvalidTag:
        return None


def load_or_create_shared_keyring(store: Store, store_key: bytes, import_from: Path | None = None) -> SharedKeyRing:
    """The store's receipt keys. A store without any gets the keys of `import_from` (a
    folder of key files an instance kept before keys moved to the store: receipts they
    signed stay verifiable), or a first new key. Instances doing this at the same moment
    make one key set: the sequence is the row's key, and the one that loses reads the
    other's."""
    ring = SharedKeyRing(store, store_key, import_from)
    with store.connection() as connection:
        empty = connection.execute(select(func.count()).select_from(RECEIPT_KEYS)).scalar() == 0
    if empty:
        existing = _read_keys(import_from, None) if import_from is not None and import_from.is_dir() else []
        # Imported keys sign at once, as they did on disk; they were published all along.
        first = existing or [(1, generate_key())]
        try:
            ring._insert(first, datetime.fromtimestamp(0, UTC))
            if existing:
                log.info("receipt keys: %d key(s) of %s brought into the store", len(existing), import_from)
        except IntegrityError:
            if existing:
                log.warning(
                    "receipt keys: another instance gave the store its keys first; receipts signed with the keys "
                    "in %s no longer verify against /v1/keys",
                    import_from,
                )
    ring.reload()
    return ring
