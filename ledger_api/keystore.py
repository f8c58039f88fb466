"""A party's signing keys on its own disk, encrypted: one Ethereum keystore v3 file per key
(the format geth, MetaMask and eth_account read and write), named after the key's alias,
in a keys folder (default ~/.ledger/keys; LEDGER_KEYS_DIR or an explicit folder overrides
it). Nothing here prints or prompts: the CLI asks for passwords and reports errors.

    KeystoreError               a key that cannot be stored or loaded
    ├── InvalidAlias            an alias that cannot name a file
    ├── AliasTaken              the alias already names a key (never overwritten)
    ├── KeyNotFound             no key with that alias
    ├── InvalidPrivateKey       not a secp256k1 private key
    ├── WrongPassword           the password does not open the key
    └── CorruptKeyFile          the file is not a readable keystore v3 file
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from ledger_api.errors import LedgerError

__all__ = [
    "KEYS_DIR_ENV",
    "AliasTaken",
    "CorruptKeyFile",
    "InvalidAlias",
    "InvalidPrivateKey",
    "KeyNotFound",
    "KeystoreError",
    "WrongPassword",
    "default_keys_dir",
    "import_key",
    "list_keys",
    "load_key",
    "new_key",
]

KEYS_DIR_ENV = "LEDGER_KEYS_DIR"
FAST_ENV = "LEDGER_KEYSTORE_FAST"
_ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SUFFIX = ".json"
# scrypt's N. The standard cost (eth_account's default, 2**18) takes about a second and
# 256 MiB of memory per encryption or decryption: the point of it, against an attacker who
# holds the file and guesses passwords. A test suite that creates and opens dozens of keys
# would spend minutes on it, so LEDGER_KEYSTORE_FAST=1 lowers it; a key written that way is
# cheap to brute-force and must never hold anything of value.
_STANDARD_SCRYPT_N = 2**18
_FAST_SCRYPT_N = 2**10


class KeystoreError(LedgerError):
    """A key that cannot be stored or loaded."""


class WeakKey(KeystoreError):
    """A key file encrypted in fast mode (LEDGER_KEYSTORE_FAST): refused where weak keys are."""


class InvalidAlias(KeystoreError):
    """An alias that cannot name a key file."""


class AliasTaken(KeystoreError):
    """The alias already names a key; keys are never overwritten."""


class KeyNotFound(KeystoreError):
    """No key with that alias in the keys folder."""


class InvalidPrivateKey(KeystoreError):
    """Not a secp256k1 private key (32 bytes, as 64 hex digits)."""


class WrongPassword(KeystoreError):
    """The password does not open the key."""


class CorruptKeyFile(KeystoreError):
    """The file is not a readable keystore v3 file."""


def default_keys_dir() -> Path:
    """LEDGER_KEYS_DIR if set, else ~/.ledger/keys."""
    configured = os.environ.get(KEYS_DIR_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".ledger" / "keys"


def _scrypt_n() -> int:
    return _FAST_SCRYPT_N if os.environ.get(FAST_ENV) == "1" else _STANDARD_SCRYPT_N


def _path(alias: str, keys_dir: Path | None) -> Path:
    if not _ALIAS.fullmatch(alias):
        raise InvalidAlias(
            f"not a key alias: {alias!r} (1 to 64 of A-Z, a-z, 0-9, '_', '.' or '-', starting with a letter or digit)"
        )
    return (keys_dir or default_keys_dir()) / f"{alias}{_SUFFIX}"


def _store(alias: str, private_key: bytes, password: str, keys_dir: Path | None) -> LocalAccount:
    path = _path(alias, keys_dir)
    account: LocalAccount = Account.from_key(private_key)
    keyfile = Account.encrypt(private_key, password, kdf="scrypt", iterations=_scrypt_n())
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # O_EXCL: refuse an existing alias atomically, even against a concurrent `keys new`;
    # the mode is set at creation, so the file is never readable by others, not even briefly.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AliasTaken(f"a key named {alias!r} already exists in {path.parent}; keys are never overwritten") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(keyfile, out)
    os.chmod(path, 0o600)  # exactly 0600 whatever the umask took away from os.open's mode
    return account


def new_key(alias: str, password: str, *, keys_dir: Path | None = None) -> LocalAccount:
    """Creates a random key, stores it encrypted under `alias`, returns its account."""
    return _store(alias, bytes(Account.create().key), password, keys_dir)


def import_key(alias: str, private_key: str | bytes, password: str, *, keys_dir: Path | None = None) -> LocalAccount:
    """Stores an existing private key (bytes, or hex with or without 0x) under `alias`."""
    if isinstance(private_key, str):
        text = private_key.strip()
        text = text[2:] if text[:2].lower() == "0x" else text
        if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
            raise InvalidPrivateKey("not a private key: expected 64 hex digits (32 bytes), with or without 0x")
        private_key = bytes.fromhex(text)
    try:
        Account.from_key(private_key)
    except (ValueError, TypeError) as exc:
        raise InvalidPrivateKey(f"not a secp256k1 private key: {exc}") from None
    return _store(alias, bytes(private_key), password, keys_dir)


def _read(path: Path) -> dict[str, Any]:
    try:
        keyfile = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorruptKeyFile(f"cannot read key file {path}: {exc}") from exc
    if not isinstance(keyfile, dict) or keyfile.get("version") != 3 or "crypto" not in keyfile:
        raise CorruptKeyFile(f"{path} is not an Ethereum keystore v3 file")
    return keyfile


def list_keys(*, keys_dir: Path | None = None) -> list[tuple[str, str]]:
    """(alias, checksummed address) of every key in the folder, by alias. The address is
    read from the file's clear-text `address` field: listing needs no password."""
    folder = keys_dir or default_keys_dir()
    if not folder.is_dir():
        return []
    keys: list[tuple[str, str]] = []
    for path in sorted(folder.glob(f"*{_SUFFIX}")):
        alias = path.name[: -len(_SUFFIX)]
        if not _ALIAS.fullmatch(alias):
            continue
        address: str
        try:
            address = to_checksum_address("0x" + str(_read(path).get("address", "")).removeprefix("0x"))
        except (CorruptKeyFile, ValueError):
            address = "(unreadable)"
        keys.append((alias, address))
    return keys


def is_weak(alias: str, *, keys_dir: Path | None = None) -> bool:
    """Whether the key stored under `alias` is encrypted at less than the standard cost
    (written in fast mode, or by a tool with weak defaults): cheap to brute-force."""
    path = _path(alias, keys_dir)
    if not path.is_file():
        raise KeyNotFound(f"no key named {alias!r} in {path.parent} (see `ledger keys list`)")
    crypto = _read(path).get("crypto") or _read(path).get("Crypto") or {}
    params = crypto.get("kdfparams") or {}
    if crypto.get("kdf") == "scrypt":
        return int(params.get("n", 0)) < _STANDARD_SCRYPT_N
    return int(params.get("c", 0)) < 262_144  # pbkdf2: eth_account's default rounds


def load_key(alias: str, password: str, *, keys_dir: Path | None = None, refuse_weak: bool = False) -> LocalAccount:
    """Decrypts the key stored under `alias`; with `refuse_weak`, WeakKey for a key
    encrypted at less than the standard cost (see `is_weak`)."""
    path = _path(alias, keys_dir)
    if not path.is_file():
        raise KeyNotFound(f"no key named {alias!r} in {path.parent} (see `ledger keys list`)")
    if refuse_weak and is_weak(alias, keys_dir=keys_dir):
        raise WeakKey(
            f"key {alias!r} is encrypted in fast mode ({FAST_ENV}), cheap to brute-force: "
            "refused in production; import it again without fast mode"
        )
    keyfile = _read(path)
    try:
        private_key = Account.decrypt(keyfile, password)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise WrongPassword(f"wrong password for key {alias!r}") from None
        raise CorruptKeyFile(f"cannot decrypt {path}: {exc}") from exc
    except (KeyError, TypeError) as exc:
        raise CorruptKeyFile(f"cannot decrypt {path}: {exc}") from exc
    account: LocalAccount = Account.from_key(private_key)
    return account
