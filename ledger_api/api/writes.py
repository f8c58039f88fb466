"""How the API answers a signed write it accepts: 202 for a new one, 200 with the same id
when the same write was accepted before (a client retrying), and the problems a write can
meet. One convention for records, batches, EPCIS captures and registry writes."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import BaseModel

from ledger_api.api.problems import responses
from ledger_api.errors import InvalidSubmission

WRITE_PROBLEMS = (401, 403, 409, 413, 422, 429, 503)


def write_responses(replayed: str, model: type[BaseModel] | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries of a write route besides its 202: the 200 of a replay (`replayed`
    describes it) and the problems."""
    ok: dict[str, Any] = {"description": replayed} if model is None else {"model": model, "description": replayed}
    return {200: ok, **responses(*WRITE_PROBLEMS)}


def answer_replay(response: Response, created: bool) -> None:
    """A write accepted before is answered 200, not 202: nothing new was accepted."""
    if not created:
        response.status_code = 200


def require_at_most(count: int, limit: int, field: str, what: str) -> None:
    """Refuses (422 naming `field`) more than `limit` items, the service's own limit, which
    an operator may set below the schema's."""
    if count > limit:
        raise InvalidSubmission("TOO_MANY_RECORDS", field, f"{count} {what}: this service takes at most {limit}")
