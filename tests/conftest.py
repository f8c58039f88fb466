"""Fixtures more than one test folder uses: a real service with a registered cast, and the
demo consignments. Both are per module, as each module's data is its own; each starts an
anvil and a uvicorn server of its own.

tests/contracts run under brownie in another environment, which reads this file too: the
service's modules are imported inside the fixtures, which brownie's tests never ask for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from support.demo_service import DemoService
    from support.service import Service


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A real service (support.service.running_service) for the module's tests."""
    from support.service import running_service

    with running_service(tmp_path_factory.mktemp("service")) as running:
        yield running


@pytest.fixture(scope="module")
def demo_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoService]:
    """The demo consignments on a service of their own: (a client reading as NL customs, the runtime)."""
    from support.demo_service import serve_demo

    with serve_demo(tmp_path_factory.mktemp("verification")) as served:
        yield served
