"""`ledger import FILE` and `ledger import-epcis FILE`: many records of one key, signed
here and submitted in batches (JSON or CSV, one Merkle root per batch, or --single) or as
EPCIS 2.0 captures in chunks, each request all or nothing. Every record is checked before
anything is sent; a progress bar runs on stderr, and the summary names each refusal."""

from __future__ import annotations

import csv
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from eth_utils.address import is_address, to_checksum_address
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ledger_api.cli._common import (
    EXIT_REFUSED,
    EXIT_UNAVAILABLE,
    KeyAlias,
    LocalError,
    PasswordFile,
    checked_payload,
    err,
    fail,
    out,
    read_json,
    reporting_errors,
    signer,
)
from ledger_api.client import ClientError, LedgerClient, SignedRecord
from ledger_api.domain.epcis import EpcisError, capture_document
from ledger_api.domain.records import ZERO_ADDRESS, ZERO_HASH


@dataclass
class _Item:
    number: int  # 1-based position in the file
    payload: dict[str, Any]
    counterparty: str


@dataclass
class _Refusal:
    records: str
    field: str
    reason: str


@dataclass
class _Outcome:
    accepted: list[str] = field(default_factory=list)
    refused: int = 0
    refusals: list[_Refusal] = field(default_factory=list)


def _import_items(path: Path) -> list[_Item]:
    """Reads a JSON list of {"payload": {...}, "counterparty": "0x..."} or a CSV with
    columns payload_json and counterparty; every payload checked before anything is signed."""
    raw: list[tuple[Any, Any]] = []
    if path.suffix.lower() == ".csv":
        try:
            with path.open(newline="", encoding="utf-8") as source:
                reader = csv.DictReader(source)
                if reader.fieldnames is None or "payload_json" not in reader.fieldnames:
                    raise LocalError(f"{path}: a CSV import needs a header with columns payload_json, counterparty")
                for n, row in enumerate(reader, start=1):
                    try:
                        payload = json.loads(row["payload_json"] or "")
                    except ValueError as exc:
                        raise LocalError(f"{path}: record {n}: payload_json is not JSON: {exc}") from None
                    raw.append((payload, row.get("counterparty")))
        except OSError as exc:
            raise LocalError(f"cannot read {path}: {exc.strerror or exc}") from None
    else:
        data = read_json(path)
        if not isinstance(data, list):
            raise LocalError(f'{path}: expected a JSON list of {{"payload": {{...}}, "counterparty": "0x..."}}')
        for n, entry in enumerate(data, start=1):
            if not isinstance(entry, dict) or "payload" not in entry or not set(entry) <= {"payload", "counterparty"}:
                raise LocalError(f'{path}: record {n}: expected {{"payload": {{...}}, "counterparty": "0x..."}}')
            raw.append((entry["payload"], entry.get("counterparty")))
    if not raw:
        raise LocalError(f"{path}: no records to import")
    items, problems = [], []
    for n, (payload, counterparty) in enumerate(raw, start=1):
        try:
            checked = checked_payload(payload, f"record {n}")
        except LocalError as exc:
            problems.append(str(exc))
            continue
        if counterparty and not is_address(counterparty):
            problems.append(f"record {n}: counterparty: not an address: {counterparty!r}")
            continue
        items.append(_Item(n, checked, to_checksum_address(counterparty) if counterparty else ZERO_ADDRESS))
    if problems:
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise LocalError(
            f"{path}: nothing imported, {len(problems)} invalid records:\n  " + "\n  ".join(problems[:20]) + more
        )
    return items


def _previous(client: LedgerClient, chain: dict[str, bytes], payload: dict[str, Any]) -> bytes:
    """The id the record must chain to: the record signed before it for the same
    consignment in this import, else the consignment's latest record at the service."""
    ucr = str(payload["ucr"])
    if ucr not in chain:
        if payload["kind"] == "DECLARATION":
            chain[ucr] = ZERO_HASH  # a declaration opens its consignment: no need to ask
        else:
            current = client.consignment(ucr)
            chain[ucr] = bytes.fromhex(current["records"][-1]["id"][2:]) if current else ZERO_HASH
    return chain[ucr]


def _batch_refusals(exc: ClientError, chunk: list[_Item]) -> list[_Refusal]:
    span = f"{chunk[0].number}-{chunk[-1].number}" if len(chunk) > 1 else str(chunk[0].number)
    refusals = []
    for error in exc.problem.get("errors") or [{"field": "records", "reason": exc.problem.get("detail", str(exc))}]:
        where = str(error.get("field", ""))
        match = re.fullmatch(r"records\[(\d+)\]\.?(.*)", where)
        if match and int(match[1]) < len(chunk):
            where = f"record {chunk[int(match[1])].number}: {match[2] or 'record'}"
        refusals.append(_Refusal(f"{span} (whole batch)", where, str(error.get("reason", ""))))
    return refusals


def _capture_refusals(exc: ClientError, first: int, count: int) -> list[_Refusal]:
    """A refused capture's errors, its events numbered as in the file (`first` is the
    chunk's first event)."""
    span = f"{first}-{first + count - 1} (whole chunk)"
    refusals = []
    for error in exc.problem.get("errors") or [{"field": "", "reason": exc.problem.get("detail")}]:
        where = str(error.get("field", ""))
        match = re.fullmatch(r"epcisDocument\.epcisBody\.eventList\[(\d+)\]\.?(.*)", where)
        if match:
            where = f"event {first + int(match[1])}: {match[2] or 'event'}"
        refusals.append(_Refusal(span, where, str(error.get("reason", ""))))
    return refusals


def _import_batches(
    client: LedgerClient, items: list[_Item], batch_size: int, progress: Progress, outcome: _Outcome
) -> None:
    # Batch-mode nonces are not the chain's: the service only asks that each be unique
    # among the party's batch records. Microseconds since the epoch, plus the record's
    # place in the import, stay unique across imports run one after another from one
    # machine: signing a record takes longer than a microsecond, so the next import's
    # start is past this one's last nonce (a clock set backwards could break this).
    nonce = time.time_ns() // 1000
    chain: dict[str, bytes] = {}
    task = progress.add_task("importing (batches)", total=len(items))
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        chained_before = dict(chain)
        signed: list[SignedRecord] = []
        for item in chunk:
            record = client.sign(
                item.payload,
                counterparty=item.counterparty,
                previous=_previous(client, chain, item.payload),
                nonce=nonce,
            )
            nonce += 1
            # Chained locally: the next record of this consignment follows this one,
            # even within the same batch, before the service has seen either.
            chain[str(item.payload["ucr"])] = bytes.fromhex(record.id[2:])
            signed.append(record)
        try:
            accepted = client.post_batch(signed)
        except ClientError as exc:
            if exc.status >= 500:
                raise
            outcome.refused += len(chunk)
            outcome.refusals.extend(_batch_refusals(exc, chunk))
            # None of the batch exists: later records chain to what the service holds.
            chain.clear()
            chain.update(chained_before)
        else:
            outcome.accepted.extend(str(i) for i in accepted["ids"])
        progress.advance(task, len(chunk))


def _import_single(client: LedgerClient, items: list[_Item], progress: Progress, outcome: _Outcome) -> None:
    # Single-mode nonces are the party's on-chain sequence: ask once, then count locally;
    # a refused record does not use its nonce up.
    nonce = client.next_nonce()
    chain: dict[str, bytes] = {}
    task = progress.add_task("importing (one by one)", total=len(items))
    for item in items:
        signed = client.sign(
            item.payload,
            counterparty=item.counterparty,
            previous=_previous(client, chain, item.payload),
            nonce=nonce,
        )
        try:
            accepted = client.post(signed)
        except ClientError as exc:
            if exc.status >= 500:
                raise
            outcome.refused += 1
            for error in exc.problem.get("errors") or [{"field": "record", "reason": exc.problem.get("detail", "")}]:
                outcome.refusals.append(_Refusal(str(item.number), str(error["field"]), str(error["reason"])))
        else:
            outcome.accepted.append(str(accepted["id"]))
            chain[str(item.payload["ucr"])] = bytes.fromhex(signed.id[2:])
            nonce += 1
        progress.advance(task)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err()
    )


def _print_import_summary(outcome: _Outcome) -> None:
    out().print(Text(f"accepted {len(outcome.accepted)}, refused {outcome.refused}", style="bold"))
    if outcome.refusals:
        table = Table("records", "field", "reason", title="refused", title_style="bold red", style="red")
        for refusal in outcome.refusals:
            table.add_row(Text(refusal.records), Text(refusal.field), Text(refusal.reason))
        err().print(table)


def _wait_all(client: LedgerClient, ids: list[str], timeout: float, progress: Progress) -> list[str]:
    """Waits for every record; returns the ids not confirmed."""
    task = progress.add_task("confirming", total=len(ids))
    deadline = time.monotonic() + timeout
    unconfirmed = []
    for record_id in ids:
        record = client.wait_confirmed(record_id, timeout=max(0.0, deadline - time.monotonic()))
        if record["status"] != "confirmed":
            unconfirmed.append(f"{record_id} {record['status']}")
        progress.advance(task)
    return unconfirmed


def _finish(outcome: _Outcome, unconfirmed: list[str], wait: bool, what: str) -> None:
    """The summary, then the exit code: 3 if a record was not confirmed, 1 if one was refused."""
    _print_import_summary(outcome)
    if unconfirmed:
        listed = "\n  ".join(unconfirmed[:20])
        fail(EXIT_UNAVAILABLE, f"{len(unconfirmed)} {what} records not confirmed:\n  {listed}")
    if wait and outcome.accepted:
        out().print(f"confirmed {len(outcome.accepted)}")
    if outcome.refused:
        raise typer.Exit(EXIT_REFUSED)


def import_records(
    file: Annotated[
        Path, typer.Argument(help="JSON list of {payload, counterparty} or CSV payload_json,counterparty.")
    ],
    key: KeyAlias,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=10_000, help="Records per batch (one Merkle root each).")
    ] = 500,
    single: Annotated[bool, typer.Option("--single", help="Post one by one, each its own transaction.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until every accepted record is confirmed.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=0, help="Seconds --wait waits at most, in all.")] = 300.0,
    password_file: PasswordFile = None,
) -> None:
    """Signs and submits many records of one key, in batches (default) or --single.

    FILE is a JSON list of {"payload": {...}, "counterparty": "0x..."} (counterparty optional)
    or a CSV with columns payload_json, counterparty. Batches are anchored as one Merkle root
    each; --single posts one by one, each its own transaction. Records of one consignment
    chain in file order. Prints how many were accepted and why the others were refused;
    exits 1 if any was refused."""
    with reporting_errors():
        items = _import_items(file)
        client = signer(key, password_file)
        outcome = _Outcome()
        unconfirmed: list[str] = []
        try:
            with _progress() as progress:
                try:
                    if single:
                        _import_single(client, items, progress, outcome)
                    else:
                        _import_batches(client, items, batch_size, progress, outcome)
                except (ClientError, httpx.TransportError):
                    progress.stop()
                    _print_import_summary(outcome)
                    err().print(Text("import stopped: the records after these were not sent", "red"))
                    raise
                if wait and outcome.accepted:
                    unconfirmed = _wait_all(client, outcome.accepted, timeout, progress)
        finally:
            client.close()
        _finish(outcome, unconfirmed, wait, "accepted")


def _epcis_chunks(path: Path, chunk_size: int, chain_id: int) -> list[dict[str, Any]]:
    """The document split into documents of `chunk_size` events, each with the original's
    header; every event checked here first, so that nothing is sent if any is bad."""
    document = read_json(path)
    body = document.get("epcisBody") if isinstance(document, dict) else None
    events = body.get("eventList") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(events, list) or not events:
        raise LocalError(f"{path}: not an EPCIS 2.0 document with events (epcisBody.eventList)")
    chunks = []
    problems: list[str] = []
    for start in range(0, len(events), chunk_size):
        chunk = {**document, "epcisBody": {**body, "eventList": events[start : start + chunk_size]}}
        try:
            capture_document(chunk, chain_id)
        except EpcisError as exc:
            for where, reason in exc.errors:
                match = re.fullmatch(r"epcisBody\.eventList\[(\d+)\]\.?(.*)", where)
                if match:
                    where = f"event {start + int(match[1])}: {match[2] or 'event'}"
                problems.append(f"{where}: {reason}")
        chunks.append(chunk)
    if problems:
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise LocalError(f"{path}: nothing imported, {len(problems)} problems:\n  " + "\n  ".join(problems[:20]) + more)
    return chunks


def import_epcis(
    file: Annotated[Path, typer.Argument(help="An EPCIS 2.0 JSON-LD document (EPCISDocument).")],
    key: KeyAlias,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", min=1, max=10_000, help="Events per capture (each all or nothing).")
    ] = 500,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until every captured record is confirmed.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=0, help="Seconds --wait waits at most, in all.")] = 300.0,
    password_file: PasswordFile = None,
) -> None:
    """Signs the events of an EPCIS 2.0 document with KEY and captures them as ledger
    records (docs/epcis.md), --chunk-size events per request, each request all or nothing.

    Every event is checked before anything is sent. Event numbers count from 0 in the
    file's eventList. Prints how many were captured and why the others were refused;
    exits 1 if any was refused."""
    with reporting_errors():
        client = signer(key, password_file)
        outcome = _Outcome()
        unconfirmed: list[str] = []
        try:
            chunks = _epcis_chunks(file, chunk_size, client.domain().chain_id)
            with _progress() as progress:
                task = progress.add_task(
                    "capturing events", total=sum(len(c["epcisBody"]["eventList"]) for c in chunks)
                )
                chain: dict[str, tuple[bytes, str]] = {}
                first = 0
                for chunk in chunks:
                    count = len(chunk["epcisBody"]["eventList"])
                    chained_before = dict(chain)
                    try:
                        captured = client.capture(client.sign_capture(chunk, chain=chain))
                    except ClientError as exc:
                        if exc.status >= 500:
                            progress.stop()
                            _print_import_summary(outcome)
                            err().print(Text("import stopped: the events after these were not sent", "red"))
                            raise
                        outcome.refused += count
                        outcome.refusals.extend(_capture_refusals(exc, first, count))
                        chain.clear()
                        chain.update(chained_before)  # none of the chunk exists: chain to what the service holds
                    else:
                        outcome.accepted.extend(str(r["id"]) for r in captured["records"])
                    first += count
                    progress.advance(task, count)
                if wait and outcome.accepted:
                    unconfirmed = _wait_all(client, outcome.accepted, timeout, progress)
        finally:
            client.close()
        _finish(outcome, unconfirmed, wait, "captured")
