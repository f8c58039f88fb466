"""What every `ledger` command shares: the exit codes and the one place that maps errors
to them, the global options and the settings they set, the consoles, the options of a
signing command (key, password, payload, --wait), and reading a party's own files.

Nothing here imports the service's side (store, runtime, services): a trader's or a
carrier's command loads only what signs, reads files and speaks HTTP.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from ledger_api import keystore
from ledger_api.client import ClientError, LedgerClient
from ledger_api.domain.payloads import parse_payload
from ledger_api.domain.records import ZERO_ADDRESS
from ledger_api.errors import LedgerError

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_LOCAL = 4
EXIT_NOT_VERIFIED = 5
EXIT_CHAIN_CONTRADICTS = 6

DEFAULT_URL = "http://127.0.0.1:8000"
PASSWORD_ENV = "LEDGER_KEY_PASSWORD"
RECORD_ID = re.compile(r"0x[0-9a-fA-F]{64}")
UCR = re.compile(r"[0-9][A-Z]{2}[A-Z0-9-]{1,32}")
_PAYLOAD_TAGS = {"DECLARATION", "HANDOVER", "ACCEPTANCE", "CUSTOMS_DECISION", "REVOCATION"}
# Reads never sign: any account serves a read-only LedgerClient, which insists on one.
READER = Account.from_key(b"\x01" * 32)


class LocalError(LedgerError):
    """A problem on this side of the wire: a payload file, an option value read from a file."""


@dataclass
class Settings:
    url: str = DEFAULT_URL
    keys_dir: Path | None = None
    token: str | None = None


# Set once per invocation by the global options (`main`), read by every command.
settings = Settings()


# ---------------------------------------------------------------- output


def out() -> Console:
    # Made per use, not at import: the console must see the stdout and environment of the
    # invocation (CliRunner swaps both).
    return Console(highlight=False)


def err() -> Console:
    return Console(stderr=True, highlight=False)


def fail(code: int, message: str) -> NoReturn:
    err().print(Text(message, style="red"))
    raise typer.Exit(code)


def _print_problem(exc: ClientError) -> None:
    problem = exc.problem
    code = f" {problem['code']}" if problem.get("code") else ""
    console = err()
    console.print(Text(f"{problem.get('title') or 'Refused'} ({exc.status}{code})", style="bold red"))
    errors = problem.get("errors") or []
    for error in errors:
        console.print(Text(f"  {error.get('field')}: {error.get('reason')}", style="red"))
    detail = problem.get("detail")
    if detail and not errors:
        console.print(Text(f"  {detail}", style="red"))


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Maps every error a command can meet to its message and exit code."""
    try:
        yield
    except ClientError as exc:
        _print_problem(exc)
        raise typer.Exit(EXIT_UNAVAILABLE if exc.status >= 500 else EXIT_REFUSED) from None
    except httpx.TransportError as exc:
        fail(EXIT_UNAVAILABLE, f"cannot reach the ledger service at {settings.url}: {exc or type(exc).__name__}")
    except json.JSONDecodeError as exc:
        # Our own files are parsed into LocalError: a JSONDecodeError here is the service's answer.
        fail(EXIT_UNAVAILABLE, f"the ledger service at {settings.url} answered something that is not JSON: {exc}")
    except (keystore.KeystoreError, LocalError) as exc:
        fail(EXIT_LOCAL, str(exc))


# ---------------------------------------------------------------- global options


def main(
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
    settings.url, settings.keys_dir, settings.token = url.rstrip("/"), keys_dir, token


def reader() -> LedgerClient:
    """A client for reads, with the invocation's credential."""
    return LedgerClient(settings.url, READER, token=settings.token)


# ---------------------------------------------------------------- signing options

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


def new_password(password_file: Path | None, alias: str) -> str:
    password = _password(password_file, f"Password for new key {alias!r}", confirm=True)
    if not password:
        raise LocalError("refusing to encrypt a key with an empty password")
    return password


def account(alias: str, password_file: Path | None) -> LocalAccount:
    """The key ALIAS, decrypted. A key written in fast mode is refused in production
    (LEDGER_ENVIRONMENT=production) and named with a warning elsewhere."""
    production = os.environ.get("LEDGER_ENVIRONMENT") == "production"
    if not production and keystore.is_weak(alias, keys_dir=settings.keys_dir):
        err().print(
            f"[yellow]warning:[/] key {alias!r} was encrypted in fast mode ({keystore.FAST_ENV}): cheap to "
            "brute-force, for tests only; import it again without fast mode for anything of value"
        )
    password = _password(password_file, f"Password for key {alias!r}")
    return keystore.load_key(alias, password, keys_dir=settings.keys_dir, refuse_weak=production)


def signer(alias: str, password_file: Path | None) -> LedgerClient:
    """A client that signs with the key ALIAS, with the invocation's credential."""
    return LedgerClient(settings.url, account(alias, password_file), token=settings.token)


def address(value: str | None, option: str) -> str:
    if value is None:
        return ZERO_ADDRESS
    if not is_address(value):
        raise typer.BadParameter(f"not an address: {value!r} (expected 0x and 40 hex digits)", param_hint=option)
    return str(to_checksum_address(value))


# ---------------------------------------------------------------- the party's files


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


def checked_payload(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise LocalError(f"{where}: a payload must be a JSON object, not {type(data).__name__}")
    try:
        parse_payload(data)
    except ValidationError as exc:
        raise LocalError(f"{where} is not a valid payload:\n  " + "\n  ".join(_validation_errors(exc))) from None
    return data


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LocalError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise LocalError(f"{path} is not JSON: {exc}") from None


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LocalError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise LocalError(f"{path} is not a {what}: not UTF-8 text ({exc.reason})") from None


def write_output(path: Path, data: bytes, what: str) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise LocalError(f"cannot write the {what} to {path}: {exc.strerror or exc}") from None
