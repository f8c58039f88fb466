"""The FastAPI application: routers, problem handlers, body limits, and the lifespan
that starts and stops the runtime (chain, relayer, indexer)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from ledger_api.api import problems
from ledger_api.api.routes import consignments, health, ledger, parties, records
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
        seen = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: dict[str, Any], receive: Any, send: Any, limit: int) -> None:
        response = problems.problem(
            413, "TOO_LARGE", "Body too large", f"the body of {scope['path']} may be at most {limit} bytes"
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = runtime or Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if rt.store is None:
            rt.start()
        app.state.runtime = rt
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
    for router in (health.router, ledger.router, records.router, consignments.router, parties.router):
        app.include_router(router)
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        larger={"/v1/records/batch": settings.max_batch_body_bytes},
    )
    return app
