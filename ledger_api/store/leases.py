"""Leases: which instance runs a singleton, the relayer and indexer of one relayer key,
among the writers on one store (PostgreSQL; on SQLite one instance owns the store and its
data folder's lock decides: chain/worker.py).

A lease row names its owner, until when it holds (renewed every second or so while it
runs), and a fencing token that grows at each takeover. A standby takes a lease only once
it has expired (its owner died, or lost the database). The owner's guarded writes check
the token in the same transaction (`FencedStore`): that check takes a KEY SHARE lock on
the lease row, which a takeover's FOR UPDATE waits for, so a deposed owner's transaction
either committed before the takeover or fails (`LeaseLost`) and rolls back. The owner's
renewal, a plain UPDATE of non-key columns, does not wait for its own guarded writes.

Times come from the database's clock on PostgreSQL, so instances on machines whose clocks
differ agree on when a lease expires.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ledger_api.errors import LedgerError
from ledger_api.store.db import Store
from ledger_api.store.tables import LeaseRow

__all__ = ["FencedStore", "Holder", "LeaseLost", "acquire", "check", "holder", "release", "renew"]

LEASES: Table = LeaseRow.__table__  # type: ignore[assignment]


class LeaseLost(LedgerError):
    """The lease this instance's writes are guarded by is another instance's now."""


@dataclass(frozen=True)
class Holder:
    owner: str
    token: int
    acquired_at: datetime
    expires_at: datetime
    now: datetime  # the database's clock when read

    @property
    def live(self) -> bool:
        return self.expires_at > self.now


def _now(connection: Connection) -> datetime:
    if connection.dialect.name == "postgresql":
        return _aware(connection.execute(select(func.clock_timestamp())).scalar_one())
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    """SQLite gives back the naive UTC time it was given."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def acquire(store: Store, name: str, owner: str, ttl: float) -> int | None:
    """Takes or keeps the lease `name` for `owner` for `ttl` seconds: the fencing token it
    holds, or None while another owner's lease is live."""
    with store.connection() as connection:
        now = _now(connection)
        expires = now + timedelta(seconds=ttl)
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        connection.execute(
            dialect.insert(LEASES)
            .values(name=name, owner=owner, token=1, acquired_at=now, expires_at=expires)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        row = connection.execute(select(LEASES).where(LEASES.c.name == name).with_for_update()).one()
        # The lock may have waited for the owner's guarded transactions: the time is now's.
        now = _now(connection)
        expires = now + timedelta(seconds=ttl)
        if row.owner == owner:
            connection.execute(update(LEASES).where(LEASES.c.name == name).values(expires_at=expires))
            return int(row.token)
        if _aware(row.expires_at) > now:
            return None
        token = int(row.token) + 1
        connection.execute(
            update(LEASES)
            .where(LEASES.c.name == name)
            .values(owner=owner, token=token, acquired_at=now, expires_at=expires)
        )
        return token


def renew(store: Store, name: str, owner: str, token: int, ttl: float) -> bool:
    """Extends `owner`'s lease; False if it is no longer its own (taken over)."""
    with store.connection() as connection:
        expires = _now(connection) + timedelta(seconds=ttl)
        done = connection.execute(
            update(LEASES)
            .where(LEASES.c.name == name, LEASES.c.owner == owner, LEASES.c.token == token)
            .values(expires_at=expires)
        )
        return done.rowcount == 1


def release(store: Store, name: str, owner: str, token: int) -> None:
    """Ends `owner`'s lease now, so a standby takes over without waiting for it to expire."""
    with store.connection() as connection:
        connection.execute(
            update(LEASES)
            .where(LEASES.c.name == name, LEASES.c.owner == owner, LEASES.c.token == token)
            .values(expires_at=_now(connection) - timedelta(seconds=1))
        )


def holder(store: Store, name: str) -> Holder | None:
    """Who holds the lease `name` (live or not), or None if nobody ever took it."""
    with store.connection() as connection:
        row = connection.execute(select(LEASES).where(LEASES.c.name == name)).first()
        if row is None:
            return None
        return Holder(row.owner, int(row.token), _aware(row.acquired_at), _aware(row.expires_at), _now(connection))


def check(connection: Connection, name: str, owner: str, token: int) -> None:
    """Raises LeaseLost unless `owner` still holds the lease with `token`; keeps it from
    being taken over until this transaction ends."""
    row = connection.execute(
        select(LEASES.c.owner, LEASES.c.token).where(LEASES.c.name == name).with_for_update(read=True, key_share=True)
    ).first()
    if row is None or row.owner != owner or int(row.token) != token:
        taken = "nobody" if row is None else f"{row.owner} (token {row.token})"
        raise LeaseLost(f"lease {name} of {owner} (token {token}) is held by {taken} now")


class FencedStore(Store):
    """The store as the lease owner's relayer and indexer use it: every transaction
    begins with `check`, so nothing it writes commits once another instance took over."""

    def __init__(self, store: Store, name: str, owner: str, token: int) -> None:
        # Shares the store's engine and sessions: no second pool, no second migration.
        self.engine = store.engine
        self._sessions = store._sessions
        self.name, self.owner, self.token = name, owner, token

    def _fence(self, connection: Connection) -> None:
        check(connection, self.name, self.owner, self.token)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with super().session() as session:
            self._fence(session.connection())
            yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        with super().connection() as connection:
            self._fence(connection)
            yield connection

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        with super().writing() as connection:
            self._fence(connection)
            yield connection

    def close(self) -> None:
        """The engine is the store's, closed with it."""
