"""Worklist benchmark: pages of a customs officer's worklist over thousands of open
consignments. Run through `ledger bench worklist`. Figures:

- the first request after the consignments land, which makes NL's worklist one the
  service keeps (it computes a handful of lines itself), and how long the chain worker's
  refresher then takes to compute every line in the background (the risk rules over each
  consignment's evidence, as a verification would), with the first page's latency while it
  does;
- pages once the lines are current: the first page, pages further on by cursor, and
  filtered pages (lane, HS chapter, party), p50 / p99 over many requests;
- the first page right after one more consignment is confirmed (its line computed by the
  request or by the refresher, whichever comes first).

The consignments are declarations of the demo lane (JP -> NL) posted in batches, a third
by an exporter without AEO status and one in seven with goods of a watched HS chapter, so
that the three lanes are all populated.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak
from web3 import HTTPProvider, Web3

from ledger_api import demo
from ledger_api.chain.contracts import Contracts
from ledger_api.client import LedgerClient
from ledger_api.domain.parties import Role, identifiers_hash
from ledger_api.settings import PROJECT_ROOT
from ledger_bench.service import Service, confirmed, ok, percentile, registered, wait

SEAL = "JP-SEAL-WORKLIST"
PAGE = 50


@dataclass(frozen=True)
class WorklistFigures:
    consignments: int
    lanes: dict[str, int]
    first_request_ms: float  # the first request: NL's worklist made a kept one, a handful of lines computed
    refresh_seconds: float  # from the first request until the refresher had computed every line
    backlog_p50_ms: float  # the first page while the refresher computed the lines
    backlog_p99_ms: float
    requests: int
    first_p50_ms: float
    first_p99_ms: float
    cursor_p50_ms: float
    cursor_p99_ms: float
    filtered_p50_ms: float
    filtered_p99_ms: float
    all_p50_ms: float
    all_p99_ms: float
    after_new_p50_ms: float
    after_new_p99_ms: float


def _declaration(ucr: str, n: int) -> dict[str, Any]:
    payload = demo.declaration(ucr, SEAL)
    if n % 7 == 0:  # a watched chapter (config/risk-rules.yaml: R002)
        payload["goods"][0] = dict(payload["goods"][0], hs_code="930200", description="Revolvers and pistols")
    return payload


def _timed(http: Any, params: dict[str, Any], timeout: float = 120) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    response = http.get("/v1/worklist", params=params, timeout=timeout)
    elapsed = (time.perf_counter() - start) * 1000
    ok(response)
    return elapsed, dict(response.json())


def run_worklist(
    consignments: int = 5_000, requests: int = 300, progress: Callable[[str], None] = lambda _: None
) -> WorklistFigures:
    with tempfile.TemporaryDirectory(prefix="ledger-bench-worklist-") as tmp:
        service = Service(Path(tmp))
        try:
            w3 = Web3(HTTPProvider(service.chain_url))
            demo.register_on_chain(w3, service.manifest, PROJECT_ROOT / "build")
            authorities = {a["country"]: a["address"] for a in service.manifest.authorities}
            plain = Account.from_key(keccak(text="ledger bench worklist: an exporter without AEO status"))
            contracts = Contracts.load(w3, service.manifest, PROJECT_ROOT / "build")
            register = contracts.registry.functions.registerParty(
                plain.address, int(Role.EXPORTER), identifiers_hash({"name": "Bench Exporter KK"})
            )
            w3.eth.wait_for_transaction_receipt(register.transact({"from": authorities["JP"]}))
            for account in (demo.EXPORTER_P.account, plain):
                wait(partial(registered, service.http, account.address), 30, "indexing")
            exporters = [
                LedgerClient(service.url, account, token=service.credentials.issue(account.address, "bench"))
                for account in (demo.EXPORTER_P.account, plain)
            ]
            progress(f"declaring {consignments:,} consignments in batches")
            signed: list[list[Any]] = [[], []]
            for n in range(consignments):
                which = 1 if n % 3 == 0 else 0
                client = exporters[which]
                ucr = f"6JP7010001008-WL-{n:06d}"
                nonce = len(signed[which])
                signed[which].append(client.sign(_declaration(ucr, n), previous=bytes(32), nonce=nonce, deadline=2**40))
            last = []
            for client, own in zip(exporters, signed, strict=True):
                for i in range(0, len(own), 1000):
                    chunk = own[i : i + 1000]
                    ok(client.http.post("/v1/records/batch", json={"records": [s.body() for s in chunk]}))
                    last.append((client, chunk[-1].id))
            for client, record_id in last:
                wait(partial(confirmed, client.http, record_id), 300, "the batches confirmed")
            nl = Account.from_key(demo.ANVIL_AUTHORITY_KEYS[authorities["NL"]])
            http = service.http
            http.headers["Authorization"] = f"Bearer {service.credentials.issue(nl.address, 'bench worklist')}"

            progress("the first request, then the refresher computes every line")
            start = time.perf_counter()
            first_request, first = _timed(http, {"country": "NL", "limit": PAGE})
            backlog: list[float] = []
            while first["pending"]:
                time.sleep(0.5)
                elapsed, first = _timed(http, {"country": "NL", "limit": PAGE})
                backlog.append(elapsed)
                if time.perf_counter() - start > 3600:
                    raise RuntimeError(f"the refresher left {first['pending']} lines after an hour")
            refresh = time.perf_counter() - start
            lanes = {lane: 0 for lane in ("RED", "AMBER", "GREEN")}
            for lane in lanes:
                lanes[lane] = _count(http, {"country": "NL", "lane": lane, "limit": 200})

            progress(f"{requests} requests of each kind of page")
            firsts = [_timed(http, {"country": "NL", "limit": PAGE})[0] for _ in range(requests)]
            cursors: list[float] = []
            cursor = first["next_cursor"]
            while len(cursors) < requests:
                elapsed, page = _timed(http, {"country": "NL", "limit": PAGE, "cursor": cursor})
                cursors.append(elapsed)
                cursor = page["next_cursor"] or first["next_cursor"]
            kinds = [
                {"lane": "RED"},
                {"hs_chapter": "93"},
                {"party": plain.address},
                {"lane": "GREEN", "hs_chapter": "84"},
            ]
            filtered = [
                _timed(http, {"country": "NL", "limit": PAGE, **kinds[i % len(kinds)]})[0] for i in range(requests)
            ]
            everything = [_timed(http, {"country": "NL", "limit": PAGE, "status": "all"})[0] for _ in range(requests)]

            progress("the first page after one more consignment each time")
            after_new: list[float] = []
            samples = max(10, requests // 10)
            for i in range(samples):
                client = exporters[0]
                record = client.submit(_declaration(f"6JP7010001008-WLN-{i:04d}", 1))
                wait(partial(confirmed, client.http, record), 60, "the declaration confirmed")
                after_new.append(_timed(http, {"country": "NL", "limit": PAGE})[0])
        finally:
            service.stop()
    return WorklistFigures(
        consignments=consignments,
        lanes=lanes,
        first_request_ms=first_request,
        refresh_seconds=refresh,
        backlog_p50_ms=percentile(backlog, 50) if backlog else first_request,
        backlog_p99_ms=percentile(backlog, 99) if backlog else first_request,
        requests=requests,
        first_p50_ms=percentile(firsts, 50),
        first_p99_ms=percentile(firsts, 99),
        cursor_p50_ms=percentile(cursors, 50),
        cursor_p99_ms=percentile(cursors, 99),
        filtered_p50_ms=percentile(filtered, 50),
        filtered_p99_ms=percentile(filtered, 99),
        all_p50_ms=percentile(everything, 50),
        all_p99_ms=percentile(everything, 99),
        after_new_p50_ms=percentile(after_new, 50),
        after_new_p99_ms=percentile(after_new, 99),
    )


def _count(http: Any, params: dict[str, Any]) -> int:
    total, cursor = 0, None
    while True:
        page = http.get("/v1/worklist", params={**params, **({"cursor": cursor} if cursor else {})}).json()
        total += len(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return total


def render_worklist(f: WorklistFigures, command: str) -> str:
    lanes = ", ".join(f"{n:,} {lane}" for lane, n in f.lanes.items())
    rows = [
        ("first page while the refresher computes the lines", f.backlog_p50_ms, f.backlog_p99_ms),
        ("first page, lines current", f.first_p50_ms, f.first_p99_ms),
        ("a page further on, by cursor", f.cursor_p50_ms, f.cursor_p99_ms),
        ("a filtered page (lane, HS chapter, party)", f.filtered_p50_ms, f.filtered_p99_ms),
        ("first page of all (awaiting and decided)", f.all_p50_ms, f.all_p99_ms),
        ("first page after one more consignment landed", f.after_new_p50_ms, f.after_new_p99_ms),
    ]
    table = "\n".join(f"| {name} | {p50:.1f} | **{p99:.1f}** |" for name, p50, p99 in rows)
    return (
        f"`{command}` — service and load generator in separate processes on the same 2-core machine; "
        f"{f.consignments:,} consignments on NL's route awaiting its decision ({lanes}); pages of {PAGE}, "
        f"{f.requests} requests each.\n\n"
        f"| worklist page | p50 ms | p99 ms |\n|---|---:|---:|\n{table}\n\n"
        f"The first request for NL's worklist took {f.first_request_ms:.1f} ms (it computed a handful of lines "
        f"itself); the chain worker's refresher then computed and stored every line in the background, "
        f"{f.refresh_seconds:.1f} s after that request (the risk rules over each consignment's evidence). After "
        f"that a page reads the stored lines, and a consignment that changes has its line alone recomputed."
    )


def figures_json(f: WorklistFigures) -> str:
    return json.dumps(f.__dict__, indent=2)
