"""The client an instance asks its peers with: each request carries a token for exactly
the path it is sent to; a peer that answers too much, too slowly, or sends the request
elsewhere is given up, and only http(s) URLs are asked at all. The peers here are
stand-ins behind httpx's mock transport."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from ledger_api.domain.exchange import ServedRecord, to_json
from ledger_api.domain.records import ZERO_ADDRESS, ZERO_HASH, Record, RecordKind
from ledger_api.peering import PeerClient, PeerError

PATH = "/v1/peer/consignments/0x" + "11" * 32 + "/records"
PARTY = Account.from_key(keccak(text="peering party")).address
SERVED = ServedRecord(
    id="0x" + "22" * 32,
    ucr="6NL123456789-PEERING-1",
    record=Record(
        consignment=bytes.fromhex("11" * 32),
        kind=RecordKind.DECLARATION,
        payload_hash=keccak(b"{}"),
        previous=ZERO_HASH,
        party=PARTY,
        counterparty=ZERO_ADDRESS,
        nonce=3,
        deadline=2**40,
        route=("NL", "JP"),
    ),
    signature=b"\x01" * 65,
    payload=b"{}",
    mode="single",
    batch_root=None,
    proof=None,
)


def client(handler: Callable[[httpx.Request], httpx.Response], **limits: float) -> PeerClient:
    settings: dict[str, float] = {"timeout": 2.0, "max_bytes": 64 * 1024} | limits
    return PeerClient(
        timeout=settings["timeout"], max_bytes=int(settings["max_bytes"]), transport=httpx.MockTransport(handler)
    )


def tokens() -> tuple[list[str], Callable[[str], str]]:
    asked: list[str] = []

    def authorization(htu: str) -> str:
        asked.append(htu)
        return f"Peer token-for-{htu}"

    return asked, authorization


def test_the_records_come_back_as_served_and_the_token_names_the_path_behind_the_proxy_prefix():
    seen: list[httpx.Request] = []

    def peer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"authority": PARTY, "records": [to_json(SERVED)]})

    asked, authorization = tokens()
    records = client(peer).records("https://customs.example/ledger/", PATH, authorization)
    assert records == [SERVED]
    assert asked == ["/ledger" + PATH]
    assert str(seen[0].url) == "https://customs.example/ledger" + PATH
    assert seen[0].headers["Authorization"] == f"Peer token-for-/ledger{PATH}"


def test_a_404_means_the_peer_holds_nothing_it_will_give():
    assert client(lambda _: httpx.Response(404, json={"code": "NOT_FOUND"})).records("http://p", PATH, str) is None


def test_a_redirect_to_the_same_host_is_followed_with_a_token_of_its_own():
    def peer(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            return httpx.Response(308, headers={"Location": "https://peer.example" + request.url.path})
        return httpx.Response(200, json={"records": []})

    asked, authorization = tokens()
    assert client(peer).records("http://peer.example", PATH, authorization) == []
    assert asked == [PATH, PATH]


@pytest.mark.parametrize(
    "location", ["https://metadata.internal/latest", "http://peer.example/v1/peer/x", "file:///etc/passwd"]
)
def test_a_redirect_elsewhere_or_down_to_http_is_not_followed(location: str):
    followed: list[str] = []

    def peer(request: httpx.Request) -> httpx.Response:
        followed.append(str(request.url))
        return httpx.Response(302, headers={"Location": location})

    with pytest.raises(PeerError) as refused:
        client(peer).records("https://peer.example", PATH, str)
    assert refused.value.code == "REDIRECTED_AWAY" and len(followed) == 1


def test_endless_redirects_are_given_up():
    def peer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"Location": str(request.url)})

    with pytest.raises(PeerError) as refused:
        client(peer).records("https://peer.example", PATH, str)
    assert refused.value.code == "REDIRECTED_AWAY" and "more than 3 times" in refused.value.message


def test_an_answer_over_the_size_cap_is_dropped_whether_or_not_it_says_its_length():
    def drip() -> Iterator[bytes]:
        while True:
            yield b" " * 4096

    announced = client(lambda _: httpx.Response(200, content=b"x" * 70_000))
    unannounced = client(lambda _: httpx.Response(200, content=drip()))
    for peer in (announced, unannounced):
        with pytest.raises(PeerError) as refused:
            peer.records("https://peer.example", PATH, str)
        assert refused.value.code == "TOO_LARGE"


def test_a_peer_that_drips_its_answer_is_given_up_at_the_timeout():
    def slow() -> Iterator[bytes]:
        for _ in range(100):
            time.sleep(0.05)
            yield b" "

    started = time.monotonic()
    with pytest.raises(PeerError) as refused:
        client(lambda _: httpx.Response(200, content=slow()), timeout=0.3).records("https://peer.example", PATH, str)
    assert refused.value.code == "TIMEOUT" and time.monotonic() - started < 2


@pytest.mark.parametrize("url", ["ftp://peer.example", "file:///tmp/x", "https://u:p@peer.example", "peer.example"])
def test_only_http_urls_are_asked(url: str):
    asked: list[httpx.Request] = []
    with pytest.raises(PeerError) as refused:
        client(lambda r: asked.append(r) or httpx.Response(200)).records(url, PATH, str)
    assert refused.value.code == "BAD_URL" and not asked


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),  # nested past any sane depth: refused, not a crash
        (b'{"records": {}}', "no list of records"),
        (b'{"records": [{"record": {}}]}', "records[0]"),
    ],
)
def test_an_answer_not_in_shape_is_refused(body: bytes, reason: str):
    with pytest.raises(PeerError) as refused:
        client(lambda _: httpx.Response(200, content=body), max_bytes=1_000_000).records("http://p", PATH, str)
    assert refused.value.code == "BAD_ANSWER" and reason in refused.value.message


def test_an_unreachable_peer_and_a_failing_one_are_told_apart():
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(PeerError) as unreachable:
        client(down).records("http://p", PATH, str)
    with pytest.raises(PeerError) as failing:
        client(lambda _: httpx.Response(503)).records("http://p", PATH, str)
    assert (unreachable.value.code, failing.value.code) == ("UNREACHABLE", "HTTP_503")
