"""The worklist's SQL: which consignments have a country on their route, whether their
lines are still current, and the ranked, filtered pages of a country's worklist.

`on_route` is the one place that answers "whose route is this country on": the `routes`
table (the countries RouteExtended added on chain, and those a batch declaration or
transit held from a peer signed), with the routes this instance's held records sign that
the chain does not show (its own batches, records not on chain yet).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, delete, func, insert, or_, select, union
from sqlalchemy.orm import Session

from ledger_api.domain.records import RecordKind
from ledger_api.domain.worklist import LANE_RANK, Cursor, Filters, WorklistEntry
from ledger_api.store.tables import BlockRow, EventRow, RecordRow, RouteRow, StateRow, WorklistRow


def on_route(country: str, among: Select[Any] | Collection[str] | None = None) -> Select[Any]:
    """The keys of the consignments whose route names `country` (a subquery), of those
    `among` when given: those the `routes` table holds, and those whose held declaration
    or transit, not failed, signs it (a local batch's consignments, and records not on
    chain yet, are not in `routes`)."""
    routed = select(RouteRow.consignment.label("consignment")).where(RouteRow.country == country)
    signed = select(RecordRow.consignment).where(
        RecordRow.kind.in_([int(RecordKind.DECLARATION), int(RecordKind.TRANSIT)]),
        RecordRow.status != "failed",
        RecordRow.route.like(f'%"{country}"%'),
    )
    if among is not None:  # a handful: looked up by key, not a scan of every record's route
        keys = among if isinstance(among, Select) else list(among)
        routed = routed.where(RouteRow.consignment.in_(keys))
        signed = signed.where(RecordRow.consignment.in_(keys))
    both = union(routed, signed).subquery()
    return select(both.c.consignment)


# ---------------------------------------------------------------- what changed

# An acceptance time is taken before its transaction commits: a record committed just after
# a mark was read can carry an earlier time. Records accepted this long before the mark are
# looked at again (their fingerprints tell whether their lines are current already).
ACCEPTED_SLACK = timedelta(seconds=30)
MARK_PREFIX = "worklist:"


@dataclass(frozen=True)
class Mark:
    """Where the store stood when a country's lines were last all current: the index head
    and its block's hash (a reorg changes it), the latest acceptance time, and how many
    records had failed. A pass looks only at what changed after its mark."""

    block: int
    block_hash: str | None
    accepted_at: datetime | None
    failed: int

    def encode(self) -> str:
        at = None if self.accepted_at is None else self.accepted_at.isoformat()
        return json.dumps([self.block, self.block_hash, at, self.failed])

    @classmethod
    def decode(cls, text: str) -> Mark | None:
        """None for a country asked for and not refreshed yet ("")."""
        if not text:
            return None
        block, block_hash, at, failed = json.loads(text)
        return cls(int(block), block_hash, None if at is None else datetime.fromisoformat(at), int(failed))


def current_mark(session: Session) -> Mark:
    state = session.get(StateRow, "indexed_block")
    block = int(state.value) if state else 0
    row = session.get(BlockRow, block)
    accepted = session.scalar(select(func.max(RecordRow.accepted_at)))
    failed = session.scalar(select(func.count()).select_from(RecordRow).where(RecordRow.status == "failed"))
    return Mark(block, row.hash if row else None, _aware(accepted), int(failed or 0))


def _aware(at: datetime | None) -> datetime | None:
    # SQLite gives naive datetimes back; PostgreSQL aware ones. Acceptance times are UTC.
    return at if at is None or at.tzinfo is not None else at.replace(tzinfo=UTC)


def served_countries(session: Session) -> dict[str, Mark | None]:
    """The countries whose worklists were asked for (their lines are kept current), each
    with the mark its lines are current to."""
    rows = session.execute(select(StateRow.key, StateRow.value).where(StateRow.key.like(f"{MARK_PREFIX}%"))).all()
    return {key.removeprefix(MARK_PREFIX): Mark.decode(value) for key, value in rows}


def serve(session: Session, country: str) -> bool:
    """Keeps `country`'s lines current from now on; False if they are kept already."""
    if session.get(StateRow, MARK_PREFIX + country) is not None:
        return False
    session.add(StateRow(key=MARK_PREFIX + country, value=""))
    return True


def save_mark(session: Session, country: str, mark: Mark) -> None:
    row = session.get(StateRow, MARK_PREFIX + country)
    if row is None:
        session.add(StateRow(key=MARK_PREFIX + country, value=mark.encode()))
    else:
        row.value = mark.encode()


def changed_since(
    session: Session, since: Mark | None, now: Mark, slack: timedelta = ACCEPTED_SLACK
) -> Select[Any] | None:
    """The keys of the consignments whose records changed after `since` (a subquery): a
    record included in a later block, accepted or held since (`slack` before the mark
    included), or failed since. None when every line must be looked at: no mark yet, or
    the chain reorganised below it."""
    if since is None or since.block > now.block:
        return None
    if since.block_hash is not None and session.scalar(
        select(BlockRow.hash).where(BlockRow.number == since.block)
    ) not in (since.block_hash, None):
        return None
    # One select a reason, each on its own index, rather than one scan testing them all.
    moved = [RecordRow.block_number > since.block]
    if since.accepted_at is not None:
        moved.append(RecordRow.accepted_at > since.accepted_at - slack)
    else:
        moved.append(RecordRow.accepted_at.is_not(None))
    if now.failed != since.failed:
        moved.append(RecordRow.status == "failed")
    keys = union(*(select(RecordRow.consignment).where(reason) for reason in moved)).subquery()
    return select(keys.c.consignment)


def missing(session: Session, country: str, limit: int | None = None) -> list[str]:
    """Consignments on `country`'s route without a line of it yet."""
    lined = select(WorklistRow.consignment).where(WorklistRow.country == country)
    routed = on_route(country).subquery()
    query = select(routed.c.consignment).where(routed.c.consignment.not_in(lined))
    return list(session.scalars(query if limit is None else query.limit(limit)))


def count_missing(session: Session, country: str) -> int:
    """How many consignments on `country`'s route have no line yet."""
    routed = session.scalar(select(func.count()).select_from(on_route(country).subquery()))
    lined = session.scalar(select(func.count()).select_from(WorklistRow).where(WorklistRow.country == country))
    return max(0, int(routed or 0) - int(lined or 0))


def fingerprints(
    session: Session, country: str, among: Select[Any] | Collection[str] | None
) -> dict[str, tuple[str, str]]:
    """Each consignment on `country`'s route (of those `among`, when given): its UCR and a
    fingerprint of the records its line depends on (how many, the last place, their
    blocks, how many failed, how many are held)."""
    query = select(
        RecordRow.consignment,
        func.min(RecordRow.ucr),
        func.count(),
        func.max(RecordRow.position),
        func.sum(func.coalesce(RecordRow.block_number, 0)),
        func.sum(case((RecordRow.status == "failed", 1), else_=0)),
        func.count(RecordRow.signature),
    ).where(RecordRow.consignment.in_(on_route(country, among)))
    rows = session.execute(query.group_by(RecordRow.consignment)).all()
    return {key: (ucr, f"{n}:{top}:{blocks}:{failed}:{held}") for key, ucr, n, top, blocks, failed, held in rows}


def head_time(session: Session, block: int) -> int | None:
    """The time (unix seconds) of an indexed block; None when the index has not got it."""
    row = session.get(BlockRow, block)
    return None if row is None else int(row.timestamp)


def expired(session: Session, country: str, at: int) -> list[str]:
    """`country`'s lines with an input that changed by time alone at or before `at` (block
    time): a flag's validity or an arrangement's start or end passed since they were computed."""
    query = select(WorklistRow.consignment).where(WorklistRow.country == country, WorklistRow.expires_at <= at)
    return list(session.scalars(query))


def stored_fingerprints(session: Session, country: str, among: Collection[str] | None = None) -> dict[str, str]:
    query = select(WorklistRow.consignment, WorklistRow.fingerprint).where(WorklistRow.country == country)
    if among is not None:
        query = query.where(WorklistRow.consignment.in_(list(among)))
    return dict(session.execute(query).all())


def fact_changes(session: Session, fact_events: Iterable[str], since: int, until: int) -> list[tuple[int, str | None]]:
    """Registry and recognition events in blocks (since, until]: each one's block and the
    party or operator it is about (None: an arrangement, about every exporter of a country)."""
    rows = session.execute(
        select(EventRow.block_number, EventRow.args).where(
            EventRow.name.in_(list(fact_events)), EventRow.block_number > since, EventRow.block_number <= until
        )
    ).all()
    changes: list[tuple[int, str | None]] = []
    for block, text in rows:
        args = json.loads(text)
        changes.append((int(block), args.get("party") or args.get("operator")))
    return changes


def lines_naming(session: Session, country: str, parties: Collection[str] | None) -> dict[str, tuple[str, ...]]:
    """`country`'s lines whose consignments have one of `parties` as a party (every line
    when None): each one's parties."""
    query = select(WorklistRow.consignment, WorklistRow.parties).where(WorklistRow.country == country)
    if parties is not None:
        if not parties:
            return {}
        query = query.where(or_(*(WorklistRow.parties.like(f"%,{p},%") for p in parties)))
    return {key: tuple(p for p in text.split(",") if p) for key, text in session.execute(query)}


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
        "expires_at": entry.expires_at,
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
    """Changes whenever a record is accepted, the index moves on or the refresher brings a
    country's lines up to date: what the live stream watches, a few cheap queries a second
    however many consignments there are."""
    block = session.get(StateRow, "indexed_block")
    count = session.scalar(select(func.count()).select_from(RecordRow))
    marks = session.scalars(select(StateRow.value).where(StateRow.key.like(f"{MARK_PREFIX}%"))).all()
    lines = session.scalar(select(func.count()).select_from(WorklistRow))
    progress = zlib.crc32("|".join(sorted(marks)).encode())
    return f"{block.value if block else 0}:{count}:{lines}:{progress:08x}"
