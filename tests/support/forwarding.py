"""Writes a customs authority signs for the forwarder (an EIP-712 ForwardRequest) and the
service relays: registry writes (POST /v1/parties) and recognition writes (/v1/aeo,
/v1/mras), signed as the client signs them, so that a test can sign a body that does not
match its call, or sign it with the wrong key. The authorities are the development
deployment's (config/deployment.dev.yaml: anvil's accounts 1-3, whose keys are public)."""

from __future__ import annotations

import time
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger_api.demo import ANVIL_AUTHORITY_KEYS
from ledger_api.domain.forwarding import REGISTRY_CALL_GAS, ForwardRequest, registry_calldata
from ledger_api.domain.parties import Role, identifiers_hash

NL_CUSTOMS = Account.from_key(ANVIL_AUTHORITY_KEYS["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"])
JP_CUSTOMS = Account.from_key(ANVIL_AUTHORITY_KEYS["0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"])
SG_CUSTOMS = Account.from_key(ANVIL_AUTHORITY_KEYS["0x90F79bf6EB2c4f870365E785982E1f101E93b906"])


def forwarded(
    ledger: dict[str, Any],
    authority: LocalAccount,
    contract: str,
    data: bytes,
    *,
    nonce: int,
    signer: LocalAccount | None = None,
    gas: int = REGISTRY_CALL_GAS,
) -> dict[str, Any]:
    """The signed part of a request body: `authority`'s call `data` to `contract` (named as
    in GET /v1/ledger, whose answer `ledger` is), with its forwarder `nonce` and `gas`, a
    deadline ten minutes ahead, and the signature of `signer` (the authority unless a test
    says)."""
    deadline = int(time.time()) + 600
    request = ForwardRequest(
        sender=authority.address,
        to=ledger["contracts"][contract],
        gas=gas,
        nonce=nonce,
        deadline=deadline,
        data=data,
    )
    signature = request.sign(ledger["chain_id"], ledger["contracts"]["LedgerForwarder"], (signer or authority).key)
    return {"authority": authority.address, "nonce": nonce, "deadline": deadline, "signature": "0x" + signature.hex()}


def carrier_registration(
    ledger: dict[str, Any], authority: LocalAccount, party: str, *, nonce: int, signer: LocalAccount | None = None
) -> dict[str, Any]:
    """A body of POST /v1/parties: `authority` registers `party` as a carrier."""
    identifiers = {"name": "Carrier of the tests B.V.", "eori": "NL1"}
    call = registry_calldata("register", party, int(Role.CARRIER), identifiers_hash(identifiers))
    return {
        "action": "register",
        "party": party,
        "roles": ["CARRIER"],
        "identifiers": identifiers,
        **forwarded(ledger, authority, "PartyRegistry", call, nonce=nonce, signer=signer),
    }
