"""Dependencies of the routes: the running service's use cases, from app.state, and the
caller: the party a request's credential speaks for, within its credential's rate."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ledger_api.api.ratelimit import RateLimiter
from ledger_api.errors import NodeUnavailable, NotAuthenticated
from ledger_api.runtime import Runtime
from ledger_api.services.access import Access, Caller
from ledger_api.services.flags import Flags
from ledger_api.services.instance import Instance
from ledger_api.services.parties import PartyWrites
from ledger_api.services.peer_records import PeerRecords
from ledger_api.services.queries import Queries
from ledger_api.services.recognition_writes import RecognitionWrites
from ledger_api.services.submission import Submissions
from ledger_api.services.worklist import Worklist


# The dependencies below only read what the runtime holds: `async def`, as FastAPI runs a
# plain `def` dependency on the thread pool, a thread hop per dependency per request.
async def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def submissions(rt: Annotated[Runtime, Depends(runtime)]) -> Submissions:
    if rt.submissions is None:
        raise NodeUnavailable("this instance serves reads only: send writes to the writing instance")
    return rt.submissions


async def queries(rt: Annotated[Runtime, Depends(runtime)]) -> Queries:
    assert rt.queries is not None
    return rt.queries


async def party_writes(rt: Annotated[Runtime, Depends(runtime)]) -> PartyWrites:
    if rt.party_writes is None:
        raise NodeUnavailable("this instance serves reads only: send writes to the writing instance")
    return rt.party_writes


async def recognition_writes(rt: Annotated[Runtime, Depends(runtime)]) -> RecognitionWrites:
    if rt.recognition_writes is None:
        raise NodeUnavailable("this instance serves reads only: send writes to the writing instance")
    return rt.recognition_writes


async def instance(rt: Annotated[Runtime, Depends(runtime)]) -> Instance:
    assert rt.instance is not None
    return rt.instance


async def peer_records(rt: Annotated[Runtime, Depends(runtime)]) -> PeerRecords:
    assert rt.peer_records is not None
    return rt.peer_records


async def flags(rt: Annotated[Runtime, Depends(runtime)]) -> Flags:
    if rt.flags is None:
        raise NodeUnavailable("this instance serves reads only: intelligence flags are at the writing instance")
    return rt.flags


_bearer = HTTPBearer(auto_error=False, description="a party's credential: lgr_<id>_<secret>")


async def caller(  # async: a short read, cheaper on the event loop than on the thread pool
    request: Request,
    rt: Annotated[Runtime, Depends(runtime)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The party a request speaks for; 401 without a valid credential, 429 when the
    credential is over its rate."""
    if credentials is None:
        raise NotAuthenticated("this needs a credential: Authorization: Bearer lgr_…")
    assert rt.access is not None
    who = rt.access.caller(credentials.credentials)
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.check(who.credential)
    return who


async def worklist(rt: Annotated[Runtime, Depends(runtime)]) -> Worklist:
    assert rt.worklist is not None
    return rt.worklist


async def access(rt: Annotated[Runtime, Depends(runtime)]) -> Access:
    assert rt.access is not None
    return rt.access


async def batch_limit(rt: Annotated[Runtime, Depends(runtime)]) -> int:
    """The most records one batch or EPCIS document may carry here (LEDGER_MAX_BATCH_RECORDS)."""
    return rt.settings.max_batch_records


BatchLimitDep = Annotated[int, Depends(batch_limit)]
SubmissionsDep = Annotated[Submissions, Depends(submissions)]
QueriesDep = Annotated[Queries, Depends(queries)]
PartyWritesDep = Annotated[PartyWrites, Depends(party_writes)]
RecognitionWritesDep = Annotated[RecognitionWrites, Depends(recognition_writes)]
CallerDep = Annotated[Caller, Depends(caller)]
AccessDep = Annotated[Access, Depends(access)]
WorklistDep = Annotated[Worklist, Depends(worklist)]
RuntimeDep = Annotated[Runtime, Depends(runtime)]
InstanceDep = Annotated[Instance, Depends(instance)]
PeerRecordsDep = Annotated[PeerRecords, Depends(peer_records)]
FlagsDep = Annotated[Flags, Depends(flags)]
