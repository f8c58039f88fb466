"""Fixtures of the store's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.postgres import database_url

from ledger_api.store.db import Store


@pytest.fixture
def postgresql_store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A Store on a new database of the session's PostgreSQL server."""
    url = database_url(request, "postgresql")
    assert url is not None
    opened = Store(url)
    yield opened
    opened.close()
