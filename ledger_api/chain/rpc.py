"""A lean JSON-RPC client with batches: the project's one beside web3 (the relayer, the
indexer, the embedded node's liveness check). The service's hot paths (relaying,
indexing) speak raw JSON-RPC: web3.py's contract layer costs a read many times the call
itself (docs/benchmarks.md).

It speaks HTTP through the standard library's http.client, one keep-alive connection per
thread (the relayer, the indexer and the payload exchange share one Rpc): a round trip to
a local anvil took 0.18 ms that way against 0.52 ms through httpx (median of 500
eth_blockNumber calls, docs/benchmarks.md), and a single record makes about eight on its
way to confirmed."""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import threading
from typing import Any
from urllib.parse import urlsplit

from ledger_api.errors import ChainError, NodeUnavailable

# A connection the node closed while it sat idle fails on its next use before any answer:
# that request is sent again once, on a new connection (every JSON-RPC call the service
# makes may be sent twice: a raw transaction sent again is the same transaction).
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


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
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"a chain node's URL is http:// or https://, with a host: {url!r}")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if parts.username is not None:  # https://user:secret@node/ as many node providers hand out
            credentials = f"{parts.username}:{parts.password or ''}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
        self._timeout = timeout
        self._ids = itertools.count(1)
        self._ids_lock = threading.Lock()
        self._local = threading.local()
        self._opened: set[http.client.HTTPConnection] = set()  # to close: every thread's
        self._opened_lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
        with self._opened_lock:  # again after a close(): the connection reopens on its next request
            self._opened.add(conn)
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            with self._opened_lock:
                self._opened.discard(conn)

    def _post(self, body: Any) -> Any:
        data = json.dumps(body).encode()
        for attempt in (1, 2):
            conn = self._connection()
            reused = conn.sock is not None
            try:
                conn.request("POST", self._path, data, self._headers)
                response = conn.getresponse()
                payload = response.read()
            except _STALE as exc:
                self._drop_connection()
                if reused and attempt == 1:
                    continue
                raise NodeUnavailable(f"chain node at {self.url} cannot be reached: {exc!r}") from exc
            except (OSError, http.client.HTTPException) as exc:
                self._drop_connection()
                raise NodeUnavailable(f"chain node at {self.url} cannot be reached: {exc!r}") from exc
            if response.status >= 400:
                self._drop_connection()
                raise NodeUnavailable(f"chain node at {self.url} answered HTTP {response.status} {response.reason}")
            if response.will_close:
                self._drop_connection()
            try:
                return json.loads(payload)
            except ValueError as exc:
                raise NodeUnavailable(f"chain node at {self.url} answered something other than JSON") from exc
        raise AssertionError("unreachable")

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
        """Closes every thread's connection (a thread that calls again opens a new one)."""
        with self._opened_lock:
            opened, self._opened = self._opened, set()
        for conn in opened:
            conn.close()

    def __enter__(self) -> Rpc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
