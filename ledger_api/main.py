"""The FastAPI application: routers, problem handlers, body limits, and the lifespan
that starts and stops the runtime (chain, relayer, indexer)."""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import pydantic_core
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ledger_api.api import problems
from ledger_api.api.ratelimit import RateLimiter
from ledger_api.api.routes import (
    consignments,
    epcis,
    flags,
    health,
    instance,
    ledger,
    page,
    parties,
    peer,
    recognition_writes,
    records,
    verification,
    worklist,
)
from ledger_api.runtime import Runtime
from ledger_api.settings import Settings

ASGIApp = Callable[
    [dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]],
    Awaitable[None],
]


class BodyLimit:
    """Refuses bodies over the limit with 413 before they are read into memory, whether
    or not the client sends Content-Length."""

    def __init__(self, app: ASGIApp, default: int, larger: dict[str, int]) -> None:
        self.app, self.default, self.larger = app, default, larger

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.default)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._refuse(scope, receive, send, limit)
            return
        seen, exceeded, started = 0, False, False

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen, exceeded
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started
            # FastAPI turns any error while reading the body (ours too) into its own 400:
            # once the limit is passed, the app's answer is dropped and the 413 sent instead.
            if exceeded and not started:
                return
            started = True
            await send(message)

        with suppress(_TooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if exceeded and not started:
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: dict[str, Any], receive: Any, send: Any, limit: int) -> None:
        detail = f"the body of {scope['path']} may be at most {limit} bytes"
        response = problems.problem(413, "TOO_LARGE", "Body too large", detail, [{"field": "body", "reason": detail}])
        await response(scope, receive, send)


# The officer's page and its assets come from this service alone, and it is never framed
# (clickjacking): no CDN, no inline script or style (security review).
SECURITY_HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP answer (the API's JSON too: harmless there, and
    no route can forget them)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


class _TooLarge(Exception):
    pass


class JsonGuard:
    """Parses a JSON body once with pydantic-core (jiter: no recursion on the C stack, at
    most ~200 levels deep) before the app parses it again with the stdlib, and refuses
    what jiter cannot parse with a 422 naming "body". The stdlib parser recurses on the C
    stack and py_ecc raises the recursion limit to 100,000, so JSON nested a few hundred
    thousand levels deep (well within the batch body limit) crashed the process."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        types = [v for k, v in scope.get("headers") or [] if k == b"content-type"] if scope["type"] == "http" else []
        if not any(_is_json(t) for t in types):
            await self.app(scope, receive, send)
            return
        messages: list[dict[str, Any]] = []
        while True:
            message: dict[str, Any] = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        if body:
            field, reason = "body", None
            try:
                pydantic_core.from_json(body)
            except ValueError as exc:
                reason = f"not JSON: {exc}"
                if "recursion limit" in str(exc):
                    reason = f"the body's JSON is nested too deeply ({exc})"
            else:
                # Only once jiter has bounded the depth may the stdlib parser read it.
                repeated = _repeated_member(body)
                if repeated is not None:
                    field = repeated
                    reason = "this member appears more than once: signed data must read one way only"
            if reason is not None:
                response = problems.problem(
                    422,
                    "VALIDATION",
                    "The request is not valid",
                    f"{field}: {reason}",
                    [{"field": field, "reason": reason}],
                )
                await response(scope, receive, send)
                return

        async def replay() -> dict[str, Any]:
            return messages.pop(0) if messages else dict(await receive())

        await self.app(scope, replay, send)


class _Repeated(Exception):
    pass


def _refuse_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Repeated
    return result


class _Repeats(dict[str, Any]):
    """A JSON object that named one of its members twice (`repeated` holds the name)."""

    repeated: str | None = None


def _keep_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = _Repeats()
    for key, value in pairs:
        if key in result and result.repeated is None:
            result.repeated = key
        result[key] = value
    return result


def _repeated_member(body: bytes) -> str | None:
    """The path ("record.party", "records[3].payload.consignee") of the first member named
    twice in one object of the JSON body, or None. Parsers disagree on which of two values
    wins (the last here, the first elsewhere): a signed request must not be read two ways.
    A body without repeats is read once; only one with repeats is read again for the path."""
    try:
        json.loads(body, object_pairs_hook=_refuse_repeats)
        return None
    except _Repeated:
        tree = json.loads(body, object_pairs_hook=_keep_repeats)
    except ValueError:
        return None  # jiter read it; let the app say what it makes of it
    stack: list[tuple[str, Any]] = [("", tree)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, _Repeats):
            if value.repeated is not None:
                return f"{path}.{value.repeated}" if path else value.repeated
            stack.extend((f"{path}.{k}" if path else k, v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(value))))
    return None


def _is_json(content_type: bytes) -> bool:
    # What FastAPI parses as JSON: application/json and application/*+json.
    media = content_type.split(b";")[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


def create_app(
    settings: Settings | None = None, runtime: Runtime | None = None, *, freeze_heap: bool = False
) -> FastAPI:
    """`freeze_heap`, for a server process (not for tests, which make many apps in one
    process): once started, what the process holds is moved out of the garbage collector's
    reach (gc.freeze). Its full collections walked every object of the imports and the
    runtime, and under a verification load each one held a worker for 100-200 ms
    (docs/benchmarks.md); freed by reference counting as before, those objects are only
    never searched for cycles."""
    settings = settings or Settings.load()
    rt = runtime or Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if rt.store is None:
            if settings.role == "reader":
                rt.start_reader()
            else:
                rt.start()
        app.state.runtime = rt
        if freeze_heap:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            rt.stop()

    app = FastAPI(
        title="Customs provenance ledger",
        version="1",
        summary="Signed custody, declaration and customs records, verified before clearance.",
        lifespan=lifespan,
    )
    problems.install(app)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    for router in (
        health.router,
        ledger.router,
        records.router,
        consignments.router,
        verification.router,
        parties.router,
        recognition_writes.router,
        epcis.router,
        instance.router,
        peer.router,
        flags.router,
        worklist.router,
        page.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=page.STATIC_DIR), name="static")
    app.add_middleware(JsonGuard)  # inside BodyLimit: it reads no more than the limit
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        larger={"/v1/records/batch": settings.max_batch_body_bytes, "/v1/epcis/capture": settings.max_batch_body_bytes},
    )
    app.add_middleware(SecurityHeaders)  # outermost: every answer has them, a 413 too
    return app


def app_from_env() -> FastAPI:
    """For `uvicorn --factory ledger_api.main:app_from_env [--workers N]`: settings from the
    environment (a reader role for more than one worker: see Settings.role)."""
    return create_app(Settings.load(), freeze_heap=True)
