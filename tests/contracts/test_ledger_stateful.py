"""Random sequences of signed records (declare, hand over, accept, decide, revoke,
transit, hop, packs of records through writeMany, replays, forged and stale records) and
party suspensions, against a Python model of the ledger's rules. Each step checks the
exact outcome; after each step the invariants check that records never change, each
consignment has the custodian and route of the model, and nonces only go up, by one per
record written."""

from inspect import getmembers
from types import FunctionType

import eth_abi
from brownie import chain, web3
from helpers import (
    CUSTODIANS,
    KIND,
    ROLES,
    ZERO_ADDRESS,
    ZERO_HASH,
    as_tuple,
    consignment_key,
    country,
    encode_error,
    ledger_domain,
    record_digest,
    reverts_with,
)
from hypothesis import HealthCheck
from hypothesis import settings as hp_settings
from hypothesis import stateful as sf
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

UCRS = ["9NL000000001-A", "9NL000000002-B", "9SG000000003-C"]
NAMES = [
    "exporter",
    "exporter_sg",
    "carrier",
    "carrier_sg",
    "terminal",
    "importer",
    "customs_nl",
    "customs_sg",
    "customs_de",
    "outsider",
]
ROUTES = [("NL", "SG"), ("SG", "JP"), ("JP", "NL"), ("NL", "NL")]
COUNTRIES = ["NL", "SG", "DE", "JP"]
KINDS = list(KIND)
SUSPENDABLE = ["exporter", "exporter_sg", "carrier", "carrier_sg", "terminal", "importer"]
AUTHORITY_OF = {"NL": "customs_nl", "SG": "customs_sg"}
RECORD_WRITTEN = "0x" + web3.keccak(
    text="RecordWritten(bytes32,bytes32,address,uint8,bytes32,bytes32,address,uint256)"
).hex().removeprefix("0x")


def b32(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def hexstr(value) -> str:
    return "0x" + bytes(value).hex()


def run_state_machine(rules: type, *args, settings: dict) -> None:
    """brownie.test's `state_machine`, same protocol (class attributes are strategies; a rule
    `rule_*` takes them by argument name or by a default naming one; `invariant_*` runs after
    every step; `setup` starts each example; `__init__` is called once on the class), in plain
    Python: brownie 1.22.2 ships that module compiled with mypyc, and its compiled
    `_BrownieStateMachine` refuses the subclass it generates ("TypeError:
    brownie.test.stateful._BrownieStateMachine object expected")."""
    strategies = {k: v for k, v in getmembers(rules) if isinstance(v, SearchStrategy)}

    class Machine(rules, sf.RuleBasedStateMachine):
        def __init__(self):
            chain.revert()
            sf.RuleBasedStateMachine.__init__(self)
            self.setup()

    for attr, fn in list(vars(rules).items()):
        if type(fn) is not FunctionType or not attr.startswith(("rule_", "invariant_")):
            continue
        names = fn.__code__.co_varnames[1 : fn.__code__.co_argcount]
        defaults = dict(zip(names[len(names) - len(fn.__defaults__ or ()) :], fn.__defaults__ or (), strict=False))
        given = {n: strategies[defaults.get(n, n)] for n in names}
        if attr.startswith("rule_"):
            setattr(Machine, attr, sf.rule(**given)(fn))
        elif attr.startswith("invariant_"):
            setattr(Machine, attr, sf.invariant()(fn))
    rules.__init__(Machine, *args)
    chain.snapshot()
    sf.run_state_machine_as_test(Machine, settings=hp_settings(**settings))


class LedgerMachine:
    st_ucr = st.sampled_from(UCRS)
    st_party = st.sampled_from(NAMES)
    st_named = st.sampled_from(["nobody", "pending", *NAMES])
    st_index = st.integers(min_value=0, max_value=10_000)
    st_flag = st.booleans()
    st_route = st.sampled_from(ROUTES)
    st_countries = st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=3)
    # (actor, consignment, kind, transit countries): a third of the records are what the holder of
    # the goods would write, a third what the party named in a handover would, a third anything.
    st_pack = st.lists(
        st.one_of(
            st.tuples(
                st.just("custodian"),
                st.sampled_from(UCRS),
                st.sampled_from(["HANDOVER", "TRANSIT", "REVOCATION"]),
                st_countries,
            ),
            st.tuples(st.just("pending"), st.sampled_from(UCRS), st.just("ACCEPTANCE"), st_countries),
            st.tuples(st.sampled_from(NAMES), st.sampled_from(UCRS), st.sampled_from(KINDS), st_countries),
        ),
        min_size=1,
        max_size=4,
    )

    outcomes = {"written": 0, "refused": 0}

    def __init__(self, book, cast, ledger, registry):
        self.book, self.cast, self.ledger, self.registry = book, cast, ledger, registry
        self.domain = ledger_domain(ledger)

    def setup(self):
        self.first_block = web3.eth.block_number + 1
        # consignment key -> (head, custodian, pending custodian), as consignmentOf returns them
        self.consignments = {consignment_key(u): (ZERO_HASH, ZERO_ADDRESS, ZERO_ADDRESS) for u in UCRS}
        self.routes = {consignment_key(u): [] for u in UCRS}  # consignment key -> route, as routeOf returns it
        self.nonces = {n: self.ledger.nonces(self.party(n).address) for n in NAMES}
        self.active = {n: n != "outsider" for n in NAMES}
        self.last_seen_nonces = dict(self.nonces)
        self.records = []  # every RecordWritten expected on chain, in order
        self.written = []  # (party, record, signature) of every record written, for replays
        # two consignments start declared, so that most steps act on goods in custody
        self.counting = False
        self.submit("exporter", *self.build("exporter", UCRS[0], "DECLARATION", previous=ZERO_HASH))
        self.submit("exporter_sg", *self.build("exporter_sg", UCRS[1], "DECLARATION", previous=ZERO_HASH))
        self.counting = True

    # ------------------------------------------------------------ model

    def party(self, name):
        return getattr(self.cast, name)

    def name_of(self, address):
        return next((n for n in NAMES if self.party(n).address == address), None)

    def roles_of(self, address):
        """Roles of an active party, None for a party that may not write."""
        name = self.name_of(address)
        return self.party(name).roles if name and self.active[name] else None

    def country_of(self, address):
        name = self.name_of(address)
        return self.party(name).country if name and self.party(name).country else None

    def on_route(self, key, address):
        return self.country_of(address) in self.routes[key]

    def not_on_route(self, key, party):
        code = self.country_of(party)
        return ("LedgerNotOnRoute", b32(key), party, country(code) if code else b"\x00\x00")

    def route_change(self, r):
        """The countries record `r` (assumed written) adds to its consignment's route."""
        key, kind, codes = r["consignment"], r["kind"], [bytes(c).decode() for c in r["route"]]
        if kind == KIND["DECLARATION"]:
            return codes
        if kind != KIND["TRANSIT"]:
            return []
        added = []
        for code in codes:
            if code not in self.routes[key] and code not in added:
                added.append(code)
        return added

    def verdict(self, r, rid):
        """The custom error the ledger must raise for record `r`, or None and the new state."""
        key, kind, party, cp, previous = r["consignment"], r["kind"], r["party"], r["counterparty"], r["previous"]
        head, custodian, pending = self.consignments[key]
        codes = [bytes(c) for c in r["route"]]
        allowed = {KIND["DECLARATION"]: (2, 2), KIND["TRANSIT"]: (1, 16)}.get(kind, (0, 0))
        if not allowed[0] <= len(codes) <= allowed[1]:
            return ("LedgerInvalidRouteLength", b32(key), kind, len(codes)), None
        if kind == KIND["DECLARATION"] and codes[0] == codes[1]:
            return ("LedgerSameOriginAndDestination", b32(key), codes[0]), None
        roles = self.roles_of(party)
        if roles is None:
            return ("LedgerPartyNotActive", party), None
        if kind == KIND["DECLARATION"]:
            if not roles & ROLES["EXPORTER"]:
                return ("LedgerMissingRole", party, ROLES["EXPORTER"]), None
            if head != ZERO_HASH:
                return ("LedgerConsignmentExists", b32(key)), None
            if previous != ZERO_HASH:
                return ("LedgerStalePrevious", b32(key), b32(ZERO_HASH), b32(previous)), None
            if cp != ZERO_ADDRESS:
                return ("LedgerInvalidCounterparty", b32(key), cp), None
            return None, (rid, party, ZERO_ADDRESS)
        if head == ZERO_HASH:
            return ("LedgerUnknownConsignment", b32(key)), None
        if previous != head:
            return ("LedgerStalePrevious", b32(key), b32(head), b32(previous)), None
        if kind == KIND["HANDOVER"]:
            if party != custodian:
                return ("LedgerNotCustodian", b32(key), party, custodian), None
            if pending != ZERO_ADDRESS:
                return ("LedgerHandoverPending", b32(key), pending), None
            if cp in (ZERO_ADDRESS, party):
                return ("LedgerInvalidCounterparty", b32(key), cp), None
            to_roles = self.roles_of(cp)
            if to_roles is None:
                return ("LedgerPartyNotActive", cp), None
            if not to_roles & CUSTODIANS:
                return ("LedgerMissingRole", cp, CUSTODIANS), None
            return None, (rid, custodian, cp)
        if kind == KIND["ACCEPTANCE"]:
            if party != pending:
                return ("LedgerNotPendingCustodian", b32(key), party, pending), None
            if cp != custodian:
                return ("LedgerInvalidCounterparty", b32(key), cp), None
            return None, (rid, party, ZERO_ADDRESS)
        if kind == KIND["CUSTOMS_DECISION"]:
            if not roles & ROLES["CUSTOMS"]:
                return ("LedgerMissingRole", party, ROLES["CUSTOMS"]), None
            if not self.on_route(key, party):
                return self.not_on_route(key, party), None
            if cp != ZERO_ADDRESS:
                return ("LedgerInvalidCounterparty", b32(key), cp), None
            return None, (rid, custodian, pending)
        if kind == KIND["TRANSIT"]:
            if party != custodian:
                return ("LedgerNotCustodian", b32(key), party, custodian), None
            if cp != ZERO_ADDRESS:
                return ("LedgerInvalidCounterparty", b32(key), cp), None
            return None, (rid, custodian, pending)
        is_custodian = party == custodian
        if not is_custodian and not roles & ROLES["CUSTOMS"]:
            return ("LedgerNotCustodian", b32(key), party, custodian), None
        if not is_custodian and not self.on_route(key, party):
            return self.not_on_route(key, party), None
        if cp != ZERO_ADDRESS:
            if not is_custodian or cp != pending:
                return ("LedgerInvalidCounterparty", b32(key), cp), None
            pending = ZERO_ADDRESS
        return None, (rid, custodian, pending)

    def build(self, name, ucr, kind, counterparty=ZERO_ADDRESS, **fields):
        record = self.book.record(self.party(name), ucr, kind, counterparty=counterparty, **fields)
        return record, record_digest(self.domain, record)

    def accepted(self, name, record, rid, signature, new_state, event):
        """The model's side of a record the ledger wrote; checks the event against the record."""
        assert hexstr(event["recordId"]) == rid
        fields = (
            record["consignment"],
            rid,
            record["party"],
            record["kind"],
            record["payloadHash"],
            record["previous"],
            record["counterparty"],
            record["nonce"],
        )
        got = (
            hexstr(event["consignment"]),
            hexstr(event["recordId"]),
            event["party"],
            event["kind"],
            hexstr(event["payloadHash"]),
            hexstr(event["previous"]),
            event["counterparty"],
            event["nonce"],
        )
        assert got == fields
        self.records.append(fields)
        self.routes[record["consignment"]] += self.route_change(record)
        self.consignments[record["consignment"]] = new_state
        self.nonces[name] += 1
        self.written.append((name, record, signature))
        type(self).outcomes["written"] += self.counting

    def submit(self, name, record, rid):
        signature = self.book.sign(self.party(name), record)
        before = self.consignments[record["consignment"]]
        error, new_state = self.verdict(record, rid)
        if error:
            with reverts_with(*error):
                self.book.send(record, signature)
            type(self).outcomes["refused"] += 1
            return
        tx = self.book.send(record, signature)
        added = self.route_change(record)
        self.accepted(name, record, rid, signature, new_state, tx.events["RecordWritten"][0])
        self.check_route_event(tx, rid, added)
        if record["kind"] == KIND["ACCEPTANCE"]:
            (moved,) = tx.events["CustodyTransferred"]
            assert (moved["from"], moved["to"], hexstr(moved["recordId"])) == (before[1], record["party"], rid)
        else:
            assert "CustodyTransferred" not in tx.events

    def check_route_event(self, tx, rid, added):
        events = [e for e in tx.events["RouteExtended"] if hexstr(e["recordId"]) == rid] if added else []
        if added:
            (event,) = events
            assert [bytes(c).decode() for c in event["countries"]] == added
        else:
            assert "RouteExtended" not in tx.events or all(
                hexstr(e["recordId"]) != rid for e in tx.events["RouteExtended"]
            )

    def named(self, ucr, who):
        if who == "nobody":
            return ZERO_ADDRESS
        if who == "pending":
            return self.consignments[consignment_key(ucr)][2]
        return self.party(who).address

    # ------------------------------------------------------------ rules

    def rule_declare(self, ucr="st_ucr", party="st_party", route="st_route"):
        self.submit(party, *self.build(party, ucr, "DECLARATION", previous=ZERO_HASH, route=route))

    def rule_transit(self, ucr="st_ucr", party="st_party", countries="st_countries"):
        self.submit(party, *self.build(party, ucr, "TRANSIT", route=countries))

    def rule_custodian_adds_transit(self, ucr="st_ucr", countries="st_countries"):
        custodian = self.name_of(self.consignments[consignment_key(ucr)][1])
        if custodian:
            self.rule_transit(ucr, custodian, countries)

    def rule_write_many(self, picks="st_pack"):
        """A pack of records, each built on the state the model expects after the ones
        before it: each is written or rejected with the custom error the model names."""
        records, signatures, expected = [], [], []
        saved = (dict(self.consignments), {k: list(v) for k, v in self.routes.items()}, dict(self.nonces))
        for actor, ucr, kind, countries in picks:
            key = consignment_key(ucr)
            _, custodian, pending = self.consignments[key]
            who = {"custodian": custodian, "pending": pending}.get(actor)
            name = self.name_of(who) if actor in ("custodian", "pending") else actor
            if name is None:
                continue
            counterparty = {"HANDOVER": self.party("carrier").address, "ACCEPTANCE": custodian}.get(kind, ZERO_ADDRESS)
            fields = {"previous": ZERO_HASH} if kind == "DECLARATION" else {"previous": self.consignments[key][0]}
            if kind == "TRANSIT":
                fields["route"] = countries
            record, rid = self.build(name, ucr, kind, counterparty, nonce=self.nonces[name], **fields)
            error, new_state = self.verdict(record, rid)
            if not error:
                self.routes[key] += self.route_change(record)
                self.consignments[key] = new_state
                self.nonces[name] += 1
            records.append(record)
            signatures.append(self.book.sign(self.party(name), record))
            expected.append((name, record, rid, error, new_state))
        self.consignments, self.routes, self.nonces = saved[0], saved[1], saved[2]
        if not records:
            return
        tx = self.ledger.writeMany([as_tuple(r) for r in records], signatures, {"from": self.book.relayer})
        outcomes = [e for e in tx.events if e.name in ("RecordWritten", "RecordRejected")]
        assert len(outcomes) == len(expected)
        assert tx.return_value == sum(1 for *_, error, _ in expected if error is None)
        for (name, record, rid, error, new_state), event, signature in zip(expected, outcomes, signatures, strict=True):
            if error:
                assert event.name == "RecordRejected"
                assert (hexstr(event["consignment"]), hexstr(event["recordId"]), event["party"]) == (
                    record["consignment"],
                    rid,
                    record["party"],
                )
                assert bytes(event["reason"]) == encode_error(*error)
                type(self).outcomes["refused"] += 1
            else:
                assert event.name == "RecordWritten"
                self.check_route_event(tx, rid, self.route_change(record))
                self.accepted(name, record, rid, signature, new_state, event)

    def rule_hand_over(self, ucr="st_ucr", party="st_party", to="st_named"):
        self.submit(party, *self.build(party, ucr, "HANDOVER", self.named(ucr, to)))

    def rule_custodian_hands_over(self, ucr="st_ucr", to="st_party", accept="st_flag"):
        """The holder of the goods hands them over, and the party named accepts at once or not."""
        custodian = self.name_of(self.consignments[consignment_key(ucr)][1])
        if custodian:
            self.submit(custodian, *self.build(custodian, ucr, "HANDOVER", self.party(to).address))
            if accept:
                self.rule_pending_custodian_accepts(ucr)

    def rule_custodian_hops(self, ucr="st_ucr", to="st_party"):
        custodian = self.name_of(self.consignments[consignment_key(ucr)][1])
        if custodian:
            self.rule_hop(ucr, custodian, to)

    def rule_accept(self, ucr="st_ucr", party="st_party", giver="st_party"):
        self.submit(party, *self.build(party, ucr, "ACCEPTANCE", self.party(giver).address))

    def rule_pending_custodian_accepts(self, ucr="st_ucr"):
        _, custodian, pending = self.consignments[consignment_key(ucr)]
        name = self.name_of(pending)
        if name:
            self.submit(name, *self.build(name, ucr, "ACCEPTANCE", custodian))

    def rule_decide(self, ucr="st_ucr", party="st_party"):
        self.submit(party, *self.build(party, ucr, "CUSTOMS_DECISION"))

    def rule_revoke(self, ucr="st_ucr", party="st_party", named="st_named"):
        self.submit(party, *self.build(party, ucr, "REVOCATION", self.named(ucr, named)))

    def rule_decide_on_a_stale_head(self, ucr="st_ucr", index="st_index"):
        key = consignment_key(ucr)
        old = [ZERO_HASH] + [rec[1] for rec in self.records if rec[0] == key]
        self.submit("customs_nl", *self.build("customs_nl", ucr, "CUSTOMS_DECISION", previous=old[index % len(old)]))

    def rule_hop(self, ucr="st_ucr", party="st_party", to="st_party"):
        key = consignment_key(ucr)
        handover, handover_id = self.build(party, ucr, "HANDOVER", self.party(to).address)
        nonce = self.nonces[to] + (1 if to == party else 0)
        acceptance, acceptance_id = self.build(
            to, ucr, "ACCEPTANCE", self.consignments[key][1], previous=handover_id, nonce=nonce
        )
        error, after_handover = self.verdict(handover, handover_id)
        if not error:
            saved = self.consignments[key]
            self.consignments[key] = after_handover
            error, after_acceptance = self.verdict(acceptance, acceptance_id)
            self.consignments[key] = saved
        signatures = self.book.sign(self.party(party), handover), self.book.sign(self.party(to), acceptance)
        args = (as_tuple(handover), signatures[0], as_tuple(acceptance), signatures[1], {"from": self.book.relayer})
        if error:
            with reverts_with(*error):
                self.ledger.writeHop(*args)
            type(self).outcomes["refused"] += 1
            return
        tx = self.ledger.writeHop(*args)
        first, second = tx.events["RecordWritten"]
        self.accepted(party, handover, handover_id, signatures[0], after_handover, first)
        self.accepted(to, acceptance, acceptance_id, signatures[1], after_acceptance, second)
        assert len(tx.events["CustodyTransferred"]) == 1

    def rule_replay_a_written_record(self, index="st_index"):
        if self.written:
            name, record, signature = self.written[index % len(self.written)]
            with reverts_with("InvalidAccountNonce", self.party(name).address, self.nonces[name]):
                self.book.send(record, signature)
            type(self).outcomes["refused"] += 1

    def rule_forge_a_record_for_someone_else(self, ucr="st_ucr", party="st_party", forger="st_party"):
        if party != forger:
            record, _ = self.build(party, ucr, "CUSTOMS_DECISION")
            with reverts_with("LedgerInvalidSigner", self.party(forger).address, self.party(party).address):
                self.book.send(record, self.book.sign(self.party(forger), record))
            type(self).outcomes["refused"] += 1

    def rule_suspend_or_reinstate(self, index="st_index"):
        name = SUSPENDABLE[index % len(SUSPENDABLE)]
        party = self.party(name)
        authority = self.party(AUTHORITY_OF[party.country]).account
        if self.active[name]:
            self.registry.suspendParty(party.address, {"from": authority})
        else:
            self.registry.reinstateParty(party.address, {"from": authority})
        self.active[name] = not self.active[name]

    # ------------------------------------------------------------ invariants

    def invariant_records_never_change(self):
        latest = web3.eth.block_number
        logs = (
            []
            if latest < self.first_block
            else web3.eth.get_logs(
                {
                    "address": self.ledger.address,
                    "fromBlock": self.first_block,
                    "toBlock": latest,
                    "topics": [RECORD_WRITTEN],
                }
            )
        )
        on_chain = []
        for log in logs:
            kind, payload, previous, counterparty, nonce = eth_abi.decode(
                ["uint8", "bytes32", "bytes32", "address", "uint256"], bytes(log["data"])
            )
            party = web3.to_checksum_address(bytes(log["topics"][3])[12:])
            on_chain.append(
                (
                    hexstr(log["topics"][1]),
                    hexstr(log["topics"][2]),
                    party,
                    kind,
                    hexstr(payload),
                    hexstr(previous),
                    web3.to_checksum_address(counterparty),
                    nonce,
                )
            )
        assert on_chain == self.records

    def invariant_each_consignment_follows_its_hash_chain_and_has_the_models_custodian_and_route(self):
        for key, expected in self.consignments.items():
            head, custodian, _, _, pending, _ = self.ledger.consignmentOf(key)
            assert (hexstr(head), custodian, pending) == expected
            assert [bytes(c).decode() for c in self.ledger.routeOf(key)] == self.routes[key]
            chain_ids = [ZERO_HASH] + [rec[1] for rec in self.records if rec[0] == key]
            assert [rec[5] for rec in self.records if rec[0] == key] == chain_ids[:-1]
            assert chain_ids[-1] == expected[0]
            if expected[0] != ZERO_HASH:
                assert custodian != ZERO_ADDRESS and custodian != pending

    def invariant_nonces_only_go_up_by_one_per_record(self):
        for name in NAMES:
            on_chain = self.ledger.nonces(self.party(name).address)
            assert on_chain >= self.last_seen_nonces.get(name, 0)
            self.last_seen_nonces[name] = on_chain
            assert on_chain == self.nonces[name]
            assert on_chain == sum(1 for rec in self.records if rec[2] == self.party(name).address)


def test_ledger_keeps_its_rules_through_random_sequences_of_records(book, cast, ledger, registry):
    LedgerMachine.outcomes = {"written": 0, "refused": 0}
    run_state_machine(
        LedgerMachine,
        book,
        cast,
        ledger,
        registry,
        settings={
            # Hypothesis keeps its first 10 examples tiny (1-3 steps); the next 10 run up to 20 steps
            "max_examples": 20,
            "stateful_step_count": 20,
            "deadline": None,
            "database": None,
            "suppress_health_check": list(HealthCheck),
        },
    )
    # the random steps both wrote records and had records refused
    assert LedgerMachine.outcomes["written"] > 0
    assert LedgerMachine.outcomes["refused"] > 0
