"""This instance in the consortium: who it acts for, where peers reach it and its keys
(public), and the relay of its authority's signed publication of all that on chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ledger_api.api.deps import CallerDep, InstanceDep
from ledger_api.api.schemas import Address, Signature, Uint256
from ledger_api.api.writes import answer_replay, write_responses
from ledger_api.services.instance import EndpointRequest

router = APIRouter(prefix="/v1/instance", tags=["consortium"])

Key32 = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$")]


class PublishedEndpointOut(BaseModel):
    url: str
    signing_key: str
    kid: str
    encryption_key: str
    relayer: str
    block_number: int


class InstanceOut(BaseModel):
    authority: str = Field(description="the customs authority this instance acts for")
    country: str | None = Field(description="its registry country (null while it is not registered)")
    public_url: str = Field(description="where the other instances reach this one")
    signing_key: str = Field(description="the Ed25519 public key receipts and peer requests are signed with (32 bytes)")
    kid: str = Field(description="its RFC 7638 thumbprint: the kid of receipts and peer requests")
    encryption_key: str = Field(description="the X25519 public key messages to this instance are encrypted to")
    relayer: str = Field(description="the account this instance's relayer sends transactions from")
    published: PublishedEndpointOut | None = Field(description="the endpoint the chain shows for the authority")
    up_to_date: bool = Field(description="whether the chain shows this instance as it is now")


class EndpointWriteIn(BaseModel):
    """PartyRegistry.publishEndpoint(url, signingKey, encryptionKey, relayer), signed by the
    authority as an ERC-2771 ForwardRequest (EIP-712, domain "LedgerForwarder") and sent
    with its credential. `ledger admin publish-endpoint` signs this instance's own."""

    model_config = ConfigDict(extra="forbid", strict=True)

    authority: Address
    url: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    signing_key: Key32
    encryption_key: Key32
    relayer: Address
    nonce: Uint256 = Field(description="the authority's next nonce at the forwarder")
    deadline: Annotated[int, Field(ge=0, lt=2**48, strict=True)]
    signature: Signature


class EndpointWriteOut(BaseModel):
    id: str = Field(description='the request\'s id, "{authority}:{forwarder nonce}"')
    status: str


@router.get("", response_model=InstanceOut)
def describe(instance: InstanceDep) -> InstanceOut:
    """The authority this instance acts for, its country, where peers reach it, its
    signing and encryption keys and its relayer: what its authority publishes on chain."""
    view = instance.describe()
    published = view.published
    return InstanceOut(
        authority=view.authority,
        country=view.country,
        public_url=view.public_url,
        signing_key=view.signing_key,
        kid=view.kid,
        encryption_key=view.encryption_key,
        relayer=view.relayer,
        published=None
        if published is None
        else PublishedEndpointOut(
            url=published.url,
            signing_key=published.signing_key,
            kid=published.kid,
            encryption_key=published.encryption_key,
            relayer=published.relayer,
            block_number=published.block_number,
        ),
        up_to_date=view.up_to_date,
    )


@router.post(
    "/endpoint",
    status_code=202,
    response_model=EndpointWriteOut,
    responses=write_responses("The same signed request was accepted before", EndpointWriteOut),
)
def publish_endpoint(
    caller: CallerDep, body: EndpointWriteIn, instance: InstanceDep, response: Response
) -> EndpointWriteOut:
    """Relays an authority's signed publication of its instance's endpoint to the registry
    through the forwarder."""
    caller.require_acting(body.authority, "authority")
    request = EndpointRequest(
        authority=body.authority,
        url=body.url,
        signing_key=bytes.fromhex(body.signing_key[2:]),
        encryption_key=bytes.fromhex(body.encryption_key[2:]),
        relayer=body.relayer,
        nonce=body.nonce,
        deadline=body.deadline,
        signature=bytes.fromhex(body.signature[2:]),
    )
    request_id, created = instance.publish(request)
    answer_replay(response, created)
    return EndpointWriteOut(id=request_id, status="accepted")
