"""Dependencies of the routes: the running service's use cases, from app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ledger_api.runtime import Runtime
from ledger_api.services.parties import PartyWrites
from ledger_api.services.queries import Queries
from ledger_api.services.submission import Submissions


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def submissions(rt: Annotated[Runtime, Depends(runtime)]) -> Submissions:
    assert rt.submissions is not None
    return rt.submissions


def queries(rt: Annotated[Runtime, Depends(runtime)]) -> Queries:
    assert rt.queries is not None
    return rt.queries


def party_writes(rt: Annotated[Runtime, Depends(runtime)]) -> PartyWrites:
    assert rt.party_writes is not None
    return rt.party_writes


SubmissionsDep = Annotated[Submissions, Depends(submissions)]
QueriesDep = Annotated[Queries, Depends(queries)]
PartyWritesDep = Annotated[PartyWrites, Depends(party_writes)]
RuntimeDep = Annotated[Runtime, Depends(runtime)]
