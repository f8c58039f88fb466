"""An officer's worklist and the risk rules' hit rates, for customs of one country: the
consignments on whose route it stands, ranked by risk lane and score (RED first), each
line kept in the store until the consignment's records (or the registry and recognition
facts) change, so that a page over thousands of consignments is one indexed query."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from ledger_api.domain.parties import PARTY_EVENTS, PartyName
from ledger_api.domain.risk import RuleSet, assess
from ledger_api.domain.worklist import (
    MAX_PAGE,
    Cursor,
    Filters,
    RuleHitRate,
    WorklistEntry,
    cursor_after,
    entry_of,
    hit_rates,
)
from ledger_api.errors import InvalidSubmission, NotAuthorised, NotFound
from ledger_api.services.access import Caller
from ledger_api.services.verification import RECOGNITION_EVENTS, EvidenceReader
from ledger_api.store import worklist as sql
from ledger_api.store.db import Store
from ledger_api.store.directory import names_of

FACT_EVENTS = sorted(PARTY_EVENTS | set(RECOGNITION_EVENTS))


@dataclass(frozen=True)
class WorklistPage:
    country: str
    entries: list[WorklistEntry]
    parties: dict[str, PartyName]  # the exporters and custodians of the page, by address
    next_cursor: str | None


class Worklist:
    def __init__(self, store: Store, reader: EvidenceReader, rules: RuleSet) -> None:
        self.store, self.reader, self.rules = store, reader, rules
        self._locks: dict[str, threading.Lock] = {}
        self._checked: dict[str, str] = {}  # country -> the change marker its lines were last checked at
        self._guard = threading.Lock()

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

    def refresh(self, country: str) -> int:
        """Brings `country`'s lines up to date: recomputes those whose consignment changed
        (lane and score by the risk rules, as a verification would), drops those no longer
        on its route. Returns how many were recomputed."""
        with self._guard:
            lock = self._locks.setdefault(country, threading.Lock())
        with lock:
            with self.store.session() as session:
                # Nothing accepted and the index where it was: every line is as current as
                # after the last refresh here, and the page skips the grouped query.
                marker = sql.change_marker(session)
                if self._checked.get(country) == marker:
                    return 0
                current = sql.current_fingerprints(session, country, FACT_EVENTS)
                stored = sql.stored_fingerprints(session, country)
            stale = [(key, ucr, fp) for key, (ucr, fp) in current.items() if stored.get(key) != fp]
            gone = [key for key in stored if key not in current]
            fresh: list[tuple[WorklistEntry, str]] = []
            for _key, ucr, fingerprint in stale:
                try:
                    gathered = self.reader.gather(ucr, country)
                except NotFound:  # every record failed: nothing to rank
                    continue
                fresh.append((entry_of(gathered.input, assess(self.rules, gathered.input)), fingerprint))
                if len(fresh) >= 500:  # in chunks: a first refresh of thousands commits as it goes
                    self._save(country, fresh, [])
                    fresh = []
            self._save(country, fresh, gone)
            self._checked[country] = marker
            return len(stale)

    def _save(self, country: str, fresh: list[tuple[WorklistEntry, str]], gone: list[str]) -> None:
        if not (fresh or gone):
            return
        try:
            with self.store.session() as session:
                sql.save_entries(session, country, fresh, gone)
        except IntegrityError:
            # Another process serving the same store (reader workers) wrote these lines at the
            # same moment, from the same records: theirs are as good, and the next page checks.
            return

    def page(self, country: str, filters: Filters, cursor: str | None, limit: int) -> WorklistPage:
        after = None
        if cursor:
            try:
                after = Cursor.decode(cursor)
            except ValueError as exc:
                raise InvalidSubmission("BAD_CURSOR", "cursor", str(exc)) from exc
        limit = max(1, min(limit, MAX_PAGE))
        self.refresh(country)
        with self.store.session() as session:
            entries = sql.page(session, country, filters, after, limit + 1)
            shown = entries[:limit]
            parties = names_of(session, [a for e in shown for a in (e.exporter, e.custodian)])
        more = len(entries) > limit
        return WorklistPage(country, shown, parties, cursor_after(shown[-1]).encode() if more else None)

    def hit_rates(self, country: str, since: int | None, until: int | None) -> list[RuleHitRate]:
        self.refresh(country)
        with self.store.session() as session:
            entries = sql.declared_between(session, country, since, until)
        return hit_rates(self.rules, entries)

    def marker(self) -> str:
        with self.store.session() as session:
            return sql.change_marker(session)
