"""The instances of a consortium, as their authorities publish them on chain
(PartyRegistry.publishEndpoint, event EndpointPublished): where an authority's instance is
reached, the Ed25519 key it signs receipts and peer requests with, the X25519 key it
receives encrypted messages with, and the account its relayer sends transactions from.

Also the rule a peer's URL must follow before any request goes to it: an absolute http(s)
URL with a host, no credentials, no query or fragment, at most MAX_URL_BYTES (the
registry's limit); and what an instance publishes at start on a development chain
(`development_publication`). Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger_api.domain.peer_tokens import key_id

MAX_URL_BYTES = 256  # PartyRegistry.MAX_ENDPOINT_URL_LENGTH
ZERO_KEY = "0x" + "00" * 32
# RFC 3986 appendix B: scheme, authority, path, query, fragment (urllib is an I/O package
# to the architecture test, and its parser accepts more than a published URL may hold).
_URL = re.compile(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(\?[^#]*)?(#.*)?$", re.DOTALL)
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]+)(?::([0-9]{1,5}))?$")


@dataclass(frozen=True)
class UrlParts:
    scheme: str
    authority: str
    path: str
    query: str | None
    fragment: str | None


def split_url(url: str) -> UrlParts:
    match = _URL.match(url)
    assert match is not None  # every string matches the appendix B expression
    scheme, authority, path, query, fragment = match.groups()
    return UrlParts((scheme or "").lower(), authority or "", path or "", query, fragment)


@dataclass(frozen=True)
class Endpoint:
    """An authority's instance as published on chain. Keys are 0x-hex of their 32 raw
    bytes; `encryption_key` is ZERO_KEY when the instance receives no encrypted messages."""

    authority: str
    country: str
    url: str
    signing_key: str
    encryption_key: str
    relayer: str
    block_number: int

    @property
    def kid(self) -> str:
        """The RFC 7638 thumbprint of the signing key: the kid of what it signs."""
        return key_id(bytes.fromhex(self.signing_key[2:]))

    def public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(self.signing_key[2:]))

    def same_publication(self, url: str, signing_key: str, encryption_key: str, relayer: str) -> bool:
        """Whether this endpoint already says what a new publication would."""
        return (
            self.url == url
            and self.signing_key.lower() == signing_key.lower()
            and self.encryption_key.lower() == encryption_key.lower()
            and self.relayer.lower() == relayer.lower()
        )


def development_publication(
    current: Endpoint | None, url: str, signing_key: str, encryption_key: str, relayer: str, *, shared_store: bool
) -> tuple[str, str] | None:
    """The URL and relayer an instance publishes with its authority's keys when it starts on
    a development chain, or None when the chain already shows what it should. The keys are
    the authority's, the same on each of its instances (they share them through the store);
    the URL and relayer are each instance's own. Alone on its store, an instance publishes
    whatever differs. One of several on a shared store publishes its own URL and relayer
    only when the chain shows no endpoint yet, and otherwise only keys that differ, keeping
    the URL and relayer on chain: any writer answers for the authority, and writers with
    different URLs do not publish over each other at every start."""
    if current is not None and shared_store:
        url, relayer = current.url, current.relayer
    if current is not None and current.same_publication(url, signing_key, encryption_key, relayer):
        return None
    return url, relayer


def peer_url_problem(url: str) -> str | None:
    """What is wrong with `url` as the base URL of an instance, or None. Only http(s), to a
    named host, without user info (a password in a URL published on chain would be public),
    query or fragment (paths are appended to it)."""
    if len(url.encode("utf-8")) > MAX_URL_BYTES:
        return f"is longer than {MAX_URL_BYTES} bytes"
    if not url.isascii() or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return "must be ASCII without whitespace or control characters"
    parts = split_url(url)
    if parts.scheme not in ("http", "https"):
        return f"must be an http or https URL, not {parts.scheme or 'one without a scheme'}"
    if "@" in parts.authority:
        return "must not carry user info"
    host = _HOST_PORT.match(parts.authority)
    if host is None:
        return "names no host (or a port that is not a number)"
    if host.group(2) is not None and not 0 < int(host.group(2)) < 65536:
        return f"names port {host.group(2)}, which does not exist"
    if parts.query is not None or parts.fragment is not None:
        return "must not carry a query or fragment"
    return None


def peer_path(base_url: str, path: str) -> str:
    """The path part of a request to `path` of the instance at `base_url`: the base URL's
    own path (a reverse proxy's prefix) followed by `path`. What a peer request token binds
    (`htu`) and what the serving instance expects it to."""
    return split_url(base_url).path.rstrip("/") + path


def _host(parts: UrlParts) -> str | None:
    match = _HOST_PORT.match(parts.authority)
    return None if match is None else match.group(1).lower()


def redirect_stays_with_peer(origin: str, target: str) -> bool:
    """Whether a redirect from `origin` to `target` (absolute URLs) stays with the host
    that was asked: same host name (another port or an upgrade to https is the host's own
    business: a reverse proxy's), never to http from https, never elsewhere."""
    a, b = split_url(origin), split_url(target)
    if b.scheme not in ("http", "https") or (a.scheme == "https" and b.scheme == "http"):
        return False
    return "@" not in b.authority and _host(a) is not None and _host(a) == _host(b)
