"""`ledger`: the command line of a party of the customs provenance ledger. Keys stay on the
party's disk, encrypted (ledger_api/keystore.py); records are signed here and only the
signatures reach the service.

    ledger keys new ALIAS | keys import ALIAS | keys list
    ledger declare  --key ALIAS --payload FILE.json [--wait]
    ledger handover --key ALIAS --to 0xADDR --payload FILE.json [--wait]
    ledger accept   --key ALIAS --from 0xADDR --payload FILE.json [--wait]
    ledger decide   --key ALIAS --payload FILE.json [--wait]
    ledger status RECORD_ID
    ledger history UCR
    ledger import FILE.json|FILE.csv --key ALIAS [--batch-size N | --single] [--wait]
    ledger import-epcis FILE.jsonld --key ALIAS [--chunk-size N] [--wait]
    ledger verify UCR --country CC [--at-block N] [--receipt-out FILE] [--evidence-out FILE]
    ledger verify-receipt FILE [--jwks FILE | --url URL]
    ledger verify-bundle FILE [--rpc URL]

Exit codes, for scripts:

    0  success
    1  the service refused (a 4xx problem: its fields and reasons are printed)
    2  usage error (a bad option or argument)
    3  the service is unreachable or failed (5xx, 503), or with --wait a record failed on
       chain or was not confirmed in time
    4  local error: no such key, wrong password, unreadable or invalid payload file; with
       verify-receipt, a receipt that does not verify; with verify-bundle, a malformed bundle
    5  verify, verify-receipt, verify-bundle: the verification was made and its verdict is
       not VERIFIED (FAILED or INCOMPLETE: the verdict and every check are printed)
    6  verify-bundle --rpc: the chain contradicts the bundle (another chain id, an anchor
       missing or at another block or block hash); takes precedence over 5

Passwords come from --password-file, else LEDGER_KEY_PASSWORD, else a hidden prompt.
Record ids go to stdout alone on their line; tables and progress are for people.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ledger_api import keystore
from ledger_api.admin import app as admin_app
from ledger_api.client import ClientError, LedgerClient, SignedRecord
from ledger_api.domain.epcis import EpcisError, capture_document
from ledger_api.domain.payloads import parse_payload
from ledger_api.domain.records import ZERO_ADDRESS, ZERO_HASH
from ledger_api.errors import LedgerError, NodeUnavailable

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_LOCAL = 4
EXIT_NOT_VERIFIED = 5
EXIT_CHAIN_CONTRADICTS = 6

DEFAULT_URL = "http://127.0.0.1:8000"
PASSWORD_ENV = "LEDGER_KEY_PASSWORD"
_RECORD_ID = re.compile(r"0x[0-9a-fA-F]{64}")
_UCR = re.compile(r"[0-9][A-Z]{2}[A-Z0-9-]{1,32}")
_PAYLOAD_TAGS = {"DECLARATION", "HANDOVER", "ACCEPTANCE", "CUSTOMS_DECISION", "REVOCATION"}
# Reads never sign: any account serves a read-only LedgerClient, which insists on one.
_READER = Account.from_key(b"\x01" * 32)
# Seconds between status polls with --wait: a person waiting does not need 50 requests a second.
_POLL = 0.1

_HELP = """Sign customs provenance records locally and submit them to the ledger service.

Exit codes:
  0  success
  1  the service refused (4xx): the problem's fields and reasons are printed
  2  usage error
  3  the service is unreachable or failed (5xx, 503); with --wait, a record failed on chain or was not confirmed in time
  4  local error: no such key, wrong password, bad payload file; an invalid receipt; a malformed evidence bundle
  5  verify, verify-receipt, verify-bundle: checked, but the verdict is not VERIFIED (FAILED or INCOMPLETE)
  6  verify-bundle --rpc: an anchor is not on chain as the bundle says (or another chain id)

Passwords: --password-file FILE, else env LEDGER_KEY_PASSWORD, else a hidden prompt."""

app = typer.Typer(help=_HELP, no_args_is_help=True, add_completion=False)
keys_app = typer.Typer(help="Encrypted signing keys (Ethereum keystore v3), one file per alias.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


class LocalError(LedgerError):
    """A problem on this side of the wire: a payload file, an option value read from a file."""


@dataclass
class _Settings:
    url: str = DEFAULT_URL
    keys_dir: Path | None = None
    token: str | None = None


_settings = _Settings()


# ---------------------------------------------------------------- output


def _out() -> Console:
    # Made per use, not at import: the console must see the stdout and environment of the
    # invocation (CliRunner swaps both).
    return Console(highlight=False)


def _err() -> Console:
    return Console(stderr=True, highlight=False)


def _fail(code: int, message: str) -> NoReturn:
    _err().print(Text(message, style="red"))
    raise typer.Exit(code)


def _print_problem(exc: ClientError) -> None:
    problem = exc.problem
    code = f" {problem['code']}" if problem.get("code") else ""
    console = _err()
    console.print(Text(f"{problem.get('title') or 'Refused'} ({exc.status}{code})", style="bold red"))
    errors = problem.get("errors") or []
    for error in errors:
        console.print(Text(f"  {error.get('field')}: {error.get('reason')}", style="red"))
    detail = problem.get("detail")
    if detail and not errors:
        console.print(Text(f"  {detail}", style="red"))


@contextmanager
def _reporting_errors() -> Iterator[None]:
    """Maps every error a command can meet to its message and exit code."""
    try:
        yield
    except ClientError as exc:
        _print_problem(exc)
        raise typer.Exit(EXIT_UNAVAILABLE if exc.status >= 500 else EXIT_REFUSED) from None
    except httpx.TransportError as exc:
        _fail(EXIT_UNAVAILABLE, f"cannot reach the ledger service at {_settings.url}: {exc or type(exc).__name__}")
    except json.JSONDecodeError as exc:
        # Our own files are parsed into LocalError: a JSONDecodeError here is the service's answer.
        _fail(EXIT_UNAVAILABLE, f"the ledger service at {_settings.url} answered something that is not JSON: {exc}")
    except (keystore.KeystoreError, LocalError) as exc:
        _fail(EXIT_LOCAL, str(exc))


# ---------------------------------------------------------------- global options


@app.callback()
def _main(
    url: Annotated[
        str, typer.Option("--url", envvar="LEDGER_URL", help="The ledger service.", show_default=True)
    ] = DEFAULT_URL,
    keys_dir: Annotated[
        Path | None,
        typer.Option(
            "--keys-dir",
            envvar=keystore.KEYS_DIR_ENV,
            help="Folder of encrypted keys (default ~/.ledger/keys).",
            file_okay=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="LEDGER_TOKEN",
            help="Your credential (lgr_…), from the operator: for reads, and for writes signed by your key.",
        ),
    ] = None,
) -> None:
    _settings.url, _settings.keys_dir, _settings.token = url.rstrip("/"), keys_dir, token


PasswordFile = Annotated[
    Path | None,
    typer.Option(
        "--password-file", help=f"File whose first line is the key's password (else env {PASSWORD_ENV}, else a prompt)."
    ),
]
KeyAlias = Annotated[str, typer.Option("--key", "-k", help="Alias of the signing key (see `ledger keys list`).")]
PayloadFile = Annotated[Path, typer.Option("--payload", "-p", help="The record's payload, a JSON object.")]
Wait = Annotated[bool, typer.Option("--wait", help="Wait until the record is confirmed on chain.")]
Timeout = Annotated[float, typer.Option("--timeout", min=0, help="Seconds --wait waits at most.")]


def _password(password_file: Path | None, prompt: str, *, confirm: bool = False) -> str:
    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise LocalError(f"cannot read password file {password_file}: {exc.strerror or exc}") from None
        return lines[0] if lines else ""
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env is not None:
        return from_env
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


def _new_password(password_file: Path | None, alias: str) -> str:
    password = _password(password_file, f"Password for new key {alias!r}", confirm=True)
    if not password:
        raise LocalError("refusing to encrypt a key with an empty password")
    return password


def _account(alias: str, password_file: Path | None) -> LocalAccount:
    return keystore.load_key(
        alias, _password(password_file, f"Password for key {alias!r}"), keys_dir=_settings.keys_dir
    )


def _address(value: str | None, option: str) -> str:
    if value is None:
        return ZERO_ADDRESS
    if not is_address(value):
        raise typer.BadParameter(f"not an address: {value!r} (expected 0x and 40 hex digits)", param_hint=option)
    return str(to_checksum_address(value))


# ---------------------------------------------------------------- payloads


def _validation_errors(exc: ValidationError, prefix: str = "payload") -> list[str]:
    """pydantic errors as 'payload.goods[0].hs_code: reason', the way the service names fields."""
    lines = []
    for error in exc.errors():
        path = prefix
        for part in error["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif part not in _PAYLOAD_TAGS:  # the union's tag, not a field
                path += f".{part}"
        if error["type"] in ("union_tag_not_found", "union_tag_invalid"):
            path = f"{prefix}.kind"
        lines.append(f"{path}: {str(error['msg']).removeprefix('Value error, ')}")
    return lines


def _checked_payload(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise LocalError(f"{where}: a payload must be a JSON object, not {type(data).__name__}")
    try:
        parse_payload(data)
    except ValidationError as exc:
        raise LocalError(f"{where} is not a valid payload:\n  " + "\n  ".join(_validation_errors(exc))) from None
    return data


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LocalError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise LocalError(f"{path} is not JSON: {exc}") from None


def _payload_file(path: Path, kind: str, command: str) -> dict[str, Any]:
    payload = _checked_payload(_read_json(path), str(path))
    if payload["kind"] != kind:
        raise LocalError(
            f"{path} holds a {payload['kind']} payload; `ledger {command}` signs {kind} payloads "
            f"(payload.kind must be {kind!r})"
        )
    return payload


# ---------------------------------------------------------------- keys


@keys_app.command("new")
def keys_new(
    alias: Annotated[str, typer.Argument(help="Name of the key, e.g. 'exporter'.")],
    password_file: PasswordFile = None,
) -> None:
    """Creates a random key and stores it encrypted under ALIAS; prints its address."""
    with _reporting_errors():
        account = keystore.new_key(alias, _new_password(password_file, alias), keys_dir=_settings.keys_dir)
        _out().print(f"{alias} {account.address}")


@keys_app.command("import")
def keys_import(
    alias: Annotated[str, typer.Argument(help="Name of the key, e.g. 'exporter'.")],
    password_file: PasswordFile = None,
) -> None:
    """Stores an existing private key (hex) under ALIAS, encrypted. The key is read from
    stdin (first line) or a hidden prompt, never from the command line, where other users
    and the shell history would see it."""
    with _reporting_errors():
        if sys.stdin.isatty():
            private_key = str(typer.prompt("Private key (hex)", hide_input=True))
        else:
            private_key = sys.stdin.readline()
        if not private_key.strip():
            raise LocalError("no private key given on stdin")
        password = _new_password(password_file, alias)
        account = keystore.import_key(alias, private_key, password, keys_dir=_settings.keys_dir)
        _out().print(f"{alias} {account.address}")


@keys_app.command("list")
def keys_list() -> None:
    """Lists the stored keys: alias and address (no password needed)."""
    with _reporting_errors():
        keys = keystore.list_keys(keys_dir=_settings.keys_dir)
        if not keys:
            _err().print(f"no keys in {_settings.keys_dir or keystore.default_keys_dir()}")
            return
        table = Table("alias", "address")
        for alias, address in keys:
            table.add_row(Text(alias), Text(address))
        _out().print(table)


# ---------------------------------------------------------------- single records


def _print_record_summary(record: dict[str, Any]) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("status", Text(str(record["status"])))
    grid.add_row("block", Text(str(record.get("block_number") or "-")))
    grid.add_row("tx", Text(str(record.get("tx_hash") or "-")))
    if record.get("error"):
        grid.add_row("error", Text(str(record["error"]), style="red"))
    _out().print(grid)


def _sign_and_post(
    alias: str,
    password_file: Path | None,
    payload_path: Path,
    kind: str,
    command: str,
    counterparty: str,
    wait: bool,
    timeout: float,
) -> None:
    with _reporting_errors():
        payload = _payload_file(payload_path, kind, command)
        client = LedgerClient(_settings.url, _account(alias, password_file), token=_settings.token)
        try:
            accepted = client.post(client.sign(payload, counterparty=counterparty))
            record_id = str(accepted["id"])
            _out().print(record_id, soft_wrap=True)
            if wait:
                record = client.wait_confirmed(record_id, timeout=timeout, poll=_POLL)
                _print_record_summary(record)
                if record["status"] != "confirmed":
                    what = "failed on chain" if record["status"] == "failed" else f"not confirmed after {timeout:g}s"
                    _fail(EXIT_UNAVAILABLE, f"record {record_id} {what}")
        finally:
            client.close()


@app.command()
def declare(
    key: KeyAlias,
    payload: PayloadFile,
    wait: Wait = False,
    timeout: Timeout = 60.0,
    password_file: PasswordFile = None,
) -> None:
    """Signs and submits a DECLARATION: the first record of a consignment. Prints its id."""
    _sign_and_post(key, password_file, payload, "DECLARATION", "declare", ZERO_ADDRESS, wait, timeout)


@app.command()
def handover(
    key: KeyAlias,
    to: Annotated[str, typer.Option("--to", help="Address of the next custodian.")],
    payload: PayloadFile,
    wait: Wait = False,
    timeout: Timeout = 60.0,
    password_file: PasswordFile = None,
) -> None:
    """Signs and submits a HANDOVER of the consignment to the next custodian. Prints its id."""
    counterparty = _address(to, "--to")
    _sign_and_post(key, password_file, payload, "HANDOVER", "handover", counterparty, wait, timeout)


@app.command()
def accept(
    key: KeyAlias,
    from_: Annotated[str, typer.Option("--from", help="Address of the custodian handing over.")],
    payload: PayloadFile,
    wait: Wait = False,
    timeout: Timeout = 60.0,
    password_file: PasswordFile = None,
) -> None:
    """Signs and submits the ACCEPTANCE of a pending handover. Prints its id."""
    counterparty = _address(from_, "--from")
    _sign_and_post(key, password_file, payload, "ACCEPTANCE", "accept", counterparty, wait, timeout)


@app.command()
def decide(
    key: KeyAlias,
    payload: PayloadFile,
    wait: Wait = False,
    timeout: Timeout = 60.0,
    password_file: PasswordFile = None,
) -> None:
    """Signs and submits a CUSTOMS_DECISION (customs authorities only). Prints its id."""
    _sign_and_post(key, password_file, payload, "CUSTOMS_DECISION", "decide", ZERO_ADDRESS, wait, timeout)


# ---------------------------------------------------------------- reads


def _reader() -> LedgerClient:
    return LedgerClient(_settings.url, _READER, token=_settings.token)


@app.command()
def status(record_id: Annotated[str, typer.Argument(help="The record id, 0x and 64 hex digits.")]) -> None:
    """Shows a record's status, confirmations, transaction, block and batch root."""
    if not _RECORD_ID.fullmatch(record_id):
        raise typer.BadParameter("expected 0x and 64 hex digits", param_hint="RECORD_ID")
    with _reporting_errors():
        client = _reader()
        try:
            record = client.record(record_id)
        finally:
            client.close()
        table = Table("field", "value", title=f"record {record['id']}")
        rows = [
            ("ucr", record["ucr"]),
            ("kind", record["kind"]),
            ("position", record["position"]),
            ("mode", record["mode"]),
            ("status", record["status"]),
            ("confirmations", record["confirmations"]),
            ("tx", record.get("tx_hash")),
            ("block", record.get("block_number")),
            ("block hash", record.get("block_hash")),
            ("batch root", record.get("batch_root")),
            ("error", record.get("error")),
        ]
        for name, value in rows:
            table.add_row(name, Text("-" if value is None else str(value)))
        _out().print(table)


@app.command()
def history(ucr: Annotated[str, typer.Argument(help="The consignment's WCO UCR.")]) -> None:
    """Shows a consignment's records in order, its custodian and any pending handover."""
    if not _UCR.fullmatch(ucr):
        raise typer.BadParameter("not a WCO UCR (e.g. 4NL123456789-INV2026-0001)", param_hint="UCR")
    with _reporting_errors():
        client = _reader()
        try:
            consignment = client.consignment(ucr)
        finally:
            client.close()
        if consignment is None:
            _fail(EXIT_REFUSED, f"no consignment with UCR {ucr}")
        table = Table("#", "kind", "party", "counterparty", "status", "conf.", title=f"consignment {ucr}")
        for record in consignment["records"]:
            table.add_row(
                str(record["position"]),
                record["kind"],
                Text(record["party"]),
                Text(record.get("counterparty") or "-"),
                record["status"],
                str(record["confirmations"]),
            )
        out = _out()
        out.print(table)
        out.print(Text(f"custodian: {consignment['custodian']}"))
        out.print(Text(f"pending handover to: {consignment.get('pending_custodian') or 'none'}"))


# ---------------------------------------------------------------- import


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
        data = _read_json(path)
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
            checked = _checked_payload(payload, f"record {n}")
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


def _print_import_summary(outcome: _Outcome) -> None:
    out = _out()
    out.print(Text(f"accepted {len(outcome.accepted)}, refused {outcome.refused}", style="bold"))
    if outcome.refusals:
        table = Table("records", "field", "reason", title="refused", title_style="bold red", style="red")
        for refusal in outcome.refusals:
            table.add_row(Text(refusal.records), Text(refusal.field), Text(refusal.reason))
        _err().print(table)


def _wait_all(client: LedgerClient, ids: list[str], timeout: float, progress: Progress) -> list[str]:
    """Waits for every record; returns the ids not confirmed."""
    task = progress.add_task("confirming", total=len(ids))
    deadline = time.monotonic() + timeout
    unconfirmed = []
    for record_id in ids:
        record = client.wait_confirmed(record_id, timeout=max(0.0, deadline - time.monotonic()), poll=_POLL)
        if record["status"] != "confirmed":
            unconfirmed.append(f"{record_id} {record['status']}")
        progress.advance(task)
    return unconfirmed


@app.command("import")
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
    with _reporting_errors():
        items = _import_items(file)
        client = LedgerClient(_settings.url, _account(key, password_file), token=_settings.token)
        outcome = _Outcome()
        unconfirmed: list[str] = []
        try:
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=_err()) as progress:
                try:
                    if single:
                        _import_single(client, items, progress, outcome)
                    else:
                        _import_batches(client, items, batch_size, progress, outcome)
                except (ClientError, httpx.TransportError):
                    progress.stop()
                    _print_import_summary(outcome)
                    _err().print(Text("import stopped: the records after these were not sent", "red"))
                    raise
                if wait and outcome.accepted:
                    unconfirmed = _wait_all(client, outcome.accepted, timeout, progress)
        finally:
            client.close()
        _print_import_summary(outcome)
        if unconfirmed:
            listed = "\n  ".join(unconfirmed[:20])
            _fail(EXIT_UNAVAILABLE, f"{len(unconfirmed)} accepted records not confirmed:\n  {listed}")
        if wait and outcome.accepted:
            _out().print(f"confirmed {len(outcome.accepted)}")
        if outcome.refused:
            raise typer.Exit(EXIT_REFUSED)


def _epcis_chunks(path: Path, chunk_size: int, chain_id: int) -> list[dict[str, Any]]:
    """The document split into documents of `chunk_size` events, each with the original's
    header; every event checked here first, so that nothing is sent if any is bad."""
    document = _read_json(path)
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


@app.command("import-epcis")
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
    with _reporting_errors():
        client = LedgerClient(_settings.url, _account(key, password_file), token=_settings.token)
        outcome = _Outcome()
        unconfirmed: list[str] = []
        try:
            chunks = _epcis_chunks(file, chunk_size, client.domain().chain_id)
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=_err()) as progress:
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
                            _err().print(Text("import stopped: the events after these were not sent", "red"))
                            raise
                        outcome.refused += count
                        span = f"{first}-{first + count - 1} (whole chunk)"
                        for error in exc.problem.get("errors") or [{"field": "", "reason": exc.problem.get("detail")}]:
                            where = str(error.get("field", ""))
                            match = re.fullmatch(r"epcisDocument\.epcisBody\.eventList\[(\d+)\]\.?(.*)", where)
                            if match:
                                where = f"event {first + int(match[1])}: {match[2] or 'event'}"
                            outcome.refusals.append(_Refusal(span, where, str(error.get("reason", ""))))
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
        _print_import_summary(outcome)
        if unconfirmed:
            listed = "\n  ".join(unconfirmed[:20])
            _fail(EXIT_UNAVAILABLE, f"{len(unconfirmed)} captured records not confirmed:\n  {listed}")
        if wait and outcome.accepted:
            _out().print(f"confirmed {len(outcome.accepted)}")
        if outcome.refused:
            raise typer.Exit(EXIT_REFUSED)


# ---------------------------------------------------------------- benchmarks

app.add_typer(admin_app, name="admin")

bench_app = typer.Typer(help="Benchmarks: figures printed, for docs/benchmarks.md.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("ingest")
def bench_ingest(
    records: Annotated[int, typer.Option(min=1, help="Records posted through /v1/records/batch.")] = 10_000,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Records per batch request.")] = 1_000,
    raw_records: Annotated[int, typer.Option(min=1, help="Pre-signed write transactions sent to the node.")] = 2_000,
    samples: Annotated[int, typer.Option(min=1, help="Single records timed one at a time.")] = 200,
    stream_records: Annotated[
        int, typer.Option(min=4, help="Single records posted by 4 clients at once (one transaction each).")
    ] = 10_000,
    write_docs: Annotated[
        bool, typer.Option("--write-docs", help="Write the figures into docs/benchmarks.md.")
    ] = False,
) -> None:
    """Ingest throughput and latency of a fresh service, beside the raw limit of its node."""
    from ledger_api.settings import PROJECT_ROOT
    from ledger_bench.docs import write_section
    from ledger_bench.ingest import render_ingest, run_ingest

    console = _out()
    figures = run_ingest(
        records, batch_size, raw_records, samples, stream_records, progress=lambda m: console.print(f"[dim]{m}[/]")
    )
    table = Table("figure", "value", title="ledger bench ingest")
    table.add_row("batch ingest", f"{figures.records:,} records in {figures.seconds:.2f} s")
    table.add_row("batch ingest rate", f"{figures.records_per_second:,.0f} records/s")
    table.add_row(
        f"batch request ({figures.batch_size:,} records) p50 / p99",
        f"{figures.request_p50_ms:.0f} / {figures.request_p99_ms:.0f} ms",
    )
    table.add_row(
        "raw limit of the node",
        f"{figures.raw_records_per_second:,.0f} records/s ({figures.raw_records:,} in {figures.raw_seconds:.2f} s)",
    )
    table.add_row("service / raw", f"{figures.records_per_second / figures.raw_records_per_second:.0%}")
    table.add_row("single record confirmed p50 / p99", f"{figures.single_p50_ms:.1f} / {figures.single_p99_ms:.1f} ms")
    table.add_row(
        f"single-record stream, {figures.stream_clients} clients",
        f"{figures.stream_records / figures.stream_confirmed_seconds:,.0f} records/s "
        f"({figures.stream_records:,} confirmed in {figures.stream_confirmed_seconds:.1f} s, "
        f"accepted in {figures.stream_accepted_seconds:.1f} s)",
    )
    table.add_row("chain length at the end", f"{figures.chain_blocks_at_end:,} blocks")
    console.print(table)
    if write_docs:
        command = f"ledger bench ingest --records {records} --batch-size {batch_size} --raw-records {raw_records}"
        command += f" --samples {samples} --stream-records {stream_records}"
        write_section(PROJECT_ROOT / "docs" / "benchmarks.md", "ingest", render_ingest(figures, command))
        console.print("written to docs/benchmarks.md")


@app.command()
def demo() -> None:
    """Start the service on its own local chain with the demo trade lane, as `make run`
    does (http://127.0.0.1:8000; Ctrl-C stops it). Settings come from LEDGER_* variables."""
    from ledger_api import run

    raise typer.Exit(run.main())


# ================================================================ verification
# `ledger verify`, `ledger verify-receipt`, `ledger verify-bundle`: a verdict asked of the
# service, a receipt checked with its public keys alone, an evidence bundle re-derived
# offline (and, with --rpc, its anchors confirmed on chain). Each exits 5 when the
# verification was made and the verdict is not VERIFIED; verify-bundle --rpc exits 6 when
# the chain contradicts the bundle.

_STATUS_MARKS = {
    "VALID": ("✓", "green"),
    "INVALID": ("✗", "red"),
    "ERROR": ("!", "yellow"),
    "SKIPPED": ("-", "dim"),
}
_VERDICT_STYLES = {"VERIFIED": "bold green", "FAILED": "bold red", "INCOMPLETE": "bold yellow"}
_LANE_STYLES = {"GREEN": "green", "AMBER": "yellow", "RED": "red"}


def _status_text(status: str) -> Text:
    # A mark as well as a colour: the status must read without colour (NO_COLOR, a pipe, a printout).
    mark, style = _STATUS_MARKS.get(status, ("?", ""))
    return Text(f"{mark} {status}", style=style)


def _verdict_text(verdict: str) -> Text:
    mark = "✓" if verdict == "VERIFIED" else "✗" if verdict == "FAILED" else "…"
    return Text(f"{mark} {verdict}", style=_VERDICT_STYLES.get(verdict, "bold"))


def _print_checks(checks: list[dict[str, Any]], title: str) -> None:
    """Checks as the service and `VerificationResult.as_dict` write them: name, status, reason{code, message}."""
    table = Table("check", "status", "reason", "message", title=title)
    for check in checks:
        reason = check.get("reason") or {}
        table.add_row(
            Text(str(check["name"])),
            _status_text(str(check["status"])),
            Text(str(reason.get("code", check.get("code", "-")))),
            Text(str(reason.get("message", ""))),
        )
    _out().print(table)


def _write_output(path: Path, data: bytes, what: str) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise LocalError(f"cannot write the {what} to {path}: {exc.strerror or exc}") from None


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LocalError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise LocalError(f"{path} is not a {what}: not UTF-8 text ({exc.reason})") from None


def _not_verified_exit(verdict: str) -> None:
    if verdict != "VERIFIED":
        raise typer.Exit(EXIT_NOT_VERIFIED)


# ---------------------------------------------------------------- verify


def _service_get(client: LedgerClient, path: str, params: dict[str, Any]) -> httpx.Response:
    response = client.http.get(path, params=params)
    if response.status_code >= 400:
        try:
            problem = response.json()
        except ValueError:
            problem = {"title": response.reason_phrase or "Error", "detail": response.text[:500]}
        raise ClientError(response.status_code, problem if isinstance(problem, dict) else {"detail": str(problem)})
    return response


def _print_risk(risk: dict[str, Any]) -> None:
    out = _out()
    lane = str(risk.get("lane"))
    line = Text("lane: ")
    line.append(f"{lane} (score {risk.get('score')})", style=_LANE_STYLES.get(lane, ""))
    out.print(line)
    fired = risk.get("fired") or []
    if not fired:
        out.print(Text("fired rules: none"))
        return
    table = Table("rule", "points", "description", "reason", title="fired rules")
    for rule in fired:
        table.add_row(
            Text(str(rule.get("id"))),
            Text(f"+{rule.get('points')}"),
            Text(str(rule.get("description", ""))),
            Text(str(rule.get("reason", ""))),
        )
    out.print(table)


@app.command()
def verify(
    ucr: Annotated[str, typer.Argument(help="The consignment's WCO UCR.")],
    country: Annotated[
        str, typer.Option("--country", "-c", help="ISO 3166-1 alpha-2 of the verifying customs, e.g. NL.")
    ],
    at_block: Annotated[
        int | None, typer.Option("--at-block", min=0, help="Verify as of this block (default: the index head).")
    ] = None,
    receipt_out: Annotated[
        Path | None, typer.Option("--receipt-out", dir_okay=False, help="Write the signed receipt (compact JWS) here.")
    ] = None,
    evidence_out: Annotated[
        Path | None,
        typer.Option("--evidence-out", dir_okay=False, help="Write the evidence bundle (the exact bytes hashed) here."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", envvar="LEDGER_TOKEN", help="A party's credential (lgr_…), sent as a bearer token if given."
        ),
    ] = None,
) -> None:
    """Asks the service for the consignment's verdict as COUNTRY's customs: prints each
    check with its reason, the verdict, and the risk lane with the rules that fired.

    --receipt-out writes the signed receipt (check it with `ledger verify-receipt`);
    --evidence-out writes the evidence bundle the verdict was drawn from, as of the same
    block (re-derive it with `ledger verify-bundle`). Exits 0 when the verdict is VERIFIED,
    5 when it is FAILED or INCOMPLETE."""
    if not _UCR.fullmatch(ucr):
        raise typer.BadParameter("not a WCO UCR (e.g. 4NL123456789-INV2026-0001)", param_hint="UCR")
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise typer.BadParameter("expected an ISO 3166-1 alpha-2 code, e.g. NL", param_hint="--country")
    with _reporting_errors():
        client = LedgerClient(_settings.url, _READER, token=token or _settings.token)
        try:
            params: dict[str, Any] = {"country": country}
            if at_block is not None:
                params["at_block"] = at_block
            result = _service_get(client, f"/v1/consignments/{ucr}/verification", params).json()
            evidence: bytes | None = None
            if evidence_out is not None:
                # As of the verdict's block, so that these bytes are the ones the receipt's hash covers.
                params = {"country": country, "at_block": result["as_of_block"]}
                evidence = _service_get(client, f"/v1/consignments/{ucr}/evidence", params).content
        finally:
            client.close()
        out = _out()
        out.print(Text(f"consignment {result['ucr']}, verified for {result['verifying_country']}"))
        out.print(Text(f"as of block {result['as_of_block']}"))
        _print_checks(result["checks"], f"checks of {result['ucr']}")
        out.print(Text("verdict: ").append_text(_verdict_text(str(result["verdict"]))))
        _print_risk(result["risk"])
        recognition = result.get("recognition")
        if recognition:
            out.print(Text(f"AEO recognition: {recognition.get('reason')}"))
        out.print(Text(f"evidence: {result['evidence_hash']}"))
        if receipt_out is not None:
            _write_output(receipt_out, str(result["receipt"]).encode("ascii"), "receipt")
            out.print(Text(f"receipt written to {receipt_out}"))
        if evidence_out is not None and evidence is not None:
            from ledger_api.domain.receipts import evidence_hash

            if evidence_hash(evidence) != result["evidence_hash"]:
                _fail(
                    EXIT_UNAVAILABLE,
                    f"the service's evidence as of block {result['as_of_block']} hashes to "
                    f"{evidence_hash(evidence)}, not to the verdict's {result['evidence_hash']}: not written",
                )
            _write_output(evidence_out, evidence, "evidence bundle")
            out.print(Text(f"evidence written to {evidence_out}"))
    _not_verified_exit(str(result["verdict"]))


# ---------------------------------------------------------------- verify-receipt


def _receipt_header(token: str) -> dict[str, Any]:
    """The header of a receipt that verify_receipt already accepted."""
    import base64

    part = token.strip().split(".")[0]
    header = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return dict(header)


def _utc(timestamp: Any) -> str:
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(int(timestamp), UTC).isoformat().replace("+00:00", "Z") + f" ({timestamp})"
    except (TypeError, ValueError, OverflowError, OSError):
        return str(timestamp)


@app.command("verify-receipt")
def verify_receipt_command(
    file: Annotated[Path, typer.Argument(help="The receipt: a compact JWS, as `ledger verify --receipt-out` writes.")],
    jwks: Annotated[
        Path | None, typer.Option("--jwks", dir_okay=False, help="Check against this JWKS file: offline.")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Check against this service's /v1/keys (default: the global --url)."),
    ] = None,
) -> None:
    """Checks a verification receipt's signature with the service's public keys, with no
    chain: against a JWKS file (--jwks, offline) or the keys the service publishes at
    /v1/keys (--url, else the global --url). Prints the receipt's claims.

    Exits 0 for a valid receipt whose verdict is VERIFIED, 5 for a valid receipt with
    another verdict, 4 for a receipt that does not verify (its reason is printed)."""
    from ledger_api.domain.receipts import ReceiptError, verify_receipt

    if jwks is not None and url is not None:
        raise typer.BadParameter("give --jwks FILE or --url URL, not both", param_hint="--jwks / --url")
    with _reporting_errors():
        token = _read_text(file, "receipt").strip()
        if jwks is not None:
            keys = _read_json(jwks)
            source = str(jwks)
        else:
            base = (url or _settings.url).rstrip("/")
            source = f"{base}/v1/keys"
            try:
                response = httpx.get(source, timeout=30)
            except httpx.TransportError as exc:
                _fail(EXIT_UNAVAILABLE, f"cannot reach the ledger service at {base}: {exc or type(exc).__name__}")
            if response.status_code >= 400:
                _fail(
                    EXIT_UNAVAILABLE if response.status_code >= 500 else EXIT_REFUSED,
                    f"{source} answered {response.status_code}",
                )
            keys = response.json()
        if not isinstance(keys, dict):
            raise LocalError(f"{source} is not a JWKS: expected a JSON object with a keys list")
        try:
            claims = verify_receipt(token, keys)
        except ReceiptError as exc:
            raise LocalError(f"{file} is not a valid receipt ({exc.code}): {exc.message}") from None
        kid = _receipt_header(token).get("kid")
        risk: dict[str, Any] = claims["risk"] if isinstance(claims.get("risk"), dict) else {}
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        grid.add_row("verdict", _verdict_text(str(claims.get("verdict"))))
        grid.add_row("ucr", Text(str(claims.get("ucr"))))
        grid.add_row("as of block", Text(str(claims.get("as_of_block"))))
        grid.add_row("lane", Text(f"{risk.get('lane')} (score {risk.get('score')})"))
        grid.add_row("fired rules", Text(", ".join(str(f) for f in risk.get("fired") or []) or "none"))
        grid.add_row("evidence", Text(str(claims.get("evidence"))))
        grid.add_row("chain id", Text(str(claims.get("chain_id"))))
        grid.add_row("ledger", Text(str(claims.get("ledger"))))
        grid.add_row("issuer", Text(str(claims.get("iss"))))
        grid.add_row("issued at", Text(_utc(claims.get("iat"))))
        grid.add_row("receipt id", Text(str(claims.get("jti"))))
        out = _out()
        out.print(grid)
        checks = claims.get("checks")
        if isinstance(checks, list) and checks:
            table = Table("check", "status", "reason", title="checks")
            for check in checks:
                if isinstance(check, dict):
                    table.add_row(
                        Text(str(check.get("name"))),
                        _status_text(str(check.get("status"))),
                        Text(str(check.get("code"))),
                    )
            out.print(table)
        out.print(Text(f"signature valid (kid {kid}), keys from {source}", style="green"))
    _not_verified_exit(str(claims.get("verdict")))


# ---------------------------------------------------------------- verify-bundle


@app.command("verify-bundle")
def verify_bundle(
    file: Annotated[Path, typer.Argument(help="An evidence bundle, as `ledger verify --evidence-out` writes.")],
    rpc: Annotated[
        str | None,
        typer.Option("--rpc", help="Also confirm every anchor on the chain behind this JSON-RPC URL."),
    ] = None,
) -> None:
    """Re-derives the verdict from an evidence bundle alone: no service, no chain. Prints
    the verdict and each check.

    With --rpc URL, also confirms on that chain that the bundle's anchors are there as it
    says: the chain id; for single records a RecordWritten event with the record's id at
    its block, and that block's hash; for batch records the root's anchoredAt block, and
    that block's hash. One line per anchor.

    Exits 0 when the verdict is VERIFIED (and, with --rpc, every anchor holds), 4 for a
    malformed bundle, 5 for a FAILED or INCOMPLETE verdict, 6 when the chain contradicts the
    bundle, 3 when the node cannot be reached."""
    from ledger_api.domain.evidence import from_bundle
    from ledger_api.domain.verification import verify as run_checks

    with _reporting_errors():
        bundle = _read_json(file)
        if not isinstance(bundle, dict):
            raise LocalError(
                f"{file} is not an evidence bundle: a JSON object is expected, not {type(bundle).__name__}"
            )
        try:
            result = run_checks(from_bundle(bundle))
        except KeyError as exc:
            raise LocalError(f"{file} is not a valid evidence bundle: missing member {exc}") from None
        except (ValueError, TypeError, AttributeError) as exc:
            raise LocalError(f"{file} is not a valid evidence bundle: {exc}") from None
        out = _out()
        out.print(Text(f"consignment {result.ucr}, as of block {result.as_of_block}, re-derived offline from {file}"))
        _print_checks([c.as_dict() for c in result.checks], f"checks of {result.ucr}")
        verdict = str(result.verdict)
        out.print(Text("verdict: ").append_text(_verdict_text(verdict)))
        if rpc is not None:
            # web3 is loaded for --rpc alone: the offline re-derivation needs none of it.
            from ledger_api.chain.anchors import MalformedBundle, confirm_anchors

            try:
                anchors = confirm_anchors(bundle, rpc)
            except NodeUnavailable as exc:
                _fail(EXIT_UNAVAILABLE, f"cannot confirm the anchors on {rpc}: {exc}")
            except MalformedBundle as exc:
                raise LocalError(str(exc)) from None
            except (KeyError, ValueError, TypeError) as exc:
                raise LocalError(f"{file} is not a valid evidence bundle: {exc}") from None
            out.print(Text(f"anchors on {rpc}:"))
            for anchor in anchors:
                line = Text("  ")
                line.append("✓ on chain  " if anchor.ok else "✗ NOT AS SAID  ", style="green" if anchor.ok else "red")
                line.append(f"{anchor.what}: {anchor.detail}")
                out.print(line, soft_wrap=True)
            wrong = [a for a in anchors if not a.ok]
            if wrong:
                _fail(
                    EXIT_CHAIN_CONTRADICTS,
                    f"{len(wrong)} of {len(anchors)} anchors are not on chain as the bundle says",
                )
            out.print(Text(f"all {len(anchors)} anchors confirmed", style="green"))
    _not_verified_exit(verdict)


@bench_app.command("verify")
def bench_verify(
    records: Annotated[int, typer.Option(min=3, max=200, help="Records in the verified consignment.")] = 20,
    workers: Annotated[int, typer.Option(min=1, max=16, help="uvicorn worker processes reading the store.")] = 2,
    seconds: Annotated[float, typer.Option(min=1, max=120, help="Length of each load run.")] = 10,
    connections: Annotated[
        list[int] | None,
        typer.Option(min=1, max=256, help="Concurrent connections of a load run; repeat for several runs."),
    ] = None,
    write_docs: Annotated[
        bool, typer.Option("--write-docs", help="Write the figures into docs/benchmarks.md.")
    ] = False,
) -> None:
    """Verification throughput and latency (receipt included) with N reader workers, at
    each concurrency given (default 4, 8 and 16 connections), beside a static answer of
    the same server. Uses wrk when installed (apt-get install wrk)."""
    from ledger_api.settings import PROJECT_ROOT
    from ledger_bench.docs import write_section
    from ledger_bench.verify import render_verify, run_verify

    levels = connections or [4, 8, 16]
    console = _out()
    f = run_verify(records, workers, seconds, levels, progress=lambda m: console.print(f"[dim]{m}[/]"))
    table = Table(
        "connections",
        "verifications/s",
        "p50 / p99 ms",
        "errors",
        "static answers/s",
        "target met",
        title=f"ledger bench verify: {f.records} records ({f.verdict}), {f.workers} workers",
    )
    for run, static in zip(f.runs, f.static, strict=True):
        table.add_row(
            str(run.connections),
            f"{run.requests_per_second:,.0f}",
            f"{run.p50_ms:.1f} / {run.p99_ms:.1f}",
            str(run.errors),
            f"{static.requests_per_second:,.0f}",
            "yes" if run.meets_target else "no",
        )
    console.print(table)
    if write_docs:
        command = f"ledger bench verify --records {records} --workers {workers} --seconds {seconds:.0f}"
        command += "".join(f" --connections {c}" for c in levels)
        write_section(PROJECT_ROOT / "docs" / "benchmarks.md", "verify", render_verify(f, command))
        console.print("written to docs/benchmarks.md")
