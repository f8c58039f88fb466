"""API credentials per party: issued and revoked by an operator (`ledger admin`), shown
once, kept only as a hash. A token is `lgr_<id>_<secret>`: the id finds the row, the
secret is compared with the stored hash in constant time.

SHA-256 rather than a slow password hash: the secret is 32 random bytes, so there is
nothing to guess, and every authenticated request pays the hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from ledger_api.errors import NotAuthenticated, NotFound
from ledger_api.store import credentials as stored
from ledger_api.store.db import Store

PREFIX = "lgr"


@dataclass(frozen=True)
class Credential:
    """An authenticated credential: its id (the rate limiter's key) and its party."""

    id: str
    party: str


@dataclass(frozen=True)
class CredentialInfo:
    id: str
    party: str
    label: str
    created_at: str
    revoked: bool


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Credentials:
    def __init__(self, store: Store) -> None:
        self.store = store

    def issue(self, party: str, label: str = "") -> str:
        """A new credential for `party`; returns the token (shown once)."""
        credential_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        stored.add(self.store, credential_id, party, _hash(secret), label[:80])
        return f"{PREFIX}_{credential_id}_{secret}"

    def revoke(self, credential_id: str) -> None:
        if not stored.revoke(self.store, credential_id):
            raise NotFound(f"no credential {credential_id}")

    def list(self) -> list[CredentialInfo]:
        return [
            CredentialInfo(r.id, r.party, r.label, r.created_at.isoformat(), r.revoked_at is not None)
            for r in stored.all_credentials(self.store)
        ]

    def authenticate(self, token: str) -> str:
        """The party a token speaks for, or NotAuthenticated."""
        return self.verify(token).party

    def verify(self, token: str) -> Credential:
        """The credential a token is, with the party it speaks for, or NotAuthenticated."""
        credential_id, secret = parse_token(token)
        with self.store.connection() as conn:
            row = stored.by_id(conn, credential_id)
        return check_secret(row, secret)


def parse_token(token: str) -> tuple[str, str]:
    """A token's credential id and secret, or NotAuthenticated if it is not a token."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise NotAuthenticated("the credential is not a ledger token (lgr_<id>_<secret>)")
    return parts[1], parts[2]


def check_secret(row: Any, secret: str) -> Credential:
    """The credential of a stored row (id, party, secret_hash, revoked_at; None if there is
    none) if `secret` is its secret and it is not revoked, or NotAuthenticated."""
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
        raise NotAuthenticated("unknown credential")
    if row.revoked_at is not None:
        raise NotAuthenticated("the credential was revoked")
    return Credential(row.id, row.party)
