"""`make run` seeds the demo consignments once the server is up. Stopped in the middle
(Ctrl-C a few seconds after start), the next start must complete them, not leave a
consignment cut off after its first records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from support.service import local_settings, served, url_of

from ledger_api import demo
from ledger_api.client import LedgerClient
from ledger_api.settings import PROJECT_ROOT

# Records per demo consignment: delivered, in transit, broken chain, delivered via a transit country, not shipped.
RECORDS_PER_CONSIGNMENT = {
    f"{demo.UCR_PREFIX}{n:04d}": count for n, count in zip(range(1, 6), (7, 5, 6, 8, 2), strict=True)
}


def test_a_demo_seeding_stopped_midway_is_completed_by_the_next_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with served(local_settings(tmp_path)) as rt:
        url = url_of(rt)

        def seed() -> list[str]:
            return demo.seed(url, rt.manifest, PROJECT_ROOT / "build", rt.node.url, rt.credentials.issue)

        submit = LedgerClient.submit
        calls = 0

        def stopping_submit(self: LedgerClient, payload: dict[str, Any], **kwargs: Any) -> str:
            nonlocal calls
            calls += 1
            if calls == 10:  # the second consignment's handover, after its declaration and release
                raise KeyboardInterrupt
            return submit(self, payload, **kwargs)

        monkeypatch.setattr(LedgerClient, "submit", stopping_submit)
        with pytest.raises(KeyboardInterrupt):
            seed()
        monkeypatch.setattr(LedgerClient, "submit", submit)

        nl_customs = next(a["address"] for a in rt.manifest.authorities if a["country"] == "NL")
        http = httpx.Client(
            base_url=url, timeout=30, headers={"Authorization": f"Bearer {rt.credentials.issue(nl_customs)}"}
        )
        partly = {
            ucr: len(http.get(f"/v1/consignments/{ucr}").json().get("records", [])) for ucr in RECORDS_PER_CONSIGNMENT
        }
        assert list(partly.values()) == [7, 2, 0, 0, 0]

        assert seed() == list(RECORDS_PER_CONSIGNMENT)[1:]  # the cut one and those never started
        assert seed() == []  # and a third start has nothing left to do
        for ucr, count in RECORDS_PER_CONSIGNMENT.items():
            records = http.get(f"/v1/consignments/{ucr}").json()["records"]
            assert len(records) == count, ucr
            assert [r["position"] for r in records] == list(range(count))
