"""A lean JSON-RPC client over httpx, with batches: the project's one beside web3 (the
relayer, the indexer, the embedded node's liveness check). The service's hot paths
(relaying, indexing) speak raw JSON-RPC: web3.py's contract layer costs a read many times
the call itself (docs/benchmarks.md)."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from ledger_api.errors import ChainError, NodeUnavailable


class RpcError(ChainError):
    """The node answered a call with an error."""

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        self.code = error.get("code")
        self.data = error.get("data")
        self.error_message = str(error.get("message", ""))
        super().__init__(f"{method}: {self.error_message}")


class Rpc:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self._client = httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=8))
        self._ids = itertools.count(1)

    def _post(self, body: Any) -> Any:
        try:
            response = self._client.post(self.url, json=body)
            response.raise_for_status()
            return response.json()
        except httpx.HTTPError as exc:
            raise NodeUnavailable(f"chain node at {self.url} cannot be reached: {exc}") from exc

    def call(self, method: str, *params: Any) -> Any:
        reply = self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)})
        if "error" in reply:
            raise RpcError(method, reply["error"])
        return reply.get("result")

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Many calls in one request; each result is the value or an RpcError (not raised)."""
        if not calls:
            return []
        first = next(self._ids)
        ids = list(range(first, first + len(calls)))
        self._ids = itertools.count(first + len(calls))
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in zip(ids, calls, strict=True)]
        replies = self._post(body)
        by_id = {r.get("id"): r for r in replies}
        out: list[Any] = []
        for i, (method, _) in zip(ids, calls, strict=True):
            reply = by_id.get(i, {"error": {"message": "no reply"}})
            out.append(RpcError(method, reply["error"]) if "error" in reply else reply.get("result"))
        return out

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Rpc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
