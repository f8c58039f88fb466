"""API credentials as the store keeps them (services/credentials.py issues and checks them):
the rows, and the one statement every authenticated request runs, the credential with the
party it speaks for as the index has it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, Row, bindparam, select

from ledger_api.domain.parties import PartyStatus
from ledger_api.store.db import Store
from ledger_api.store.tables import CREDENTIALS, PARTIES, CredentialRow

__all__ = ["CREDENTIAL_COLUMNS", "add", "all_credentials", "by_id", "caller", "revoke"]

# id, party, secret_hash, revoked_at; with the party's country, roles and status (the
# party's columns are None when the index does not know the party yet).
CredentialRecord = Row[str, str, str, datetime | None]
CallerRecord = Row[str, str, str, datetime | None, str | None, int | None, int | None]

CREDENTIAL_COLUMNS = (CREDENTIALS.c.id, CREDENTIALS.c.party, CREDENTIALS.c.secret_hash, CREDENTIALS.c.revoked_at)
_BY_ID = select(*CREDENTIAL_COLUMNS).where(CREDENTIALS.c.id == bindparam("id"))
_CUSTOMS_OF_COUNTRY = select(PARTIES.c.address).where(
    PARTIES.c.country == bindparam("country"), PARTIES.c.is_authority == 1, PARTIES.c.status == int(PartyStatus.ACTIVE)
)
_CALLER = (
    select(*CREDENTIAL_COLUMNS, PARTIES.c.country, PARTIES.c.roles, PARTIES.c.status)
    .select_from(CREDENTIALS.outerjoin(PARTIES, PARTIES.c.address == CREDENTIALS.c.party))
    .where(CREDENTIALS.c.id == bindparam("id"))
)


def customs_authority_of(conn: Connection, country: str) -> bool:
    """Whether `country` has an active customs authority on the ledger (a real ISO 3166
    code as the registry knows it)."""
    return conn.execute(_CUSTOMS_OF_COUNTRY, {"country": country}).first() is not None


def add(store: Store, credential_id: str, party: str, secret_hash: str, label: str) -> None:
    with store.session() as session:
        session.add(
            CredentialRow(
                id=credential_id,
                party=party,
                secret_hash=secret_hash,
                label=label,
                created_at=datetime.now(UTC),
                revoked_at=None,
            )
        )


def revoke(store: Store, credential_id: str) -> bool:
    """Revokes a credential (once: a second revocation keeps the first's time); False if
    there is none."""
    with store.session() as session:
        row = session.get(CredentialRow, credential_id)
        if row is None:
            return False
        row.revoked_at = row.revoked_at or datetime.now(UTC)
        return True


def all_credentials(store: Store) -> Sequence[CredentialRow]:
    with store.session() as session:
        rows = session.scalars(select(CredentialRow).order_by(CredentialRow.created_at)).all()
        return rows


def by_id(conn: Connection, credential_id: str) -> CredentialRecord | None:
    """The credential's id, party, secret_hash and revoked_at."""
    return conn.execute(_BY_ID, {"id": credential_id}).first()


def caller(conn: Connection, credential_id: str) -> CallerRecord | None:
    """The credential's columns with its party's country, roles and status (None when the
    index does not know the party yet)."""
    return conn.execute(_CALLER, {"id": credential_id}).first()
