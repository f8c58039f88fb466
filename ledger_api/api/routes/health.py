"""Liveness and readiness."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from ledger_api.api.deps import RuntimeDep
from ledger_api.errors import ChainError, LedgerError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


def _credited(rt: RuntimeDep, authorization: str | None) -> bool:
    """Whether the request carries a valid credential (any party's): only then does
    /readyz say more than ready or not."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token or rt.access is None:
        return False
    try:
        rt.access.caller(token.strip())
    except LedgerError:
        return False
    return True


@router.get("/readyz", responses={503: {"description": "Not ready"}})
def readyz(rt: RuntimeDep, authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
    """Ready when the chain answers, the relayer and indexer run (and their steps do not
    keep failing), the index is close to its head, the queue of writes waiting for the
    chain is below its limit and moves, and the instance's deployment is the store's.
    Without a credential the body says only `status`; with one it names what is wrong, with
    the chain head, the index, the queue's depth (`queued_writes`), the worker process and,
    on a PostgreSQL store, the instance that holds the relayer (`relayer_holder`)."""
    problems: list[str] = []
    body: dict[str, Any] = {}
    head: int | None = None
    reader = rt.settings.role == "reader"
    if reader:
        body["role"] = "reader"  # reads the writers' store: a chain that does not answer stops none of its reads
    if rt.rpc is not None:
        try:
            head = int(rt.rpc.call("eth_blockNumber"), 16)
            body["chain_head"] = head
        except ChainError as exc:
            if not reader:
                problems.append(f"chain unreachable: {exc}")
    if rt.worker is not None:
        body["chain_worker"] = {"pid": rt.worker.pid, "running": rt.worker.alive, "restarts": rt.worker.restarts}
        if not rt.worker.alive:
            problems.append("the relayer and indexer process is not running: writes queue until it is restarted")
    assert rt.queries is not None
    indexed = rt.queries.indexed_block()
    body["indexed_block"] = indexed
    if head is not None:
        body["indexer_lag"] = max(0, head - indexed)
        if head - indexed > 10:
            problems.append(f"indexer is {head - indexed} blocks behind")
    if rt.submissions is not None:
        queued = rt.submissions.queued_writes()
        body["queued_writes"] = queued
        limit = rt.submissions.max_queued
        if limit is not None and queued >= limit:
            problems.append(f"{queued} writes wait for the chain (limit {limit}): new writes are refused")
    if rt.readiness is not None:
        more, details = rt.readiness.check()
        problems.extend(more)
        body.update(details)
    body["status"] = "ready" if not problems else "not ready"
    body["problems"] = problems
    if not _credited(rt, authorization):
        body = {"status": body["status"]}
    return JSONResponse(body, status_code=200 if not problems else 503)
