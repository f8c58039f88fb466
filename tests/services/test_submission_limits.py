"""What a submission meets before anything of it is stored (services/submission.py), besides
the record's own checks: a party that holds its share of the write queue is refused (429)
and told of its own writes only, while other parties' writes still go in; and a record
whose signed deadline is too close is refused (422) before it costs gas. No chain here:
nothing is sent, so every write accepted stays queued. On each store."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from sqlalchemy import update
from support.postgres import STORES, database_url
from support.submissions import CHAIN_NONCE, DOMAIN, numbered_declaration, register_exporters, set_status

from ledger_api.domain.records import sign_record
from ledger_api.errors import InvalidSubmission, PartyQueueFull, WritesQueueFull
from ledger_api.services import submission
from ledger_api.services.submission import Submission, Submissions
from ledger_api.settings import Settings
from ledger_api.store import submissions as stored_writes
from ledger_api.store.db import Store
from ledger_api.store.tables import OutboxRow

A, B = (Account.from_key(keccak(text=f"submission limits {name}")) for name in ("a", "b"))


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store = Store(database_url(request, request.param) or f"sqlite:///{tmp_path / 'ledger.db'}")
    register_exporters(store, A, B)
    yield store
    store.close()


def limited(store: Store, *, share: int | None = None, margin: int = 0) -> Submissions:
    return Submissions(
        store,
        DOMAIN,
        lambda _party: CHAIN_NONCE,
        max_queued=100,
        max_pending_per_party=share,
        min_deadline_margin=margin,
    )


def declared(key: LocalAccount, n: int, nonce: int, *, deadline: int | None = None) -> Submission:
    item = numbered_declaration(key, n, nonce)
    if deadline is None:
        return item
    record = replace(item.record, deadline=deadline)
    return Submission(record, sign_record(record, DOMAIN, key.key), item.payload)


# ---------------------------------------------------------------- a party's share of the queue


def test_the_defaults_give_one_party_a_tenth_of_the_queue_and_records_two_minutes():
    settings = Settings()
    assert settings.max_pending_per_party * 10 == settings.max_queued_writes
    assert settings.min_deadline_margin_seconds == 120


def test_a_party_holding_its_share_of_the_queue_is_refused_and_told_of_its_own_writes_only(store: Store):
    submissions = limited(store, share=2)
    held = [declared(A, n, CHAIN_NONCE + n) for n in range(2)]
    for item in held:
        submissions.submit(item)
    submissions.submit(declared(B, 10, CHAIN_NONCE))
    with pytest.raises(PartyQueueFull) as refused:
        submissions.submit(declared(A, 2, CHAIN_NONCE + 2))
    assert (refused.value.code, refused.value.limit) == ("PARTY_QUEUE_FULL", 2)
    assert refused.value.retry_after > 0
    message = str(refused.value)
    assert A.address in message and "LEDGER_MAX_PENDING_PER_PARTY" in message
    # Its own count and the limit; not the queue's depth (3), nor any other party.
    assert re.findall(r"\b\d[\d,]*\b", message.replace(A.address, "")) == ["2", "2"], message
    assert B.address not in message
    assert submissions.queued_writes() == 3  # nothing of the refused write was stored

    # A replay of a write it holds is still answered; another party still gets in.
    # (the same signed body: one signed again later may carry another deadline)
    assert submissions.submit(held[0]).created is False
    assert submissions.submit(declared(B, 11, CHAIN_NONCE + 1)).created is True
    # Once one of its writes is sent, the party may add one.
    set_status(store, A.address, CHAIN_NONCE, "submitted")
    assert submissions.submit(declared(A, 2, CHAIN_NONCE + 2)).created is True


def test_a_batch_counts_as_one_write_of_its_partys_share(store: Store):
    submissions = limited(store, share=2)
    first = submissions.submit_batch([declared(A, n, n) for n in range(3)])
    second = submissions.submit_batch([declared(A, n, n) for n in range(3, 6)])
    assert first.created and second.created
    with pytest.raises(PartyQueueFull):
        submissions.submit_batch([declared(A, n, n) for n in range(6, 9)])
    with pytest.raises(PartyQueueFull):
        submissions.submit(declared(A, 9, CHAIN_NONCE))


def test_an_epcis_document_meets_the_share_too(store: Store):
    submissions = limited(store, share=1)
    submissions.submit_many([declared(A, 0, CHAIN_NONCE), declared(A, 1, CHAIN_NONCE + 1)])
    with pytest.raises(PartyQueueFull):
        submissions.submit_many([declared(A, 2, CHAIN_NONCE + 2)])


def test_without_a_share_set_only_the_queue_limit_holds(store: Store):
    submissions = limited(store)
    for n in range(5):
        submissions.submit(declared(A, n, CHAIN_NONCE + n))
    assert submissions.queued_writes() == 5


# ---------------------------------------------------------------- counting the queue
# A count of the queue is a scan of it: taken once per QUEUE_COUNT_SECONDS, raised by each
# write stored meanwhile, and taken afresh before any refusal.


def _all_sent(store: Store) -> None:
    """The outbox handed to the chain, as the relayer would."""
    with store.session() as session:
        session.execute(update(OutboxRow).values(status="sent"))


def test_the_queue_is_counted_in_the_store_once_a_period_however_many_posts_go_in(
    store: Store, monkeypatch: pytest.MonkeyPatch
):
    counts: list[int] = []
    real = stored_writes.queued_writes
    monkeypatch.setattr(stored_writes, "queued_writes", lambda conn: counts.append(1) or real(conn))
    monkeypatch.setattr(submission, "QUEUE_COUNT_SECONDS", 3600.0)
    submissions = limited(store)
    for n in range(10):
        submissions.submit(declared(A, n, CHAIN_NONCE + n))
    assert len(counts) == 1
    monkeypatch.setattr(submission, "QUEUE_COUNT_SECONDS", -1.0)  # every count stale at once
    submissions.submit(declared(A, 10, CHAIN_NONCE + 10))
    assert len(counts) == 2


def test_writes_stored_since_the_count_count_and_a_refusal_is_decided_on_a_fresh_count(
    store: Store, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(submission, "QUEUE_COUNT_SECONDS", 3600.0)
    submissions = Submissions(store, DOMAIN, lambda _party: CHAIN_NONCE, max_queued=3)
    for n in range(3):
        submissions.submit(declared(A, n, CHAIN_NONCE + n))
    with pytest.raises(WritesQueueFull):
        submissions.submit(declared(A, 3, CHAIN_NONCE + 3))
    _all_sent(store)
    # The count of the period says 3 waiting; the store, none: the write goes in.
    assert submissions.submit(declared(A, 3, CHAIN_NONCE + 3)).created
    assert submissions.queued_writes() == 1


def test_a_partys_share_is_refused_on_a_fresh_count_only(store: Store, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(submission, "QUEUE_COUNT_SECONDS", 3600.0)
    submissions = limited(store, share=2)
    for n in range(2):
        submissions.submit(declared(A, n, CHAIN_NONCE + n))
    with pytest.raises(PartyQueueFull):
        submissions.submit(declared(A, 2, CHAIN_NONCE + 2))
    for n in range(2):
        set_status(store, A.address, CHAIN_NONCE + n, "confirmed")
    assert submissions.submit(declared(A, 2, CHAIN_NONCE + 2)).created


# ---------------------------------------------------------------- the deadline margin


def test_a_record_whose_deadline_is_closer_than_the_margin_is_refused_naming_it(store: Store):
    submissions = limited(store, margin=120)
    with pytest.raises(InvalidSubmission) as refused:
        submissions.submit(declared(A, 0, CHAIN_NONCE, deadline=int(time.time()) + 60))
    assert (refused.value.code, refused.value.field) == ("DEADLINE_TOO_CLOSE", "record.deadline")
    assert "at least 120 s" in refused.value.message
    assert submissions.queued_writes() == 0
    # In a batch, the record is named by its place.
    items = [declared(A, 1, 1), declared(A, 2, 2, deadline=int(time.time()) + 119)]
    with pytest.raises(InvalidSubmission) as in_batch:
        submissions.submit_batch(items)
    assert (in_batch.value.code, in_batch.value.field) == ("DEADLINE_TOO_CLOSE", "records[1].record.deadline")
    # With the margin to spare, taken.
    assert submissions.submit(declared(A, 0, CHAIN_NONCE, deadline=int(time.time()) + 300)).created
