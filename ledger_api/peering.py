"""The HTTP client an instance asks other instances with (httpx): GET /v1/peer/… (and the
POST of a flag's use report) with a fresh peer request token per request, under the limits
a request to someone else's server needs:

- only to an http(s) URL with a host (domain/endpoints.py peer_url_problem): a URL
  published on chain is anyone's to write, and must not lead to a file or a socket;
- a timeout on every step and on the whole exchange, so that a peer that drips its answer
  cannot hold a fetch;
- an answer larger than `max_bytes` is dropped as soon as it is;
- a redirect is followed only to the same host (a reverse proxy sending http to https),
  never to another one (domain/endpoints.py redirect_stays_with_peer), at most
  MAX_REDIRECTS times, each hop with a token of its own.

Answers are parsed into domain/exchange.py ServedRecord; nothing is trusted yet: the
caller checks every record against the chain.

    PeerError                   a peer that could not be asked, or answered badly
    └── (code) UNREACHABLE, TIMEOUT, TOO_LARGE, REDIRECTED_AWAY, BAD_URL, BAD_ANSWER, HTTP_<status>
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pydantic_core

from ledger_api.domain.endpoints import peer_url_problem, redirect_stays_with_peer
from ledger_api.domain.exchange import ServedRecord, from_json
from ledger_api.errors import LedgerError

MAX_REDIRECTS = 3
REDIRECTS = (301, 302, 303, 307, 308)


class PeerError(LedgerError):
    """A peer that could not be asked or answered something unusable. `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class PeerClient:
    def __init__(self, *, timeout: float, max_bytes: int, transport: httpx.BaseTransport | None = None) -> None:
        self.timeout, self.max_bytes = timeout, max_bytes
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
            headers={"Accept": "application/json"},
            transport=transport,
            trust_env=False,  # a proxy from the environment is not the operator's choice for peers
        )

    def records(
        self, base_url: str, path: str, authorization: Callable[[str], str], timeout: float | None = None
    ) -> list[ServedRecord] | None:
        """The records the instance at `base_url` serves at `path` (/v1/peer/…), or None when
        it answers 404 (it holds none it will give). `authorization(htu)` makes the
        Authorization header for a request to the path `htu`; `timeout`, if shorter than
        the client's, bounds this exchange. PeerError otherwise."""
        found = self.get(base_url, path, authorization, timeout)
        return None if found is None else _parse(found[0], found[1])

    def document(
        self, base_url: str, path: str, authorization: Callable[[str], str], timeout: float | None = None
    ) -> bytes | None:
        """The bytes the instance at `base_url` serves at `path` as they came (a sealed
        intelligence flag: the caller checks them against the chain), or None on 404."""
        found = self.get(base_url, path, authorization, timeout)
        return None if found is None else found[0]

    def post(self, base_url: str, path: str, authorization: Callable[[str], str], timeout: float | None = None) -> bool:
        """POSTs to `path` (/v1/peer/…) with no body: what it tells is in the path, which the
        request's token binds. True when the peer took it (2xx), False on 404; PeerError
        else. A redirect is not followed (a report goes where it was addressed) and the
        answer's body is not read."""
        problem = peer_url_problem(base_url)
        if problem is not None:
            raise PeerError("BAD_URL", f"the peer URL {base_url[:80]!r} {problem}")
        url = httpx.URL(base_url.rstrip("/") + path)
        budget = self.timeout if timeout is None else max(0.05, min(self.timeout, timeout))
        htu = url.raw_path.decode("ascii")
        try:
            with self._http.stream(
                "POST", url, headers={"Authorization": authorization(htu)}, timeout=httpx.Timeout(budget)
            ) as response:
                status = response.status_code
        except httpx.TimeoutException as exc:
            raise PeerError("TIMEOUT", f"{url} did not answer in {budget:.1f} s") from exc
        except httpx.HTTPError as exc:
            raise PeerError("UNREACHABLE", f"{url} cannot be reached: {exc or type(exc).__name__}") from exc
        if status == 404:
            return False
        if not 200 <= status < 300:
            raise PeerError(f"HTTP_{status}", f"{url} answered {status}")
        return True

    def get(
        self, base_url: str, path: str, authorization: Callable[[str], str], timeout: float | None = None
    ) -> tuple[bytes, str] | None:
        """The body at `path` and the URL that served it, or None on 404; PeerError else."""
        problem = peer_url_problem(base_url)
        if problem is not None:
            raise PeerError("BAD_URL", f"the peer URL {base_url[:80]!r} {problem}")
        url = httpx.URL(base_url.rstrip("/") + path)
        budget = self.timeout if timeout is None else max(0.05, min(self.timeout, timeout))
        deadline = time.monotonic() + budget
        for _ in range(MAX_REDIRECTS + 1):
            status, body, location = self._get(url, authorization, deadline)
            if status in REDIRECTS and location is not None:
                target = url.join(location)
                if not redirect_stays_with_peer(str(url), str(target)):
                    raise PeerError("REDIRECTED_AWAY", f"{url} redirected to another host: {str(target)[:120]}")
                url = target
                continue
            if status == 404:
                return None
            if status != 200:
                raise PeerError(f"HTTP_{status}", f"{url} answered {status}")
            return body, str(url)
        raise PeerError("REDIRECTED_AWAY", f"{base_url} redirected more than {MAX_REDIRECTS} times")

    def _get(
        self, url: httpx.URL, authorization: Callable[[str], str], deadline: float
    ) -> tuple[int, bytes, str | None]:
        htu = url.raw_path.decode("ascii")
        left = deadline - time.monotonic()
        if left <= 0:
            raise PeerError("TIMEOUT", f"{url}: no time left to ask")
        try:
            with self._http.stream(
                "GET", url, headers={"Authorization": authorization(htu)}, timeout=httpx.Timeout(left)
            ) as response:
                length = response.headers.get("content-length")
                if length is not None and length.isdigit() and int(length) > self.max_bytes:
                    raise PeerError("TOO_LARGE", f"{url} answers {length} bytes, more than {self.max_bytes}")
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PeerError("TOO_LARGE", f"{url} answered more than {self.max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise PeerError("TIMEOUT", f"{url} took too long to answer")
                    chunks.append(chunk)
                return response.status_code, b"".join(chunks), response.headers.get("location")
        except httpx.TimeoutException as exc:
            raise PeerError("TIMEOUT", f"{url} did not answer in {left:.1f} s") from exc
        except httpx.HTTPError as exc:
            raise PeerError("UNREACHABLE", f"{url} cannot be reached: {exc or type(exc).__name__}") from exc

    def close(self) -> None:
        self._http.close()


def _parse(body: bytes, url: str) -> list[ServedRecord]:
    # jiter, not the stdlib: it bounds the nesting depth, where the stdlib parser recurses
    # on the C stack (py_ecc lifts the recursion limit) and a peer's deep JSON would crash us.
    try:
        answer = pydantic_core.from_json(body)
    except ValueError as exc:
        raise PeerError("BAD_ANSWER", f"{url} answered something that is not JSON: {exc}") from exc
    records = answer.get("records") if isinstance(answer, dict) else None
    if not isinstance(records, list):
        raise PeerError("BAD_ANSWER", f"{url} answered no list of records")
    served = []
    for i, item in enumerate(records):
        try:
            served.append(from_json(item))
        except ValueError as exc:
            raise PeerError("BAD_ANSWER", f"{url}: records[{i}]: {exc}") from exc
    return served
