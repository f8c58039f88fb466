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
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select

from ledger_api.errors import NotAuthenticated, NotFound
from ledger_api.store.db import Store
from ledger_api.store.tables import CREDENTIALS, CredentialRow

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
        with self.store.session() as session:
            session.add(
                CredentialRow(
                    id=credential_id,
                    party=party,
                    secret_hash=_hash(secret),
                    label=label[:80],
                    created_at=datetime.now(UTC),
                    revoked_at=None,
                )
            )
        return f"{PREFIX}_{credential_id}_{secret}"

    def revoke(self, credential_id: str) -> None:
        with self.store.session() as session:
            row = session.get(CredentialRow, credential_id)
            if row is None:
                raise NotFound(f"no credential {credential_id}")
            row.revoked_at = row.revoked_at or datetime.now(UTC)

    def list(self) -> list[CredentialInfo]:
        with self.store.session() as session:
            rows = session.scalars(select(CredentialRow).order_by(CredentialRow.created_at)).all()
            return [
                CredentialInfo(r.id, r.party, r.label, r.created_at.isoformat(), r.revoked_at is not None) for r in rows
            ]

    def authenticate(self, token: str) -> str:
        """The party a token speaks for, or NotAuthenticated."""
        return self.verify(token).party

    def verify(self, token: str) -> Credential:
        """The credential a token is, with the party it speaks for, or NotAuthenticated."""
        credential_id, secret = parse_token(token)
        with self.store.connection() as conn:
            row = conn.execute(_BY_ID, {"id": credential_id}).first()
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


CREDENTIAL_COLUMNS = (CREDENTIALS.c.id, CREDENTIALS.c.party, CREDENTIALS.c.secret_hash, CREDENTIALS.c.revoked_at)
_BY_ID = select(*CREDENTIAL_COLUMNS).where(CREDENTIALS.c.id == bindparam("id"))
