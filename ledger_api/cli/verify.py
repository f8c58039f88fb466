"""`ledger verify`, `ledger verify-receipt` and `ledger verify-bundle`: a verdict asked of
the service, a receipt checked with the service's public keys alone, an evidence bundle
re-derived offline (and, with --rpc, its anchors confirmed and its claims re-derived on a
chain node of the verifier's choosing: ledger_api/chain/anchors.py, chain/bundle_facts.py
read, domain/bundle_check.py compares). Each exits 5 when the verification was
made and the verdict is not VERIFIED; verify-bundle --rpc exits 6 when the chain
contradicts the bundle.
"""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table
from rich.text import Text

from ledger_api.cli._common import (
    EXIT_CHAIN_CONTRADICTS,
    EXIT_NOT_VERIFIED,
    EXIT_REFUSED,
    EXIT_UNAVAILABLE,
    READER,
    UCR,
    LocalError,
    fail,
    out,
    read_json,
    read_text,
    reporting_errors,
    settings,
    write_output,
)
from ledger_api.client import ClientError, LedgerClient
from ledger_api.domain.bundle_check import Contradiction
from ledger_api.domain.facts import VerificationInput
from ledger_api.errors import ChainError, NodeUnavailable

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
    out().print(table)


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
    console = out()
    lane = str(risk.get("lane"))
    line = Text("lane: ")
    line.append(f"{lane} (score {risk.get('score')})", style=_LANE_STYLES.get(lane, ""))
    console.print(line)
    fired = risk.get("fired") or []
    if not fired:
        console.print(Text("fired rules: none"))
        return
    table = Table("rule", "points", "description", "reason", title="fired rules")
    for rule in fired:
        table.add_row(
            Text(str(rule.get("id"))),
            Text(f"+{rule.get('points')}"),
            Text(str(rule.get("description", ""))),
            Text(str(rule.get("reason", ""))),
        )
    console.print(table)


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
    if not UCR.fullmatch(ucr):
        raise typer.BadParameter("not a WCO UCR (e.g. 4NL123456789-INV2026-0001)", param_hint="UCR")
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise typer.BadParameter("expected an ISO 3166-1 alpha-2 code, e.g. NL", param_hint="--country")
    with reporting_errors():
        client = LedgerClient(settings.url, READER, token=token or settings.token)
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
        console = out()
        console.print(Text(f"consignment {result['ucr']}, verified for {result['verifying_country']}"))
        console.print(Text(f"as of block {result['as_of_block']}"))
        _print_checks(result["checks"], f"checks of {result['ucr']}")
        console.print(Text("verdict: ").append_text(_verdict_text(str(result["verdict"]))))
        _print_risk(result["risk"])
        recognition = result.get("recognition")
        if recognition:
            console.print(Text(f"AEO recognition: {recognition.get('reason')}"))
        console.print(Text(f"evidence: {result['evidence_hash']}"))
        if receipt_out is not None:
            write_output(receipt_out, str(result["receipt"]).encode("ascii"), "receipt")
            console.print(Text(f"receipt written to {receipt_out}"))
        if evidence_out is not None and evidence is not None:
            from ledger_api.domain.receipts import evidence_hash

            if evidence_hash(evidence) != result["evidence_hash"]:
                fail(
                    EXIT_UNAVAILABLE,
                    f"the service's evidence as of block {result['as_of_block']} hashes to "
                    f"{evidence_hash(evidence)}, not to the verdict's {result['evidence_hash']}: not written",
                )
            write_output(evidence_out, evidence, "evidence bundle")
            console.print(Text(f"evidence written to {evidence_out}"))
    _not_verified_exit(str(result["verdict"]))


# ---------------------------------------------------------------- verify-receipt


def _receipt_header(token: str) -> dict[str, Any]:
    """The header of a receipt that verify_receipt already accepted."""
    part = token.strip().split(".")[0]
    header = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return dict(header)


def _utc(timestamp: Any) -> str:
    try:
        return datetime.fromtimestamp(int(timestamp), UTC).isoformat().replace("+00:00", "Z") + f" ({timestamp})"
    except (TypeError, ValueError, OverflowError, OSError):
        return str(timestamp)


def _unverified_claims(token: str, file: Path) -> dict[str, Any]:
    """The claims of a receipt not checked yet: only to find whose keys to check it with."""
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError) as exc:
        raise LocalError(f"{file} is not a valid receipt (MALFORMED): {exc}") from None
    if not isinstance(claims, dict):
        raise LocalError(f"{file} is not a valid receipt (MALFORMED): the claims are not a JSON object")
    return claims


def _keys_on_chain(token: str, file: Path, rpc_url: str, ledger: str | None) -> tuple[dict[str, Any], str]:
    """A JWKS of every signing key the receipt's authority published on the chain at
    `rpc_url`, and where it came from. The chain must be the receipt's."""
    from eth_utils.address import is_address

    from ledger_api.chain.endpoints import published_endpoints, registry_of
    from ledger_api.chain.rpc import Rpc
    from ledger_api.domain.receipts import public_jwk

    claims = _unverified_claims(token, file)
    authority, ledger = claims.get("authority"), ledger or claims.get("ledger")
    if not isinstance(authority, str) or not is_address(authority):
        raise LocalError(f"{file} names no issuing authority: check it with --jwks or --url")
    if not isinstance(ledger, str) or not is_address(ledger):
        raise LocalError(f"{file} names no ledger: give --ledger ADDRESS")
    try:
        with Rpc(rpc_url, timeout=30) as rpc:
            chain_id = int(rpc.call("eth_chainId"), 16)
            if chain_id != claims.get("chain_id"):
                raise LocalError(
                    f"{file} is for chain {claims.get('chain_id')}, the node at {rpc_url} is chain {chain_id}"
                )
            registry = registry_of(rpc, ledger)
            endpoints = published_endpoints(rpc, registry, authority)
    except NodeUnavailable as exc:
        fail(EXIT_UNAVAILABLE, f"cannot read the keys on {rpc_url}: {exc}")
    except ChainError as exc:
        raise LocalError(f"cannot read the keys of {authority} on {rpc_url}: {exc}") from None
    if not endpoints:
        raise LocalError(f"{authority} published no signing key on the chain at {rpc_url}")
    keys: list[dict[str, str]] = []
    for endpoint in endpoints:
        jwk = public_jwk(endpoint.public_key(), endpoint.kid)
        if jwk not in keys:  # a key published again with another URL is one key
            keys.append(jwk)
    return {"keys": keys}, f"the keys {authority} published on chain {chain_id} (registry {registry})"


def verify_receipt_command(
    file: Annotated[Path, typer.Argument(help="The receipt: a compact JWS, as `ledger verify --receipt-out` writes.")],
    jwks: Annotated[
        Path | None, typer.Option("--jwks", dir_okay=False, help="Check against this JWKS file: offline.")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Check against this service's /v1/keys (default: the global --url)."),
    ] = None,
    rpc: Annotated[
        str | None,
        typer.Option(
            "--rpc",
            help="Check against the keys the issuing authority published on the chain behind this JSON-RPC URL.",
        ),
    ] = None,
    ledger: Annotated[
        str | None,
        typer.Option("--ledger", help="With --rpc: the ConsignmentLedger's address (default: the receipt's `ledger`)."),
    ] = None,
) -> None:
    """Checks a verification receipt's signature with the issuer's public keys: against a
    JWKS file (--jwks, offline), the keys a service publishes at /v1/keys (--url, else the
    global --url), or, for a receipt of any instance of the consortium, every signing key
    its issuing authority (the receipt's `authority`) ever published on chain (--rpc URL;
    the registry is the one of the ledger the receipt names, or --ledger). Prints the
    receipt's claims.

    Exits 0 for a valid receipt whose verdict is VERIFIED, 5 for a valid receipt with
    another verdict, 4 for a receipt that does not verify (its reason is printed), 3 when
    the service or the node cannot be reached."""
    from ledger_api.domain.receipts import ReceiptError, verify_receipt

    if sum(option is not None for option in (jwks, url, rpc)) > 1:
        raise typer.BadParameter("give one of --jwks FILE, --url URL, --rpc URL", param_hint="--jwks / --url / --rpc")
    if ledger is not None and rpc is None:
        raise typer.BadParameter("--ledger goes with --rpc", param_hint="--ledger")
    with reporting_errors():
        token = read_text(file, "receipt").strip()
        if jwks is not None:
            keys = read_json(jwks)
            source = str(jwks)
        elif rpc is not None:
            keys, source = _keys_on_chain(token, file, rpc, ledger)
        else:
            base = (url or settings.url).rstrip("/")
            source = f"{base}/v1/keys"
            try:
                response = httpx.get(source, timeout=30)
            except httpx.TransportError as exc:
                fail(EXIT_UNAVAILABLE, f"cannot reach the ledger service at {base}: {exc or type(exc).__name__}")
            if response.status_code >= 400:
                fail(
                    EXIT_UNAVAILABLE if response.status_code >= 500 else EXIT_REFUSED,
                    f"{source} answered {response.status_code}",
                )
            keys = response.json()
        if not isinstance(keys, dict):
            raise LocalError(f"{source} is not a JWKS: expected a JSON object with a keys list")
        try:
            claims = verify_receipt(token, keys, now=int(time.time()))
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
        decision = claims.get("decision")
        if isinstance(decision, dict):
            grid.add_row(
                "decision in force",
                Text(
                    f"{decision.get('decision')} by customs of {decision.get('country')} ({decision.get('by')}), "
                    f"record {decision.get('record')} at block {decision.get('block')}"
                ),
            )
        grid.add_row("evidence", Text(str(claims.get("evidence"))))
        grid.add_row("chain id", Text(str(claims.get("chain_id"))))
        grid.add_row("ledger", Text(str(claims.get("ledger"))))
        grid.add_row("issuer", Text(str(claims.get("iss"))))
        if "authority" in claims:
            grid.add_row("authority", Text(f"{claims.get('authority')} ({claims.get('country')})"))
        grid.add_row("issued at", Text(_utc(claims.get("iat"))))
        grid.add_row("receipt id", Text(str(claims.get("jti"))))
        if "exp" in claims:
            grid.add_row("expires", Text(_utc(claims.get("exp"))))
        if "requester" in claims:
            grid.add_row("requested by", Text(str(claims.get("requester"))))
        if "as_of_block_hash" in claims:
            grid.add_row("block hash", Text(str(claims.get("as_of_block_hash"))))
        console = out()
        console.print(grid)
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
            console.print(table)
        console.print(Text(f"signature valid (kid {kid}), keys from {source}", style="green"))
    _not_verified_exit(str(claims.get("verdict")))


def verify_bundle(
    file: Annotated[Path, typer.Argument(help="An evidence bundle, as `ledger verify --evidence-out` writes.")],
    rpc: Annotated[
        str | None,
        typer.Option("--rpc", help="Also re-derive from the chain behind this JSON-RPC URL what the bundle claims."),
    ] = None,
    ledger: Annotated[
        str | None,
        typer.Option("--ledger", help="With --rpc: the consortium's ConsignmentLedger address the bundle must be of."),
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            dir_okay=False,
            help="With --rpc: the consortium's deployment manifest (deployment.json), its contracts pinned.",
        ),
    ] = None,
) -> None:
    """Re-derives the verdict from an evidence bundle alone: no service, no chain. Prints
    the verdict and each check.

    With --rpc URL, also confirms on that chain that the bundle's anchors are there as it
    says (the chain id; for single records a RecordWritten event with the record's id at
    its block, and that block's hash; for batch records the root's anchoredAt block, and
    that block's hash; one line per anchor), then re-derives from the chain what the
    bundle claims and names each claim the chain contradicts: the EIP-712 domain is the
    ledger's own (eip712Domain()) and the ledger is the consortium's (--ledger or
    --manifest; else the bundle's, checked to be a ConsignmentLedger wired to the bundle's
    registries); every record's fields as its RecordWritten event has them; every batch
    root anchored where the bundle says, by a relayer an authority published, with the
    proof the contract accepts; the parties' registration, roles and status at each block
    (PartyRegistry.stateAt); the exporter's recognition (RecognitionRegistry.recognitionOf)
    and the consignment's head as of the bundle's block. Only standard eth_* calls.

    Exits 0 when the verdict is VERIFIED (and, with --rpc, the chain contradicts nothing),
    4 for a malformed bundle, 5 for a FAILED or INCOMPLETE verdict, 6 when the chain
    contradicts the bundle, 3 when the node cannot be reached."""
    from ledger_api.domain.evidence import from_bundle
    from ledger_api.domain.verification import verify as run_checks

    if (ledger is not None or manifest is not None) and rpc is None:
        raise typer.BadParameter("--ledger and --manifest go with --rpc", param_hint="--ledger / --manifest")
    if ledger is not None and manifest is not None:
        raise typer.BadParameter("give one of --ledger ADDRESS, --manifest FILE", param_hint="--ledger / --manifest")

    with reporting_errors():
        bundle = read_json(file)
        if not isinstance(bundle, dict):
            raise LocalError(
                f"{file} is not an evidence bundle: a JSON object is expected, not {type(bundle).__name__}"
            )
        try:
            inp = from_bundle(bundle)
            result = run_checks(inp)
        except KeyError as exc:
            raise LocalError(f"{file} is not a valid evidence bundle: missing member {exc}") from None
        except (ValueError, TypeError, AttributeError) as exc:
            raise LocalError(f"{file} is not a valid evidence bundle: {exc}") from None
        console = out()
        console.print(
            Text(f"consignment {result.ucr}, as of block {result.as_of_block}, re-derived offline from {file}")
        )
        _print_checks([c.as_dict() for c in result.checks], f"checks of {result.ucr}")
        verdict = str(result.verdict)
        console.print(Text("verdict: ").append_text(_verdict_text(verdict)))
        if rpc is not None:
            # web3 is loaded for --rpc alone: the offline re-derivation needs none of it.
            from ledger_api.chain.anchors import MalformedBundle, confirm_anchors

            try:
                anchors = confirm_anchors(bundle, rpc)
            except NodeUnavailable as exc:
                fail(EXIT_UNAVAILABLE, f"cannot confirm the anchors on {rpc}: {exc}")
            except MalformedBundle as exc:
                raise LocalError(str(exc)) from None
            except (KeyError, ValueError, TypeError) as exc:
                raise LocalError(f"{file} is not a valid evidence bundle: {exc}") from None
            console.print(Text(f"anchors on {rpc}:"))
            for anchor in anchors:
                line = Text("  ")
                line.append("✓ on chain  " if anchor.ok else "✗ NOT AS SAID  ", style="green" if anchor.ok else "red")
                line.append(f"{anchor.what}: {anchor.detail}")
                console.print(line, soft_wrap=True)
            wrong = [a for a in anchors if not a.ok]
            found = _chain_contradictions(inp, rpc, ledger, manifest)
            if wrong:
                fail(
                    EXIT_CHAIN_CONTRADICTS,
                    f"{len(wrong)} of {len(anchors)} anchors are not on chain as the bundle says"
                    + (f"; {len(found)} claims contradicted by the chain" if found else ""),
                )
            console.print(Text(f"all {len(anchors)} anchors confirmed", style="green"))
            if found:
                fail(
                    EXIT_CHAIN_CONTRADICTS, f"{len(found)} claims of the bundle are contradicted by the chain at {rpc}"
                )
            console.print(Text("the chain contradicts none of the bundle's claims", style="green"))
    _not_verified_exit(verdict)


def _chain_contradictions(
    inp: VerificationInput, rpc_url: str, ledger: str | None, manifest_file: Path | None
) -> list[Contradiction]:
    """The bundle's claims the chain at `rpc_url` contradicts, printed one a line. The
    ledger is the one the verifier names (--ledger, --manifest); else the bundle's, whose
    being the consortium's the chain cannot tell: that is said."""
    from eth_utils.address import is_address, to_checksum_address

    from ledger_api.chain.bundle_facts import read_chain_facts
    from ledger_api.chain.deploy import Manifest
    from ledger_api.chain.rpc import Rpc
    from ledger_api.domain.bundle_check import contradictions, questions
    from ledger_api.errors import DeploymentError

    consortium: dict[str, str] | None = None
    if manifest_file is not None:
        try:
            deployment = Manifest.load(manifest_file)
        except DeploymentError as exc:
            raise LocalError(str(exc)) from None
        consortium = {name: c.address for name, c in deployment.contracts.items()}
        ledger = consortium.get("ConsignmentLedger")
        how = f"the consortium's, from {manifest_file}"
    elif ledger is not None:
        how = "the consortium's, as --ledger names it"
    else:
        ledger = inp.contracts.get("ConsignmentLedger")
        how = "the bundle's (give --ledger or --manifest to hold it to the consortium's)"
    if not isinstance(ledger, str) or not is_address(ledger):
        raise LocalError(f"no ConsignmentLedger address to check the bundle against: {ledger!r}")
    contracts = {**inp.contracts, **(consortium or {})}
    try:
        with Rpc(rpc_url, timeout=30) as rpc:
            facts = read_chain_facts(
                rpc,
                questions(inp),
                ledger=ledger,
                pinned=consortium is not None or how.endswith("--ledger names it"),
                contracts=contracts,
                consignment=inp.consignment,
                as_of_block=inp.as_of_block,
            )
    except NodeUnavailable as exc:
        fail(EXIT_UNAVAILABLE, f"cannot read the chain at {rpc_url}: {exc}")
    except ChainError as exc:
        fail(EXIT_UNAVAILABLE, f"the node at {rpc_url} did not answer a read: {exc}")
    found = contradictions(inp, facts, consortium)
    console = out()
    console.print(Text(f"re-derived on {rpc_url}, ledger {to_checksum_address(ledger)}: {how}"), soft_wrap=True)
    if facts.as_of_block_hash is not None:
        console.print(Text(f"  as of block {inp.as_of_block}, hash {facts.as_of_block_hash}"), soft_wrap=True)
    for contradiction in found:
        line = Text("  ")
        line.append("✗ CONTRADICTED  ", style="red")
        line.append(str(contradiction))
        console.print(line, soft_wrap=True)
    return found
