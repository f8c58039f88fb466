"""Attacks at the API of a real service running in its own process (`python -m
ledger_api.run`, its own anvil): forged, replayed, malleated, misdirected and expired
signatures are refused naming the field and reach neither the outbox nor the chain; bodies
built to exhaust memory are refused while the process's peak memory stays bounded; a
credential can neither write nor read as another party; and a credential over its rate is
told when to come back. tests/api/test_bad_input.py holds the refusals one by one (every
field, every rule); here each attack is checked for what it could have changed."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from sqlalchemy import func, select
from support.forwarding import JP_CUSTOMS, NL_CUSTOMS, carrier_registration
from support.payloads import custody, declaration
from support.service import CAST, register_cast, served, wait_until
from web3 import HTTPProvider, Web3

from ledger_api.api.problems import MEDIA_TYPE
from ledger_api.chain.node import free_port
from ledger_api.client import LedgerClient, SignedRecord
from ledger_api.domain.records import SECP256K1_HALF_N, sign_record
from ledger_api.settings import Settings
from ledger_api.store.db import Store
from ledger_api.store.tables import OutboxRow, RecordRow
from ledger_bench.service import Service as _Service

SECP256K1_N = 2 * SECP256K1_HALF_N + 1
MIB = 1024 * 1024
# What one memory attack may add to the service's peak resident memory. The largest body
# it takes is 16 MiB, parsed twice (the JSON guard, then FastAPI) and validated: 12 MiB of
# tiny JSON objects cost about 250 MiB at the peak. A bound, not a target: gigabytes would
# be a leak or a parse without limits.
PEAK_GROWTH_BOUND = 512 * MIB


@dataclass
class Target:
    service: _Service
    data: Path
    w3: Web3
    keys: dict[str, LocalAccount]
    tokens: dict[str, str]
    store: Store

    def client(self, name: str, token_of: str | None = None) -> LedgerClient:
        """`name`'s signing key, sending the credential of `token_of` (default its own)."""
        return LedgerClient(self.service.url, self.keys[name], token=self.tokens[token_of or name])

    def http(self, name: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[name]}"} if name else {}
        return httpx.Client(base_url=self.service.url, timeout=120, headers=headers)

    def footprint(self) -> tuple[int, int, int]:
        """Outbox rows, stored records, chain height: what a refused write must not change."""
        with self.store.session() as session:
            outbox = session.scalar(select(func.count()).select_from(OutboxRow)) or 0
            records = session.scalar(select(func.count()).select_from(RecordRow)) or 0
        return outbox, records, self.w3.eth.block_number


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data = tmp_path_factory.mktemp("attacks")
    service = _Service(data)
    try:
        w3 = Web3(HTTPProvider(service.chain_url))
        keys = {name: Account.from_key(keccak(text=f"attack test {name}")) for name in CAST}
        register_cast(w3, service.manifest, keys)
        keys |= {"nl_authority": NL_CUSTOMS, "jp_authority": JP_CUSTOMS}
        tokens = {name: service.credentials.issue(account.address, name) for name, account in keys.items()}
        for name in CAST:
            wait_until(lambda n=name: service.http.get(f"/v1/parties/{keys[n].address}").status_code == 200)
        store = Store(f"sqlite:///{data / 'ledger.db'}")
        yield Target(service, data, w3, keys, tokens, store)
        store.close()
    finally:
        service.stop()


def problem(response: httpx.Response, status: int, code: str | None, field: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == MEDIA_TYPE
    body: dict[str, Any] = response.json()
    if code is not None:
        assert body["code"] == code, body
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


def with_signature(signed: SignedRecord, signature: bytes) -> dict[str, Any]:
    body = json.loads(json.dumps(signed.body()))
    body["signature"] = "0x" + signature.hex()
    return body


def ucr(tag: str) -> str:
    return f"6NL123456789-ATK-{tag}"


def malleated(signature: bytes) -> bytes:
    """(r, n - s) with the other v: the same signature by the same key, in its high-s form."""
    s = int.from_bytes(signature[32:64], "big")
    return signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])


# ---------------------------------------------------------------- signatures


def test_forged_replayed_malleated_misdirected_and_expired_signatures_reach_neither_outbox_nor_chain(
    target: Target, figure
):
    exporter = target.client("exporter")
    domain = exporter.domain()
    replayed = exporter.sign(declaration(ucr("SIG-1")))
    first = exporter.post(replayed)
    assert exporter.wait_confirmed(first["id"])["status"] == "confirmed"
    before = target.footprint()

    signed = exporter.sign(declaration(ucr("SIG-2")))
    by_carrier = sign_record(signed.record, domain, target.keys["carrier"].key)
    # (attack, body, status, code, field, also as a batch: batch nonces are not the chain's,
    # only unique per party, so a replayed single-mode nonce is no attack on a batch)
    attacks: list[tuple[str, dict[str, Any], int, str, str, bool]] = [
        ("wrong signer", with_signature(signed, by_carrier), 422, "WRONG_SIGNER", "signature", True),
        (
            "replayed nonce",
            exporter.sign(declaration(ucr("SIG-3")), nonce=replayed.record.nonce).body(),
            409,
            "NONCE_MISMATCH",
            "record.nonce",
            False,
        ),
        ("high-s", with_signature(signed, malleated(signed.signature)), 422, "BAD_SIGNATURE", "signature", True),
    ]
    for name, other in (
        ("another chain id", replace(domain, chain_id=domain.chain_id + 1)),
        ("another contract", replace(domain, verifying_contract="0x" + "5a" * 20)),
        ("another domain name", replace(domain, name="ConsignmentLedgr")),
    ):
        elsewhere = sign_record(signed.record, other, target.keys["exporter"].key)
        attacks.append((name, with_signature(signed, elsewhere), 422, "WRONG_SIGNER", "signature", True))
    expired = exporter.sign(declaration(ucr("SIG-4")), deadline=int(time.time()) - 1)
    attacks.append(("expired deadline", expired.body(), 422, "EXPIRED", "record.deadline", True))

    sent = 0
    for name, body, status, code, field, as_batch in attacks:
        problem(exporter.http.post("/v1/records", json=body), status, code, field)
        sent += 1
        if as_batch:
            batch = exporter.http.post("/v1/records/batch", json={"records": [body]})
            problem(batch, status, code, f"records[0].{field}")
            sent += 1
        assert target.footprint() == before, name
    # The same signed record again is the same record: its id, and nothing new.
    again = exporter.http.post("/v1/records", json=replayed.body())
    assert (again.status_code, again.json()["id"]) == (200, first["id"])
    # An authority's forward request in its malleable form is refused before it is queued.
    nl = target.client("nl_authority")
    request = _forward_body(nl, Account.from_key(keccak(text="attack test newcomer")).address)
    request["signature"] = "0x" + malleated(bytes.fromhex(request["signature"][2:])).hex()
    problem(nl.http.post("/v1/parties", json=request), 422, "BAD_SIGNATURE", "signature")
    sent += 1
    time.sleep(0.5)  # a relayer that had been handed anything would have sent it by now
    assert target.footprint() == before
    figure(
        "signature attacks at the API: wrong signer, replayed nonce, high-s, another chain id / contract / "
        "domain, expired deadline (single and batch), high-s forward request",
        f"{sent} of {sent} refused with a 4xx naming the field; outbox rows, stored records and chain height "
        "unchanged; the exact replay answered 200 with the first id",
    )


def _forward_body(authority: LedgerClient, party: str) -> dict[str, Any]:
    """`authority` registers `party`, signed for its next forwarder nonce."""
    nonce = authority.http.get(f"/v1/parties/{authority.address}").json()["forwarder_nonce"]
    return carrier_registration(authority.http.get("/v1/ledger").json(), authority.account, party, nonce=nonce)


# ---------------------------------------------------------------- credentials


def test_a_credential_can_neither_write_nor_read_as_another_party(target: Target, figure):
    exporter, carrier = target.client("exporter"), target.client("carrier")
    own = exporter.sign(declaration(ucr("CRED-1")))
    before = target.footprint()
    # The exporter's validly signed record, sent with the carrier's credential.
    with target.http("carrier") as as_carrier:
        problem(as_carrier.post("/v1/records", json=own.body()), 403, "WRONG_CREDENTIAL", "record.party")
        batch = [exporter.sign(declaration(ucr(f"CRED-B{n}")), previous=bytes(32), nonce=900 + n) for n in range(3)]
        batch[1] = carrier.sign(custody(ucr("CRED-B1"), "HANDOVER"), previous=bytes(32), nonce=900)
        body = {"records": [s.body() for s in batch]}
        with target.http("exporter") as as_exporter:
            problem(
                as_exporter.post("/v1/records/batch", json=body), 403, "WRONG_CREDENTIAL", "records[1].record.party"
            )
        # NL customs' credential carrying JP customs' registry request.
        jp = target.client("jp_authority")
        request = _forward_body(jp, Account.from_key(keccak(text="attack test jp newcomer")).address)
        with target.http("nl_authority") as as_nl:
            problem(as_nl.post("/v1/parties", json=request), 403, "WRONG_CREDENTIAL", "authority")
    # Without any credential, no write is looked at.
    with target.http(None) as anonymous:
        for path, write in (("/v1/records", own.body()), ("/v1/records/batch", {"records": [own.body()]})):
            problem(anonymous.post(path, json=write), 401, "NOT_AUTHENTICATED", None)
        for path in ("/v1/parties", "/v1/aeo", "/v1/mras", "/v1/mras/1/ratify", "/v1/mras/1/terminate"):
            problem(anonymous.post(path, json=request), 401, "NOT_AUTHENTICATED", None)
    assert target.footprint() == before
    # The exporter's own consignment: its carrier-to-be cannot read it; a made-up credential less.
    record_id = exporter.post(own)["id"]
    assert exporter.wait_confirmed(record_id)["status"] == "confirmed"
    reads = [f"/v1/records/{record_id}", f"/v1/consignments/{ucr('CRED-1')}"]
    reads += [f"/v1/consignments/{ucr('CRED-1')}/{what}?country=NL&at_block=1" for what in ("verification", "evidence")]
    for name in ("carrier", "carrier_jp", "importer"):
        with target.http(name) as outsider:
            assert [outsider.get(path).status_code for path in reads] == [404] * 4, name
    forged = target.tokens["exporter"][:-4] + "AAAA"
    with httpx.Client(base_url=target.service.url, headers={"Authorization": f"Bearer {forged}"}) as forger:
        assert [forger.get(path).status_code for path in reads] == [401] * 4
    figure(
        "a credential used for another party: writes with its record, batch record or authority request; "
        "writes without a credential; reads of another's consignment",
        "403 WRONG_CREDENTIAL naming record.party / records[1].record.party / authority; 401 for all 7 write "
        "operations without a credential; 404 for each of 4 reads by 3 outsiders, 401 with a forged secret; "
        "nothing stored",
    )


# ---------------------------------------------------------------- memory


def _rss(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of process `pid`, in bytes."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def _raw(url: str, head: bytes, body: bytes | list[bytes] = b"") -> int:
    """One HTTP/1.1 exchange on a socket, for bodies httpx would not send as they are."""
    parsed = httpx.URL(url)
    with socket.create_connection((parsed.host, parsed.port), timeout=120) as sock:
        sock.sendall(head)
        for chunk in body if isinstance(body, list) else [body]:
            try:
                sock.sendall(chunk)
            except OSError:
                break  # refused before the whole body was sent
        answer = b""
        while b"\r\n" not in answer:
            more = sock.recv(65536)
            assert more, answer
            answer += more
    return int(answer.split(b" ", 2)[1])


def test_bodies_built_to_exhaust_memory_are_refused_and_the_peak_memory_stays_bounded(target: Target, figure):
    pid = target.service.process.pid
    exporter = target.client("exporter")
    signed = exporter.sign(declaration(ucr("MEM-1")), previous=bytes(32), nonce=5_000)
    one = json.dumps(signed.body(), separators=(",", ":")).encode()
    limit = 16 * MIB
    headers = {"content-type": "application/json"}
    http = exporter.http
    http.timeout = httpx.Timeout(120)
    assert http.get("/healthz").status_code == 200
    before = target.footprint()
    rss_before, _ = _rss(pid)
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    outcomes: list[tuple[str, int]] = []

    peaks: dict[str, int] = {}

    def refused(what: str, status: int, expected: tuple[int, ...]) -> None:
        """Records the attack's answer and the peak above the RSS it started from."""
        assert status in expected, (what, status)
        outcomes.append((what, status))
        peaks[what] = max(0, _rss(pid)[1] - start[0])
        start[0] = _rss(pid)[0]
        Path(f"/proc/{pid}/clear_refs").write_text("5")

    start = [rss_before]

    # 10,001 records: one more than a batch may carry.
    over = b'{"records":[' + b",".join([one] * 10_001) + b"]}"
    refused("10,001-record batch", http.post("/v1/records/batch", content=over, headers=headers).status_code, (422,))
    # 10,000 records padded to one byte under the limit: parsed, validated, refused whole.
    under = b'{"records":[' + b",".join([one] * 10_000) + b"]}"
    assert len(under) < limit
    under += b" " * (limit - 1 - len(under))
    status = http.post("/v1/records/batch", content=under, headers=headers).status_code
    refused("10,000-record batch 1 byte under 16 MiB", status, (422,))
    # Over the limits, declared or streamed.
    refused(
        "17 MiB declared",
        _raw(
            target.service.url,
            b"POST /v1/records/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {limit + MIB}\r\nConnection: close\r\n\r\n".encode(),
        ),
        (413,),
    )
    chunked = b"POST /v1/records/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    chunked += b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    piece = f"{MIB:x}\r\n".encode() + b"[" * MIB + b"\r\n"
    refused("17 MiB chunked, no length", _raw(target.service.url, chunked, [piece] * 17 + [b"0\r\n\r\n"]), (413,))
    big = b'{"records":"' + b"x" * (65 * 1024) + b'"}'
    refused("65 KiB to /v1/records", http.post("/v1/records", content=big, headers=headers).status_code, (413,))
    # Nested a million levels deep (inside the batch limit), and not UTF-8.
    deep = b'{"records":' + b"[" * 1_000_000 + b"]" * 1_000_000 + b"}"
    refused("JSON nested 10^6 deep", http.post("/v1/records/batch", content=deep, headers=headers).status_code, (422,))
    bad_utf8 = one.replace(b"Delta", b"D\xff\xfe")
    refused("invalid UTF-8", http.post("/v1/records", content=bad_utf8, headers=headers).status_code, (422,))
    wide = b'{"records":[' + b",".join([b'{"a":1}'] * 1_500_000) + b"]}"
    assert len(wide) < limit
    refused(
        "1.5 million tiny objects", http.post("/v1/records/batch", content=wide, headers=headers).status_code, (422,)
    )

    rss_after, _ = _rss(pid)
    assert http.get("/healthz").status_code == 200
    assert target.footprint() == before
    worst = max(peaks, key=lambda k: peaks[k])
    growth = peaks[worst]  # the largest peak of one attack over the RSS it started from
    assert growth < PEAK_GROWTH_BOUND, f"peak RSS grew by {growth / MIB:.0f} MiB"
    figure(
        "memory attacks on a service process: 10,001-record batch, 10,000-record batch 1 byte under 16 MiB, "
        "17 MiB declared and chunked, 65 KiB single, JSON nested 10^6 deep, invalid UTF-8, 1.5 M tiny objects",
        f"all {len(outcomes)} refused (4xx: {', '.join(str(s) for _, s in outcomes)}); RSS {rss_before / MIB:.0f} "
        f"MiB before; largest peak growth of one attack +{growth / MIB:.0f} MiB ({worst}; bound "
        f"{PEAK_GROWTH_BOUND // MIB} MiB); per attack: "
        + ", ".join(f"{w} +{p / MIB:.0f}" for w, p in peaks.items())
        + f" MiB; {rss_after / MIB:.0f} MiB after (the allocator keeps what it took); nothing stored",
    )


# ---------------------------------------------------------------- rate


def test_a_credential_over_its_rate_gets_429_with_retry_after_and_gets_through_after_waiting(target: Target, figure):
    """A reader instance over the same store, with a tight limit (2/s, bursts of 5)."""
    settings = Settings(
        data_dir=target.data,
        role="reader",
        port=free_port(),
        rate_limit_per_second=2,
        rate_limit_burst=5,
    )
    with served(settings):
        token = target.tokens["exporter"]
        url = f"http://127.0.0.1:{settings.port}"
        path = f"/v1/consignments/{ucr('RATE-NONE')}"
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            answers = [http.get(path) for _ in range(8)]
            codes = [a.status_code for a in answers]
            assert codes[:5] == [404] * 5 and 429 in codes[5:], codes
            limited = next(a for a in answers if a.status_code == 429)
            body = problem(limited, 429, "RATE_LIMITED", None)
            retry_after = int(limited.headers["retry-after"])
            assert retry_after >= 1 and "retry after" in body["detail"]
            # Another credential has a bucket of its own; so do requests without one (public reads).
            other = {"Authorization": f"Bearer {target.tokens['carrier']}"}
            assert http.get(path, headers=other).status_code == 404
            assert http.get("/healthz").status_code == 200
            time.sleep(retry_after)
            assert http.get(path).status_code == 404
            # The limit is documented where it applies.
            spec = http.get("/openapi.json").json()
            for operation in ("/v1/records", "/v1/records/batch", "/v1/parties", "/v1/aeo"):
                assert "429" in spec["paths"][operation]["post"]["responses"], operation
            assert "429" in spec["paths"]["/v1/consignments/{ucr}/verification"]["get"]["responses"]
    figure(
        "a credential over its rate (reader instance set to 2 requests/s, bursts of 5)",
        f"requests 1-5 answered, then 429 RATE_LIMITED with Retry-After {retry_after} s; another credential "
        "unaffected; answered again after waiting Retry-After",
    )
