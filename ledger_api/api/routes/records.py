"""Signed records: submit one, submit a batch, read one (at once, or once it is
confirmed or failed: `?wait=`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ledger_api.api.deps import AccessDep, BatchLimitDep, CallerDep, QueriesDep, SubmissionsDep
from ledger_api.api.problems import responses
from ledger_api.api.schemas import (
    RECORD_ID_PATTERN,
    AcceptedOut,
    BatchAcceptedOut,
    BatchIn,
    RecordOut,
    SubmissionIn,
)
from ledger_api.api.writes import answer_replay, require_at_most, write_responses
from ledger_api.services.access import Access, Caller
from ledger_api.services.queries import Queries
from ledger_api.services.submission import Submission

router = APIRouter(prefix="/v1/records", tags=["records"])
log = logging.getLogger(__name__)


def _submission(item: SubmissionIn) -> Submission:
    return Submission(record=item.record.to_domain(), signature=bytes.fromhex(item.signature[2:]), payload=item.payload)


@router.post(
    "",
    status_code=202,
    response_model=AcceptedOut,
    responses=write_responses("The same record was accepted before", AcceptedOut),
)
def submit_record(caller: CallerDep, body: SubmissionIn, service: SubmissionsDep, response: Response) -> AcceptedOut:
    """Accepts one signed record: stored durably before this answers, then written to the
    chain exactly once. Posting the same record again returns the same id (200). With the
    credential of the record's party."""
    caller.require_acting(body.record.party, "record.party")
    accepted = service.submit(_submission(body))
    answer_replay(response, accepted.created)
    response.headers["Location"] = f"/v1/records/{accepted.record_id}"
    return AcceptedOut(id=accepted.record_id, status="accepted", location=f"/v1/records/{accepted.record_id}")


@router.post(
    "/batch",
    status_code=202,
    response_model=BatchAcceptedOut,
    responses=write_responses("The same batch was accepted before", BatchAcceptedOut),
)
def submit_batch(
    caller: CallerDep, body: BatchIn, service: SubmissionsDep, limit: BatchLimitDep, response: Response
) -> BatchAcceptedOut:
    """Accepts many signed records, anchored together as one Merkle root in one
    transaction. All or nothing: one bad record refuses the batch, naming its index. With
    the credential of the records' party: every record of a batch is that party's."""
    require_at_most(len(body.records), limit, "records", "records in one batch")
    for i, item in enumerate(body.records):
        caller.require_acting(item.record.party, f"records[{i}].record.party")
    accepted = service.submit_batch([_submission(item) for item in body.records])
    answer_replay(response, accepted.created)
    return BatchAcceptedOut(
        root=accepted.root, count=len(accepted.record_ids), ids=accepted.record_ids, status="accepted"
    )


MAX_WAIT_SECONDS = 30
FINAL = ("confirmed", "failed")
# How often the index is looked at while reads are held open (_IndexWatch): every
# WAIT_POLL_SECONDS for WAIT_FAST_SECONDS after a read began to wait (a single record's
# confirmation is due a few tens of milliseconds after its post on a chain that mines on
# arrival), every WAIT_WATCH_SECONDS after that (a chain's block period); and how often a
# held read looks at its record besides.
WAIT_POLL_SECONDS, WAIT_FAST_SECONDS, WAIT_WATCH_SECONDS = 0.002, 0.25, 0.01
WAIT_POLL_MAX_SECONDS = 0.1
# Reads held open at once, per credential and in all, per process.
WAITS_PER_CREDENTIAL, WAITS_IN_ALL = 32, 1024


class _Waits:
    """The reads held open now (only the event loop touches this): each costs a status
    read whenever the index moves, and a credential's rate allows far more requests than
    that should hold. A wait past either bound is answered at once, as a plain read;
    LedgerClient.wait_confirmed then pauses before it asks again."""

    def __init__(self) -> None:
        self.by_credential: Counter[str] = Counter()
        self.total = 0

    @contextmanager
    def hold(self, credential: str) -> Iterator[bool]:
        allowed = self.by_credential[credential] < WAITS_PER_CREDENTIAL and self.total < WAITS_IN_ALL
        if allowed:
            self.by_credential[credential] += 1
            self.total += 1
        try:
            yield allowed
        finally:
            if allowed:
                self.total -= 1
                self.by_credential[credential] -= 1
                if not self.by_credential[credential]:
                    del self.by_credential[credential]


class _IndexWatch:
    """What the reads held open wait on, one per app and event loop: while any read is
    held, one task reads the indexer's cursor (one indexed read, on the event loop) and
    wakes them all when it moved, when a block was taken in or the index rewound. A woken
    read looks at its record again; it also looks every WAIT_POLL_MAX_SECONDS, for what
    moves no block (a record the relayer gave up on fails without one). The index is read
    at most every WAIT_POLL_SECONDS however many reads are held, and each read looks at
    its record only when something may have changed: polling each record itself cost a
    read per held read per look, and once it had slowed down to spare the store, heard of a
    confirmation up to 100 ms late."""

    def __init__(self, service: Queries) -> None:
        self.service = service
        self.loop = asyncio.get_running_loop()
        self.cursor = 0  # read as the first read is held
        self.moved = asyncio.Event()
        self.held = 0
        self.fast_until = 0.0
        self.task: asyncio.Task[None] | None = None

    @contextmanager
    def holding(self) -> Iterator[None]:
        self.held += 1
        self.fast_until = time.monotonic() + WAIT_FAST_SECONDS
        if self.task is None:
            self.cursor = self.service.indexed_block()  # as of now: a read compares with it
            self.task = self.loop.create_task(self._watch())
        try:
            yield
        finally:
            self.held -= 1

    async def _watch(self) -> None:
        try:
            while self.held:
                fast = time.monotonic() < self.fast_until
                await asyncio.sleep(WAIT_POLL_SECONDS if fast else WAIT_WATCH_SECONDS)
                now = self.service.indexed_block()
                if now != self.cursor:
                    self.cursor = now
                    self.moved.set()
                    self.moved = asyncio.Event()  # the next move's
        except Exception:  # the held reads go on looking every WAIT_POLL_MAX_SECONDS
            log.warning("reads held open: the index could not be read", exc_info=True)
        finally:
            self.task = None

    async def moved_from(self, seen: int, seconds: float) -> None:
        """Returns once the index has moved from `seen`, or after `seconds`."""
        if self.cursor == seen:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.moved.wait(), seconds)


def _index_watch(app: FastAPI, service: Queries) -> _IndexWatch:
    watch: _IndexWatch | None = getattr(app.state, "index_watch", None)
    if watch is None or watch.loop is not asyncio.get_running_loop():
        watch = app.state.index_watch = _IndexWatch(service)
    return watch


_waits = _Waits()


@router.get("/{record_id}", response_model=RecordOut, responses=responses(401, 404, 422, 429))
async def get_record(
    request: Request,
    record_id: Annotated[str, Path(pattern=RECORD_ID_PATTERN, description="the record id (EIP-712 digest)")],
    service: QueriesDep,
    caller: CallerDep,
    access: AccessDep,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="seconds to wait for the record to be confirmed or failed before answering "
            "(a long poll; 0: answer at once). Answered as soon as it is, or with its status "
            f"of then when the time is up; at once past {WAITS_PER_CREDENTIAL} reads held open "
            "for one credential",
        ),
    ] = 0,
) -> RecordOut:
    """Status (accepted, submitted, confirmed, failed), transaction, block, confirmations,
    and for a batched record its Merkle inclusion proof. For the parties to its
    consignment and the customs of the countries on its route."""
    if wait:
        with _waits.hold(caller.credential) as allowed:
            if allowed:
                await run_in_threadpool(access.require_record, caller, record_id)
                await _until_final(_index_watch(request.app, service), record_id, wait)
    return await run_in_threadpool(_read_record, service, caller, access, record_id)


def _read_record(service: Queries, caller: Caller, access: Access, record_id: str) -> RecordOut:
    access.require_record(caller, record_id)
    return RecordOut(**asdict(service.record(record_id)))


async def _until_final(watch: _IndexWatch, record_id: str, seconds: float) -> None:
    """Returns once the record is confirmed or failed (or gone), or after `seconds`. Its
    status is one indexed read, made on the event loop as the caller's credential is
    (api/deps.py): cheaper there than a hop to the thread pool at every look."""
    start = time.monotonic()
    with watch.holding():
        while True:
            seen = watch.cursor
            if watch.service.record_status(record_id) in (*FINAL, None):
                return
            left = seconds - (time.monotonic() - start)
            if left <= 0:
                return
            await watch.moved_from(seen, min(WAIT_POLL_MAX_SECONDS, left))
