"""A JSON-RPC proxy that records the method of every call it forwards to a node (batches
included): what a service asks of its chain, for the tests that hold it to the calls an
external chain answers (no evm_* or anvil_*)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


class RecordingProxy:
    def __init__(self, target: str) -> None:
        self.target = target
        self.methods: list[str] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=60)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                proxy.record(body)
                try:
                    reply = proxy._client.post(proxy.target, content=body, headers={"Content-Type": "application/json"})
                    status, content = reply.status_code, reply.content
                except httpx.HTTPError:
                    status, content = 502, b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # a line per call would drown the test's output

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="rpc-recorder", daemon=True)

    def record(self, body: bytes) -> None:
        try:
            message = json.loads(body)
        except ValueError:
            return
        calls = message if isinstance(message, list) else [message]
        with self._lock:
            self.methods.extend(str(c.get("method")) for c in calls if isinstance(c, dict))

    def seen(self) -> list[str]:
        with self._lock:
            return list(self.methods)

    def start(self) -> RecordingProxy:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()


@contextmanager
def recording_proxy(target: str) -> Iterator[RecordingProxy]:
    proxy = RecordingProxy(target).start()
    try:
        yield proxy
    finally:
        proxy.close()
