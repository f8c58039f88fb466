"""Registering and managing parties: each write is signed by the customs authority of
the party's country (an ERC-2771 ForwardRequest) and relayed through the outbox like any
record, after the same checks the registry will make."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from ledger_api.domain.forwarding import REGISTRY_CALL_GAS, ForwardRequest, registry_calldata
from ledger_api.domain.parties import identifier_errors, identifiers_hash, roles_of
from ledger_api.domain.records import SignatureError
from ledger_api.errors import ConflictingSubmission, InvalidSubmission, NotAuthorised, NotFound
from ledger_api.store import index, outbox
from ledger_api.store.db import Store
from ledger_api.store.directory import save_identifiers

# The registry's status transitions: action -> statuses it may start from.
FROM_STATUS = {"set_roles": {1, 2}, "suspend": {1}, "reinstate": {2}, "revoke": {1, 2}}


@dataclass(frozen=True)
class PartyRequest:
    action: str
    authority: str
    party: str
    roles: list[str]
    identifiers: dict[str, str]
    nonce: int
    deadline: int
    signature: bytes


class AuthorityRequest(Protocol):
    """A registry write signed by a customs authority and relayed through the forwarder:
    a PartyRequest or a RecognitionRequest."""

    @property
    def authority(self) -> str: ...
    @property
    def nonce(self) -> int: ...
    @property
    def deadline(self) -> int: ...
    @property
    def signature(self) -> bytes: ...


class PartyWrites:
    def __init__(
        self,
        store: Store,
        chain_id: int,
        addresses: dict[str, str],
        chain_forwarder_nonce: Callable[[str], int],
        wake_relayer: Callable[[], None] | None = None,  # new work in the outbox
    ) -> None:
        self.store, self.chain_id, self.addresses = store, chain_id, addresses
        self.chain_forwarder_nonce = chain_forwarder_nonce
        self.wake_relayer = wake_relayer
        self._lock = threading.Lock()

    def calldata(self, request: PartyRequest) -> bytes:
        ids = identifiers_hash(request.identifiers) if request.identifiers else b""
        return registry_calldata(request.action, request.party, roles_of(request.roles), ids)

    def next_forwarder_nonce(self, authority: str) -> int:
        """The chain's nonce for the authority, or one past the highest it has queued with
        us (a request that did not fail will use its nonce), whichever is higher. Counting
        in-flight rows instead would count twice a request mined but not yet indexed."""
        with self.store.session() as session:
            refs = outbox.forward_refs(session, authority)
        queued = max((int(ref.rsplit(":", 1)[1]) + 1 for ref in refs), default=0)
        return max(self.chain_forwarder_nonce(authority), queued)

    def submit(self, request: PartyRequest) -> tuple[str, bool]:
        if request.deadline < time.time():
            raise InvalidSubmission("EXPIRED", "deadline", "the signature's deadline has passed")
        if request.action in ("register", "set_roles") and not request.roles:
            raise InvalidSubmission("NO_ROLES", "roles", "name at least one role")
        if request.action == "register" and not request.identifiers:
            raise InvalidSubmission("NO_IDENTIFIERS", "identifiers", "name the party's identifiers (EORI, TIN, LEI…)")
        if request.action == "register":
            _check_identifiers(request.identifiers)

        def check(session: Session) -> None:
            self._check_rules(session, request)
            if request.action == "register":
                # Kept with the write, so the party has its name as soon as the registry's
                # event brings the hash; a request refused later leaves a row naming nobody.
                save_identifiers(session, request.identifiers)

        return self.enqueue("PartyRegistry", request, self.calldata(request), check)

    def publish_identifiers(self, address: str, identifiers: dict[str, str]) -> str:
        """Keeps the identifiers of a party registered by any means (its authority on chain,
        the deployment, another instance): accepted only when they hash to the identifiers
        hash the registry holds for it. Returns the hash."""
        _check_identifiers(identifiers, name_required=False)
        with self.store.session() as session:
            party = index.party(session, address)
            if party is None:
                raise NotFound(f"no party {address}")
            offered = "0x" + identifiers_hash(identifiers).hex()
            if offered != party.identifiers_hash:
                raise InvalidSubmission(
                    "IDENTIFIERS_MISMATCH",
                    "identifiers",
                    f"they hash to {offered}, not to the registry's {party.identifiers_hash} for {address}",
                )
            return save_identifiers(session, identifiers)

    def enqueue(
        self,
        registry: str,
        request: AuthorityRequest,
        data: bytes,
        check: Callable[[Session], None],
        gas: int = REGISTRY_CALL_GAS,
    ) -> tuple[str, bool]:
        """Queues an authority's signed request to `registry` (its call is `data`, with
        `gas`) for the relayer, as the ForwardRequest the authority signed, after its
        signature, `check` (the registry's rules, against the index) and its forwarder
        nonce. The same signed request again returns the same id, created False. Owned here
        because the forwarder nonce is one per authority, whatever the registry."""
        forward = ForwardRequest(
            sender=request.authority,
            to=self.addresses[registry],
            gas=gas,
            nonce=request.nonce,
            deadline=request.deadline,
            data=data,
        )
        try:
            signer = forward.signer(self.chain_id, self.addresses["LedgerForwarder"], request.signature)
        except SignatureError as exc:
            raise InvalidSubmission("BAD_SIGNATURE", "signature", str(exc)) from exc
        if signer != forward.sender:
            raise InvalidSubmission(
                "WRONG_SIGNER",
                "signature",
                f"the request is signed by {signer}, not by the authority {forward.sender}",
            )
        ref, signature_hex = f"{forward.sender}:{forward.nonce}", "0x" + request.signature.hex()
        with self._lock:
            with self.store.session() as session:
                existing = outbox.forwards(session, ref)
                if any(json.loads(row.payload or "{}").get("signature") == signature_hex for row in existing):
                    return ref, False
                check(session)
            expected = self.next_forwarder_nonce(forward.sender)
            if forward.nonce != expected:
                raise ConflictingSubmission(
                    "NONCE_MISMATCH", "nonce", f"the authority's next forwarder nonce is {expected}"
                )
            with self.store.session() as session:
                payload = {
                    "from": forward.sender,
                    "to": forward.to,
                    "gas": forward.gas,
                    "deadline": forward.deadline,
                    "data": "0x" + forward.data.hex(),
                    "signature": signature_hex,
                }
                outbox.add_forward(session, ref, json.dumps(payload))
        if self.wake_relayer is not None:
            self.wake_relayer()
        return ref, True

    def _check_rules(self, session: Session, request: PartyRequest) -> None:
        authority = index.party(session, request.authority)
        if authority is None or not authority.is_authority or authority.status != 1:
            raise NotAuthorised("NOT_AUTHORITY", "authority", f"{request.authority} is not an active customs authority")
        party = index.party(session, request.party)
        if request.action == "register":
            if party is not None:
                raise ConflictingSubmission("PARTY_EXISTS", "party", f"{request.party} is registered already")
            return
        if party is None:
            raise ConflictingSubmission("UNKNOWN_PARTY", "party", f"{request.party} is not registered")
        if party.is_authority or party.country != authority.country:
            raise NotAuthorised(
                "NOT_AUTHORITY_OF",
                "party",
                f"{request.party} is managed by customs of {party.country}, not {authority.country}",
            )
        if party.status not in FROM_STATUS[request.action]:
            raise ConflictingSubmission(
                "INVALID_STATUS_CHANGE", "action", f"cannot {request.action} a party in status {party.status}"
            )


def _check_identifiers(identifiers: dict[str, str], *, name_required: bool = True) -> None:
    errors = identifier_errors(identifiers, name_required=name_required)
    if errors:
        key, reason = errors[0]
        raise InvalidSubmission("BAD_IDENTIFIER", f"identifiers.{key}", reason)
