"""Posts that wait for the writers' lock are stored together (services/submission.py,
Submissions._in_group): whoever takes the lock stores every post queued by then in one
transaction, and each post answers as it would alone — its own record stored once, its
own refusal, nothing of another's refusal. The tests hold the writers' lock while posts
queue behind it, then let go. No chain here; on each store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from sqlalchemy import func, select
from support.postgres import STORES, database_url
from support.submissions import CHAIN_NONCE, DOMAIN, numbered_declaration, register_exporters

from ledger_api.errors import ConflictingSubmission
from ledger_api.services.submission import Accepted, Submission, Submissions
from ledger_api.store import submissions as stored_writes
from ledger_api.store.db import Store
from ledger_api.store.tables import OUTBOX, RECORDS

A, B, C = (Account.from_key(keccak(text=f"submission groups {name}")) for name in ("a", "b", "c"))


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store = Store(database_url(request, request.param) or f"sqlite:///{tmp_path / 'ledger.db'}")
    register_exporters(store, A, B, C)
    yield store
    store.close()


class Woken:
    """Counts the relayer's wake-ups."""

    def __init__(self) -> None:
        self.times = 0

    def __call__(self) -> None:
        self.times += 1


def posted_together(submissions: Submissions, items: list[Submission]) -> list[Accepted | Exception]:
    """Posts `items` from a thread each, queued in this order behind the writers' lock held
    here, then lets go: what each post answered, an Accepted or the error it raised."""
    answers: list[Accepted | Exception | None] = [None] * len(items)

    def post(i: int) -> None:
        try:
            answers[i] = submissions.submit(items[i])
        except Exception as exc:  # the answer under test
            answers[i] = exc

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(items))]
    with submissions._lock:
        for n, thread in enumerate(threads, start=1):
            thread.start()
            wait_for(lambda n=n: len(submissions._queue) == n)
    for thread in threads:
        thread.join(timeout=30)
    assert all(answer is not None for answer in answers)
    return [answer for answer in answers if answer is not None]


def wait_for(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, "the posts did not queue"
        time.sleep(0.001)


def stored_ids(store: Store) -> list[str]:
    with store.connection() as conn:
        return sorted(conn.scalars(select(RECORDS.c.id)))


def writes_queued(store: Store) -> int:
    with store.connection() as conn:
        return int(conn.scalar(select(func.count()).select_from(OUTBOX).where(OUTBOX.c.action == "write")) or 0)


def test_posts_queued_behind_the_lock_are_each_stored_once_and_wake_the_relayer_once(store: Store):
    woken = Woken()
    submissions = Submissions(store, DOMAIN, lambda _party: CHAIN_NONCE, wake_relayer=woken)
    items = [numbered_declaration(A, 1, CHAIN_NONCE), numbered_declaration(B, 2, CHAIN_NONCE)]
    items.append(numbered_declaration(C, 3, CHAIN_NONCE))
    answers = posted_together(submissions, items)
    assert all(isinstance(a, Accepted) and a.created for a in answers), answers
    ids = sorted(a.record_id for a in answers if isinstance(a, Accepted))
    assert stored_ids(store) == ids
    assert writes_queued(store) == 3
    assert woken.times == 1


def test_a_party_posting_its_next_nonces_in_one_group_has_both_accepted_in_order(store: Store):
    submissions = Submissions(store, DOMAIN, lambda _party: CHAIN_NONCE)
    first, second = numbered_declaration(A, 1, CHAIN_NONCE), numbered_declaration(A, 2, CHAIN_NONCE + 1)
    answers = posted_together(submissions, [first, second])
    assert all(isinstance(a, Accepted) and a.created for a in answers), answers
    assert submissions.next_nonce(A.address) == CHAIN_NONCE + 2


def test_the_same_record_posted_twice_in_one_group_is_stored_once_and_the_second_is_a_replay(store: Store):
    submissions = Submissions(store, DOMAIN, lambda _party: CHAIN_NONCE)
    item = numbered_declaration(A, 1, CHAIN_NONCE)
    answers = posted_together(submissions, [item, item])
    assert [a.created for a in answers if isinstance(a, Accepted)] == [True, False]
    assert writes_queued(store) == 1


def test_a_post_refused_in_a_group_is_told_why_and_the_others_are_stored(store: Store):
    woken = Woken()
    submissions = Submissions(store, DOMAIN, lambda _party: CHAIN_NONCE, wake_relayer=woken)
    wrong_nonce = numbered_declaration(B, 2, CHAIN_NONCE + 7)
    answers = posted_together(
        submissions, [numbered_declaration(A, 1, CHAIN_NONCE), wrong_nonce, numbered_declaration(C, 3, CHAIN_NONCE)]
    )
    refused = answers[1]
    assert isinstance(refused, ConflictingSubmission) and refused.code == "NONCE_MISMATCH"
    assert str(CHAIN_NONCE) in refused.message
    stored = [a for a in answers if isinstance(a, Accepted)]
    assert len(stored) == 2 and all(a.created for a in stored)
    assert stored_ids(store) == sorted(a.record_id for a in stored)
    assert writes_queued(store) == 2
    assert woken.times == 1


def test_a_place_taken_meanwhile_refuses_only_its_own_post_of_the_group(store: Store, monkeypatch: pytest.MonkeyPatch):
    """A statement failing in the group's transaction (here: another instance took B's
    place as the insert ran) rolls the group back; each post is then stored alone, as
    before grouping, so only B's is refused."""
    submissions = Submissions(store, DOMAIN, lambda _party: CHAIN_NONCE)
    taken = numbered_declaration(B, 2, CHAIN_NONCE)
    insert = stored_writes.insert_accepted

    def insert_unless_taken(conn: Any, rows: list[dict[str, Any]], batch: Any = None) -> None:
        if any(row["party"] == B.address for row in rows):
            raise stored_writes.PlaceTaken("UNIQUE constraint failed: records.consignment, records.position")
        insert(conn, rows, batch)

    monkeypatch.setattr(stored_writes, "insert_accepted", insert_unless_taken)
    answers = posted_together(
        submissions, [numbered_declaration(A, 1, CHAIN_NONCE), taken, numbered_declaration(C, 3, CHAIN_NONCE)]
    )
    refused = answers[1]
    assert isinstance(refused, ConflictingSubmission) and refused.code == "CONCURRENT_WRITE"
    stored = [a for a in answers if isinstance(a, Accepted)]
    assert len(stored) == 2 and all(a.created for a in stored)
    assert stored_ids(store) == sorted(a.record_id for a in stored)
    assert writes_queued(store) == 2
