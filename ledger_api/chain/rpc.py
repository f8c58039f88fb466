"""A lean JSON-RPC client with batches: the project's one beside web3 (the relayer, the
indexer, the embedded node's liveness check). The service's hot paths (relaying,
indexing) speak raw JSON-RPC: web3.py's contract layer costs a read many times the call
itself (docs/benchmarks.md).

It speaks HTTP through urllib3's connection pool (at most POOL_SIZE keep-alive
connections, shared by the threads that call it: the relayer, the indexer, the payload
exchange, request threads of the API): a round trip to a local anvil took 0.37 to 0.41 ms
that way against 0.62 to 0.76 ms through httpx (median of 1,000 `eth_blockNumber` calls;
docs/benchmarks.md, figures behind choices), and a single record makes about eight on its
way to confirmed."""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError as TransportError
from urllib3.exceptions import ProtocolError

from ledger_api.errors import ChainError, NodeUnavailable

POOL_SIZE = 8  # connections to the node at most; a thread beyond them waits for one to be free


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
        parts = urllib3.util.parse_url(url)
        if parts.scheme not in ("http", "https") or not parts.host:
            raise ValueError(f"a chain node's URL is http:// or https://, with a host: {url!r}")
        self._path = parts.request_uri  # path and query
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if parts.auth:  # https://user:secret@node/ as many node providers hand out
            self._headers |= urllib3.util.make_headers(basic_auth=parts.auth)
        self._timeout = timeout
        # A connection the node closed while idle is mostly noticed before it is used again
        # and replaced (else _post sends again once); one that fails to connect is tried once
        # more. A request whose answer did not come in time is not sent again: the caller decides.
        self._pool = urllib3.connection_from_url(
            url,
            maxsize=POOL_SIZE,
            block=True,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            retries=urllib3.Retry(total=1, connect=1, read=0, other=0, status=0, redirect=0, allowed_methods=None),
        )
        self._ids = itertools.count(1)
        self._ids_lock = threading.Lock()

    def _post(self, body: Any) -> Any:
        data = json.dumps(body).encode()
        for attempt in (1, 2):
            try:
                response = self._pool.urlopen("POST", self._path, body=data, headers=self._headers)
                break
            except TransportError as exc:
                # The node closed the connection as it was taken from the pool (it closes idle
                # ones): sent again once, on a new one. Every JSON-RPC call the service makes
                # may be sent twice (a raw transaction sent again is the same transaction).
                if attempt == 1 and isinstance(getattr(exc, "reason", exc), ProtocolError):
                    continue
                raise NodeUnavailable(f"chain node at {self.url} cannot be reached: {exc}") from exc
        if response.status >= 400:
            raise NodeUnavailable(f"chain node at {self.url} answered HTTP {response.status} {response.reason}")
        try:
            return json.loads(response.data)
        except ValueError as exc:
            raise NodeUnavailable(f"chain node at {self.url} answered something other than JSON") from exc

    def _next_ids(self, count: int) -> list[int]:
        with self._ids_lock:
            return [next(self._ids) for _ in range(count)]

    def call(self, method: str, *params: Any) -> Any:
        reply = self._post({"jsonrpc": "2.0", "id": self._next_ids(1)[0], "method": method, "params": list(params)})
        if "error" in reply:
            raise RpcError(method, reply["error"])
        return reply.get("result")

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Many calls in one request; each result is the value or an RpcError (not raised)."""
        if not calls:
            return []
        ids = self._next_ids(len(calls))
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in zip(ids, calls, strict=True)]
        replies = self._post(body)
        by_id = {r.get("id"): r for r in replies}
        out: list[Any] = []
        for i, (method, _) in zip(ids, calls, strict=True):
            reply = by_id.get(i, {"error": {"message": "no reply"}})
            out.append(RpcError(method, reply["error"]) if "error" in reply else reply.get("result"))
        return out

    def close(self) -> None:
        """Closes the pool's connections; a call after this is NodeUnavailable."""
        self._pool.close()

    def __enter__(self) -> Rpc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
