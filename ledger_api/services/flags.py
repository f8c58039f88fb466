"""Intelligence flags shared between customs authorities (#16), as this instance takes part:

- Sharing, in two steps, because the author signs on chain and the instance seals: the
  author's customs (or a law-enforcement party of the instance's country) posts a flag's
  content; the instance fills in the author and a fresh subject salt, seals the content to
  each recipient's X25519 key published on chain (default: the authorities of the
  countries the author's country has a mutual recognition arrangement in force with, that
  published one), keeps the sealed document, and answers the ForwardRequest to sign
  (shareFlag's call through the LedgerForwarder). The signed request is then relayed like a
  registry write (PartyWrites.enqueue: one forwarder nonce per signer). Withdrawal is one
  signed request (withdrawFlag).
- Serving: the author's instance gives a flag's sealed document to the instances of its
  recipients only (a signed peer request, PeerRecords.authenticate); any other asker, and
  an unknown id, get the same 404. Every read is logged (`flag_reads`).
- Fetching (`step`, in the chain worker): for each flag the index shows sent to this
  authority and not held, the sealed document is asked from the author's instance (or
  its country's authority's, for a law-enforcement author), opened with this instance's
  X25519 key and checked against the chain (domain/intelligence.py open_flag), then kept;
  a peer that is down is asked again later, with a growing pause.
- Use (#16: the author sees that its flag was received and used): each verdict and worklist
  line here that fires a flag counts one use of it (`used`); the flag exchange loop reports
  to the author's instance, in a signed peer request (POST /v1/peer/flags/{id}/uses, the
  figures in its path, which the token binds), when this instance received each flag it
  fetched, when it last fired, and on how many verdicts and worklist lines, whenever these
  changed and at most every `report_every` seconds; the author's instance keeps each
  recipient's latest report (`take_use_report`) and shows them in the author's view.
- Risk: the flags held for this authority, sent to it or its own, for verification (`held`,
  `version`, `used`).

Reads of a content through the API are the author's and the recipient authority's only:
anyone else is told the flag does not exist, in the words used for one that does not."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_utils.address import to_checksum_address
from pydantic import ValidationError

from ledger_api.domain.endpoints import Endpoint
from ledger_api.domain.forwarding import FLAG_WITHDRAW_GAS, flag_share_gas, intelligence_calldata
from ledger_api.domain.intelligence import (
    FlagContent,
    FlagError,
    HeldFlag,
    SharedFlag,
    flag_content_json,
    open_flag,
    parse_flag_content,
    seal_flag,
)
from ledger_api.domain.parties import PartyStatus, Role
from ledger_api.domain.receipts import SigningKey
from ledger_api.domain.recognition import RecognitionBook
from ledger_api.errors import ConflictingSubmission, InvalidSubmission, LedgerError, NotAuthorised, NotFound
from ledger_api.services.access import Caller
from ledger_api.services.parties import PartyWrites
from ledger_api.services.payload_exchange import peer_authorization
from ledger_api.store import flags, index, peers
from ledger_api.store.db import Store
from ledger_api.store.flags import FlagRead, FlagState, RecipientUse, Usage
from ledger_api.store.tables import PartyRow

__all__ = ["FlagRead", "FlagState", "FlagView", "Flags", "RecipientUse", "SealedDraft", "SignedFlagWrite", "UseReport"]

log = logging.getLogger(__name__)

BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)  # seconds between fetches of one flag
_NO_KEY = "0x" + "00" * 32
_FLAG_IN_REASON = re.compile(r"\bflag (\d+) from ")


class DocumentFetcher(Protocol):
    """What the exchange needs of the HTTP client (ledger_api/peering.py)."""

    def document(
        self, base_url: str, path: str, authorization: Callable[[str], str], timeout: float | None = None
    ) -> bytes | None: ...

    def post(
        self, base_url: str, path: str, authorization: Callable[[str], str], timeout: float | None = None
    ) -> bool: ...


# Checks a peer request's token: the requesting authority and its country, or raises the
# 404 named by its last argument (PeerRecords.authenticate).
Authenticate = Callable[[str | None, str, str, str], tuple[str, str]]


@dataclass(frozen=True)
class SealedDraft:
    """A flag sealed here and waiting for its author's signature: what to sign."""

    content_hash: str
    author: str
    recipients: tuple[str, ...]
    to: str  # the IntelligenceLedger
    gas: int
    nonce: int  # the author's next forwarder nonce
    data: bytes  # shareFlag's calldata
    chain_id: int
    forwarder: str


@dataclass(frozen=True)
class SignedFlagWrite:
    """A shareFlag or withdrawFlag call signed by `authority` (the author, or for a
    withdrawal a customs authority of the author's country) for the forwarder."""

    authority: str
    nonce: int
    deadline: int
    signature: bytes


@dataclass(frozen=True)
class FlagView:
    """A flag as its author or a recipient sees it here."""

    state: FlagState
    content: FlagContent | None  # None while a recipient's instance has not fetched it
    reads: tuple[FlagRead, ...]  # the author's view only: who read it, when
    recipient_uses: tuple[RecipientUse, ...] = ()  # the author's view only: what each recipient reported


@dataclass(frozen=True)
class UseReport:
    """A recipient's report of its use of a flag, as the author's instance is told it."""

    received_at: int
    last_used_at: int | None
    verdicts: int
    worklist_lines: int

    def query(self) -> str:
        said = {"received_at": self.received_at, "verdicts": self.verdicts, "worklist_lines": self.worklist_lines}
        if self.last_used_at is not None:
            said["last_used_at"] = self.last_used_at
        return urlencode(said)

    @classmethod
    def of(cls, usage: Usage) -> UseReport:
        return cls(usage.received_at, usage.last_used_at, usage.verdicts, usage.worklist_lines)


@dataclass
class _Attempts:
    count: int = 0
    due: float = 0.0


@dataclass
class _Due:
    attempts: dict[int, _Attempts] = field(default_factory=dict)

    def due(self, flag_id: int, now: float) -> bool:
        attempt = self.attempts.get(flag_id)
        return attempt is None or attempt.due <= now

    def failed(self, flag_id: int, now: float) -> None:
        attempt = self.attempts.setdefault(flag_id, _Attempts())
        attempt.due = now + BACKOFF[min(attempt.count, len(BACKOFF) - 1)]
        attempt.count += 1

    def after(self, flag_id: int, due: float) -> None:
        self.attempts[flag_id] = _Attempts(0, due)


class Flags:
    def __init__(
        self,
        store: Store,
        authority: str,
        country: Callable[[], str | None],
        encryption_key: X25519PrivateKey,
        *,
        writes: PartyWrites | None,
        book: Callable[[], tuple[RecognitionBook, int]] | None,
        authenticate: Authenticate | None,
        fetcher: DocumentFetcher | None,
        signing_key: Callable[[], SigningKey],
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        salt: Callable[[], bytes] = lambda: os.urandom(32),
        report_every: float = 10.0,
    ) -> None:
        self.store, self.authority, self.country = store, authority, country
        self.encryption_key, self.writes, self.book = encryption_key, writes, book
        self.authenticate, self.fetcher, self.signing_key = authenticate, fetcher, signing_key
        self.clock, self.monotonic, self.salt = clock, monotonic, salt
        self.report_every = report_every  # seconds between two use reports of one flag
        self.wake = threading.Event()
        self._due = _Due()
        self._report_due = _Due()
        self._reported: dict[int, UseReport] = {}  # flag id -> the last report its author's instance took

    # ------------------------------------------------------------ sharing

    def seal(self, caller: Caller, fields: dict[str, Any], recipients: Sequence[str] | None) -> SealedDraft:
        """Seals a flag by `caller` (its content `fields`, without author and salt) for
        `recipients` (default: the MRA partners' authorities) and keeps it; what to sign."""
        writes = self._writes()
        self._require_author(caller)
        author = to_checksum_address(caller.address)
        try:
            content = parse_flag_content(
                {**fields, "schema_version": "1", "author": author, "subject_salt": "0x" + self.salt().hex()}
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"]) or "content"
            raise InvalidSubmission("INVALID_FLAG", where, f"{where}: {error['msg']}") from exc
        now = int(self.clock())
        if content.valid_until <= now:
            raise InvalidSubmission("EXPIRED_FLAG", "valid_until", f"valid_until ({content.valid_until}) has passed")
        keys = self._recipient_keys(caller, recipients)
        try:
            sealed = seal_flag(content, keys)
        except FlagError as exc:
            raise InvalidSubmission(exc.code, "recipients", exc.message) from exc
        content_hash = "0x" + sealed.content_hash.hex()
        with self.store.session() as session:
            flags.put_document(
                session,
                content_hash,
                author,
                sealed.document,
                flag_content_json(content),
                sealed.recipients,
                "local",
                now,
            )
        return SealedDraft(
            content_hash=content_hash,
            author=author,
            recipients=sealed.recipients,
            to=writes.addresses["IntelligenceLedger"],
            gas=flag_share_gas(len(sealed.recipients)),
            nonce=writes.next_forwarder_nonce(author),
            data=intelligence_calldata("share", *sealed.share_arguments()),
            chain_id=writes.chain_id,
            forwarder=writes.addresses["LedgerForwarder"],
        )

    def share(self, caller: Caller, content_hash: str, request: SignedFlagWrite) -> tuple[str, bool]:
        """Queues the author's signed shareFlag for the flag sealed here as `content_hash`;
        its request id and whether it is new."""
        writes = self._writes()
        caller.require_acting(request.authority, "authority")
        with self.store.session() as session:
            held = flags.document_of(session, content_hash)
        if held is None or held.origin != "local" or held.author != to_checksum_address(request.authority):
            raise NotFound(f"no flag sealed here as {content_hash}")
        content = held.content
        data = intelligence_calldata(
            "share",
            bytes.fromhex(held.content_hash[2:]),
            content.subject_hash,
            int(content.category),
            int(content.severity),
            content.valid_from,
            content.valid_until,
            list(held.recipients),
        )

        def check(session: Any) -> None:
            self._require_active_author(session, held.author)
            shared = flags.shared_with_content_hash(session, held.content_hash)
            if shared is not None:
                raise ConflictingSubmission("ALREADY_SHARED", "content_hash", f"it is flag {shared} already")

        return writes.enqueue("IntelligenceLedger", request, data, check, gas=flag_share_gas(len(held.recipients)))

    def withdraw(self, caller: Caller, flag_id: int, request: SignedFlagWrite) -> tuple[str, bool]:
        """Queues a signed withdrawFlag: by the flag's author, or a customs authority of the
        author's country. A recipient (it knows the flag exists) is told why it may not;
        anyone else is told there is no such flag."""
        writes = self._writes()
        caller.require_acting(request.authority, "authority")
        with self.store.session() as session:
            state = flags.flag(session, flag_id)
            signer = index.party(session, to_checksum_address(request.authority))
        if state is None:
            raise NotFound(f"no flag {flag_id}")
        if not _may_withdraw(state.shared, signer):
            if to_checksum_address(request.authority) not in state.shared.recipients:
                raise NotFound(f"no flag {flag_id}")
            raise NotAuthorised(
                "NOT_THE_AUTHOR",
                "authority",
                f"flag {flag_id} is {state.shared.author}'s: only its author, or customs of "
                f"{state.shared.author_country}, withdraws it",
            )
        if state.withdrawn_at_block is not None:
            raise ConflictingSubmission(
                "ALREADY_WITHDRAWN", "id", f"flag {flag_id} was withdrawn at block {state.withdrawn_at_block}"
            )

        def check(session: Any) -> None:
            signer = index.party(session, to_checksum_address(request.authority))
            if signer is None or signer.status != PartyStatus.ACTIVE:
                raise NotAuthorised("NOT_ACTIVE", "authority", f"{request.authority} is not active")

        data = intelligence_calldata("withdraw", flag_id)
        return writes.enqueue("IntelligenceLedger", request, data, check, gas=FLAG_WITHDRAW_GAS)

    # ------------------------------------------------------------ reads

    def listing(self, caller: Caller) -> list[FlagState]:
        """The flags the caller authored, and, for this instance's authority, those sent to it."""
        with self.store.session() as session:
            return flags.flags_of(session, to_checksum_address(caller.address))

    def show(self, caller: Caller, flag_id: int) -> FlagView:
        """Flag `flag_id` with its content, for its author and its recipient authority; the
        read is logged. NotFound for anyone else, as for an id that does not exist."""
        me = to_checksum_address(caller.address)
        with self.store.session() as session:
            state = flags.flag(session, flag_id)
            if state is None or not (me == state.shared.author or me in state.shared.recipients):
                raise NotFound(f"no flag {flag_id}")
            held = flags.document_of(session, "0x" + state.shared.content_hash.hex())
            if held is not None:
                flags.log_read(session, flag_id, me, "person", int(self.clock()))
            mine = me == state.shared.author
            reads = tuple(flags.reads_of(session, flag_id)) if mine else ()
            uses = tuple(flags.recipient_uses(session, flag_id)) if mine else ()
        return FlagView(state, None if held is None else held.content, reads, uses)

    # ------------------------------------------------------------ serving peers

    def serve(self, authorization: str | None, method: str, path: str, flag_id: int) -> bytes:
        """The sealed document of flag `flag_id`, for the instance of one of its recipients;
        the 404 of an unknown flag for anyone else. The read is logged."""
        refused = f"no flag {flag_id}"
        if self.authenticate is None:
            raise NotFound(refused)
        asker, _ = self.authenticate(authorization, method, path, refused)
        with self.store.session() as session:
            state = flags.flag(session, flag_id)
            held = None if state is None else flags.document_of(session, "0x" + state.shared.content_hash.hex())
            if state is None or held is None or held.origin != "local" or asker not in state.shared.recipients:
                log.warning("flag %d not served to %s: not a recipient, or not held here", flag_id, asker)
                raise NotFound(refused)
            flags.log_read(session, flag_id, asker, "peer", int(self.clock()))
        log.info("flag %d served to %s", flag_id, asker)
        return held.document

    def take_use_report(
        self, authorization: str | None, method: str, path: str, flag_id: int, report: UseReport
    ) -> None:
        """Keeps a recipient's report of its use of flag `flag_id`, shared from here, told
        by its instance; the 404 of an unknown flag for anyone else."""
        refused = f"no flag {flag_id}"
        if self.authenticate is None:
            raise NotFound(refused)
        asker, _ = self.authenticate(authorization, method, path, refused)
        with self.store.session() as session:
            state = flags.flag(session, flag_id)
            held = None if state is None else flags.document_of(session, "0x" + state.shared.content_hash.hex())
            if state is None or held is None or held.origin != "local" or asker not in state.shared.recipients:
                log.warning(
                    "use report of flag %d from %s not taken: not a recipient, or not shared here", flag_id, asker
                )
                raise NotFound(refused)
            use = RecipientUse(
                asker,
                report.received_at,
                report.last_used_at,
                report.verdicts,
                report.worklist_lines,
                int(self.clock()),
            )
            flags.put_recipient_use(session, flag_id, use)
        log.info("flag %d: %s reports %d verdicts, %d worklist lines", flag_id, asker, use.verdicts, use.worklist_lines)

    # ------------------------------------------------------------ fetching

    def step(self) -> int:
        """Fetches the flags sent to this authority that are due; how many it kept."""
        if self.fetcher is None:
            return 0
        with self.store.session() as session:
            wanted = flags.wanted_flags(session, self.authority)
        now, kept = self.monotonic(), 0
        for shared in wanted:
            if not self._due.due(shared.flag_id, now):
                continue
            if self._fetch(shared):
                kept += 1
                self._due.attempts.pop(shared.flag_id, None)
            else:
                self._due.failed(shared.flag_id, now)
        self._report_uses(now)
        return kept

    def _report_uses(self, now: float) -> None:
        """Tells the authors' instances of the flags fetched here how they were used, where
        that changed since the last report taken and the report is due."""
        assert self.fetcher is not None
        with self.store.session() as session:
            usage = flags.usage_to_report(session, self.authority)
        for use in usage:
            flag_id, report = use.shared.flag_id, UseReport.of(use)
            if self._reported.get(flag_id) == report or not self._report_due.due(flag_id, now):
                continue
            endpoint = self._author_endpoint(use.shared)
            if endpoint is None:
                self._report_due.failed(flag_id, now)
                continue
            path = f"/v1/peer/flags/{flag_id}/uses?{report.query()}"
            try:
                taken = self.fetcher.post(endpoint.url, path, self._authorization(endpoint, "POST"))
            except LedgerError as exc:
                log.info("use of flag %d not reported to %s (%s): %s", flag_id, endpoint.authority, endpoint.url, exc)
                taken = False
            if taken:
                self._reported[flag_id] = report
                self._report_due.after(flag_id, now + self.report_every)
            else:
                self._report_due.failed(flag_id, now)

    def _fetch(self, shared: SharedFlag) -> bool:
        assert self.fetcher is not None
        endpoint = self._author_endpoint(shared)
        if endpoint is None:
            return self._failed(shared, f"no instance of {shared.author_country} is published")
        path = f"/v1/peer/flags/{shared.flag_id}"
        try:
            document = self.fetcher.document(endpoint.url, path, self._authorization(endpoint))
        except LedgerError as exc:
            return self._failed(shared, f"{endpoint.authority} ({endpoint.url}) could not be asked: {exc}")
        if document is None:
            return self._failed(shared, f"{endpoint.authority} ({endpoint.url}) does not serve it")
        try:
            content = open_flag(document, shared, self.authority, self.encryption_key)
        except FlagError as exc:
            log.warning(
                "flag %d from %s (%s) refused: %s: %s",
                shared.flag_id,
                endpoint.authority,
                endpoint.url,
                exc.code,
                exc.message,
            )
            return self._failed(shared, f"refused from {endpoint.authority}: {exc.code}: {exc.message}")
        with self.store.session() as session:
            flags.put_document(
                session,
                "0x" + shared.content_hash.hex(),
                shared.author,
                document,
                flag_content_json(content),
                shared.recipients,
                "peer",
                int(self.clock()),
            )
            flags.set_fetch_error(session, shared.flag_id, None)
        log.info("flag %d from %s held", shared.flag_id, shared.author)
        return True

    def _failed(self, shared: SharedFlag, reason: str) -> bool:
        log.info("flag %d not fetched: %s", shared.flag_id, reason)
        with self.store.session() as session:
            flags.set_fetch_error(session, shared.flag_id, reason)
        return False

    def _author_endpoint(self, shared: SharedFlag) -> Endpoint | None:
        """The author's instance, or for a law-enforcement author (no instance of its own)
        its country's authority's."""
        with self.store.session() as session:
            own = peers.current_endpoint(session, shared.author)
            if own is not None:
                return own
            return next(
                (e for e in peers.active_endpoints(session) if e.country == shared.author_country),
                None,
            )

    def _authorization(self, endpoint: Endpoint, method: str = "GET") -> Callable[[str], str]:
        return peer_authorization(self.signing_key().private, self.authority, endpoint.authority, self.clock, method)

    # ------------------------------------------------------------ for verification

    def held(self) -> list[HeldFlag]:
        """The flags sent to this authority, and those it or a law-enforcement party of its
        country shared here (it knows them: its own verdicts fire them too), whose content is
        held, withdrawn ones too."""
        with self.store.session() as session:
            return flags.held_flags(session, self.authority, self.country())

    def version(self) -> tuple[int, int, int]:
        with self.store.read() as conn:  # Core: every verification asks it
            return flags.version(conn)

    def used(self, reasons: Sequence[str], *, worklist: bool = False) -> None:
        """Counts one use of each flag a verdict's (or with `worklist` a worklist line's)
        fired flag rules name."""
        ids = sorted({int(m) for reason in reasons for m in _FLAG_IN_REASON.findall(reason)})
        if ids:
            with self.store.session() as session:
                flags.count_uses(session, ids, int(self.clock()), worklist=worklist)

    # ------------------------------------------------------------ checks

    def _writes(self) -> PartyWrites:
        if self.writes is None:
            raise NotAuthorised("READ_ONLY", "authority", "this instance serves reads only")
        return self.writes

    def _require_author(self, caller: Caller) -> None:
        """This instance's authority, or an active law-enforcement party of its country."""
        if not caller.active:
            raise NotAuthorised("NOT_AN_AUTHOR", "credential", f"{caller.address} is not an active party")
        customs = caller.address.lower() == self.authority.lower() and bool(caller.roles & Role.CUSTOMS)
        law = bool(caller.roles & Role.LAW_ENFORCEMENT) and caller.country == self.country()
        if not (customs or law):
            raise NotAuthorised(
                "NOT_AN_AUTHOR",
                "credential",
                f"flags are shared here by {self.authority} or a law-enforcement party of its country",
            )

    def _require_active_author(self, session: Any, author: str) -> None:
        party = index.party(session, author)
        if party is None or party.status != PartyStatus.ACTIVE:
            raise NotAuthorised("NOT_AN_AUTHOR", "authority", f"{author} is not an active party")

    def _recipient_keys(self, caller: Caller, recipients: Sequence[str] | None) -> dict[str, bytes]:
        """Each recipient authority and the X25519 key it published: those named, each an
        active customs authority of another country with a key; or, by default, those of
        the countries the author's has an arrangement in force with."""
        country = caller.country
        with self.store.session() as session:
            if recipients is None:
                if self.book is None:
                    raise NotAuthorised("READ_ONLY", "recipients", "this instance serves reads only")
                book, now = self.book()
                partners = {
                    a.partner if a.proposer == country else a.proposer
                    for a in book.arrangements.values()
                    if country in (a.proposer, a.partner) and a.in_force(now)
                }
                named = [
                    e.authority
                    for e in peers.active_endpoints(session)
                    if e.country in partners and e.encryption_key.lower() != _NO_KEY
                ]
                if not named:
                    raise InvalidSubmission(
                        "NO_RECIPIENTS",
                        "recipients",
                        f"{country} has no arrangement in force with an authority that published an encryption key: "
                        "name the recipients",
                    )
            else:
                named = [to_checksum_address(r) for r in recipients]
            keys: dict[str, bytes] = {}
            for i, address in enumerate(named):
                party = index.party(session, address)
                if (
                    party is None
                    or not party.is_authority
                    or party.status != PartyStatus.ACTIVE
                    or not party.roles & Role.CUSTOMS
                ):
                    raise InvalidSubmission(
                        "INVALID_RECIPIENT", f"recipients.{i}", f"{address} is not an active customs authority"
                    )
                if party.country == country:
                    raise InvalidSubmission(
                        "OWN_COUNTRY_RECIPIENT",
                        f"recipients.{i}",
                        f"{address} is customs of {country}, the author's own country",
                    )
                endpoint = peers.current_endpoint(session, address)
                if endpoint is None or endpoint.encryption_key.lower() == _NO_KEY:
                    raise InvalidSubmission(
                        "NO_ENCRYPTION_KEY", f"recipients.{i}", f"{address} has published no encryption key"
                    )
                if address in keys:
                    raise InvalidSubmission("DUPLICATE_RECIPIENT", f"recipients.{i}", f"{address} is listed twice")
                keys[address] = bytes.fromhex(endpoint.encryption_key[2:])
        return keys


def _may_withdraw(shared: SharedFlag, signer: PartyRow | None) -> bool:
    if signer is None:
        return False
    if signer.address == shared.author:
        return True
    return bool(signer.is_authority) and signer.country == shared.author_country and bool(signer.roles & Role.CUSTOMS)
