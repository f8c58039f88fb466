"""What a verification asks of the store. It is served on the event loop (cheap on SQLite,
where a read waits for nothing), so on PostgreSQL each transaction's round trips (a pool
checkout with its ping, BEGIN, COMMIT) stall the loop's other requests: the caller's
credential is one transaction and everything else the verification reads is one more
(Store.reading), where it used to be five."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event
from support.payloads import custody, declaration
from support.service import Service

UCR = "6NL123456789-READS-01"


@pytest.fixture(scope="module")
def service_store() -> str:
    """PostgreSQL only: on SQLite a read waits for nothing, and each stays a transaction of
    its own, as before."""
    return "postgresql"


@pytest.fixture(scope="module")
def consignment(service: Service) -> str:
    exporter, carrier = service.client("exporter"), service.client("carrier")
    exporter.submit(declaration(UCR))
    record_id = exporter.submit(custody(UCR, "HANDOVER"), counterparty=carrier.address)
    assert exporter.wait_confirmed(record_id)["status"] == "confirmed"
    return UCR


def _transactions_on_the_event_loop(service: Service, ask: Any) -> int:
    """Transactions begun on the event loop's thread (not the chain worker's or the thread
    pool's) while `ask()` runs."""
    store = service.runtime.store
    assert store is not None
    begun: list[int] = []

    def on_begin(_conn: Any) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        begun.append(1)

    event.listen(store.engine, "begin", on_begin)
    try:
        ask()
    finally:
        event.remove(store.engine, "begin", on_begin)
    return len(begun)


def test_a_verification_reads_in_two_transactions_on_postgresql(service: Service, consignment: str):
    store = service.runtime.store
    assert store is not None and store.engine.dialect.name == "postgresql"
    path = f"/v1/consignments/{consignment}/verification?country=NL"
    assert service.http.get(path).status_code == 200  # the verdict computed and cached

    def ask() -> None:
        response = service.http.get(path)
        assert response.status_code == 200 and response.json()["verdict"]

    count = _transactions_on_the_event_loop(service, ask)
    assert count == 2, f"{count} transactions: the credential's, then one for the verification's reads"
