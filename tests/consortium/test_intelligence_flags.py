"""Intelligence flags between instances (#16), on the consortium of tests/support/consortium.py
with a third instance, Singapore Customs': Japan Customs flags the demo's exporter; the
flag is sealed at Japan's instance for the Netherlands (Japan's MRA partner), shared on
chain by Japan's signature, fetched by the Dutch instance, opened and checked against the
chain, and the Dutch lane turns RED naming it. Singapore, not a recipient, can read
nothing of it and its lane does not change. A tampered document is refused; a verdict as
of a block before the flag does not fire it; withdrawal stops it; every read is logged.
Japan's own verdicts fire its flag; the exporter's answer is computed without it; the
Dutch instance reports its use of the flag to Japan's, which shows it to the author.

The chain mines every 2 seconds once the setup is done: the waits below are a few blocks."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from support import peers
from support.consortium import Consortium, Instance, _instance, consortium
from support.forwarding import JP_CUSTOMS, NL_CUSTOMS, SG_CUSTOMS
from support.service import wait_until

from ledger_api import demo
from ledger_api.chain.artifacts import load_artifacts
from ledger_api.chain.deploy import Manifest
from ledger_api.domain.forwarding import INTELLIGENCE_FUNCTIONS, ForwardRequest, intelligence_calldata
from ledger_api.domain.peer_tokens import AUTH_SCHEME
from ledger_api.services.flags import Flags
from ledger_api.settings import ANVIL_DEV_KEYS, PROJECT_ROOT
from ledger_api.store import flags as flag_store

DELIVERED = f"{demo.UCR_PREFIX}0001"
VIA_SINGAPORE = f"{demo.UCR_PREFIX}0004"  # transhipped in Singapore: SG customs sees it
EXPORTER = demo.EXPORTER_P.account.address
FLAG_RULES = {"R010", "R011"}


@dataclass
class Three:
    c: Consortium
    sg: Instance

    @property
    def jp(self) -> Instance:
        return self.c.jp

    @property
    def nl(self) -> Instance:
        return self.c.nl


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Three]:
    tmp = tmp_path_factory.mktemp("intelligence")
    with consortium(tmp) as c:
        manifest = Manifest.load(c.manifest_path)
        demo.seed(c.jp.url, manifest, PROJECT_ROOT / "build", c.node.url, c.jp.credential)
        with _instance("SG", SG_CUSTOMS.address, ANVIL_DEV_KEYS[7], tmp / "sg", c.node, c.manifest_path) as sg:
            c.interval_mining()
            yield Three(c, sg)


def verification(instance: Instance, ucr: str, country: str, **params: Any) -> dict[str, Any]:
    response = instance.http.get(f"/v1/consignments/{ucr}/verification", params={"country": country, **params})
    assert response.status_code == 200, response.text
    return dict(response.json())


def fired(result: dict[str, Any]) -> dict[str, str]:
    return {f["id"]: f["reason"] for f in result["risk"]["fired"]}


def worklist_line(instance: Instance, ucr: str) -> dict[str, Any] | None:
    """`ucr`'s line in the instance's own country's worklist (decided or not), once every
    line is ranked."""
    page = instance.http.get("/v1/worklist", params={"country": "NL", "status": "all", "limit": 100}).json()
    if page["pending"]:
        return None
    return next((item for item in page["items"] if item["ucr"] == ucr), None)


def complete(instance: Instance, ucr: str, country: str) -> bool:
    """Whether the instance holds every payload it needs for its verdict on `ucr`."""
    response = instance.http.get(f"/v1/consignments/{ucr}/verification", params={"country": country})
    return response.status_code == 200 and response.json()["verdict"] != "INCOMPLETE"


def signed(instance: Instance, authority: Any, sign: dict[str, Any]) -> dict[str, Any]:
    deadline = int(time.time()) + 600
    request = ForwardRequest(
        sender=authority.address,
        to=sign["to"],
        gas=sign["gas"],
        nonce=sign["nonce"],
        deadline=deadline,
        data=bytes.fromhex(sign["data"][2:]),
    )
    signature = request.sign(sign["chain_id"], sign["forwarder"], authority.key)
    return {
        "authority": authority.address,
        "nonce": sign["nonce"],
        "deadline": deadline,
        "signature": "0x" + signature.hex(),
    }


def flag_body(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    body = {
        "subject": {"type": "PARTY", "address": EXPORTER},
        "category": "SANCTIONED_PARTY",
        "severity": "HIGH",
        "text": "Exporter named in a sanctions notice; goods of dual use suspected.",
        "valid_from": now - 3600,
        "valid_until": now + 30 * 86400,
    }
    return body | overrides


def problem(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["code"], body["errors"][0]["field"] if body.get("errors") else ""


@dataclass
class Shared:
    flag_id: int
    block: int
    before: dict[str, Any]  # the Dutch verdict on DELIVERED before the flag
    sg_before: dict[str, Any]  # Singapore's verdict on VIA_SINGAPORE before the flag


@pytest.fixture(scope="module")
def shared(three: Three) -> Shared:
    """Japan flags the exporter, for its default recipients, once the Dutch and the
    Singapore verdicts stand without it."""
    wait_until(lambda: complete(three.nl, DELIVERED, "NL"), timeout=120, what="NL verifies the delivered consignment")
    wait_until(lambda: complete(three.sg, VIA_SINGAPORE, "SG"), timeout=120, what="SG verifies the transhipment")
    before = verification(three.nl, DELIVERED, "NL")
    sg_before = verification(three.sg, VIA_SINGAPORE, "SG")
    # The Dutch worklist's lines computed before the flag: it must judge them again.
    wait_until(lambda: worklist_line(three.nl, DELIVERED) is not None, timeout=120, what="NL's worklist line")
    assert not FLAG_RULES & {f["id"] for f in worklist_line(three.nl, DELIVERED)["fired"]}  # type: ignore[index]
    sealed = three.jp.http.post("/v1/flags", json=flag_body())
    assert sealed.status_code == 201, sealed.text
    draft = sealed.json()
    assert draft["author"] == JP_CUSTOMS.address
    assert draft["recipients"] == [NL_CUSTOMS.address]  # the MRA partner; Singapore has no MRA with Japan
    sent = three.jp.http.post(
        f"/v1/flags/{draft['content_hash']}/share", json=signed(three.jp, JP_CUSTOMS, draft["sign"])
    )
    assert sent.status_code == 202, sent.text

    def indexed() -> list[dict[str, Any]]:
        return [f for f in three.jp.http.get("/v1/flags").json()["flags"] if f["content_hash"] == draft["content_hash"]]

    wait_until(indexed, timeout=60, what="the flag on chain at JP")
    flag = indexed()[0]
    return Shared(flag["id"], flag["block_number"], before, sg_before)


def test_the_dutch_lane_turns_red_naming_the_flag_shared_by_japan(three: Three, shared: Shared):
    assert not FLAG_RULES & set(fired(shared.before))

    def held() -> bool:
        return bool(three.nl.http.get(f"/v1/flags/{shared.flag_id}").json().get("held"))

    wait_until(held, timeout=60, what="the Dutch instance holds the flag")
    flag = three.nl.http.get(f"/v1/flags/{shared.flag_id}").json()
    assert flag["content"]["subject"] == {"type": "PARTY", "address": EXPORTER}
    assert flag["content"]["category"] == "SANCTIONED_PARTY"
    assert flag["reads"] == []  # the author's view only

    after = verification(three.nl, DELIVERED, "NL")
    assert after["risk"]["lane"] == "RED"
    reasons = fired(after)
    assert set(reasons) >= FLAG_RULES
    assert f"flag {shared.flag_id} from JP (SANCTIONED_PARTY, HIGH) names party {EXPORTER}" in reasons["R010"]
    assert three.nl.http.get(f"/v1/flags/{shared.flag_id}").json()["uses"] >= 1


def test_the_dutch_worklist_ranks_the_flagged_consignment_by_the_flag(three: Three, shared: Shared):
    """The worklist reads the flags as the verdict does: the line computed before the flag
    is judged again once the Dutch instance holds it."""

    def flagged() -> bool:
        line = worklist_line(three.nl, DELIVERED)
        return line is not None and {f["id"] for f in line["fired"]} >= FLAG_RULES

    wait_until(flagged, timeout=120, what="the Dutch worklist line fires the flag")
    line = worklist_line(three.nl, DELIVERED)
    assert line is not None and line["lane"] == "RED"


def test_a_verdict_as_of_a_block_before_the_flag_does_not_fire_it(three: Three, shared: Shared):
    wait_until(lambda: three.nl.http.get(f"/v1/flags/{shared.flag_id}").json()["held"], timeout=60, what="held")
    earlier = verification(three.nl, DELIVERED, "NL", at_block=shared.block - 1)
    assert not FLAG_RULES & set(fired(earlier))
    at_flag = verification(three.nl, DELIVERED, "NL", at_block=shared.block)
    assert set(fired(at_flag)) >= FLAG_RULES


def test_a_traders_answer_is_computed_as_if_no_flag_existed_while_the_recipient_customs_lane_is_red(
    three: Three, shared: Shared
):
    """A lane that moved would tell the exporter it was flagged: its lane, score, fired rules
    and receipt are those of the verdict before the flag; the Dutch customs' are RED."""
    wait_until(lambda: three.nl.http.get(f"/v1/flags/{shared.flag_id}").json()["held"], timeout=60, what="held")
    token = three.nl.credential(EXPORTER)
    response = three.nl.http.get(
        f"/v1/consignments/{DELIVERED}/verification",
        params={"country": "NL"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    trader = response.json()
    customs = verification(three.nl, DELIVERED, "NL")
    assert customs["risk"]["lane"] == "RED" and set(fired(customs)) >= FLAG_RULES
    assert trader["as_of_block"] >= shared.block  # the flag is in force at the trader's block
    no_flag = shared.before["risk"]
    assert (trader["risk"]["lane"], trader["risk"]["score"]) == (no_flag["lane"], no_flag["score"])
    assert trader["risk"]["score"] < customs["risk"]["score"]
    assert fired(trader) == fired(shared.before)
    assert all("flag" not in f["reason"] for f in trader["risk"]["fired"])
    claims = json.loads(base64.urlsafe_b64decode(trader["receipt"].split(".")[1] + "=="))
    assert claims["risk"] == {"lane": no_flag["lane"], "score": no_flag["score"], "fired": list(fired(shared.before))}


def test_japan_sees_its_own_flag_fire_on_its_own_verdicts(three: Three, shared: Shared):
    """The author knows its flag: Japan's verdict on the exporter's consignment fires it."""
    mine = verification(three.jp, DELIVERED, "JP")
    reasons = fired(mine)
    assert set(reasons) >= FLAG_RULES
    assert f"flag {shared.flag_id} from JP (SANCTIONED_PARTY, HIGH) names party {EXPORTER}" in reasons["R010"]
    before = verification(three.jp, DELIVERED, "JP", at_block=shared.block - 1)
    assert not FLAG_RULES & set(fired(before))
    assert mine["risk"]["score"] > before["risk"]["score"]


def test_the_author_sees_that_the_dutch_instance_received_its_flag_and_how_often_it_fired(three: Three, shared: Shared):
    """The Dutch instance reports its use of the flag to Japan's in a signed peer request;
    Japan's view of its flag shows, per recipient, when it was received, last used, and
    on how many verdicts and worklist lines it fired."""
    wait_until(lambda: three.nl.http.get(f"/v1/flags/{shared.flag_id}").json()["held"], timeout=60, what="held")
    verification(three.nl, DELIVERED, "NL")  # one more verdict that fires it
    at_nl = three.nl.http.get(f"/v1/flags/{shared.flag_id}").json()
    assert at_nl["uses"] >= 1 and at_nl["last_used_at"] is not None
    assert at_nl["used_by"] == []  # the author's view only

    def reported() -> dict[str, Any] | None:
        used_by = three.jp.http.get(f"/v1/flags/{shared.flag_id}").json()["used_by"]
        nl = next((u for u in used_by if u["recipient"] == NL_CUSTOMS.address), None)
        return nl if nl is not None and nl["verdicts"] >= 1 and nl["last_used_at"] is not None else None

    wait_until(reported, timeout=90, what="JP hears that NL used the flag")
    nl = reported()
    assert nl is not None
    assert nl["times_used"] == nl["verdicts"] + nl["worklist_lines"] >= 1
    assert nl["received_at"] <= nl["last_used_at"] <= nl["reported_at"] + 5
    assert {u["recipient"] for u in three.jp.http.get(f"/v1/flags/{shared.flag_id}").json()["used_by"]} == {
        NL_CUSTOMS.address
    }


def test_a_use_report_is_taken_only_from_a_recipients_instance_and_only_with_the_figures_it_signed(
    three: Three, shared: Shared
):
    nl_key = three.nl.runtime.instance.peer_signing_key().private  # type: ignore[union-attr]
    sg_key = three.sg.runtime.instance.peer_signing_key().private  # type: ignore[union-attr]
    now = int(time.time())
    path = f"/v1/peer/flags/{shared.flag_id}/uses?received_at={now}&verdicts=99&worklist_lines=0"

    def post(key: Any, authority: str, signed_path: str, sent_path: str) -> httpx.Response:
        token = peers.token(key, authority, JP_CUSTOMS.address, signed_path, method="POST")
        return httpx.post(three.jp.url + sent_path, headers={"Authorization": f"{AUTH_SCHEME} {token}"})

    unknown_path = f"/v1/peer/flags/999999/uses?received_at={now}&verdicts=99&worklist_lines=0"
    unknown = post(sg_key, SG_CUSTOMS.address, unknown_path, unknown_path)
    assert unknown.status_code == 404 and unknown.json()["detail"] == "no flag 999999"
    refused = post(sg_key, SG_CUSTOMS.address, path, path)  # Singapore is no recipient
    assert refused.status_code == 404 and refused.json()["detail"] == f"no flag {shared.flag_id}"
    altered = post(nl_key, NL_CUSTOMS.address, path, path.replace("verdicts=99", "verdicts=98"))
    assert altered.status_code == 404
    used_by = three.jp.http.get(f"/v1/flags/{shared.flag_id}").json()["used_by"]
    assert all(u["verdicts"] not in (98, 99) for u in used_by)
    assert all(u["recipient"] != SG_CUSTOMS.address for u in used_by)


def test_singapore_not_a_recipient_reads_nothing_and_its_lane_does_not_change(three: Three, shared: Shared):
    path = f"/v1/peer/flags/{shared.flag_id}"
    key = three.sg.runtime.instance.peer_signing_key().private  # type: ignore[union-attr]
    as_sg = peers.token(key, SG_CUSTOMS.address, JP_CUSTOMS.address, path)
    refused = httpx.get(three.jp.url + path, headers={"Authorization": f"{AUTH_SCHEME} {as_sg}"})
    unknown_path = "/v1/peer/flags/999999"
    unknown = httpx.get(
        three.jp.url + unknown_path,
        headers={
            "Authorization": f"{AUTH_SCHEME} {peers.token(key, SG_CUSTOMS.address, JP_CUSTOMS.address, unknown_path)}"
        },
    )
    assert refused.status_code == unknown.status_code == 404
    assert refused.json()["detail"] == f"no flag {shared.flag_id}"
    assert unknown.json()["detail"] == "no flag 999999"

    # Singapore's instance sees the flag on chain (the consortium audits it) and holds nothing of it.
    wait_until(lambda: _indexed(three.sg, shared.flag_id), timeout=60, what="SG indexed the flag")
    assert three.sg.http.get(f"/v1/flags/{shared.flag_id}").status_code == 404
    assert three.sg.http.get("/v1/flags").json()["flags"] == []
    # JP's instance answers Singapore customs' credential as for an unknown flag too.
    sg_at_jp = {"Authorization": f"Bearer {three.jp.credential(SG_CUSTOMS.address)}"}
    response = three.jp.http.get(f"/v1/flags/{shared.flag_id}", headers=sg_at_jp)
    assert response.status_code == 404 and response.json()["detail"] == f"no flag {shared.flag_id}"

    after = verification(three.sg, VIA_SINGAPORE, "SG")
    assert after["risk"]["lane"] == shared.sg_before["risk"]["lane"]
    assert fired(after) == fired(shared.sg_before)


def _indexed(instance: Instance, flag_id: int) -> bool:
    assert instance.runtime.store is not None
    with instance.runtime.store.session() as session:
        return flag_store.flag(session, flag_id) is not None


def test_a_tampered_document_is_refused_and_nothing_of_it_is_kept(three: Three, shared: Shared):
    assert three.jp.runtime.store is not None and three.nl.runtime.store is not None
    with three.jp.runtime.store.session() as session:
        state = flag_store.flag(session, shared.flag_id)
        assert state is not None
        held = flag_store.document_of(session, "0x" + state.shared.content_hash.hex())
        assert held is not None
    tampered = held.document.replace(b'"ciphertext":"', b'"ciphertext":"A', 1)

    class Tampering:
        def document(self, *_: Any, **__: Any) -> bytes:
            return tampered

    real = three.nl.runtime.flags
    assert real is not None
    nl = Flags(
        three.nl.runtime.store,
        real.authority,
        real.country,
        real.encryption_key,
        writes=None,
        book=None,
        authenticate=None,
        fetcher=Tampering(),
        signing_key=real.signing_key,
    )
    with three.nl.runtime.store.session() as session:
        before = flag_store.version(session)
    assert nl._fetch(state.shared) is False
    with three.nl.runtime.store.session() as session:
        assert flag_store.version(session) == before
        refused = flag_store.flag(session, shared.flag_id)
        assert refused is not None and refused.fetch_error is not None
        assert "HASH_MISMATCH" in refused.fetch_error


def test_every_read_is_logged_and_the_author_sees_who_fetched_it(three: Three, shared: Shared):
    wait_until(lambda: three.nl.http.get(f"/v1/flags/{shared.flag_id}").json()["held"], timeout=60, what="held")
    three.nl.http.get(f"/v1/flags/{shared.flag_id}")
    assert three.nl.runtime.store is not None
    with three.nl.runtime.store.session() as session:
        reads = flag_store.reads_of(session, shared.flag_id)
    assert reads and all(r.reader == NL_CUSTOMS.address and r.kind == "person" for r in reads)

    mine = three.jp.http.get(f"/v1/flags/{shared.flag_id}").json()
    assert mine["content"]["text"].startswith("Exporter named")
    kinds = {(r["reader"], r["kind"]) for r in mine["reads"]}
    assert (NL_CUSTOMS.address, "peer") in kinds  # the Dutch instance fetched it
    assert (JP_CUSTOMS.address, "person") in kinds  # this read, logged before it was answered


def test_sealing_refuses_what_the_chain_would_and_names_the_field(three: Three):
    bad = three.jp.http.post("/v1/flags", json=flag_body(category="SMUGGLING"))
    assert problem(bad) == (422, "VALIDATION", "category")
    no_subject = {k: v for k, v in flag_body().items() if k != "subject"}
    assert problem(three.jp.http.post("/v1/flags", json=no_subject)) == (422, "VALIDATION", "subject")
    hs = three.jp.http.post("/v1/flags", json=flag_body(subject={"type": "HS_CODE", "prefix": "93.01"}))
    assert hs.status_code == 422 and hs.json()["code"] == "VALIDATION"
    expired = three.jp.http.post("/v1/flags", json=flag_body(valid_from=1, valid_until=2))
    assert problem(expired) == (422, "EXPIRED_FLAG", "valid_until")
    own = three.jp.http.post("/v1/flags", json=flag_body(recipients=[JP_CUSTOMS.address]))
    assert problem(own) == (422, "OWN_COUNTRY_RECIPIENT", "recipients.0")
    not_authority = three.jp.http.post("/v1/flags", json=flag_body(recipients=[EXPORTER]))
    assert problem(not_authority) == (422, "INVALID_RECIPIENT", "recipients.0")


def test_only_the_instances_customs_shares_flags_here(three: Three):
    exporter = {"Authorization": f"Bearer {three.jp.credential(EXPORTER)}"}
    assert problem(three.jp.http.post("/v1/flags", json=flag_body(), headers=exporter))[:2] == (403, "NOT_AN_AUTHOR")
    nl_at_jp = {"Authorization": f"Bearer {three.jp.credential(NL_CUSTOMS.address)}"}
    assert problem(three.jp.http.post("/v1/flags", json=flag_body(), headers=nl_at_jp))[:2] == (403, "NOT_AN_AUTHOR")
    assert (
        three.jp.http.post("/v1/flags", json=flag_body(), headers={"Authorization": "Bearer nope"}).status_code == 401
    )


def test_while_the_authors_instance_is_down_the_recipient_asks_again_and_holds_the_flag_once_it_is_back(
    three: Three, shared: Shared
):
    three.c.jp_relay.up = False
    try:
        body = flag_body(subject={"type": "HS_CODE", "prefix": "9999"}, severity="LOW", category="UNDERVALUATION")
        draft = three.jp.http.post("/v1/flags", json=body).json()
        sent = three.jp.http.post(
            f"/v1/flags/{draft['content_hash']}/share", json=signed(three.jp, JP_CUSTOMS, draft["sign"])
        )
        assert sent.status_code == 202, sent.text

        def at_nl() -> dict[str, Any] | None:
            listed = three.nl.http.get("/v1/flags").json()["flags"]
            return next((f for f in listed if f["content_hash"] == draft["content_hash"]), None)

        wait_until(lambda: (at_nl() or {}).get("fetch_error"), timeout=60, what="NL failed to reach JP")
        flag = at_nl()
        assert flag is not None and not flag["held"]
        assert "could not be asked" in flag["fetch_error"]
    finally:
        three.c.jp_relay.up = True
    wait_until(lambda: (at_nl() or {}).get("held"), timeout=60, what="NL holds the flag once JP is back")
    assert (at_nl() or {})["fetch_error"] is None


def withdrawal(three: Three, flag_id: int, signer: Any) -> dict[str, Any]:
    """What `signer` signs to withdraw flag `flag_id` through Japan's instance."""
    party = three.jp.http.get(f"/v1/parties/{signer.address}").json()
    ledger = three.jp.http.get("/v1/ledger").json()
    return {
        "to": ledger["contracts"]["IntelligenceLedger"],
        "gas": 150_000,
        "nonce": party["forwarder_nonce"],
        "data": "0x" + _withdraw_call(flag_id).hex(),
        "chain_id": ledger["chain_id"],
        "forwarder": ledger["contracts"]["LedgerForwarder"],
    }


def test_a_recipient_may_not_withdraw_the_flag_and_is_told_why_a_non_recipient_is_told_there_is_none(
    three: Three, shared: Shared
):
    nl_at_jp = {"Authorization": f"Bearer {three.jp.credential(NL_CUSTOMS.address)}"}
    by_nl = signed(three.jp, NL_CUSTOMS, withdrawal(three, shared.flag_id, NL_CUSTOMS))
    recipient = three.jp.http.request("DELETE", f"/v1/flags/{shared.flag_id}", json=by_nl, headers=nl_at_jp)
    assert problem(recipient) == (403, "NOT_THE_AUTHOR", "authority")
    assert "only its author, or customs of JP, withdraws it" in recipient.json()["detail"]

    # Singapore customs, no recipient: to it there is no such flag, word for word.
    sg_at_jp = {"Authorization": f"Bearer {three.jp.credential(SG_CUSTOMS.address)}"}
    by_sg = signed(three.jp, SG_CUSTOMS, withdrawal(three, shared.flag_id, SG_CUSTOMS))
    refused = three.jp.http.request("DELETE", f"/v1/flags/{shared.flag_id}", json=by_sg, headers=sg_at_jp)
    unknown = three.jp.http.request("DELETE", "/v1/flags/999999", json=by_sg, headers=sg_at_jp)
    assert refused.status_code == unknown.status_code == 404
    assert refused.json()["detail"] == f"no flag {shared.flag_id}" and unknown.json()["detail"] == "no flag 999999"
    assert {k: v for k, v in refused.json().items() if k not in ("detail", "instance")} == {
        k: v for k, v in unknown.json().items() if k not in ("detail", "instance")
    }
    assert three.jp.http.get(f"/v1/flags/{shared.flag_id}").json()["withdrawn_at_block"] is None


def test_withdrawal_stops_the_rule_and_earlier_verdicts_keep_it(three: Three, shared: Shared):
    wait_until(lambda: three.nl.http.get(f"/v1/flags/{shared.flag_id}").json()["held"], timeout=60, what="held")
    sign = withdrawal(three, shared.flag_id, JP_CUSTOMS)
    response = three.jp.http.request("DELETE", f"/v1/flags/{shared.flag_id}", json=signed(three.jp, JP_CUSTOMS, sign))
    assert response.status_code == 202, response.text

    def withdrawn() -> int | None:
        block = three.nl.http.get(f"/v1/flags/{shared.flag_id}").json()["withdrawn_at_block"]
        return int(block) if block is not None else None

    wait_until(withdrawn, timeout=60, what="the withdrawal indexed at NL")
    wait_until(
        lambda: three.jp.http.get(f"/v1/flags/{shared.flag_id}").json()["withdrawn_at_block"] is not None,
        timeout=60,
        what="the withdrawal indexed at JP",
    )
    at = withdrawn()
    assert at is not None
    now = verification(three.nl, DELIVERED, "NL", at_block=at)
    assert not FLAG_RULES & set(fired(now))
    still = verification(three.nl, DELIVERED, "NL", at_block=at - 1)
    assert set(fired(still)) >= FLAG_RULES
    again = three.jp.http.request("DELETE", f"/v1/flags/{shared.flag_id}", json=signed(three.jp, JP_CUSTOMS, sign))
    assert problem(again)[:2] == (409, "ALREADY_WITHDRAWN")


def _withdraw_call(flag_id: int) -> bytes:
    return intelligence_calldata("withdraw", flag_id)


def test_the_flag_calls_an_author_signs_match_the_compiled_abi():
    abi = load_artifacts(PROJECT_ROOT / "build")["IntelligenceLedger"].abi
    functions = {f["name"]: [i["type"] for i in f["inputs"]] for f in abi if f["type"] == "function"}
    for name, types in INTELLIGENCE_FUNCTIONS.values():
        assert functions[name] == types
