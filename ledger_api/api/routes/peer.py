"""Requests from the instances of other customs authorities: the records this instance
holds, with their payloads, for a consignment or a batch root. Authorised by a peer
request token (`Authorization: Peer <token>`), never by a party's credential; every
refusal is the 404 of a consignment (or batch) that does not exist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from pydantic import BaseModel, Field

from ledger_api.api.deps import PeerRecordsDep
from ledger_api.api.problems import responses
from ledger_api.api.schemas import RECORD_ID_PATTERN
from ledger_api.domain.exchange import to_json

router = APIRouter(prefix="/v1/peer", tags=["consortium"])

Key = Annotated[str, Path(pattern=RECORD_ID_PATTERN, description="the consignment's ledger key: keccak256 of its UCR")]
Root = Annotated[str, Path(pattern=RECORD_ID_PATTERN, description="the batch's Merkle root")]
Authorization = Annotated[str | None, Header(description="Peer <token>: a peer request token (domain/peer_tokens.py)")]


class PeerRecordFields(BaseModel):
    consignment: str
    kind: str
    payloadHash: str  # noqa: N815 (the EIP-712 field's name)
    previous: str
    party: str
    counterparty: str
    nonce: str = Field(description="uint256 as decimal text")
    deadline: str = Field(description="uint256 as decimal text")
    route: list[str]


class PeerRecordOut(BaseModel):
    id: str
    ucr: str | None
    record: PeerRecordFields
    signature: str
    payload: str = Field(description="the payload's RFC 8785 canonical JSON, as text: keccak256 of it is on chain")
    mode: str
    batch_root: str | None
    proof: list[str] | None = Field(description="a batch record's inclusion proof in its root")


class PeerRecordsOut(BaseModel):
    authority: str = Field(description="the serving authority")
    records: list[PeerRecordOut]


def _routed_path(request: Request) -> str:
    """The request's path as this app routes it (a mount's root path taken off), with
    its query: what a token's `htu` binds after the public URL's own path."""
    path = str(request.scope.get("path", ""))
    root = str(request.scope.get("root_path", "") or "")
    if root and path.startswith(root):
        path = path[len(root) :]
    query = request.url.query
    return path + ("?" + query if query else "")


@router.get("/consignments/{key}/records", response_model=PeerRecordsOut, responses=responses(404, 422))
def consignment_records(
    key: Key, request: Request, peers: PeerRecordsDep, authorization: Authorization = None
) -> PeerRecordsOut:
    """The records of the consignment this instance holds, for the instance of a customs
    authority of a country on its route."""
    _, held = peers.consignment_records(authorization, request.method, _routed_path(request), key)
    return PeerRecordsOut(authority=peers.authority, records=[PeerRecordOut(**to_json(h)) for h in held])


@router.get("/batches/{root}/records", response_model=PeerRecordsOut, responses=responses(404, 422))
def batch_records(
    root: Root, request: Request, peers: PeerRecordsDep, authorization: Authorization = None
) -> PeerRecordsOut:
    """The records of the batch this instance holds whose consignments' routes include
    the requesting authority's country."""
    _, held = peers.batch_records(authorization, request.method, _routed_path(request), root)
    return PeerRecordsOut(authority=peers.authority, records=[PeerRecordOut(**to_json(h)) for h in held])
