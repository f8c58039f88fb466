"""The deployment of the contracts as the store keeps it: one row, written once, by the
instance that deployed (or that brought its manifest file into the store), and read by
every other instance, readers included, so none needs a manifest file of its own.

`recording` holds a lock for as long as an instance decides whether to deploy: on
PostgreSQL a transaction-scoped advisory lock of its own key, on SQLite BEGIN EXCLUSIVE.
Two instances starting at once on an empty database: the first deploys and records the
deployment in that same transaction; the second waits, then finds it. The row's fixed
primary key makes a second INSERT fail even without the lock.

The manifest is stored as the JSON its file holds (chain/deploy.py's Manifest, which the
store does not import: it is a chain type); the columns beside it are for a reader of the
table in an SQL console.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, insert, select, text, update

from ledger_api.store.db import Store
from ledger_api.store.tables import DeploymentRow

__all__ = ["DEPLOYMENT_LOCK_KEY", "Recording", "StoredDeployment", "recording", "stored"]

# pg_advisory_xact_lock's key for deciding on a deployment ("deploy" in ASCII); the
# migrations' key is another.
DEPLOYMENT_LOCK_KEY = 0x6465706C6F79
_ROW_ID = 1
DEPLOYMENT: Table = DeploymentRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class StoredDeployment:
    manifest: dict[str, Any]  # the manifest's fields, as its JSON file has them
    deployed_by: str
    recorded_at: datetime


def _of(row: Any) -> StoredDeployment:
    return StoredDeployment(json.loads(row.manifest), row.deployed_by, row.recorded_at)


def stored(store: Store) -> StoredDeployment | None:
    """The deployment the store holds, or None before any instance recorded one."""
    with store.connection() as connection:
        row = connection.execute(select(DEPLOYMENT).where(DEPLOYMENT.c.id == _ROW_ID)).first()
    return None if row is None else _of(row)


class Recording:
    """The deployment as seen inside the lock, and how to record one."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def current(self) -> StoredDeployment | None:
        row = self._connection.execute(select(DEPLOYMENT).where(DEPLOYMENT.c.id == _ROW_ID)).first()
        return None if row is None else _of(row)

    def record(self, manifest: dict[str, Any], by: str, *, replace: bool = False) -> None:
        """Writes the deployment; `replace` overwrites one the caller found stale (a new
        development chain), and is refused otherwise by the row's key."""
        values = {
            "chain_id": int(manifest["chain_id"]),
            "deploy_block": int(manifest["deploy_block"]),
            "deploy_block_hash": str(manifest["deploy_block_hash"]),
            "config_digest": str(manifest["config_digest"]),
            "manifest": json.dumps(manifest, sort_keys=True),
            "deployed_by": by,
            "recorded_at": datetime.now(UTC),
        }
        if replace:
            self._connection.execute(update(DEPLOYMENT).where(DEPLOYMENT.c.id == _ROW_ID).values(**values))
        else:
            self._connection.execute(insert(DEPLOYMENT).values(id=_ROW_ID, **values))


@contextmanager
def recording(store: Store) -> Iterator[Recording]:
    """One transaction in which no other instance decides on a deployment of this store."""
    with store.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DEPLOYMENT_LOCK_KEY})
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN EXCLUSIVE")
        yield Recording(connection)
