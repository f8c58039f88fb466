"""The lease that elects one relayer and indexer among writers on one PostgreSQL store
(store/leases.py): one owner at a time, a standby takes it only once it expired or was
released, each takeover grows the fencing token, and a deposed owner's guarded
transaction is refused; a takeover waits for the owner's guarded transaction in flight."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from ledger_api.store import leases
from ledger_api.store.db import Store
from ledger_api.store.leases import FencedStore, LeaseLost
from ledger_api.store.tables import StateRow

NAME = "chain:0xrelayer"


@pytest.fixture
def store(postgresql_store: Store) -> Store:
    return postgresql_store


def test_one_owner_at_a_time_and_a_standby_takes_over_an_expired_lease_with_a_new_token(store: Store):
    assert leases.acquire(store, NAME, "a", ttl=0.5) == 1
    assert leases.acquire(store, NAME, "b", ttl=0.5) is None
    assert leases.acquire(store, NAME, "a", ttl=0.5) == 1, "the owner keeps its token"
    time.sleep(0.6)
    assert leases.acquire(store, NAME, "b", ttl=5) == 2
    assert not leases.renew(store, NAME, "a", 1, ttl=5), "the old owner's renewal finds it taken"
    holder = leases.holder(store, NAME)
    assert holder is not None and (holder.owner, holder.token, holder.live) == ("b", 2, True)


def test_a_released_lease_is_taken_at_once(store: Store):
    assert leases.acquire(store, NAME, "a", ttl=60) == 1
    leases.release(store, NAME, "a", 1)
    assert leases.acquire(store, NAME, "b", ttl=60) == 2


def _deposed(store: Store) -> FencedStore:
    """Owner a's fenced store, after its lease expired and b took it over (token 2)."""
    leases.acquire(store, NAME, "a", ttl=0.1)
    old = FencedStore(store, NAME, "a", 1)
    time.sleep(0.2)
    assert leases.acquire(store, NAME, "b", ttl=60) == 2
    return old


def test_a_deposed_owners_guarded_write_is_refused_and_rolled_back(store: Store):
    old = _deposed(store)
    with pytest.raises(LeaseLost, match="held by b"), old.session() as session:
        session.add(StateRow(key="written by a", value="late"))
    with FencedStore(store, NAME, "b", 2).session() as session:
        session.add(StateRow(key="written by b", value="on time"))
    with store.session() as session:
        assert set(session.scalars(select(StateRow.key))) == {"written by b"}


def test_a_takeover_waits_for_the_owners_guarded_transaction_in_flight(store: Store):
    leases.acquire(store, NAME, "a", ttl=0.2)
    taken: list[int | None] = []
    with FencedStore(store, NAME, "a", 1).session() as session:
        time.sleep(0.3)  # expired meanwhile, but a's transaction checked it and holds it
        standby = threading.Thread(target=lambda: taken.append(leases.acquire(store, NAME, "b", ttl=60)))
        standby.start()
        standby.join(timeout=0.5)
        assert standby.is_alive() and taken == [], "the takeover waits"
        assert leases.renew(store, NAME, "a", 1, ttl=0), "the owner's renewal does not wait for its own writes"
        session.add(StateRow(key="written by a", value="in time"))
    standby.join(timeout=10)
    assert taken == [2]
    with store.session() as session:
        assert session.get(StateRow, "written by a") is not None


def test_a_deposed_owners_transaction_that_takes_the_write_lock_first_is_refused_too(store: Store):
    old = _deposed(store)
    with pytest.raises(LeaseLost, match="held by b"), old.writing() as conn:
        conn.execute(StateRow.__table__.insert(), {"key": "written by a", "value": "late"})
    with store.session() as session:
        assert "written by a" not in set(session.scalars(select(StateRow.key)))
