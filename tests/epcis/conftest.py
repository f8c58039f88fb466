"""The EPCIS tests run against a real service (the `service` fixture, tests/conftest.py);
those that check against GS1's own files ask for them with the `gs1` fixture."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.epcis import gs1_reference


@pytest.fixture(scope="session")
def gs1() -> Path:
    """The folder of GS1's EPCIS reference files; skipped, or failed in CI, without it."""
    return gs1_reference()
