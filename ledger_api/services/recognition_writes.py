"""AEO certificates and mutual recognition arrangements: each write is signed by a customs
authority (an ERC-2771 ForwardRequest to the RecognitionRegistry) and relayed through the
outbox like a party write, after the checks the registry will make, against the
certificates and arrangements as the index knows them (RecognitionBook).

The authority's forwarder nonce is one counter for its party and recognition writes: the
outbox rows of both carry the ref "{authority}:{nonce}", PartyWrites counts them all, and
both services take the same lock to check a nonce and queue its request."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ledger_api.domain.forwarding import recognition_calldata
from ledger_api.domain.recognition import (
    ACTIVE,
    RECOGNISED_CONTROLS,
    SUSPENDED,
    Arrangement,
    RecognitionBook,
    controls_of,
)
from ledger_api.errors import ConflictingSubmission, InvalidSubmission, NotAuthorised, NotFound
from ledger_api.services.parties import PartyWrites
from ledger_api.services.verification import RECOGNITION_EVENTS
from ledger_api.store import index
from ledger_api.store.db import Store

CERTIFICATE_ACTIONS = ("issue", "suspend", "reinstate", "revoke")
ARRANGEMENT_ACTIONS = ("propose", "ratify", "terminate")
# The registry's certificate transitions: action -> statuses it may start from.
FROM_STATUS = {"suspend": {ACTIVE}, "reinstate": {SUSPENDED}, "revoke": {ACTIVE, SUSPENDED}}
STATUS_NAMES = {1: "active", 2: "suspended", 3: "revoked"}
# What each action needs besides authority, nonce, deadline and signature.
REQUIRED = {
    "issue": ("operator", "programme", "valid_from", "valid_until"),
    "suspend": ("operator",),
    "reinstate": ("operator",),
    "revoke": ("operator",),
    "propose": ("partner", "effective_from", "recognised_controls"),
    "ratify": ("mra_id",),
    "terminate": ("mra_id", "terminated_at"),
}
PROGRAMME = re.compile(r"^[\x20-\x7e]{1,32}$")  # printable ASCII that fits a bytes32
COUNTRY = re.compile(r"^[A-Z]{2}$")
UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1


@dataclass(frozen=True)
class RecognitionRequest:
    action: str  # issue | suspend | reinstate | revoke | propose | ratify | terminate
    authority: str
    nonce: int
    deadline: int
    signature: bytes
    operator: str | None = None
    programme: str | None = None
    valid_from: int | None = None
    valid_until: int | None = None
    partner: str | None = None
    effective_from: int | None = None
    recognised_controls: tuple[str, ...] | None = None  # propose: RECOGNISED_CONTROLS names
    mra_id: int | None = None
    terminated_at: int | None = None

    def call_args(self) -> tuple[Any, ...]:
        """The registry function's arguments, in its order (controls as their bits)."""
        return tuple(
            controls_of(self.recognised_controls or ()) if name == "recognised_controls" else getattr(self, name)
            for name in REQUIRED[self.action]
        )


class RecognitionWrites:
    def __init__(self, store: Store, parties: PartyWrites) -> None:
        self.store = store
        # One forwarder nonce per authority, whichever registry the request is for: the
        # party writes own its accounting, the forward request and the queueing
        # (PartyWrites.enqueue).
        self.parties = parties

    def next_forwarder_nonce(self, authority: str) -> int:
        return self.parties.next_forwarder_nonce(authority)

    def submit(self, request: RecognitionRequest) -> tuple[str, bool]:
        """Checks and queues `request`; returns its id and whether it is new (False: the
        same signed request was accepted before)."""
        _check_shape(request)
        return self.parties.enqueue(
            "RecognitionRegistry",
            request,
            recognition_calldata(request.action, *request.call_args()),
            lambda session: self._check_rules(session, request),
        )

    # ------------------------------------------------------------ reads

    def book(self, session: Session) -> RecognitionBook:
        """Certificates and arrangements as of the index head."""
        book = RecognitionBook()
        for name, args, timestamp in index.events_named(session, RECOGNITION_EVENTS):
            book.apply(name, json.loads(args), timestamp)
        return book

    def arrangement(self, mra_id: int) -> tuple[Arrangement, int]:
        """Arrangement `mra_id` as indexed, and the time of the index head (unix seconds)."""
        with self.store.session() as session:
            arrangement = self.book(session).arrangements.get(mra_id)
            now = index.head_time(session)
        if arrangement is None:
            raise NotFound(f"no arrangement {mra_id}")
        return arrangement, now

    # ------------------------------------------------------------ checks

    def _check_rules(self, session: Session, request: RecognitionRequest) -> None:
        authority = index.party(session, request.authority)
        if authority is None or not authority.is_authority or authority.status != 1:
            raise NotAuthorised("NOT_AUTHORITY", "authority", f"{request.authority} is not an active customs authority")
        country = authority.country
        book = self.book(session)
        if request.action == "issue":
            operator = index.party(session, request.operator)
            if operator is None:
                raise ConflictingSubmission("UNKNOWN_OPERATOR", "operator", f"{request.operator} is not registered")
            if operator.country != country:
                raise NotAuthorised(
                    "NOT_AUTHORITY_OF",
                    "operator",
                    f"{request.operator} is certified by customs of {operator.country}, not {country}",
                )
            current = book.certificate_of(str(request.operator))
            if current is not None and current.status == SUSPENDED:
                # The registry refuses it (RecognitionCertificateSuspended): a suspension ends
                # by an explicit reinstatement or revocation, never as a side effect of an issue.
                raise ConflictingSubmission(
                    "CERTIFICATE_SUSPENDED",
                    "action",
                    f"the certificate of {request.operator} is suspended since {current.status_since}: "
                    "reinstate or revoke it before issuing another",
                )
        elif request.action in FROM_STATUS:
            cert = book.certificate_of(str(request.operator))
            if cert is None:
                raise ConflictingSubmission(
                    "NO_CERTIFICATE", "operator", f"{request.operator} holds no AEO certificate"
                )
            if cert.country != country:
                raise NotAuthorised(
                    "NOT_AUTHORITY_OF",
                    "operator",
                    f"the certificate of {request.operator} is managed by customs of {cert.country}, not {country}",
                )
            if cert.status not in FROM_STATUS[request.action]:
                raise ConflictingSubmission(
                    "INVALID_STATUS_CHANGE",
                    "action",
                    f"cannot {request.action} a certificate that is {STATUS_NAMES.get(cert.status, cert.status)}",
                )
        elif request.action == "propose":
            if request.partner == country:
                raise InvalidSubmission(
                    "INVALID_COUNTRY", "partner", f"an arrangement is between two countries; {country} is your own"
                )
            pair = {country, request.partner}
            between = [a for a in book.arrangements.values() if {a.proposer, a.partner} == pair]
            latest = max(between, key=lambda a: a.mra_id, default=None)
            if latest is not None and not latest.terminated_at:
                state = "in force" if latest.ratified_at else "pending ratification"
                raise ConflictingSubmission(
                    "ARRANGEMENT_EXISTS",
                    "partner",
                    f"arrangement {latest.mra_id} between {country} and {request.partner} is {state}",
                )
        else:
            arrangement = book.arrangements.get(int(request.mra_id or 0))
            if arrangement is None:
                raise ConflictingSubmission("UNKNOWN_ARRANGEMENT", "mra_id", f"no arrangement {request.mra_id}")
            if request.action == "ratify" and arrangement.partner != country:
                raise NotAuthorised(
                    "NOT_PARTNER",
                    "authority",
                    f"arrangement {request.mra_id} is ratified by customs of {arrangement.partner}, not {country}",
                )
            if request.action == "terminate" and country not in (arrangement.proposer, arrangement.partner):
                raise NotAuthorised(
                    "NOT_PARTY_TO_ARRANGEMENT",
                    "authority",
                    f"arrangement {request.mra_id} is between {arrangement.proposer} and {arrangement.partner}",
                )
            if arrangement.terminated_at:
                raise ConflictingSubmission(
                    "ALREADY_TERMINATED",
                    "mra_id",
                    f"arrangement {request.mra_id} is terminated from {arrangement.terminated_at}",
                )
            if request.action == "ratify" and arrangement.ratified_at:
                raise ConflictingSubmission(
                    "ALREADY_RATIFIED",
                    "mra_id",
                    f"arrangement {request.mra_id} was ratified at {arrangement.ratified_at}",
                )


def _check_shape(request: RecognitionRequest) -> None:
    """What can be told wrong from the request alone (422)."""
    if request.action not in REQUIRED:
        raise InvalidSubmission("INVALID_ACTION", "action", f"unknown action {request.action!r}")
    if request.deadline < time.time():
        raise InvalidSubmission("EXPIRED", "deadline", "the signature's deadline has passed")
    for name in REQUIRED[request.action]:
        if getattr(request, name) is None:
            raise InvalidSubmission("MISSING", name, f"{request.action} needs {name}")
    for name in ("programme", "valid_from", "valid_until"):
        if request.action != "issue" and getattr(request, name) is not None:
            raise InvalidSubmission("UNEXPECTED", name, f"{name} is only for issue, not {request.action}")
    for name in ("valid_from", "valid_until", "effective_from", "terminated_at"):
        value = getattr(request, name)
        if value is not None and not 0 <= value <= UINT64_MAX:
            raise InvalidSubmission("OUT_OF_RANGE", name, f"{name} must be a uint64 (unix seconds)")
    if request.mra_id is not None and not 1 <= request.mra_id <= UINT256_MAX:
        raise InvalidSubmission("OUT_OF_RANGE", "mra_id", "arrangement ids start at 1")
    if request.programme is not None and not PROGRAMME.fullmatch(request.programme):
        raise InvalidSubmission(
            "INVALID_PROGRAMME", "programme", "the programme is 1 to 32 printable ASCII characters, e.g. AEOF"
        )
    if request.valid_from is not None and request.valid_until is not None and request.valid_from >= request.valid_until:
        raise InvalidSubmission(
            "INVALID_VALIDITY",
            "valid_until",
            f"valid_until ({request.valid_until}) must be after valid_from ({request.valid_from})",
        )
    if request.recognised_controls is not None:
        if request.action != "propose":
            raise InvalidSubmission("UNEXPECTED", "recognised_controls", "only a proposal names recognised controls")
        unknown = [name for name in request.recognised_controls if name not in RECOGNISED_CONTROLS]
        if unknown:
            raise InvalidSubmission(
                "INVALID_CONTROLS",
                "recognised_controls",
                f"unknown control {unknown[0]!r}: an arrangement recognises {', '.join(RECOGNISED_CONTROLS)}",
            )
    if request.partner is not None and not COUNTRY.fullmatch(request.partner):
        raise InvalidSubmission("INVALID_COUNTRY", "partner", "the partner is an ISO 3166-1 alpha-2 code, e.g. JP")
    if request.terminated_at is not None and request.terminated_at < int(time.time()):
        raise InvalidSubmission(
            "RETROACTIVE_TERMINATION", "terminated_at", "a termination may take effect from now, not before"
        )
