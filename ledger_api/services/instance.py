"""This instance as the consortium sees it: the customs authority it acts for, where peers
reach it, the keys it signs (receipts, peer requests) and receives encrypted messages
with, and its relayer's account; and the publication of all that on chain
(PartyRegistry.publishEndpoint), signed by the authority as an ERC-2771 ForwardRequest and
relayed like a registry write (PartyWrites.enqueue).

The signing key is the receipt keyring's active key. After `ledger admin receipt-keys
rotate` the chain still shows the old one until the authority publishes again: meanwhile
peer requests go on being signed with the key the chain shows (`peer_signing_key`), so
that the other instances keep accepting them."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ledger_api.domain.endpoints import Endpoint, peer_url_problem
from ledger_api.domain.forwarding import ENDPOINT_CALL_GAS, endpoint_calldata
from ledger_api.domain.parties import PartyStatus
from ledger_api.domain.peer_tokens import raw_public
from ledger_api.domain.receipts import SigningKey
from ledger_api.errors import InvalidSubmission, NotAuthorised
from ledger_api.services.parties import PartyWrites
from ledger_api.store import peers
from ledger_api.store.db import Store
from ledger_api.store.receipt_keys import KeyRing
from ledger_api.store.tables import PartyRow

KEY_RELOAD_SECONDS = 60.0  # picks up a key rotated by `ledger admin receipt-keys rotate`


@dataclass(frozen=True)
class Identity:
    """Who this instance is, as its settings and the chain say at start."""

    authority: str
    country: str | None  # the authority's registry country; None while it is not registered
    public_url: str
    relayer: str
    encryption_key: bytes  # X25519 public key, 32 raw bytes


@dataclass(frozen=True)
class InstanceView:
    authority: str
    country: str | None
    public_url: str
    signing_key: str  # 0x-hex of the 32 raw bytes of the active Ed25519 key
    kid: str
    encryption_key: str
    relayer: str
    published: Endpoint | None  # the endpoint the chain shows for the authority, as indexed

    @property
    def up_to_date(self) -> bool:
        """Whether the chain shows this instance as it is now."""
        return self.published is not None and self.published.same_publication(
            self.public_url, self.signing_key, self.encryption_key, self.relayer
        )


@dataclass(frozen=True)
class EndpointRequest:
    """A publishEndpoint call signed by `authority` for the forwarder."""

    authority: str
    url: str
    signing_key: bytes
    encryption_key: bytes
    relayer: str
    nonce: int
    deadline: int
    signature: bytes


def hex_key(raw: bytes) -> str:
    return "0x" + raw.hex()


class Instance:
    def __init__(self, store: Store, identity: Identity, keyring: KeyRing, writes: PartyWrites | None) -> None:
        self.store, self.identity, self.keyring, self.writes = store, identity, keyring, writes
        self._keys_loaded = time.monotonic()
        self._lock = threading.Lock()

    @property
    def authority(self) -> str:
        return self.identity.authority

    def _refresh_keys(self) -> None:
        with self._lock:
            if time.monotonic() - self._keys_loaded > KEY_RELOAD_SECONDS:
                self.keyring.reload()
                self._keys_loaded = time.monotonic()

    def country(self) -> str | None:
        """The authority's country, as indexed (the start's reading until it is)."""
        with self.store.session() as session:
            return peers.country_of(session, self.authority) or self.identity.country

    def describe(self) -> InstanceView:
        self._refresh_keys()
        active = self.keyring.active
        with self.store.session() as session:
            published = peers.current_endpoint(session, self.authority)
            country = peers.country_of(session, self.authority) or self.identity.country
        return InstanceView(
            authority=self.authority,
            country=country,
            public_url=self.identity.public_url,
            signing_key=hex_key(raw_public(active.private.public_key())),
            kid=active.kid,
            encryption_key=hex_key(self.identity.encryption_key),
            relayer=self.identity.relayer,
            published=published,
        )

    def peer_signing_key(self) -> SigningKey:
        """The key to sign peer requests with: the one the chain shows for this authority
        if the keyring holds it, else the active one (not published yet: peers will refuse
        until it is)."""
        self._refresh_keys()
        with self.store.session() as session:
            published = peers.current_endpoint(session, self.authority)
        if published is not None:
            for _, key in reversed(self.keyring.keys):
                if hex_key(raw_public(key.private.public_key())) == published.signing_key.lower():
                    return key
        return self.keyring.active

    # ------------------------------------------------------------ publication

    def publish(self, request: EndpointRequest) -> tuple[str, bool]:
        """Checks `request` as the registry will and queues it for the relayer; its id and
        whether it is new (False: the same signed request was accepted before)."""
        if self.writes is None:
            raise NotAuthorised("READ_ONLY", "authority", "this instance serves reads only")
        if request.deadline < time.time():
            raise InvalidSubmission("EXPIRED", "deadline", "the signature's deadline has passed")
        problem = peer_url_problem(request.url)
        if problem is not None:
            raise InvalidSubmission("INVALID_URL", "url", f"the URL {problem}")
        if request.signing_key == bytes(32):
            raise InvalidSubmission("EMPTY_SIGNING_KEY", "signing_key", "an endpoint needs an Ed25519 signing key")
        if int(request.relayer, 16) == 0:
            raise InvalidSubmission("ZERO_RELAYER", "relayer", "an endpoint names the account its relayer sends from")
        data = endpoint_calldata(request.url, request.signing_key, request.encryption_key, request.relayer)
        return self.writes.enqueue(
            "PartyRegistry", request, data, lambda session: _check_authority(session, request), gas=ENDPOINT_CALL_GAS
        )


def _check_authority(session: Session, request: EndpointRequest) -> None:
    authority = session.get(PartyRow, request.authority)
    if authority is None or not authority.is_authority or authority.status != PartyStatus.ACTIVE:
        raise NotAuthorised("NOT_AUTHORITY", "authority", f"{request.authority} is not an active customs authority")
