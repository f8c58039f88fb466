"""`ledger admin`: operator commands that work on the service's own store and receipt keys,
on the machine that runs it (settings from LEDGER_* variables, as the service reads them),
and the publication of the instance's endpoint on chain, signed with the authority's key.

The service's side (settings, store, services) is imported inside each command: a party's
`ledger` never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from eth_utils.address import is_address, to_checksum_address
from rich.console import Console
from rich.table import Table

from ledger_api.cli._common import PasswordFile, reporting_errors, signer
from ledger_api.errors import NotFound

if TYPE_CHECKING:
    from ledger_api.services.credentials import Credentials

app = typer.Typer(help="Operator commands on the service's store (run where the service runs).", no_args_is_help=True)
credentials_app = typer.Typer(help="API credentials of parties: issue, list, revoke.", no_args_is_help=True)
app.add_typer(credentials_app, name="credentials")
receipt_keys_app = typer.Typer(help="The service's receipt-signing keys (Ed25519).", no_args_is_help=True)
app.add_typer(receipt_keys_app, name="receipt-keys")


def _credentials() -> Credentials:
    from ledger_api.services.credentials import Credentials
    from ledger_api.settings import Settings
    from ledger_api.store.db import Store

    return Credentials(Store(Settings.load().database))


@credentials_app.command("issue")
def issue(
    address: Annotated[str, typer.Argument(help="The party's address (0x…).")],
    label: Annotated[str, typer.Option(help="What the credential is for, e.g. 'NL customs, Rotterdam office'.")] = "",
) -> None:
    """Issues a credential for a party and prints its token, once: it is kept only hashed."""
    if not is_address(address):
        raise typer.BadParameter("not an address", param_hint="ADDRESS")
    token = _credentials().issue(to_checksum_address(address), label)
    Console(stderr=True).print("[dim]the token is shown once; store it where the party keeps secrets[/]")
    print(token)


@credentials_app.command("list")
def list_credentials() -> None:
    """Lists credentials (ids, parties, labels, revoked or not): never their secrets."""
    table = Table("id", "party", "label", "created", "revoked")
    for c in _credentials().list():
        table.add_row(c.id, c.party, c.label, c.created_at, "yes" if c.revoked else "")
    Console().print(table)


@credentials_app.command("revoke")
def revoke(credential_id: Annotated[str, typer.Argument(help="The credential's id (see list).")]) -> None:
    """Revokes a credential: its token is refused from the next request on."""
    try:
        _credentials().revoke(credential_id)
    except NotFound as exc:
        Console(stderr=True).print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    Console().print(f"revoked {credential_id}")


@receipt_keys_app.command("rotate")
def rotate_receipt_key() -> None:
    """Makes a new receipt-signing key the active one. Old keys stay in /v1/keys, so every
    receipt already issued stays verifiable; running services sign with the new key within
    a minute.

    The key is also the one the instance's endpoint publishes on chain: publish it again
    (`ledger admin publish-endpoint`; on a development chain the next start does it), or
    peers and `ledger verify-receipt --rpc` do not know it. Until then peer requests stay
    signed with the key the chain shows."""
    from ledger_api.settings import Settings
    from ledger_api.store.receipt_keys import load_or_create_keyring

    keyring = load_or_create_keyring(Settings.load().receipt_keys)
    key = keyring.rotate()
    Console().print(f"active receipt key: {key.kid} ({len(keyring.keys)} keys in {keyring.folder})")


@receipt_keys_app.command("list")
def list_receipt_keys() -> None:
    """Lists the receipt keys' ids (RFC 7638 thumbprints), the active one first."""
    from ledger_api.settings import Settings
    from ledger_api.store.receipt_keys import load_or_create_keyring

    for jwk in load_or_create_keyring(Settings.load().receipt_keys).jwks()["keys"]:
        print(jwk["kid"])


@app.command("publish-endpoint")
def publish_endpoint(
    key: Annotated[str, typer.Option("--key", "-k", help="Alias of the customs authority's key (`ledger keys list`).")],
    password_file: PasswordFile = None,
) -> None:
    """Publishes the instance at --url on chain as the endpoint of the authority whose key
    signs: its public URL, signing and encryption keys and relayer, as GET /v1/instance
    shows them. Signed here (an ERC-2771 request to PartyRegistry.publishEndpoint) and
    relayed by the instance; needs the authority's credential (--token). Run it after the
    instance's URL, keys or relayer change (`receipt-keys rotate` too)."""
    with reporting_errors():
        client = signer(key, password_file)
        try:
            instance = client.instance()
            if instance["authority"] != client.address:
                Console(stderr=True).print(
                    f"[red]the instance acts for {instance['authority']}, not for {client.address}: "
                    "sign with that authority's key[/]"
                )
                raise typer.Exit(1)
            result = client.publish_endpoint(
                instance["public_url"], instance["signing_key"], instance["encryption_key"], instance["relayer"]
            )
        finally:
            client.close()
    Console().print(f"publication {result['id']} {result['status']}: {instance['public_url']} (kid {instance['kid']})")
