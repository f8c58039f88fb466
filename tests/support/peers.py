"""Peers for tests: an authority's endpoint published straight from its unlocked
development account (the way a development instance publishes its own at start), and
peer request tokens signed as another authority's instance signs them."""

from __future__ import annotations

import time
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from web3 import Web3

from ledger_api.chain.artifacts import load_artifacts
from ledger_api.chain.deploy import Manifest
from ledger_api.domain import peer_tokens
from ledger_api.domain.peer_tokens import raw_public
from ledger_api.settings import PROJECT_ROOT


def publish_endpoint(
    w3: Web3, manifest: Manifest, authority: str, url: str, key: Ed25519PrivateKey, relayer: str
) -> None:
    """`authority` (an unlocked account of the node) publishes `url`, the public half of
    `key` and `relayer` as its instance's endpoint; mined when this returns."""
    registry = w3.eth.contract(
        address=manifest.address("PartyRegistry"), abi=load_artifacts(PROJECT_ROOT / "build")["PartyRegistry"].abi
    )
    call = registry.functions.publishEndpoint(url, raw_public(key.public_key()), bytes(32), relayer)
    receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": authority}))
    assert receipt["status"] == 1


def token(
    key: Ed25519PrivateKey,
    authority: str,
    audience: str,
    path: str,
    *,
    now: int | None = None,
    jti: str | None = None,
    lifetime: int = 30,
    method: str = "GET",
) -> str:
    """A token for `method` (GET by default) `path` at `audience`'s instance, from `authority`'s."""
    return peer_tokens.issue(
        key,
        authority=authority,
        audience=audience,
        method=method,
        path=path,
        now=int(time.time()) if now is None else now,
        jti=jti or uuid.uuid4().hex,
        lifetime=lifetime,
    )
