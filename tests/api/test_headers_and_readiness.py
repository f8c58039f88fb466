"""What the service tells a browser and a stranger, and what it takes: the page may not be framed or load
anything from elsewhere, and readiness says no more than ready or not to a caller without a
credential (security review: /readyz told anyone the worker's pid and the queue depth)."""

from __future__ import annotations

import time

import httpx
import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from support.payloads import declaration
from support.service import Service, local_settings, served, url_of

from ledger_api.api.schemas import MAX_BATCH_RECORDS
from ledger_api.client import ClientError, LedgerClient
from ledger_api.domain.records import ZERO_HASH
from ledger_api.settings import Settings


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
    # The embedded anvil announces its blocks: the worker follows them (its report comes every second).
    deadline = time.monotonic() + 15
    while not ((body.get("chain_worker_status") or {}).get("heads") or {}).get("following"):
        assert time.monotonic() < deadline, f"the node's new blocks are not followed: {body.get('chain_worker_status')}"
        time.sleep(0.2)
        body = service.http.get("/readyz").json()
    assert body["chain_worker_status"]["heads"]["last_error"] is None


def test_the_officer_page_may_not_be_framed_or_load_from_elsewhere(service: Service):
    page = httpx.get(f"{service.url}/", timeout=10)
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    for path in ("/static/officer.js", "/v1/ledger", "/healthz"):
        assert httpx.get(f"{service.url}{path}", timeout=10).headers["x-content-type-options"] == "nosniff"


def test_an_operator_may_take_smaller_batches_than_the_schema_allows(tmp_path):
    """LEDGER_MAX_BATCH_RECORDS was a setting nobody read (security review)."""
    assert Settings.model_fields["max_batch_records"].metadata  # bounded, not free
    with served(local_settings(tmp_path, max_batch_records=2)) as runtime:
        assert runtime.credentials is not None
        key = Account.from_key(keccak(text="batch limit"))
        client = LedgerClient(url_of(runtime), key, token=runtime.credentials.issue(key.address))
        signed = [client.sign(declaration(f"6NL123456789-LIM-{n:04d}"), previous=ZERO_HASH, nonce=n) for n in range(3)]
        with pytest.raises(ClientError) as refused:
            client.post_batch(signed)
        assert refused.value.status == 422
        assert refused.value.problem["code"] == "TOO_MANY_RECORDS"
        assert [e["field"] for e in refused.value.problem["errors"]] == ["records"]
        client.close()


def test_the_service_never_takes_more_than_the_schema_does():
    assert Settings(max_batch_records=MAX_BATCH_RECORDS).max_batch_records == MAX_BATCH_RECORDS
    with pytest.raises(ValueError):
        Settings(max_batch_records=MAX_BATCH_RECORDS + 1)
