"""What the service tells a browser and a stranger: the page may not be framed or load
anything from elsewhere, and readiness says no more than ready or not to a caller without a
credential (security review: /readyz told anyone the worker's pid and the queue depth)."""

from __future__ import annotations

import httpx
from support.service import Service


def test_readiness_tells_a_stranger_only_whether_the_service_is_ready(service: Service):
    answer = httpx.get(f"{service.url}/readyz", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready"}
    forged = httpx.get(f"{service.url}/readyz", headers={"Authorization": "Bearer lgr_x_y"}, timeout=10)
    assert forged.json() == {"status": "ready"}


def test_readiness_tells_a_credential_holder_what_it_stands_on(service: Service):
    body = service.http.get("/readyz").json()
    assert body["status"] == "ready" and body["problems"] == []
    assert {"chain_head", "indexed_block", "indexer_lag", "queued_writes"} <= body.keys()


def test_the_officer_page_may_not_be_framed_or_load_from_elsewhere(service: Service):
    page = httpx.get(f"{service.url}/", timeout=10)
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    for path in ("/static/officer.js", "/v1/ledger", "/healthz"):
        assert httpx.get(f"{service.url}{path}", timeout=10).headers["x-content-type-options"] == "nosniff"
