"""The API's tests run against each store: the module's `service` on SQLite, then on PostgreSQL."""

from __future__ import annotations

import pytest
from support.postgres import STORES


@pytest.fixture(scope="module", params=STORES)
def service_store(request: pytest.FixtureRequest) -> str:
    return str(request.param)
