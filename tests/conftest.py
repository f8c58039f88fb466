"""Fixtures more than one test folder uses: a real service with a registered cast, the
demo consignments, and the session's PostgreSQL server. The services are per module, as
each module's data is its own; each starts an anvil and a uvicorn server of its own.

The `service` fixture's store is `service_store`: SQLite here, both SQLite and PostgreSQL
in the folders whose conftest.py parametrizes it (tests/api); a PostgreSQL service gets a
database of its own on the one server of the session (support/postgres.py).

tests/contracts run under brownie in another environment, which reads this file too: the
service's modules are imported inside the fixtures, which brownie's tests never ask for."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from support.demo_service import DemoService
    from support.postgres import PostgresServer
    from support.service import Service


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server, started on first use. Without one installed its
    tests skip and say why, except under CI=true, where `make test` installs it: there they fail."""
    from support.postgres import postgres_server, why_unavailable

    reason = why_unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module")
def service_store() -> str:
    """The store of the module's `service`; a folder's conftest.py parametrizes it over
    support.postgres.STORES."""
    return "sqlite"


@pytest.fixture(scope="module")
def service(
    request: pytest.FixtureRequest, service_store: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """A real service (support.service.running_service) for the module's tests."""
    from support.postgres import database_url
    from support.service import running_service

    with running_service(tmp_path_factory.mktemp("service"), database_url(request, service_store)) as running:
        yield running


@pytest.fixture(scope="module")
def demo_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoService]:
    """The demo consignments on a service of their own: (a client reading as NL customs, the runtime)."""
    from support.demo_service import serve_demo

    with serve_demo(tmp_path_factory.mktemp("verification")) as served:
        yield served
