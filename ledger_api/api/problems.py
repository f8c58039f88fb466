"""Errors to HTTP, in one place: every error becomes an RFC 9457 problem+json with a
stable `type`; bad input is a 4xx that names the field, a chain that cannot be reached a
503 with Retry-After. Routes never build HTTP errors themselves."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger_api.api.schemas import FieldError, Problem
from ledger_api.errors import (
    ChainError,
    ConflictingSubmission,
    InvalidSubmission,
    NodeUnavailable,
    NotAuthenticated,
    NotAuthorised,
    NotFound,
    RateLimited,
    SubmissionError,
)

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:customs-ledger:problem:"

STATUS_OF: list[tuple[type[Exception], int]] = [
    (InvalidSubmission, 422),
    (NotAuthorised, 403),
    (ConflictingSubmission, 409),
    (NotFound, 404),
    (NodeUnavailable, 503),
]


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=TYPE_PREFIX + code.lower().replace("_", "-"),
        title=title,
        status=status,
        detail=detail,
        code=code,
        errors=[FieldError(**e) for e in errors or []],
    )
    return JSONResponse(body.model_dump(), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p != "body"]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif p in ("DECLARATION", "HANDOVER", "ACCEPTANCE", "CUSTOMS_DECISION", "REVOCATION"):
            continue  # the payload union's tag, not a field
        else:
            out += ("." if out else "") + str(p)
    return out or "body"


async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"field": _field(tuple(e["loc"])), "reason": str(e["msg"])} for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
    return problem(422, "VALIDATION", "The request is not valid", detail, errors)


async def _submission(_: Request, exc: SubmissionError) -> JSONResponse:
    status = next(s for cls, s in STATUS_OF if isinstance(exc, cls))
    # Some refusals name several fields at once (every bad event of an EPCIS document).
    pairs: list[tuple[str, str]] = getattr(exc, "errors", None) or [(exc.field, exc.message)]
    errors = [{"field": field, "reason": reason} for field, reason in pairs]
    return problem(status, exc.code, "The submission was refused", exc.message, errors)


async def _not_authenticated(_: Request, exc: NotAuthenticated) -> JSONResponse:
    return problem(401, "NOT_AUTHENTICATED", "Credentials needed", str(exc), headers={"WWW-Authenticate": "Bearer"})


async def _rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
    return problem(429, exc.code, exc.title, str(exc), headers={"Retry-After": str(exc.retry_after)})


async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
    return problem(404, "NOT_FOUND", "Not found", str(exc))


async def _chain(_: Request, exc: ChainError) -> JSONResponse:
    if isinstance(exc, NodeUnavailable):
        return problem(503, "CHAIN_UNAVAILABLE", "The chain cannot be reached", str(exc), headers={"Retry-After": "5"})
    log.error("chain error: %s", exc)
    return problem(502, "CHAIN_ERROR", "The chain did not do what was asked", str(exc))


async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "TOO_LARGE"}.get(exc.status_code, "HTTP_ERROR")
    return problem(exc.status_code, code, str(exc.detail), str(exc.detail), headers=getattr(exc, "headers", None))


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return problem(500, "INTERNAL", "Internal error", "the service failed; the error is logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(SubmissionError, _submission)  # type: ignore[arg-type]
    app.add_exception_handler(NotAuthenticated, _not_authenticated)  # type: ignore[arg-type]
    app.add_exception_handler(RateLimited, _rate_limited)  # type: ignore[arg-type]
    app.add_exception_handler(NotFound, _not_found)  # type: ignore[arg-type]
    app.add_exception_handler(ChainError, _chain)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses an operation can return."""
    text = {
        401: "No credential, or an unknown or revoked one",
        403: "Signer lacks the role or is not active, or the credential is not the acting party's",
        404: "Not found",
        409: "Conflicts with the consignment's custody order",
        413: "Body too large",
        422: "Invalid request: the field and the reason are named",
        429: "The credential is over its request rate, or its party over its share of the write queue; "
        "retry after Retry-After seconds",
        503: "The chain cannot be reached; retry later",
    }
    retry_after = {"Retry-After": {"description": "whole seconds to wait", "schema": {"type": "integer", "minimum": 1}}}
    return {
        s: {
            "model": Problem,
            "description": text.get(s, "Problem"),
            "content": {MEDIA_TYPE: {}},
            **({"headers": retry_after} if s in (429, 503) else {}),
        }
        for s in statuses
    }
