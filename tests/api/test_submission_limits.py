"""A party over its share of the write queue, through HTTP: 429 problem+json with
Retry-After, naming the limit and telling the party of its own writes only, while another
party's write still goes in. The chain worker is stopped first, so that what is accepted
stays queued (services/submission.py; tests/services/test_submission_limits.py has the
rules, this the answer)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.payloads import decision, declaration
from support.service import Service, running_service

from ledger_api.api.problems import MEDIA_TYPE

SHARE = 2


@pytest.fixture(scope="module")
def service(
    request: pytest.FixtureRequest, service_store: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """The module's own service, one party's share of the queue SHARE writes, its chain
    worker stopped once the cast is indexed."""
    from support.postgres import database_url

    data = tmp_path_factory.mktemp("limits")
    with running_service(data, database_url(request, service_store), max_pending_per_party=SHARE) as running:
        assert running.runtime.worker is not None  # the relayer and indexer's own process
        running.runtime.worker.stop()
        yield running


def test_a_party_over_its_share_of_the_queue_gets_429_naming_the_limit_and_others_still_write(service: Service):
    exporter, customs = service.client("exporter"), service.client("customs_nl")
    signed = [exporter.sign(declaration(f"6NL123456789-SHARE-{n:03d}"), nonce=n) for n in range(SHARE + 1)]
    for record in signed[:SHARE]:
        assert exporter.http.post("/v1/records", json=record.body()).status_code == 202
    full = exporter.http.post("/v1/records", json=signed[SHARE].body())
    assert full.status_code == 429, full.text
    assert full.headers["content-type"].split(";")[0] == MEDIA_TYPE
    assert int(full.headers["Retry-After"]) > 0
    problem = full.json()
    assert problem["code"] == "PARTY_QUEUE_FULL" and problem["status"] == 429
    assert f"the limit is {SHARE}" in problem["detail"] and "LEDGER_MAX_PENDING_PER_PARTY" in problem["detail"]
    assert exporter.address in problem["detail"] and customs.address not in problem["detail"]
    assert exporter.http.get(f"/v1/records/{signed[SHARE].id}").status_code == 404  # not stored
    # Another party's write is taken meanwhile: the export release of a consignment queued above.
    head = bytes.fromhex(signed[0].id[2:])
    release = customs.sign(decision(signed[0].payload["ucr"]), previous=head, nonce=customs.next_nonce())
    assert customs.http.post("/v1/records", json=release.body()).status_code == 202
