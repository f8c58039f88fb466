"""An officer's worklist and the risk rules' hit rates, for customs of one country: the
consignments on whose route it stands, ranked by risk lane and score (RED first), each
line kept in the store, so that a page over thousands of consignments is one indexed query.

Lines are computed outside requests: the refresher (`step`, a loop of the chain worker
beside the indexer) keeps the lines of every country whose worklist was asked for,
recomputing only those of the consignments whose records changed since its last pass
(later blocks, acceptances, failures: store/worklist.changed_since), whose parties'
registry and recognition facts did, or whose inputs changed by time alone (a line keeps the
earliest block time at which one does, domain/worklist.next_change: it is recomputed once
the index head's block time passes it). A pass that finds more stale lines than a step
computes goes on from its list over the next steps rather than looking again. A request
computes at most REQUEST_LINES stale lines itself (a record just written shows at once)
and says how many lines are still pending; the very first request for a country computes
a handful of the lines it lacks, found by index, and leaves fingerprinting the route to the
refresher's first pass. With no country asked for, the refresher does not touch the store
but to look, every IDLE_LOOK_SECONDS, whether one was (a request in its own process wakes
it at once)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger_api.domain.intelligence import HeldFlag
from ledger_api.domain.parties import PARTY_EVENTS, PartyName
from ledger_api.domain.recognition import RecognitionBook
from ledger_api.domain.risk import PartnerInspection, RuleSet, assess, flags_naming
from ledger_api.domain.worklist import (
    MAX_PAGE,
    Cursor,
    Filters,
    RuleHitRate,
    WorklistEntry,
    cursor_after,
    entry_of,
    hit_rates,
    next_change,
)
from ledger_api.errors import InvalidSubmission, NotAuthorised, NotFound
from ledger_api.services.access import Caller
from ledger_api.services.verification import (
    RECOGNITION_EVENTS,
    EvidenceReader,
    FlagSource,
    VerificationEvidence,
    flags_for_verdict,
)
from ledger_api.store import worklist as sql
from ledger_api.store.db import Store
from ledger_api.store.directory import names_of

FACT_EVENTS = sorted(PARTY_EVENTS | set(RECOGNITION_EVENTS))
REQUEST_LINES = 8  # the most stale lines a request computes itself; the refresher computes the rest
STEP_LINES = 200  # lines a refresher step computes before it returns (and its loop looks at `stop`)
CHUNK = 100  # lines saved, and consignments looked up, at a time
IDLE_LOOK_SECONDS = 5.0  # with no country asked for, how often the refresher looks whether one was


def _records_part(fingerprint: str | None) -> str | None:
    """A stored fingerprint is the records' fingerprint and the index head it was computed
    at ("…@block")."""
    return None if fingerprint is None else fingerprint.partition("@")[0]


def _computed_block(fingerprint: str) -> int:
    _, _, block = fingerprint.partition("@")
    return int(block) if block.isdigit() else -1


def _expiry(
    gathered: VerificationEvidence, flags: Sequence[HeldFlag], inspections: Sequence[PartnerInspection]
) -> int | None:
    """When a line computed from `gathered` changes by time alone (domain/worklist.next_change):
    the flags naming its consignment, and the arrangements with the countries whose
    inspections it reads."""
    watched = flags_naming(gathered.input, flags) if flags else []
    arrangements = []
    if inspections:
        book = RecognitionBook()
        for event in gathered.recognition_events:
            book.apply(event["name"], event["args"], int(event["timestamp"]))
        country = gathered.input.verifying_country
        for partner in sorted({i.country for i in inspections}):
            arrangements += book.between(partner, country)
    return next_change(watched, arrangements, gathered.input.as_of_block, gathered.block_time)


@dataclass
class _Pass:
    """A refresher pass over more lines than a step computes: the mark it started at (saved
    when it ends), the flags' tag it judged with, and the stale lines it has still to compute."""

    now: sql.Mark
    tag: str
    todo: list[tuple[str, str | None, str]]


@dataclass(frozen=True)
class WorklistPage:
    country: str
    entries: list[WorklistEntry]
    parties: dict[str, PartyName]  # the exporters and custodians of the page, by address
    next_cursor: str | None
    pending: int  # consignments on the route whose lines are being computed (not on the page yet)


class Worklist:
    def __init__(
        self,
        store: Store,
        reader: EvidenceReader,
        rules: RuleSet,
        *,
        flags: FlagSource | None = None,
        own_country: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.store, self.reader, self.rules = store, reader, rules
        # The intelligence flags this authority holds fire on its own country's lines, as
        # in its verdicts; a line remembers the flags' version it was computed with.
        self.flags, self.own_country = flags, own_country
        self._flag_rules = {r.id for r in rules.rules if r.when.type == "intelligence_flag_matches"}
        self._flags_passed: dict[str, str] = {}  # country -> the flags' tag of the refresher's last pass
        # country -> the change marker its lines were last current at, and how many were pending then
        self._checked: dict[str, tuple[str, int]] = {}
        self._seen: dict[str, sql.Mark] = {}  # country -> where the store stood when this process's lines were current
        self.wake = threading.Event()  # a request that left lines stale wakes the refresher of its process
        self._next_look = 0.0  # monotonic time of the refresher's next look while no country is served
        self._passes: dict[str, _Pass] = {}  # country -> the refresher's pass under way, over several steps

    @staticmethod
    def require_customs_of(caller: Caller, country: str) -> None:
        """A country's worklist is for its own customs."""
        if not caller.is_customs or caller.country != country:
            raise NotAuthorised(
                "NOT_CUSTOMS_OF",
                "country",
                f"the worklist of {country} is for active customs of {country}; the credential is "
                f"{'customs' if caller.is_customs else 'a party'} of {caller.country or 'no country'}",
            )

    # ------------------------------------------------------------ keeping lines current

    def step(self) -> int:
        """The refresher's pass (chain worker, beside the indexer): for each country whose
        worklist was asked for, recomputes the lines of the consignments whose records or
        registry and recognition facts changed since its mark, and the lines it lacks;
        STEP_LINES at most, then it returns and the next step goes on. A country's mark
        moves on once its lines are all current. Returns how many lines it computed.

        While no country is served it looks only every IDLE_LOOK_SECONDS, with one query:
        a request in another process (the API's, another instance's) cannot wake it."""
        if time.monotonic() < self._next_look:
            return 0
        with self.store.session() as session:
            served = sql.served_countries(session)
            if not served:
                self._next_look = time.monotonic() + IDLE_LOOK_SECONDS
                return 0
            now = sql.current_mark(session)
        self._next_look = 0.0
        done = 0
        for country, since in sorted(served.items()):
            tag = self._flags_tag(country)
            underway = self._passes.get(country)
            if underway is not None and underway.tag == tag:
                # A pass that found more than a step's lines goes on from its list, as of its
                # mark: what changed since is the next pass's, not a reason to look again.
                budget = STEP_LINES - done
                batch, underway.todo = underway.todo[:budget], underway.todo[budget:]
                done += self._compute(country, batch, underway.now, [])
                mark, left = underway.now, len(underway.todo)
            else:
                flags_moved = self._flags_passed.get(country, "") != tag
                if since == now and not flags_moved:
                    continue
                if flags_moved:  # every line of the country is judged again against the flags now held
                    since = None
                computed, rest = self._catch_up(country, since, now, STEP_LINES - done, facts=True, backlog=True)
                done += computed
                mark, left = now, len(rest)
                if rest:
                    self._passes[country] = _Pass(now, tag, rest)
            if not left:
                self._passes.pop(country, None)
                self._flags_passed[country] = tag
                try:
                    with self.store.session() as session:
                        sql.save_mark(session, country, mark)
                except IntegrityError:  # asked for at this moment: the next step saves it
                    pass
            if done >= STEP_LINES:
                break
        return done

    def _freshen(self, country: str) -> int:
        """A request's share: makes `country` a served one, and computes at most
        REQUEST_LINES of the lines whose consignments changed since the refresher's last
        pass (or since this process last looked, while the refresher's first pass for the
        country is under way), so that a page reflects a record just written without
        waiting; the lines never computed are the refresher's, but for the very first look
        at a country. Returns how many lines are still being computed."""
        with self.store.session() as session:
            first = sql.serve(session, country)
            marker = sql.change_marker(session)
        if first:
            self._next_look = 0.0
            self.wake.set()
        checked = self._checked.get(country)
        if checked is not None and checked[0] == marker:
            return checked[1]
        with self.store.session() as session:
            passed = sql.served_countries(session).get(country)
            now = sql.current_mark(session)
        since = passed or self._seen.get(country)
        if since is None:
            left = pending = self._first_look(country, now)
        else:
            _, rest = self._catch_up(country, since, now, REQUEST_LINES, facts=False, backlog=False)
            left = pending = len(rest)
            if passed is None:  # the refresher's first pass for the country is under way: count what it has left
                with self.store.session() as session:
                    pending = max(left, sql.count_missing(session, country))
        if since is None or not left:  # after a first look, what was never computed is the refresher's
            self._seen[country] = now
        if left:
            self.wake.set()
        else:
            self._checked[country] = (marker, pending)
        return pending

    def _first_look(self, country: str, now: sql.Mark) -> int:
        """This process's first look at `country` with no refresher pass done: computes at
        most REQUEST_LINES of the lines it lacks, found by index (fingerprinting every
        consignment on the route is the refresher's first pass). Returns how many lack one."""
        with self.store.session() as session:
            lacking = sql.missing(session, country, limit=REQUEST_LINES)
            current = sql.fingerprints(session, country, lacking) if lacking else {}
        tag = self._flags_tag(country)
        todo = [(key, ucr, fingerprint + tag) for key, (ucr, fingerprint) in current.items()]
        self._compute(country, todo, now, [])
        with self.store.session() as session:
            return sql.count_missing(session, country)

    def _catch_up(
        self, country: str, since: sql.Mark | None, now: sql.Mark, budget: int, *, facts: bool, backlog: bool
    ) -> tuple[int, list[tuple[str, str | None, str]]]:
        """Computes up to `budget` of `country`'s stale lines: those of consignments whose
        records changed after `since` (all, with no mark or after a reorg), (with `backlog`)
        those never computed, (with `facts`) those naming a party whose registry or
        recognition facts changed after the line was computed, and those whose inputs
        changed by time alone. Returns how many it computed and the stale lines it left
        (key, UCR, fingerprint)."""
        with self.store.session() as session:
            # The refresher looks again at records accepted just before its mark (committed
            # after it was read); a request, best effort, takes its mark as it is.
            among = sql.changed_since(session, since, now, sql.ACCEPTED_SLACK if backlog else timedelta(0))
            current = sql.fingerprints(session, country, among)
            if backlog or among is None:
                stored = sql.stored_fingerprints(session, country)
            else:  # a request: the lines of the consignments that changed alone
                stored = {}
                keys = list(current)
                for start in range(0, len(keys), CHUNK):
                    stored.update(sql.stored_fingerprints(session, country, keys[start : start + CHUNK]))
            lacking = [key for key in sql.missing(session, country) if key not in current] if backlog else []
            for start in range(0, len(lacking), CHUNK):
                current.update(sql.fingerprints(session, country, lacking[start : start + CHUNK]))
            forced = self._facts_changed(session, country, stored, since, now) if facts else set()
            head_time = sql.head_time(session, now.block)
            if head_time is not None:  # lines an input of which changed by time alone since
                forced.update(sql.expired(session, country, head_time))
            unknown = [key for key in forced if key not in current]
            for start in range(0, len(unknown), CHUNK):
                current.update(sql.fingerprints(session, country, unknown[start : start + CHUNK]))
        tag = self._flags_tag(country)
        if tag:
            current = {key: (ucr, fingerprint + tag) for key, (ucr, fingerprint) in current.items()}
        gone = [key for key in stored if key not in current] if among is None else []
        # What changed first, then what was never computed: a request serves the officer's
        # latest records before the refresher's backlog.
        todo: list[tuple[str, str | None, str]] = [
            (key, ucr, fingerprint)
            for key, (ucr, fingerprint) in sorted(current.items(), key=lambda kv: kv[0] not in stored)
            if key in forced or _records_part(stored.get(key)) != fingerprint
        ]
        computed = self._compute(country, todo[:budget], now, gone)
        return computed, todo[computed:]

    def _compute(
        self, country: str, todo: Sequence[tuple[str, str | None, str]], now: sql.Mark, gone: list[str]
    ) -> int:
        """Computes and saves the lines of `todo` (key, UCR, fingerprint), drops those of
        `gone`; returns how many of `todo` it looked at."""
        fresh: list[tuple[WorklistEntry, str]] = []
        computed = 0
        for _key, ucr, fingerprint in todo:
            computed += 1
            if ucr is None:  # none of its records is held here yet: nothing to rank until one is
                continue
            try:
                gathered = self.reader.gather(ucr, country)
            except NotFound:  # every record failed: nothing to rank
                continue
            flags, block_time = flags_for_verdict(self.flags, self.own_country(), country, gathered.block_time)
            inspections = gathered.partner_inspections()
            risk = assess(
                self.rules, gathered.input, flags=flags, block_time=block_time, partner_inspections=inspections
            )
            if flags and self.flags is not None:  # the author hears of each line a flag fired on
                self.flags.used([f.reason for f in risk.fired if f.id in self._flag_rules], worklist=True)
            entry = replace(entry_of(gathered.input, risk), expires_at=_expiry(gathered, flags, inspections))
            fresh.append((entry, f"{fingerprint}@{now.block}"))
            if len(fresh) >= CHUNK:  # in chunks: a long catch-up commits as it goes
                self._save(country, fresh, [])
                fresh = []
        self._save(country, fresh, gone)
        return computed

    def _flags_tag(self, country: str) -> str:
        """What a line's fingerprint adds for the flags its lane reads: their version, on the
        authority's own country's lines while it holds flags; nothing otherwise."""
        if self.flags is None or country != self.own_country():
            return ""
        return f"|flags {self.flags.version()}"

    @staticmethod
    def _facts_changed(
        session: Session, country: str, stored: dict[str, str], since: sql.Mark | None, now: sql.Mark
    ) -> set[str]:
        """`country`'s lines computed before a registry or recognition event about one of
        their parties (or an arrangement, about every line). At its mark every line was
        current: only the events after it count."""
        computed_at = {key: _computed_block(fp) for key, fp in stored.items()}
        after = since.block if since is not None else min(computed_at.values(), default=0)
        changes = sql.fact_changes(session, FACT_EVENTS, after, now.block)
        if not changes:
            return set()
        everyone = max((block for block, party in changes if party is None), default=-1)
        latest: dict[str, int] = {}
        for block, party in changes:
            if party is not None:
                latest[party] = max(block, latest.get(party, -1))
        named = sql.lines_naming(session, country, None if everyone >= 0 else list(latest))
        stale = set()
        for key, parties in named.items():
            needed = max([everyone, *(latest.get(p, -1) for p in parties)])
            if computed_at.get(key, -1) < needed:
                stale.add(key)
        return stale

    def _save(self, country: str, fresh: list[tuple[WorklistEntry, str]], gone: list[str]) -> None:
        if not (fresh or gone):
            return
        try:
            with self.store.session() as session:
                sql.save_entries(session, country, fresh, gone)
        except IntegrityError:
            # Another process serving the same store (a request beside the refresher, reader
            # workers) wrote these lines at the same moment, from the same records: theirs
            # are as good, and the next pass checks.
            return

    def page(self, country: str, filters: Filters, cursor: str | None, limit: int) -> WorklistPage:
        after = None
        if cursor:
            try:
                after = Cursor.decode(cursor)
            except ValueError as exc:
                raise InvalidSubmission("BAD_CURSOR", "cursor", str(exc)) from exc
        limit = max(1, min(limit, MAX_PAGE))
        pending = self._freshen(country)
        with self.store.session() as session:
            entries = sql.page(session, country, filters, after, limit + 1)
            shown = entries[:limit]
            parties = names_of(session, [a for e in shown for a in (e.exporter, e.custodian)])
        more = len(entries) > limit
        return WorklistPage(country, shown, parties, cursor_after(shown[-1]).encode() if more else None, pending)

    def hit_rates(self, country: str, since: int | None, until: int | None) -> list[RuleHitRate]:
        self._freshen(country)
        with self.store.session() as session:
            entries = sql.declared_between(session, country, since, until)
        return hit_rates(self.rules, entries)

    def marker(self) -> str:
        with self.store.session() as session:
            return sql.change_marker(session)
