"""Python client of the ledger service, on httpx. It signs locally with the party's key:
the key never leaves the party, the service only ever sees signatures.

    client = LedgerClient("http://127.0.0.1:8000", Account.from_key(key))
    record_id = client.submit(declaration_payload)          # the next record of its consignment
    client.wait_confirmed(record_id)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount

from ledger_api.domain.epcis import capture_document
from ledger_api.domain.forwarding import (
    ENDPOINT_CALL_GAS,
    REGISTRY_CALL_GAS,
    ForwardRequest,
    endpoint_calldata,
    recognition_calldata,
    registry_calldata,
)
from ledger_api.domain.parties import identifiers_hash, roles_of
from ledger_api.domain.payloads import parse_payload, payload_hash, record_route_of
from ledger_api.domain.recognition import controls_of
from ledger_api.domain.records import (
    ZERO_ADDRESS,
    ZERO_HASH,
    LedgerDomain,
    Record,
    RecordKind,
    consignment_key,
    domain_separator,
    fast_record_id,
    sign_record,
)
from ledger_api.errors import LedgerError

DEFAULT_VALIDITY = 3600
MAX_WAIT_SECONDS = 30  # the longest the service holds a read of a record (`?wait=`, api/routes/records.py)
EARLY_ANSWER_PAUSE = 0.2  # seconds before asking again when the service answered a wait at once


class ClientError(LedgerError):
    """The service refused a request; `problem` is its RFC 9457 body."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status, self.problem = status, problem
        fields = "; ".join(f"{e['field']}: {e['reason']}" for e in problem.get("errors", []))
        super().__init__(f"{status} {problem.get('title', '')}: {fields or problem.get('detail', '')}")


@dataclass(frozen=True)
class SignedRecord:
    record: Record
    signature: bytes
    payload: dict[str, Any]
    id: str

    def body(self) -> dict[str, Any]:
        r = self.record
        return {
            "record": {
                "consignment": "0x" + r.consignment.hex(),
                "kind": r.kind.name,
                "payloadHash": "0x" + r.payload_hash.hex(),
                "previous": "0x" + r.previous.hex(),
                "party": r.party,
                "counterparty": r.counterparty,
                "nonce": r.nonce,
                "deadline": r.deadline,
                "route": list(r.route),
            },
            "signature": "0x" + self.signature.hex(),
            "payload": self.payload,
        }


class LedgerClient:
    def __init__(
        self, base_url: str, account: LocalAccount, *, timeout: float = 30.0, token: str | None = None
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base_url, timeout=timeout, headers=headers)
        self.account = account
        self._domain: LedgerDomain | None = None

    @property
    def address(self) -> str:
        return str(self.account.address)

    # ------------------------------------------------------------ reads

    def _get(self, path: str) -> Any:
        response = self.http.get(path)
        if response.status_code >= 400:
            raise ClientError(response.status_code, response.json())
        return response.json()

    def domain(self) -> LedgerDomain:
        if self._domain is None:
            info = self._get("/v1/ledger")
            self._domain = LedgerDomain(info["chain_id"], info["contracts"]["ConsignmentLedger"])
        return self._domain

    def record(self, record_id: str) -> dict[str, Any]:
        return dict(self._get(f"/v1/records/{record_id}"))

    def consignment(self, ucr: str) -> dict[str, Any] | None:
        response = self.http.get(f"/v1/consignments/{ucr}")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise ClientError(response.status_code, response.json())
        return dict(response.json())

    def next_nonce(self) -> int:
        return int(self._get(f"/v1/parties/{self.address}")["next_nonce"])

    # ------------------------------------------------------------ signing

    def sign(
        self,
        payload: dict[str, Any],
        *,
        counterparty: str = ZERO_ADDRESS,
        previous: bytes | None = None,
        nonce: int | None = None,
        deadline: int | None = None,
    ) -> SignedRecord:
        """Builds and signs the record that carries `payload`. Without `previous`, it is
        the consignment's latest record as the service knows it. The route is the
        payload's: a declaration's origin and destination, a transit's countries."""
        parsed = parse_payload(payload)
        if previous is None:
            current = self.consignment(parsed.ucr)
            previous = bytes.fromhex(current["records"][-1]["id"][2:]) if current else ZERO_HASH
        record = Record(
            consignment=consignment_key(parsed.ucr),
            kind=RecordKind[parsed.kind],
            payload_hash=payload_hash(parsed),
            previous=previous,
            party=self.address,
            counterparty=counterparty,
            nonce=self.next_nonce() if nonce is None else nonce,
            deadline=int(time.time()) + DEFAULT_VALIDITY if deadline is None else deadline,
            route=record_route_of(parsed),
        )
        domain = self.domain()
        signature = sign_record(record, domain, self.account.key)
        rid = "0x" + fast_record_id(record, domain_separator(domain)).hex()
        return SignedRecord(record, signature, payload, rid)

    def sign_capture(
        self,
        document: dict[str, Any],
        *,
        chain: dict[str, tuple[bytes, str]] | None = None,
        deadline: int | None = None,
    ) -> dict[str, Any]:
        """The signed capture of an EPCIS 2.0 document (docs/epcis.md): each event as the
        ledger record it becomes, signed with this party's key. Refuses locally
        (EpcisError) what the service would refuse as an event it cannot record.

        `chain` maps a UCR to its latest record id and mode, as a previous capture of a
        longer import left them; it is read from the service when missing and updated."""
        domain = self.domain()
        events = capture_document(document, domain.chain_id)
        chain = {} if chain is None else chain
        deadline = int(time.time()) + DEFAULT_VALIDITY if deadline is None else deadline
        single_nonce: int | None = None
        # Batch-mode nonces need only be unique among the party's batch records:
        # microseconds since the epoch, one more per record (as `ledger import` does).
        batch_nonce = time.time_ns() // 1000
        separator = domain_separator(domain)
        signatures = []
        for event in events:
            ucr = event.payload.ucr
            if ucr not in chain:
                current = self.consignment(ucr)
                head = bytes.fromhex(current["records"][-1]["id"][2:]) if current else ZERO_HASH
                chain[ucr] = (head, current["mode"] if current else "single")
            previous, mode = chain[ucr]
            if mode == "batch":
                nonce, batch_nonce = batch_nonce, batch_nonce + 1
            else:
                nonce = self.next_nonce() if single_nonce is None else single_nonce
                single_nonce = nonce + 1
            record = Record(
                consignment=consignment_key(ucr),
                kind=RecordKind[event.payload.kind],
                payload_hash=payload_hash(event.payload),
                previous=previous,
                party=self.address,
                counterparty=event.counterparty,
                nonce=nonce,
                deadline=deadline,
                route=record_route_of(event.payload),
            )
            signature = sign_record(record, domain, self.account.key)
            chain[ucr] = (fast_record_id(record, separator), mode)
            signatures.append(
                {
                    "nonce": nonce,
                    "deadline": deadline,
                    "previous": "0x" + previous.hex(),
                    "signature": "0x" + signature.hex(),
                }
            )
        return {"signer": self.address, "epcisDocument": document, "signatures": signatures}

    def capture(self, signed: dict[str, Any]) -> dict[str, Any]:
        """Posts a signed capture (`sign_capture`); returns the records it became."""
        response = self.http.post("/v1/epcis/capture", json=signed)
        if response.status_code >= 400:
            raise ClientError(response.status_code, response.json())
        return dict(response.json())

    def epcis(self, ucr: str) -> dict[str, Any]:
        """The consignment's history as an EPCIS 2.0 document."""
        return dict(self._get(f"/v1/consignments/{ucr}/epcis"))

    # ------------------------------------------------------------ writes

    def post(self, signed: SignedRecord) -> dict[str, Any]:
        response = self.http.post("/v1/records", json=signed.body())
        if response.status_code >= 400:
            raise ClientError(response.status_code, response.json())
        return dict(response.json())

    def submit(self, payload: dict[str, Any], *, counterparty: str = ZERO_ADDRESS) -> str:
        """Signs and submits the next record of the payload's consignment; returns its id."""
        return str(self.post(self.sign(payload, counterparty=counterparty))["id"])

    def post_batch(self, signed: list[SignedRecord]) -> dict[str, Any]:
        response = self.http.post("/v1/records/batch", json={"records": [s.body() for s in signed]})
        if response.status_code >= 400:
            raise ClientError(response.status_code, response.json())
        return dict(response.json())

    def party(self, address: str) -> dict[str, Any] | None:
        """A registered party as the service knows it (name and identifiers when it holds
        them), or None if it is not registered."""
        response = self.http.get(f"/v1/parties/{address}")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise ClientError(response.status_code, response.json())
        return dict(response.json())

    def publish_identifiers(self, address: str, identifiers: dict[str, str]) -> dict[str, Any]:
        """Makes a registered party's identifiers known to the service: it keeps them when
        they hash to the identifiers hash the registry holds for the party."""
        response = self.http.put(f"/v1/parties/{address}/identifiers", json={"identifiers": identifiers})
        if response.status_code >= 400:
            raise ClientError(response.status_code, response.json())
        return dict(response.json())

    def manage_party(
        self,
        action: str,
        party: str,
        *,
        roles: list[str] | None = None,
        identifiers: dict[str, str] | None = None,
        deadline: int | None = None,
    ) -> dict[str, Any]:
        """As a customs authority: signs and submits a registry write for `party`."""
        roles, identifiers = roles or [], identifiers or {}
        ids = identifiers_hash(identifiers) if identifiers else b""
        data = registry_calldata(action, party, roles_of(roles), ids)
        body = {"action": action, "party": party, "roles": roles, "identifiers": identifiers}
        return self._forward("PartyRegistry", data, "/v1/parties", body, deadline)

    def issue_certificate(
        self, operator: str, programme: str, valid_from: int, valid_until: int, *, deadline: int | None = None
    ) -> dict[str, Any]:
        """As a customs authority: issues (or renews) the AEO certificate of an operator of
        its country, valid from `valid_from` until `valid_until` (unix seconds, exclusive)."""
        data = recognition_calldata("issue", operator, programme, valid_from, valid_until)
        body = {
            "action": "issue",
            "operator": operator,
            "programme": programme,
            "valid_from": valid_from,
            "valid_until": valid_until,
        }
        return self._forward("RecognitionRegistry", data, "/v1/aeo", body, deadline)

    def change_certificate(self, action: str, operator: str, *, deadline: int | None = None) -> dict[str, Any]:
        """As a customs authority: suspends, reinstates or revokes an operator's certificate."""
        data = recognition_calldata(action, operator)
        body = {"action": action, "operator": operator}
        return self._forward("RecognitionRegistry", data, "/v1/aeo", body, deadline)

    def propose_mra(
        self,
        partner: str,
        effective_from: int,
        *,
        controls: Sequence[str] = (),
        deadline: int | None = None,
    ) -> dict[str, Any]:
        """As a customs authority: proposes an MRA with `partner`, in force from
        `effective_from` once ratified, recognising AEO status and the partner control
        results named in `controls` (e.g. ["EXPORT_INSPECTION"]). The arrangement's id is
        known once indexed."""
        data = recognition_calldata("propose", partner, effective_from, controls_of(controls))
        body = {"partner": partner, "effective_from": effective_from, "recognised_controls": list(controls)}
        return self._forward("RecognitionRegistry", data, "/v1/mras", body, deadline)

    def ratify_mra(self, mra_id: int, *, deadline: int | None = None) -> dict[str, Any]:
        """As the partner country's customs authority: ratifies arrangement `mra_id`."""
        data = recognition_calldata("ratify", mra_id)
        return self._forward("RecognitionRegistry", data, f"/v1/mras/{mra_id}/ratify", {}, deadline)

    def terminate_mra(self, mra_id: int, terminated_at: int, *, deadline: int | None = None) -> dict[str, Any]:
        """As customs of either country: terminates arrangement `mra_id` from `terminated_at`."""
        data = recognition_calldata("terminate", mra_id, terminated_at)
        body = {"terminated_at": terminated_at}
        return self._forward("RecognitionRegistry", data, f"/v1/mras/{mra_id}/terminate", body, deadline)

    def instance(self) -> dict[str, Any]:
        """The instance behind this client's URL: its authority, URL, keys and relayer."""
        return dict(self._get("/v1/instance"))

    def publish_endpoint(
        self, url: str, signing_key: str, encryption_key: str, relayer: str, *, deadline: int | None = None
    ) -> dict[str, Any]:
        """As a customs authority: signs and submits the publication of its instance's
        endpoint (PartyRegistry.publishEndpoint): where it is reached, its Ed25519 signing
        key, its X25519 encryption key (0x-hex, 32 bytes each) and its relayer's account."""
        data = endpoint_calldata(url, bytes.fromhex(signing_key[2:]), bytes.fromhex(encryption_key[2:]), relayer)
        body = {"url": url, "signing_key": signing_key, "encryption_key": encryption_key, "relayer": relayer}
        return self._forward("PartyRegistry", data, "/v1/instance/endpoint", body, deadline, gas=ENDPOINT_CALL_GAS)

    def mra(self, mra_id: int) -> dict[str, Any]:
        """Arrangement `mra_id` as the service has indexed it."""
        return dict(self._get(f"/v1/mras/{mra_id}"))

    def _forward(
        self,
        contract: str,
        data: bytes,
        path: str,
        body: dict[str, Any],
        deadline: int | None,
        *,
        gas: int = REGISTRY_CALL_GAS,
    ) -> dict[str, Any]:
        """Signs the call `data` to `contract` as an ERC-2771 ForwardRequest with this
        authority's next forwarder nonce, and posts it with `body` to `path`."""
        info = self._get("/v1/ledger")
        me = self._get(f"/v1/parties/{self.address}")
        request = ForwardRequest(
            sender=self.address,
            to=info["contracts"][contract],
            gas=gas,
            nonce=int(me["forwarder_nonce"]),
            deadline=int(time.time()) + DEFAULT_VALIDITY if deadline is None else deadline,
            data=data,
        )
        signature = request.sign(info["chain_id"], info["contracts"]["LedgerForwarder"], self.account.key)
        signed = {
            **body,
            "authority": self.address,
            "nonce": request.nonce,
            "deadline": request.deadline,
            "signature": "0x" + signature.hex(),
        }
        response = self.http.post(path, json=signed)
        if response.status_code >= 400:
            raise ClientError(response.status_code, response.json())
        return dict(response.json())

    def wait_confirmed(self, record_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """The record once it is confirmed or failed, or as it stands after `timeout`
        seconds: the service holds each read until then (`?wait=`, at most
        MAX_WAIT_SECONDS a request). A read it answers at once, holding too many for this
        credential already, is asked again after EARLY_ANSWER_PAUSE."""
        deadline = time.monotonic() + timeout
        while True:
            asked = time.monotonic()
            wait = min(max(0.0, deadline - asked), MAX_WAIT_SECONDS)
            # Room beyond the wait for the answer itself, whatever the client's own timeout.
            response = self.http.get(f"/v1/records/{record_id}", params={"wait": f"{wait:.3f}"}, timeout=wait + 10)
            if response.status_code >= 400:
                raise ClientError(response.status_code, response.json())
            record = dict(response.json())
            now = time.monotonic()
            if record["status"] in ("confirmed", "failed") or now >= deadline:
                return record
            if now - asked < wait - 0.05:  # answered early, not waited (too many reads held open)
                time.sleep(min(EARLY_ANSWER_PAUSE, max(0.0, deadline - now)))

    def close(self) -> None:
        self.http.close()
