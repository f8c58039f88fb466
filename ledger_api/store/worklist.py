"""The worklist's SQL: which consignments have a country on their route, whether their
lines are still current, and the ranked, filtered pages of a country's worklist.

`on_route` is the one place that answers "whose route is this country on": the `routes`
table (the countries RouteExtended added on chain, and those a held batch declaration or
transit signed), one indexed lookup by country.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from sqlalchemy import Select, and_, case, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from ledger_api.domain.worklist import LANE_RANK, Cursor, Filters, WorklistEntry
from ledger_api.store.tables import EventRow, RecordRow, RouteRow, StateRow, WorklistRow


def on_route(country: str) -> Select[Any]:
    """The keys of the consignments whose route names `country` (a subquery)."""
    return select(RouteRow.consignment).where(RouteRow.country == country)


def current_fingerprints(session: Session, country: str, fact_events: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Each consignment on `country`'s route: its UCR and a fingerprint of what its line
    depends on — its records and where each stands, and how many registry and recognition
    events the index holds (a party's or an AEO status change can change a lane)."""
    facts = session.scalar(select(func.count()).select_from(EventRow).where(EventRow.name.in_(list(fact_events))))
    included = func.sum(func.coalesce(RecordRow.block_number, 0))
    rows = session.execute(
        select(
            RecordRow.consignment,
            func.min(RecordRow.ucr),
            func.count(),
            func.max(RecordRow.position),
            included,
            func.sum(case((RecordRow.status == "failed", 1), else_=0)),
        )
        .where(RecordRow.consignment.in_(on_route(country)))
        .group_by(RecordRow.consignment)
    ).all()
    return {key: (ucr, f"{n}:{top}:{blocks}:{failed}:{facts}") for key, ucr, n, top, blocks, failed in rows}


def stored_fingerprints(session: Session, country: str) -> dict[str, str]:
    rows = session.execute(
        select(WorklistRow.consignment, WorklistRow.fingerprint).where(WorklistRow.country == country)
    ).all()
    return dict(rows)


def _row(entry: WorklistEntry, fingerprint: str) -> dict[str, Any]:
    return {
        "consignment": entry.consignment,
        "country": entry.country,
        "ucr": entry.ucr,
        "fingerprint": fingerprint,
        "lane_rank": LANE_RANK[entry.lane],
        "score": entry.score,
        "entry": json.dumps(asdict(entry)),
        "awaiting": int(entry.awaiting),
        "hs_chapters": "," + ",".join(entry.hs_chapters) + ",",
        "parties": "," + ",".join(entry.parties) + ",",
        "last_event_at": entry.last_event_at,
        "declared_at": entry.declared_at,
    }


def save_entries(session: Session, country: str, entries: list[tuple[WorklistEntry, str]], gone: Iterable[str]) -> None:
    """Replaces the lines of `entries` (each with its fingerprint) and drops those of the
    consignments in `gone` from `country`'s worklist."""
    keys = [e.consignment for e, _ in entries] + list(gone)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        session.execute(delete(WorklistRow).where(WorklistRow.country == country, WorklistRow.consignment.in_(chunk)))
    if entries:
        session.execute(insert(WorklistRow), [_row(e, f) for e, f in entries])


def entry_from(text: str) -> WorklistEntry:
    data = json.loads(text)
    data["fired"] = tuple(tuple(f) for f in data["fired"])
    data["hs_chapters"] = tuple(data["hs_chapters"])
    data["parties"] = tuple(data["parties"])
    return WorklistEntry(**data)


def page(session: Session, country: str, filters: Filters, after: Cursor | None, limit: int) -> list[WorklistEntry]:
    """A page of `country`'s worklist in rank order (RED first, then by score, then UCR),
    after `after`."""
    query = select(WorklistRow.entry).where(WorklistRow.country == country)
    if filters.lane is not None:
        query = query.where(WorklistRow.lane_rank == LANE_RANK[filters.lane])
    if filters.awaiting is not None:
        query = query.where(WorklistRow.awaiting == int(filters.awaiting))
    if filters.hs_chapter is not None:
        query = query.where(WorklistRow.hs_chapters.like(f"%,{filters.hs_chapter},%"))
    if filters.party is not None:
        query = query.where(WorklistRow.parties.like(f"%,{filters.party},%"))
    if filters.arrived_from is not None:
        query = query.where(WorklistRow.last_event_at >= filters.arrived_from)
    if filters.arrived_until is not None:
        query = query.where(WorklistRow.last_event_at < filters.arrived_until)
    if after is not None:
        query = query.where(
            or_(
                WorklistRow.lane_rank > after.lane_rank,
                and_(WorklistRow.lane_rank == after.lane_rank, WorklistRow.score < after.score),
                and_(
                    WorklistRow.lane_rank == after.lane_rank,
                    WorklistRow.score == after.score,
                    WorklistRow.ucr > after.ucr,
                ),
            )
        )
    query = query.order_by(WorklistRow.lane_rank, WorklistRow.score.desc(), WorklistRow.ucr).limit(limit)
    return [entry_from(text) for text in session.scalars(query)]


def declared_between(session: Session, country: str, since: int | None, until: int | None) -> list[WorklistEntry]:
    """`country`'s lines of the consignments declared in [since, until) (unix seconds)."""
    query = select(WorklistRow.entry).where(WorklistRow.country == country)
    if since is not None:
        query = query.where(WorklistRow.declared_at >= since)
    if until is not None:
        query = query.where(WorklistRow.declared_at < until)
    return [entry_from(text) for text in session.scalars(query)]


def change_marker(session: Session) -> str:
    """Changes whenever a record is accepted or the index moves on: what the live stream
    watches, one cheap query a second however many consignments there are."""
    block = session.get(StateRow, "indexed_block")
    count = session.scalar(select(func.count()).select_from(RecordRow))
    return f"{block.value if block else 0}:{count}"
