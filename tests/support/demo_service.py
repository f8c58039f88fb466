"""The demo consignments (ledger_api.demo) on a service of its own, for the tests that
verify them through the API, the officer's page and the CLI (the `demo_service` fixture,
tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ledger_api import demo
from ledger_api.runtime import Runtime
from ledger_api.settings import PROJECT_ROOT

from .service import local_settings, served, url_of, wait_until

DELIVERED, IN_TRANSIT, BROKEN = (f"{demo.UCR_PREFIX}{n:04d}" for n in (1, 2, 3))

# (a client reading as NL customs, the service's runtime)
DemoService = tuple[httpx.Client, Runtime]


@contextmanager
def serve_demo(data: Path) -> Iterator[DemoService]:
    """The demo consignments seeded through the API, the first three confirmed."""
    with served(local_settings(data)) as rt:
        assert rt.manifest is not None and rt.node is not None and rt.credentials is not None
        url = url_of(rt)
        demo.seed(url, rt.manifest, PROJECT_ROOT / "build", rt.node.url, rt.credentials.issue)
        nl_customs = next(a["address"] for a in rt.manifest.authorities if a["country"] == "NL")
        token = rt.credentials.issue(nl_customs, "NL customs")
        with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
            for ucr in (DELIVERED, IN_TRANSIT, BROKEN):
                wait_until(lambda u=ucr: _all_confirmed(http, u), what=f"{ucr} confirmed")
            yield http, rt


def _all_confirmed(http: httpx.Client, ucr: str) -> bool:
    return all(r["status"] == "confirmed" for r in http.get(f"/v1/consignments/{ucr}").json()["records"])
