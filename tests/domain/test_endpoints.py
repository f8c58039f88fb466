"""An instance's endpoint as an authority publishes it: only a plain http(s) URL may be
asked for payloads, a redirect never leads a request away from the host that was asked,
and a token binds the path the peer published (a reverse proxy's prefix included)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger_api.domain.endpoints import (
    MAX_URL_BYTES,
    ZERO_KEY,
    Endpoint,
    development_publication,
    peer_path,
    peer_url_problem,
    redirect_stays_with_peer,
)
from ledger_api.domain.peer_tokens import key_id, raw_public


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000", "https://ledger.customs.go.jp", "https://customs.gov.sg/ledger/", "http://[::1]:8001"],
)
def test_a_plain_http_or_https_url_is_an_instance_url(url):
    assert peer_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://ledger.customs.go.jp", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("ledger.customs.go.jp", "http or https"),
        ("https://user:secret@ledger.customs.go.jp", "user info"),
        ("https://ledger.customs.go.jp/?next=evil", "query or fragment"),
        ("https://ledger.customs.go.jp/#x", "query or fragment"),
        ("https://", "names no host"),
        ("https://ledger.customs.go.jp:https", "names no host"),
        ("https://ledger.customs.go.jp:70000", "port 70000"),
        ("https://ledger.customs.go.jp/a b", "whitespace"),
        ("https://lédger.example", "ASCII"),
        ("https://x.example/" + "a" * MAX_URL_BYTES, "longer than 256 bytes"),
    ],
)
def test_anything_else_is_refused_with_its_reason(url, problem):
    assert problem in (peer_url_problem(url) or "")


def test_a_redirect_may_stay_with_the_host_or_upgrade_to_https_but_never_leave_it():
    assert redirect_stays_with_peer("http://ledger.customs.go.jp/v1/peer/x", "https://ledger.customs.go.jp/v1/peer/x")
    assert redirect_stays_with_peer("https://ledger.customs.go.jp:8443/a", "https://ledger.customs.go.jp/a")
    assert not redirect_stays_with_peer("https://ledger.customs.go.jp/a", "http://ledger.customs.go.jp/a")
    assert not redirect_stays_with_peer("https://ledger.customs.go.jp/a", "https://metadata.internal/a")
    assert not redirect_stays_with_peer("https://ledger.customs.go.jp/a", "https://evil@ledger.customs.go.jp/a")
    assert not redirect_stays_with_peer("https://ledger.customs.go.jp/a", "file:///etc/passwd")


def test_a_token_binds_the_published_path_with_a_reverse_proxy_prefix():
    assert peer_path("http://127.0.0.1:8000", "/v1/peer/batches/0x1/records") == "/v1/peer/batches/0x1/records"
    assert peer_path("https://customs.gov.sg/ledger/", "/v1/peer/x") == "/ledger/v1/peer/x"


def test_an_endpoint_knows_its_kid_and_whether_a_publication_would_change_it():
    public = Ed25519PrivateKey.generate().public_key()
    raw = raw_public(public)
    endpoint = Endpoint("0x" + "aa" * 20, "JP", "https://jp.example", "0x" + raw.hex(), ZERO_KEY, "0x" + "bb" * 20, 7)
    assert endpoint.kid == key_id(raw)
    assert raw_public(endpoint.public_key()) == raw
    assert endpoint.same_publication("https://jp.example", "0x" + raw.hex().upper(), ZERO_KEY, "0x" + "BB" * 20)
    assert not endpoint.same_publication("https://jp2.example", "0x" + raw.hex(), ZERO_KEY, "0x" + "bb" * 20)


SIGNING, ENCRYPTION, RELAYER = "0x" + "11" * 32, "0x" + "22" * 32, "0x" + "bb" * 20
ON_CHAIN = Endpoint("0x" + "aa" * 20, "JP", "https://a.jp.example", SIGNING, ENCRYPTION, RELAYER, 7)


@pytest.mark.parametrize("shared_store", [False, True])
def test_an_instance_publishes_its_endpoint_when_the_chain_shows_none(shared_store):
    published = development_publication(
        None, "https://b.jp.example", SIGNING, ENCRYPTION, RELAYER, shared_store=shared_store
    )
    assert published == ("https://b.jp.example", RELAYER)


@pytest.mark.parametrize("shared_store", [False, True])
def test_an_instance_publishes_nothing_when_the_chain_shows_it_already(shared_store):
    assert (
        development_publication(ON_CHAIN, ON_CHAIN.url, SIGNING, ENCRYPTION, RELAYER, shared_store=shared_store) is None
    )


def test_an_instance_alone_on_its_store_publishes_its_new_url_or_relayer():
    new_relayer = "0x" + "cc" * 20
    assert development_publication(
        ON_CHAIN, "https://b.jp.example", SIGNING, ENCRYPTION, RELAYER, shared_store=False
    ) == ("https://b.jp.example", RELAYER)
    assert development_publication(ON_CHAIN, ON_CHAIN.url, SIGNING, ENCRYPTION, new_relayer, shared_store=False) == (
        ON_CHAIN.url,
        new_relayer,
    )


def test_a_writer_sharing_its_store_leaves_another_writer_s_url_and_relayer_on_chain():
    assert (
        development_publication(
            ON_CHAIN, "https://b.jp.example", SIGNING, ENCRYPTION, "0x" + "cc" * 20, shared_store=True
        )
        is None
    )


@pytest.mark.parametrize(("signing", "encryption"), [("0x" + "33" * 32, ENCRYPTION), (SIGNING, "0x" + "44" * 32)])
def test_a_writer_sharing_its_store_publishes_the_authority_s_new_keys_at_the_url_on_chain(signing, encryption):
    published = development_publication(
        ON_CHAIN, "https://b.jp.example", signing, encryption, "0x" + "cc" * 20, shared_store=True
    )
    assert published == (ON_CHAIN.url, RELAYER)
