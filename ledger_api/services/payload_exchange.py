"""Payloads this instance lacks, fetched from the instances of the other authorities and
kept only once the chain vouches for them.

What is wanted: records on chain whose payload is not held here (learnt from the chain:
another authority's relayer wrote them, or their party wrote straight to the contract),
of consignments whose route includes this authority's country; and the leaves of Merkle
roots another instance anchored, which only that instance (or one it gave them to) can
tell. Whom to ask: first the instance whose published relayer sent the transaction (the
writing authority's), then every other published instance but this one, each request
signed with a fresh peer token (domain/peer_tokens.py) under the key this authority
published.

Every record received is checked against the chain before anything of it is kept
(store/records.py `hold`, `hold_batch_record`: its id recomputed under this ledger's
EIP-712 domain is the one on chain or its inclusion proof reaches an anchored root, its
payload hashes to the on-chain payloadHash, its signature is its party's). A record that
fails is refused: a `payload_refusals` row and a warning naming the peer; the verdict
names it (PAYLOAD_REFUSED_FROM_PEER) while no good copy is held.

Two ways in:
- `step`, in the chain worker beside the relayer and the indexer: the wanted records
  shortly after the indexer learns them, each with a growing pause between attempts;
- `fetch_missing(consignment_key, deadline_seconds)`, when a verification meets a record
  without payload: the consignment's wanted records at once, within the deadline.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger_api.domain import peer_tokens
from ledger_api.domain.endpoints import Endpoint
from ledger_api.domain.exchange import ServedRecord
from ledger_api.domain.receipts import SigningKey
from ledger_api.domain.records import LedgerDomain
from ledger_api.errors import HoldRefused, LedgerError
from ledger_api.store import peers
from ledger_api.store import records as chain_records
from ledger_api.store.db import Store
from ledger_api.store.peers import ForeignRoot, WantedRecord, consignments_on_route, foreign_roots, wanted_records

log = logging.getLogger(__name__)

# Seconds before a wanted record or root is asked for again, by attempts made: a peer that
# is down is not asked every half second, one that comes back is asked within minutes.
BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
SENDERS_CACHED = 4096
FETCHES_AT_ONCE = 4  # consignments asked for at once by the background fetch
# Refusals that say the peer served something the chain contradicts; other codes say the
# copy cannot be placed yet (its root not indexed yet, its previous record not held yet).
MISMATCHES = {"NOT_ON_CHAIN", "PAYLOAD_HASH_MISMATCH", "BAD_SIGNATURE", "WRONG_SIGNER", "PROOF_INVALID"}


def peer_authorization(
    key: Ed25519PrivateKey, authority: str, audience: str, clock: Callable[[], float], method: str = "GET"
) -> Callable[[str], str]:
    """The Authorization header of a request (`method`, a GET by default) from `authority`'s
    instance to `audience`'s, made per request path (`htu`) with a token of its own (the
    client calls it per request)."""

    def header(htu: str) -> str:
        token = peer_tokens.issue(
            key, authority=authority, audience=audience, method=method, path=htu, now=int(clock()), jti=uuid.uuid4().hex
        )
        return f"{peer_tokens.AUTH_SCHEME} {token}"

    return header


class PeerFetcher(Protocol):
    """What the exchange needs of the HTTP client (ledger_api/peering.py)."""

    def records(
        self, base_url: str, path: str, authorization: Callable[[str], str], timeout: float | None = None
    ) -> list[ServedRecord] | None: ...


@dataclass(frozen=True)
class FetchReport:
    """What an on-demand fetch did: how many records it held, whom it asked and what each
    said, how many wanted records are still missing, and whether this authority may ask
    at all (its country on the consignment's route)."""

    held: int
    asked: tuple[str, ...]
    missing: int
    jurisdiction: bool = True


@dataclass
class _Attempts:
    count: int = 0
    due: float = 0.0


@dataclass
class _Round:
    held: int = 0
    asked: list[str] = field(default_factory=list)
    unanswered: int = 0  # peers that could not be asked or failed


class PayloadExchange:
    def __init__(
        self,
        store: Store,
        domain: LedgerDomain,
        authority: str,
        country: Callable[[], str | None],
        signing_key: Callable[[], SigningKey],
        fetcher: PeerFetcher,
        sender_of: Callable[[str], str | None],
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.domain, self.authority = store, domain, authority
        self.country, self.signing_key, self.fetcher = country, signing_key, fetcher
        self.sender_of, self.clock, self.monotonic = sender_of, clock, monotonic
        self.wake = threading.Event()
        self._attempts: dict[str, _Attempts] = {}  # record id or root -> attempts so far
        # Roots every peer answered for and none had (more) records of for this authority:
        # not asked again in the background until a restart.
        self._settled: set[str] = set()
        self._senders: OrderedDict[str, str | None] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------ background

    def step(self) -> int:
        """Asks for what is wanted and due; returns how many records it held."""
        now = self.monotonic()
        held = 0
        wanted = self._wanted()
        by_consignment: dict[str, list[WantedRecord]] = {}
        for w in wanted:
            if self._due(w.record_id, now):
                by_consignment.setdefault(w.consignment, []).append(w)
        # A few consignments at once: each is a request to a peer (a round trip, a token
        # checked and remembered there), and records arrive from many writers at once.
        items = list(by_consignment.items())
        if items:
            with ThreadPoolExecutor(min(FETCHES_AT_ONCE, len(items)), thread_name_prefix="payload-fetch") as pool:
                rounds = list(pool.map(lambda item: self._fetch_consignment(item[0], item[1], deadline=None), items))
            for (consignment, records), result in zip(items, rounds, strict=True):
                held += result.held
                self._after_attempt([w.record_id for w in records], self._still_wanted(consignment), now)
        for root in self._foreign_roots():
            if root.root in self._settled or not self._due(root.root, now):
                continue
            result = self._fetch_batch(root, deadline=None)
            held += result.held
            if result.unanswered == 0 and not self._root_complete(root.root):
                self._settled.add(root.root)  # the others' leaves are not this authority's to see
            self._after_attempt([root.root], set() if self._root_complete(root.root) else {root.root}, now)
        return held

    def _due(self, key: str, now: float) -> bool:
        attempts = self._attempts.get(key)
        return attempts is None or attempts.due <= now

    def _after_attempt(self, keys: Iterable[str], still_wanted: set[str], now: float) -> None:
        for key in keys:
            if key not in still_wanted:
                self._attempts.pop(key, None)
                continue
            attempts = self._attempts.setdefault(key, _Attempts())
            attempts.due = now + BACKOFF[min(attempts.count, len(BACKOFF) - 1)]
            attempts.count += 1

    # ------------------------------------------------------------ on demand

    def fetch_missing(self, consignment_key: str | bytes, deadline_seconds: float) -> FetchReport:
        """Asks the peers for the payloads of the consignment's records on chain that are
        not held here, for at most `deadline_seconds`. Called by a verification that
        meets such a record; a report of what was done, never an exception."""
        consignment = "0x" + consignment_key.hex() if isinstance(consignment_key, bytes) else consignment_key.lower()
        deadline = self.monotonic() + deadline_seconds
        with self.store.connection() as conn:
            wanted = wanted_records(conn, consignment)
            on_route = self.country() in chain_records.route_countries(conn, consignment)
        if not wanted:
            return FetchReport(0, (), 0)
        if not on_route:
            return FetchReport(0, (), len(wanted), jurisdiction=False)
        result = self._fetch_consignment(consignment, wanted, deadline=deadline)
        return FetchReport(result.held, tuple(result.asked), len(self._still_wanted(consignment)))

    # ------------------------------------------------------------ asking

    def _fetch_consignment(self, consignment: str, wanted: Sequence[WantedRecord], deadline: float | None) -> _Round:
        path = f"/v1/peer/consignments/{consignment}/records"
        senders = [self._sender(w.tx_hash) for w in wanted if w.tx_hash]
        missing = {w.record_id for w in wanted}
        result = _Round()
        for endpoint in self._peers_in_order(senders):
            if not missing:
                break
            timeout = None if deadline is None else deadline - self.monotonic()
            if timeout is not None and timeout <= 0:
                result.asked.append(f"{endpoint.authority} ({endpoint.url}): not asked, out of time")
                continue
            served = self._ask(endpoint, path, timeout, result)
            if served is None:
                continue
            result.held += self._keep(endpoint, served, missing)
            missing = self._still_wanted(consignment) & missing
        return result

    def _fetch_batch(self, root: ForeignRoot, deadline: float | None) -> _Round:
        path = f"/v1/peer/batches/{root.root}/records"
        result = _Round()
        for endpoint in self._peers_in_order([root.anchored_by]):
            if self._root_complete(root.root):
                break
            timeout = None if deadline is None else deadline - self.monotonic()
            served = self._ask(endpoint, path, timeout, result)
            if served is not None:
                result.held += self._keep(endpoint, served, set())
        return result

    def _ask(self, endpoint: Endpoint, path: str, timeout: float | None, result: _Round) -> list[ServedRecord] | None:
        try:
            served = self.fetcher.records(endpoint.url, path, self._authorization(endpoint), timeout)
        except LedgerError as exc:
            log.info("payload exchange: %s (%s) could not be asked: %s", endpoint.authority, endpoint.url, exc)
            result.asked.append(f"{endpoint.authority} ({endpoint.url}): {exc}")
            result.unanswered += 1
            return None
        result.asked.append(
            f"{endpoint.authority} ({endpoint.url}): "
            + ("holds none it will give" if served is None else f"served {len(served)} records")
        )
        return served

    def _authorization(self, endpoint: Endpoint) -> Callable[[str], str]:
        return peer_authorization(self.signing_key().private, self.authority, endpoint.authority, self.clock)

    def _peers_in_order(self, senders: Iterable[str | None]) -> list[Endpoint]:
        """Every published instance but this one: those whose relayer sent the records'
        transactions first (the writing authorities'), the others after."""
        with self.store.session() as session:
            endpoints = [e for e in peers.current_endpoints(session) if e.authority != self.authority]
        writers = {s.lower() for s in senders if s}
        return sorted(endpoints, key=lambda e: (e.relayer.lower() not in writers, e.authority))

    def _sender(self, tx_hash: str) -> str | None:
        with self._lock:
            if tx_hash in self._senders:
                return self._senders[tx_hash]
        try:
            sender = self.sender_of(tx_hash)
        except LedgerError as exc:
            log.info("payload exchange: the sender of %s is not known: %s", tx_hash, exc)
            return None
        with self._lock:
            self._senders[tx_hash] = sender
            while len(self._senders) > SENDERS_CACHED:
                self._senders.popitem(last=False)
        return sender

    # ------------------------------------------------------------ keeping

    def _keep(self, endpoint: Endpoint, served: Sequence[ServedRecord], wanted: set[str]) -> int:
        """Holds what checks out, in passes (a batch record waits for the one before it
        in its consignment); refuses and logs what the chain contradicts."""
        held = 0
        waiting = list(served)
        while waiting:
            later: list[ServedRecord] = []
            for record in waiting:
                try:
                    self._hold(record)
                    held += 1
                except HoldRefused as exc:
                    if exc.code == "PREVIOUS_NOT_HELD":
                        later.append(record)
                    elif exc.code in MISMATCHES and (exc.code != "NOT_ON_CHAIN" or record.id in wanted):
                        self._refuse(endpoint, record, exc)
                    else:  # a record the chain does not show yet, or one this instance holds another of
                        log.debug("payload exchange: record %s from %s not kept: %s", record.id, endpoint.url, exc)
            if len(later) == len(waiting):
                break
            waiting = later
        return held

    def _hold(self, record: ServedRecord) -> None:
        """The one call into the store's checks (store/records.py)."""
        with self.store.connection() as conn:
            if record.mode == "batch":
                assert record.batch_root is not None and record.proof is not None  # from_json makes sure
                chain_records.hold_batch_record(
                    conn,
                    self.domain,
                    record.record,
                    record.signature,
                    record.payload,
                    record.batch_root,
                    record.proof,
                    "peer",
                )
            else:
                chain_records.hold(conn, self.domain, record.record, record.signature, record.payload, "peer")

    def _refuse(self, endpoint: Endpoint, record: ServedRecord, exc: HoldRefused) -> None:
        reason = f"{exc.code}: {exc.message}"
        log.warning(
            "payload exchange: refused record %s from peer %s (%s): %s",
            record.id,
            endpoint.authority,
            endpoint.url,
            reason,
        )
        with self.store.connection() as conn:
            chain_records.log_refusal(conn, record.id, endpoint.authority, endpoint.url, reason)

    # ------------------------------------------------------------ what is wanted

    def _wanted(self) -> list[WantedRecord]:
        """The records on chain not held here, of consignments on this authority's route."""
        country = self.country()
        if country is None:
            return []
        with self.store.connection() as conn:
            wanted = wanted_records(conn)
            on_route = consignments_on_route(conn, country, {w.consignment for w in wanted})
        return [w for w in wanted if w.consignment in on_route]

    def _still_wanted(self, consignment: str) -> set[str]:
        with self.store.connection() as conn:
            return {w.record_id for w in wanted_records(conn, consignment)}

    def _foreign_roots(self) -> list[ForeignRoot]:
        with self.store.connection() as conn:
            return foreign_roots(conn)

    def _root_complete(self, root: str) -> bool:
        with self.store.connection() as conn:
            return root not in {r.root for r in foreign_roots(conn, root)}
