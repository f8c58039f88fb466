"""Intelligence flags (#16): sealed here for the recipient authorities, shared on chain by
the author's signature, read by the author and the recipients only (every read logged),
served to the recipients' instances, whose reports of their use of a flag are taken here.
See services/flags.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ledger_api.api.deps import CallerDep, FlagsDep
from ledger_api.api.problems import responses
from ledger_api.api.routes.peer import _routed_path
from ledger_api.api.schemas import RECORD_ID_PATTERN, Address, Signature, Uint256
from ledger_api.api.writes import answer_replay, write_responses
from ledger_api.domain.intelligence import MAX_RECIPIENTS, MAX_TEXT_LENGTH, CategoryName, SeverityName, Subject
from ledger_api.services.flags import FlagState, FlagView, SignedFlagWrite, UseReport

router = APIRouter(tags=["intelligence"])

FlagId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the flag's id on chain (from 1)")]
ContentHash = Annotated[str, Path(pattern=RECORD_ID_PATTERN, description="the sealed document's keccak256")]
Deadline = Annotated[int, Field(ge=0, lt=2**48, strict=True, description="the signature's deadline (unix seconds)")]
UnixTime = Annotated[int, Field(ge=0, lt=2**64, strict=True, description="unix seconds")]
WRITE_RESPONSES = {**write_responses("The same signed request was accepted before"), **responses(404)}


class FlagIn(BaseModel):
    """A flag's content as its author writes it; the instance adds the author (the
    credential's party) and the subject's salt."""

    model_config = ConfigDict(extra="forbid")

    subject: Subject
    category: CategoryName
    severity: SeverityName
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_LENGTH)]
    valid_from: UnixTime
    valid_until: Annotated[UnixTime, Field(description="exclusive")]
    recipients: list[Address] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_RECIPIENTS,
        description="customs authorities of other countries; default: those of the countries the author's "
        "country has a mutual recognition arrangement in force with, that published an encryption key",
    )


class ToSign(BaseModel):
    """The ERC-2771 ForwardRequest (EIP-712, domain "LedgerForwarder") the author signs,
    with a deadline of its choice."""

    sender: str = Field(serialization_alias="from")
    to: str
    value: int = 0
    gas: int
    nonce: int
    data: str
    chain_id: int
    forwarder: str


class SealedOut(BaseModel):
    content_hash: str
    author: str
    recipients: list[str]
    sign: ToSign


class SignedIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    authority: Address = Field(description="the signer: the author, or for a withdrawal customs of its country")
    nonce: Uint256
    deadline: Deadline
    signature: Signature

    def signed(self) -> SignedFlagWrite:
        return SignedFlagWrite(self.authority, self.nonce, self.deadline, bytes.fromhex(self.signature[2:]))


class FlagWriteOut(BaseModel):
    id: str = Field(description='the request\'s id, "{signer}:{forwarder nonce}"')
    status: str


class FlagReadOut(BaseModel):
    reader: str
    kind: str = Field(description="person (through this API) or peer (a recipient's instance fetched it)")
    at: int


class RecipientUseOut(BaseModel):
    recipient: str
    received_at: int = Field(description="when the recipient's instance held the flag (its clock, unix seconds)")
    last_used_at: int | None = Field(description="when a verdict or worklist line there last fired it")
    times_used: int = Field(description="verdicts and worklist lines there that fired it")
    verdicts: int
    worklist_lines: int
    reported_at: int = Field(description="when its instance last reported (this instance's clock)")


class FlagOut(BaseModel):
    id: int
    author: str
    author_country: str
    content_hash: str
    subject_hash: str
    category: str
    severity: str
    valid_from: int
    valid_until: int
    recipients: list[str]
    block_number: int
    withdrawn_at_block: int | None
    held: bool = Field(description="whether its content is held here")
    fetch_error: str | None = Field(description="a recipient's: why its content could not be fetched yet")
    uses: int = Field(description="verifications here that fired a rule naming it")
    worklist_uses: int = Field(description="worklist lines computed here that fired a rule naming it")
    last_used_at: int | None = Field(description="when a verification or worklist line here last fired it")


class FlagDetailOut(FlagOut):
    content: dict[str, Any] | None
    reads: list[FlagReadOut] = Field(description="the author's view: every read of its content")
    used_by: list[RecipientUseOut] = Field(
        description="the author's view: what each recipient's instance reported of its use of the flag"
    )


class FlagsOut(BaseModel):
    flags: list[FlagOut]


def _out(state: FlagState) -> dict[str, Any]:
    shared = state.shared
    return {
        "id": shared.flag_id,
        "author": shared.author,
        "author_country": shared.author_country,
        "content_hash": "0x" + shared.content_hash.hex(),
        "subject_hash": "0x" + shared.subject_hash.hex(),
        "category": shared.category.name,
        "severity": shared.severity.name,
        "valid_from": shared.valid_from,
        "valid_until": shared.valid_until,
        "recipients": list(shared.recipients),
        "block_number": shared.block_number,
        "withdrawn_at_block": state.withdrawn_at_block,
        "held": state.held,
        "fetch_error": state.fetch_error,
        "uses": state.uses,
        "worklist_uses": state.worklist_uses,
        "last_used_at": state.last_used_at,
    }


def _detail(view: FlagView) -> FlagDetailOut:
    return FlagDetailOut(
        **_out(view.state),
        content=None if view.content is None else view.content.model_dump(mode="json"),
        reads=[FlagReadOut(reader=r.reader, kind=r.kind, at=r.at) for r in view.reads],
        used_by=[
            RecipientUseOut(
                recipient=u.recipient,
                received_at=u.received_at,
                last_used_at=u.last_used_at,
                times_used=u.times_used,
                verdicts=u.verdicts,
                worklist_lines=u.worklist_lines,
                reported_at=u.reported_at,
            )
            for u in view.recipient_uses
        ],
    )


@router.post("/v1/flags", status_code=201, response_model=SealedOut, responses=responses(401, 403, 422, 429, 503))
def seal_flag(caller: CallerDep, body: FlagIn, flags: FlagsDep) -> SealedOut:
    """Seals a flag for its recipient authorities and keeps it here; answers the
    shareFlag request for the author to sign and send to POST /v1/flags/{content_hash}/share.
    For this instance's customs authority, or a law-enforcement party of its country."""
    fields = body.model_dump(mode="json", exclude={"recipients"})
    draft = flags.seal(caller, fields, body.recipients)
    return SealedOut(
        content_hash=draft.content_hash,
        author=draft.author,
        recipients=list(draft.recipients),
        sign=ToSign(
            sender=draft.author,
            to=draft.to,
            gas=draft.gas,
            nonce=draft.nonce,
            data="0x" + draft.data.hex(),
            chain_id=draft.chain_id,
            forwarder=draft.forwarder,
        ),
    )


@router.post("/v1/flags/{content_hash}/share", status_code=202, response_model=FlagWriteOut, responses=WRITE_RESPONSES)
def share_flag(
    caller: CallerDep, content_hash: ContentHash, body: SignedIn, flags: FlagsDep, response: Response
) -> FlagWriteOut:
    """Relays the author's signed shareFlag of the flag sealed here as `content_hash`."""
    request_id, created = flags.share(caller, content_hash.lower(), body.signed())
    answer_replay(response, created)
    return FlagWriteOut(id=request_id, status="accepted")


@router.delete("/v1/flags/{flag_id}", status_code=202, response_model=FlagWriteOut, responses=WRITE_RESPONSES)
def withdraw_flag(
    caller: CallerDep, flag_id: FlagId, body: SignedIn, flags: FlagsDep, response: Response
) -> FlagWriteOut:
    """Relays a signed withdrawFlag: by the author, or customs of the author's country."""
    request_id, created = flags.withdraw(caller, flag_id, body.signed())
    answer_replay(response, created)
    return FlagWriteOut(id=request_id, status="accepted")


@router.get("/v1/flags", response_model=FlagsOut, responses=responses(401, 429))
def list_flags(caller: CallerDep, flags: FlagsDep) -> FlagsOut:
    """The flags the caller shared, and those shared with it, as the chain shows them."""
    return FlagsOut(flags=[FlagOut(**_out(state)) for state in flags.listing(caller)])


@router.get("/v1/flags/{flag_id}", response_model=FlagDetailOut, responses=responses(401, 404, 422, 429))
def get_flag(caller: CallerDep, flag_id: FlagId, flags: FlagsDep) -> FlagDetailOut:
    """The flag with its content, for its author and its recipients only (this read is
    logged); the author also sees every read, and what each recipient reported of its use.
    Anyone else: 404."""
    return _detail(flags.show(caller, flag_id))


@router.get(
    "/v1/peer/flags/{flag_id}",
    tags=["consortium"],
    responses={200: {"content": {"application/json": {}}, "description": "the sealed flag"}, **responses(404, 422)},
)
def peer_flag(
    flag_id: FlagId,
    request: Request,
    flags: FlagsDep,
    authorization: Annotated[str | None, Header(description="Peer <token>")] = None,
) -> Response:
    """The sealed document of the flag, byte for byte as hashed on chain, for the instance
    of one of its recipients (a peer request token); the 404 of an unknown flag otherwise."""
    document = flags.serve(authorization, request.method, _routed_path(request), flag_id)
    return Response(document, media_type="application/json")


Count = Annotated[int, Query(ge=0, le=2**31 - 1)]
Moment = Annotated[int, Query(ge=0, le=2**63 - 1, description="unix seconds")]


@router.post("/v1/peer/flags/{flag_id}/uses", status_code=204, tags=["consortium"], responses=responses(404, 422))
def peer_flag_uses(
    flag_id: FlagId,
    request: Request,
    flags: FlagsDep,
    received_at: Moment,
    verdicts: Count,
    worklist_lines: Count,
    last_used_at: Moment | None = None,
    authorization: Annotated[str | None, Header(description="Peer <token>")] = None,
) -> Response:
    """A recipient's instance reports its use of the flag to the author's (a peer request
    token, which binds this path with its query: the figures are signed): when it held the
    flag, when it last fired, and on how many verdicts and worklist lines. The 404 of an
    unknown flag for anyone but a recipient's instance."""
    report = UseReport(received_at, last_used_at, verdicts, worklist_lines)
    flags.take_use_report(authorization, request.method, _routed_path(request), flag_id, report)
    return Response(status_code=204)
