"""The officer's worklist (ranked by risk, filtered, paged), its live stream of changes
(Server-Sent Events), and the risk rules' hit rates. For customs of the country asked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from ledger_api.api.deps import CallerDep, WorklistDep
from ledger_api.api.problems import responses
from ledger_api.api.schemas import (
    ADDRESS_PATTERN,
    COUNTRY_PATTERN,
    FiredNameOut,
    HitRatesOut,
    LastEventOut,
    PartyNameOut,
    RuleHitRateOut,
    WorklistItemOut,
    WorklistOut,
)
from ledger_api.domain.parties import PartyName
from ledger_api.domain.worklist import MAX_PAGE, Filters, WorklistEntry
from ledger_api.services.worklist import WorklistPage

router = APIRouter(tags=["worklist"])

Country = Annotated[str, Query(pattern=COUNTRY_PATTERN, description="ISO 3166-1 alpha-2: your customs' country")]
Unix = Annotated[int | None, Query(ge=0, le=2**48)]
# How often the live stream looks for a change, and how long one stream lasts (the page
# reconnects): bounded, so a service stopping never waits on a stream left open.
POLL_SECONDS = 1.0
STREAM_SECONDS = 300.0
KEEPALIVE_SECONDS = 15.0


def _party(address: str, parties: dict[str, PartyName]) -> PartyNameOut:
    known = parties.get(address)
    return PartyNameOut(
        address=address, name=known.name if known else None, identifiers=known.identifiers if known else None
    )


def _item(entry: WorklistEntry, parties: dict[str, PartyName]) -> WorklistItemOut:
    return WorklistItemOut(
        ucr=entry.ucr,
        consignment=entry.consignment,
        lane=entry.lane,  # type: ignore[arg-type]
        score=entry.score,
        fired=[FiredNameOut(id=i, description=d) for i, d in entry.fired],
        exporter=_party(entry.exporter, parties),
        exporter_aeo_recognised=entry.exporter_recognised,
        exporter_aeo_programme=entry.exporter_programme,
        custodian=_party(entry.custodian, parties),
        last_event=LastEventOut(kind=entry.last_kind, place=entry.last_place, time=entry.last_time),
        awaiting_decision=entry.awaiting,
        last_decision=entry.last_decision,
        inspected=entry.inspected,
        discrepancy=entry.discrepancy,
        hs_chapters=list(entry.hs_chapters),
    )


def _out(page: WorklistPage) -> WorklistOut:
    return WorklistOut(
        country=page.country,
        items=[_item(e, page.parties) for e in page.entries],
        next_cursor=page.next_cursor,
        pending=page.pending,
    )


@router.get("/v1/worklist", response_model=WorklistOut, responses=responses(401, 403, 422, 429))
def get_worklist(
    country: Country,
    caller: CallerDep,
    worklist: WorklistDep,
    lane: Literal["RED", "AMBER", "GREEN"] | None = None,
    status: Annotated[
        Literal["awaiting", "decided", "all"], Query(description="awaiting this country's decision, decided, or both")
    ] = "awaiting",
    hs_chapter: Annotated[str | None, Query(pattern=r"^[0-9]{2}$", description="HS chapter, e.g. 84")] = None,
    party: Annotated[str | None, Query(pattern=ADDRESS_PATTERN, description="a party to the consignment")] = None,
    arrived_from: Annotated[Unix, Query(description="last event at or after (unix seconds)")] = None,
    arrived_until: Annotated[Unix, Query(description="last event before (unix seconds)")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> WorklistOut:
    """The consignments on whose route `country` stands, RED first and then by risk score,
    each with the rules that fired, the exporter's AEO status, the current custodian, the
    last event and its place. By default those awaiting the country's decision (none yet,
    or a HOLD or an inspection order still open)."""
    worklist.require_customs_of(caller, country)
    filters = Filters(
        lane=lane,
        awaiting=None if status == "all" else status == "awaiting",
        hs_chapter=hs_chapter,
        party=to_checksum_address(party) if party else None,
        arrived_from=arrived_from,
        arrived_until=arrived_until,
    )
    return _out(worklist.page(country, filters, cursor, limit))


@router.get(
    "/v1/worklist/events",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "`changed` events"},
        **responses(401, 403, 422, 429),
    },
)
async def worklist_events(
    country: Country, caller: CallerDep, worklist: WorklistDep, request: Request
) -> StreamingResponse:
    """Server-Sent Events: `changed` whenever a record is accepted or the index moves on
    (the worklist's page reloads then), a comment now and then to keep the line open. One
    stream a page; it ends after a few minutes and the page reconnects."""
    worklist.require_customs_of(caller, country)

    async def events() -> AsyncIterator[str]:
        marker = await run_in_threadpool(worklist.marker)
        yield f"event: ready\ndata: {json.dumps({'marker': marker})}\n\n"
        loop = asyncio.get_running_loop()
        started = last_sent = loop.time()
        while loop.time() - started < STREAM_SECONDS:
            await asyncio.sleep(POLL_SECONDS)
            if await request.is_disconnected():
                return
            now = await run_in_threadpool(worklist.marker)
            if now != marker:
                marker, last_sent = now, loop.time()
                yield f"event: changed\ndata: {json.dumps({'marker': marker})}\n\n"
            elif loop.time() - last_sent > KEEPALIVE_SECONDS:
                last_sent = loop.time()
                yield ": still here\n\n"

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


@router.get("/v1/rules/hit-rates", response_model=HitRatesOut, responses=responses(401, 403, 422, 429))
def get_hit_rates(
    country: Country,
    caller: CallerDep,
    worklist: WorklistDep,
    since: Annotated[Unix, Query(description="declared at or after (unix seconds)")] = None,
    until: Annotated[Unix, Query(description="declared before (unix seconds)")] = None,
) -> HitRatesOut:
    """Each risk rule's record over a period (consignments on `country`'s route declared in
    it): how many it flagged, how many of those this country inspected, and how many of
    those inspections found a discrepancy."""
    worklist.require_customs_of(caller, country)
    rates = worklist.hit_rates(country, since, until)
    return HitRatesOut(
        country=country,
        since=since,
        until=until,
        rules=[
            RuleHitRateOut(
                rule=r.rule,
                description=r.description,
                flagged=r.flagged,
                inspected=r.inspected,
                discrepancies=r.discrepancies,
                inspection_rate=r.inspection_rate,
                discrepancy_rate=r.discrepancy_rate,
            )
            for r in rates
        ],
    )
