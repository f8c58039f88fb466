"""New blocks as the node announces them: a WebSocket subscription to `newHeads`
(`eth_subscribe`, which anvil, Besu, Geth and Quorum serve), so that the indexer takes a
block in as soon as it exists rather than at its next poll.

On a chain with a block period (a consortium chain's `blockperiodseconds`) a record's
confirmation otherwise waited for the indexer's idle poll after its block: 20 ms, or
250 ms once the indexer had been idle two seconds, which it mostly is between blocks
of a few seconds (chain/loop.py; docs/benchmarks.md has what following the heads
changed).

The subscription only wakes the indexer: what it takes in, it still reads over JSON-RPC
and checks as before (the heads' contents are not used), and it still polls, so a lost
subscription or a node without WebSockets costs the poll's delay and nothing else. A
subscription that fails is opened again after a pause that doubles, up to a minute."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

log = logging.getLogger(__name__)

OPEN_TIMEOUT = 5.0
RETRY_SECONDS, RETRY_MAX_SECONDS = 1.0, 60.0
LISTEN_SECONDS = 0.1  # how long one receive waits before it looks at `stop`: a stop joins this thread
MAX_MESSAGE_BYTES = 1 << 20  # a head is about 2 kB


@dataclass
class HeadsState:
    """Whether the subscription is up, for /readyz's details (it is no readiness problem:
    the indexer polls without it). Written by follow_heads' thread."""

    following: bool = False
    last_error: str | None = None
    last_head: float | None = None  # time.time() of the last announcement

    def as_json(self) -> dict[str, Any]:
        return {"following": self.following, "last_error": self.last_error, "last_head": self.last_head}


def ws_url_of(rpc_url: str) -> str:
    """The WebSocket URL a node serving both on one port (anvil) has beside its HTTP one."""
    parts = urlsplit(rpc_url)
    return urlunsplit(parts._replace(scheme={"https": "wss"}.get(parts.scheme, "ws")))


def _shown(url: str) -> str:
    """The URL without what may be a secret (a hosted node's key in its path or user part)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def follow_heads(url: str, on_head: Callable[[], None], stop: threading.Event, state: HeadsState | None = None) -> None:
    """Calls `on_head()` for each block the node at `url` (ws:// or wss://) announces, until
    `stop` is set, keeping `state`; never raises for the node's sake."""
    state = state or HeadsState()
    pause = RETRY_SECONDS
    while not stop.is_set():
        try:
            with connect(url, open_timeout=OPEN_TIMEOUT, close_timeout=1, max_size=MAX_MESSAGE_BYTES) as ws:
                ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}))
                answer = json.loads(ws.recv(timeout=OPEN_TIMEOUT))
                if not isinstance(answer, dict) or "result" not in answer:
                    raise ValueError(f"eth_subscribe newHeads was refused: {str(answer)[:200]}")
                log.info("following the chain's new blocks at %s", _shown(url))
                state.following, state.last_error, pause = True, None, RETRY_SECONDS
                on_head()  # a block may have come while there was no subscription
                while not stop.is_set():
                    try:
                        ws.recv(timeout=LISTEN_SECONDS)
                    except TimeoutError:
                        continue
                    state.last_head = time.time()
                    on_head()
            state.following = False
        except (OSError, TimeoutError, WebSocketException, ValueError) as exc:
            reason = f"{type(exc).__name__}: {exc}".replace(url, _shown(url))[:300]  # an invalid URI names itself
            state.following, state.last_error = False, reason
            log.warning("new blocks at %s: %s; the indexer polls; trying again in %.0f s", _shown(url), reason, pause)
            stop.wait(pause)
            pause = min(2 * pause, RETRY_MAX_SECONDS)
