"""Wires the running service together: the chain (embedded anvil or an RPC URL), the
deployment, the store, the relayer and the indexer threads, and the use cases the API
calls. One object to start and stop, so that tests and `make run` do the same thing."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from eth_abi.abi import decode as abi_decode
from eth_account import Account
from web3 import HTTPProvider, Web3

from ledger_api.chain.abi import ContractAbi
from ledger_api.chain.artifacts import load_artifacts
from ledger_api.chain.deploy import DeploymentConfig, Manifest, Sender, ensure_deployed, load_config
from ledger_api.chain.endpoints import endpoint_on_chain, party_on_chain, publish_from_unlocked, transaction_sender
from ledger_api.chain.loop import run_steps
from ledger_api.chain.node import AnvilNode
from ledger_api.chain.relayer import Relayer
from ledger_api.chain.rpc import Rpc
from ledger_api.chain.worker import ChainWorker, WakeSender, make_wake_pipe, run_worker
from ledger_api.domain.forwarding import endpoint_calldata
from ledger_api.domain.peer_tokens import raw_public
from ledger_api.domain.records import LedgerDomain
from ledger_api.errors import ChainError, ConfigurationError, NodeUnavailable
from ledger_api.indexer import Indexer
from ledger_api.peering import PeerClient
from ledger_api.services.access import Access
from ledger_api.services.credentials import Credentials
from ledger_api.services.instance import Identity, Instance
from ledger_api.services.parties import PartyWrites
from ledger_api.services.payload_exchange import PayloadExchange
from ledger_api.services.peer_records import PeerRecords
from ledger_api.services.queries import Queries
from ledger_api.services.recognition_writes import RecognitionWrites
from ledger_api.services.submission import Submissions
from ledger_api.services.verification import EvidenceReader, Verifier
from ledger_api.services.worklist import Worklist
from ledger_api.settings import ANVIL_CHAIN_ID, ANVIL_DEV_ADDRESSES, Settings
from ledger_api.store.db import Store
from ledger_api.store.instance_keys import load_or_create_encryption_key, raw_public_encryption_key
from ledger_api.store.receipt_keys import KeyRing, load_or_create_keyring
from ledger_api.store.risk_rules_file import load_rules

log = logging.getLogger(__name__)
# How often the worklist's refresher looks for changes when nothing wakes it (a request in
# its process does): a record's line is current within about this long after it is indexed.
WORKLIST_IDLE = 0.5


@dataclass
class Runtime:
    settings: Settings
    node: AnvilNode | None = None
    manifest: Manifest | None = None
    store: Store | None = None
    rpc: Rpc | None = None
    relayer: Relayer | None = None
    indexer: Indexer | None = None
    submissions: Submissions | None = None
    queries: Queries | None = None
    party_writes: PartyWrites | None = None
    recognition_writes: RecognitionWrites | None = None
    evidence_reader: EvidenceReader | None = None
    credentials: Credentials | None = None
    access: Access | None = None
    verifier: Verifier | None = None
    worklist: Worklist | None = None
    instance: Instance | None = None  # the authority this instance acts for, its endpoint and keys
    peer_records: PeerRecords | None = None  # what it serves to the other authorities' instances
    payload_exchange: PayloadExchange | None = None  # what it fetches from them
    peer_client: PeerClient | None = None
    worker: ChainWorker | None = None  # the relayer and indexer's process (chain_worker="process")
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self, *, background: bool = True) -> Runtime:
        s = self.settings
        _private_folder(s.data_dir)
        # Rules and keys first: a bad rules file stops the start before anything runs.
        rules = load_rules(s.risk_rules)
        keyring = load_or_create_keyring(s.receipt_keys)
        if s.embedded_chain:
            chain_dir = s.data_dir / "chain"
            self.node = AnvilNode(chain_dir, port=s.anvil_port, state_file=chain_dir / "state.json").start()
            url = self.node.url
        else:
            url = s.rpc_url or ""
        w3 = Web3(HTTPProvider(url))
        deployer = (
            Sender(w3, Account.from_key(s.deployer_key.get_secret_value()))
            if s.deployer_key is not None
            else Sender(w3, w3.eth.accounts[0])
        )
        config = load_config(s.deployment_config)
        _refuse_public_material(s, config, w3.eth.chain_id)
        self.manifest, created = ensure_deployed(
            w3, deployer, config, s.build_dir, s.manifest_file, replace_stale=s.embedded_chain
        )
        log.info("%s contracts on chain %d", "deployed" if created else "reusing", self.manifest.chain_id)
        self.store = Store(_private_store(s))
        self.rpc = Rpc(url)
        abi = ContractAbi(load_artifacts(s.build_dir))
        addresses = {name: c.address for name, c in self.manifest.contracts.items()}
        identity = self._identity(config, keyring, self.rpc, addresses["PartyRegistry"])
        wake: Callable[[], None]
        if background and s.chain_worker == "process":
            wake = WakeSender(make_wake_pipe(s.data_dir)).set
        else:
            self._chain_workers(abi, addresses)
            assert self.relayer is not None
            wake = self.relayer.wake.set
        domain = LedgerDomain(self.manifest.chain_id, self.manifest.address("ConsignmentLedger"))
        ledger = addresses["ConsignmentLedger"]
        rpc = self.rpc

        def chain_nonce(party: str) -> int:
            data = abi.encode_call("ConsignmentLedger", "nonces", party)
            result = rpc.call("eth_call", {"to": ledger, "data": "0x" + data.hex()}, "latest")
            return int(abi_decode(["uint256"], bytes.fromhex(result[2:]))[0])

        self.submissions = Submissions(
            self.store, domain, chain_nonce, wake_relayer=wake, max_queued=s.max_queued_writes
        )
        forwarder = addresses["LedgerForwarder"]

        def forwarder_nonce(authority: str) -> int:
            data = abi.encode_call("LedgerForwarder", "nonces", authority)
            result = rpc.call("eth_call", {"to": forwarder, "data": "0x" + data.hex()}, "latest")
            return int(abi_decode(["uint256"], bytes.fromhex(result[2:]))[0])

        self.party_writes = PartyWrites(
            self.store, self.manifest.chain_id, addresses, forwarder_nonce, wake_relayer=wake
        )
        self.recognition_writes = RecognitionWrites(self.store, self.party_writes)
        self.credentials = Credentials(self.store)
        self.access = Access(self.store)
        self.evidence_reader = EvidenceReader(self.store, domain, addresses, s.confirmations)
        self.instance = Instance(self.store, identity, keyring, self.party_writes)
        self.peer_records = PeerRecords(self.store, identity.authority, identity.public_url)
        if self.payload_exchange is None:  # in the API process: a verification's on-demand fetches
            self.payload_exchange = self._payload_exchange(self.instance, domain)
        self.verifier = Verifier(
            self.evidence_reader,
            rules,
            keyring,
            s.service_id,
            issuer=(identity.authority, identity.country),
            fetch_missing=self.payload_exchange.fetch_missing,
            fetch_seconds=s.peer_fetch_on_verify_seconds,
        )
        self.worklist = Worklist(self.store, self.evidence_reader, rules)
        self.queries = Queries(self.store, s.confirmations, self.submissions.next_nonce)
        if background and s.chain_worker == "process":
            self.worker = ChainWorker(chain_worker_process, (s, url)).start()
        elif background:
            self._run_chain_workers()
        return self

    def start_chain_worker(self, rpc_url: str) -> Runtime:
        """The relayer and indexer threads alone, for the store and deployment of the API
        process that started this one (chain/worker.py)."""
        s = self.settings
        self.manifest = Manifest.load(s.manifest_file)
        self.store = Store(s.database)
        self.rpc = Rpc(rpc_url)
        addresses = {name: c.address for name, c in self.manifest.contracts.items()}
        self._chain_workers(ContractAbi(load_artifacts(s.build_dir)), addresses)
        keyring = load_or_create_keyring(s.receipt_keys)
        config = load_config(s.deployment_config)
        identity = self._identity(config, keyring, self.rpc, addresses["PartyRegistry"], publish=False)
        domain = LedgerDomain(self.manifest.chain_id, self.manifest.address("ConsignmentLedger"))
        self.payload_exchange = self._payload_exchange(Instance(self.store, identity, keyring, None), domain)
        # The worklist's refresher runs here, beside the indexer, not in the API's process.
        self.evidence_reader = EvidenceReader(self.store, domain, addresses, s.confirmations)
        self.worklist = Worklist(self.store, self.evidence_reader, load_rules(s.risk_rules))
        self._run_chain_workers()
        return self

    def _chain_workers(self, abi: ContractAbi, addresses: dict[str, str]) -> None:
        s = self.settings
        assert self.store is not None and self.rpc is not None and self.manifest is not None
        self.relayer = Relayer(
            self.store,
            self.rpc,
            abi,
            Account.from_key(s.relayer_secret),
            self.manifest.chain_id,
            addresses,
            resend_after=s.resend_after_seconds,
        )
        self.indexer = Indexer(
            self.store, self.rpc, abi, addresses, self.manifest.deploy_block, confirmations=s.confirmations
        )
        self.indexer.wake = self.relayer.mined

    def _payload_exchange(self, instance: Instance, domain: LedgerDomain) -> PayloadExchange:
        s = self.settings
        assert self.store is not None and self.rpc is not None
        rpc = self.rpc
        self.peer_client = PeerClient(timeout=s.peer_timeout_seconds, max_bytes=s.peer_max_response_bytes)
        return PayloadExchange(
            self.store,
            domain,
            instance.authority,
            instance.country,
            instance.peer_signing_key,
            self.peer_client,
            lambda tx_hash: transaction_sender(rpc, tx_hash),
        )

    def _run_chain_workers(self) -> None:
        """The relayer, the indexer and, beside them, the payload exchange's background
        fetches (a third loop: what the indexer learnt from others' instances) and the
        worklist's refresher (a fourth: the lines of the consignments that changed)."""
        assert self.relayer is not None and self.indexer is not None
        loops: list[tuple[str, Callable[[threading.Event], None]]] = [
            ("relayer", self.relayer.run),
            ("indexer", self.indexer.run),
        ]
        exchange = self.payload_exchange
        if exchange is not None:
            loops.append(
                (
                    "payload-exchange",
                    lambda stop: run_steps("payload-exchange", exchange.step, stop, exchange.wake, 0.5),
                )
            )
        worklist = self.worklist
        if worklist is not None:
            loops.append(
                ("worklist", lambda stop: run_steps("worklist", worklist.step, stop, worklist.wake, WORKLIST_IDLE))
            )
        for name, target in loops:
            thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def start_reader(self) -> Runtime:
        """The read side only, from the store and manifest of the instance that writes."""
        s = self.settings
        rules = load_rules(s.risk_rules)
        keyring = load_or_create_keyring(s.receipt_keys)
        self.manifest = Manifest.load(s.manifest_file)
        self.store = Store(s.database)
        addresses = {name: c.address for name, c in self.manifest.contracts.items()}
        domain = LedgerDomain(self.manifest.chain_id, self.manifest.address("ConsignmentLedger"))
        self.credentials = Credentials(self.store)
        self.access = Access(self.store)
        self.evidence_reader = EvidenceReader(self.store, domain, addresses, s.confirmations)
        identity = self._reader_identity(keyring)
        self.verifier = Verifier(
            self.evidence_reader, rules, keyring, s.service_id, issuer=(identity.authority, identity.country)
        )
        self.worklist = Worklist(self.store, self.evidence_reader, rules)
        self.queries = Queries(self.store, s.confirmations, _no_chain)
        self.instance = Instance(self.store, identity, keyring, None)
        self.peer_records = PeerRecords(self.store, identity.authority, identity.public_url)
        return self

    # ------------------------------------------------------------ the consortium

    def _identity(
        self, config: DeploymentConfig, keyring: KeyRing, rpc: Rpc, registry: str, *, publish: bool = True
    ) -> Identity:
        """Who this instance is: its authority (LEDGER_AUTHORITY, or on a development
        chain the deployment config's first), that authority's country as the registry
        has it, its public URL, relayer and encryption key. On a development chain it also
        publishes its endpoint from the authority's unlocked account if the chain does not
        show the current one (never on another chain: there the authority signs,
        `ledger admin publish-endpoint`)."""
        s = self.settings
        development = s.embedded_chain or s.dev_chain
        authority = s.authority
        if authority is None:
            if not development:
                raise ConfigurationError(
                    "LEDGER_AUTHORITY is required with an external chain: the address of the customs authority "
                    "this instance acts for"
                )
            authority = config.authorities[0].address
        party = party_on_chain(rpc, registry, authority)
        if party is None or not party.is_authority:
            log.warning(
                "%s is not a customs authority on this chain (yet): peers will not trust this instance", authority
            )
        identity = Identity(
            authority=authority,
            country=party.country if party is not None else _configured_country(config, authority),
            public_url=s.peer_url,
            relayer=Account.from_key(s.relayer_secret).address,
            encryption_key=raw_public_encryption_key(load_or_create_encryption_key(s.receipt_keys)),
        )
        if publish and development and party is not None and party.is_authority:
            self._publish_on_development_chain(identity, keyring, rpc, registry)
        return identity

    def _publish_on_development_chain(self, identity: Identity, keyring: KeyRing, rpc: Rpc, registry: str) -> None:
        signing = raw_public(keyring.active.private.public_key())
        current = endpoint_on_chain(rpc, registry, identity.authority, identity.country or "")
        if current is not None and current.same_publication(
            identity.public_url, "0x" + signing.hex(), "0x" + identity.encryption_key.hex(), identity.relayer
        ):
            return
        data = endpoint_calldata(identity.public_url, signing, identity.encryption_key, identity.relayer)
        try:
            tx = publish_from_unlocked(rpc, registry, identity.authority, data)
        except ChainError as exc:
            log.warning("could not publish this instance's endpoint for %s: %s", identity.authority, exc)
            return
        log.info(
            "published the endpoint of %s: %s (kid %s, transaction %s)",
            identity.authority,
            identity.public_url,
            keyring.active.kid,
            tx,
        )

    def _reader_identity(self, keyring: KeyRing) -> Identity:
        s = self.settings
        assert self.manifest is not None
        authority = s.authority or (self.manifest.authorities[0]["address"] if self.manifest.authorities else None)
        if authority is None:
            raise ConfigurationError("LEDGER_AUTHORITY is required: the customs authority this instance acts for")
        country = next((a["country"] for a in self.manifest.authorities if a["address"] == authority), None)
        return Identity(
            authority=authority,
            country=country,
            public_url=s.peer_url,
            relayer=Account.from_key(s.relayer_secret).address,
            encryption_key=raw_public_encryption_key(load_or_create_encryption_key(s.receipt_keys)),
        )

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self._stop.set()
        if self.relayer is not None:
            self.relayer.wake.set()
            self.relayer.mined.set()
        if self.payload_exchange is not None:
            self.payload_exchange.wake.set()
        if self.worklist is not None:
            self.worklist.wake.set()
        for thread in self._threads:
            thread.join(timeout=10)
        if self.peer_client is not None:
            self.peer_client.close()
        if self.rpc is not None:
            self.rpc.close()
        if self.store is not None:
            self.store.close()
        if self.node is not None:
            self.node.stop()


def _private_folder(folder: Path) -> None:
    """The data folder holds the store, keys and credentials: its owner's alone (0700),
    also when an earlier version made it open."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)


def _private_store(settings: Settings) -> str:
    """The store's URL; a SQLite file is created, or kept, readable by its owner alone (0600:
    SQLite gives its -wal and -shm files the same mode)."""
    url = settings.database
    if settings.database_url is None:
        path = settings.data_dir / "ledger.db"
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        path.chmod(0o600)
    return url


def _refuse_public_material(settings: Settings, config: DeploymentConfig, chain_id: int) -> None:
    """anvil's public accounts may be authorities or the admin only on a development chain:
    the embedded one, or one declared with LEDGER_DEV_CHAIN, which must be anvil's."""
    if settings.dev_chain and chain_id != ANVIL_CHAIN_ID:
        raise ConfigurationError(
            f"LEDGER_DEV_CHAIN is set but the chain at LEDGER_RPC_URL is chain {chain_id}, not a development anvil "
            f"({ANVIL_CHAIN_ID})"
        )
    if not settings.public_material_forbidden:
        return
    public = set(ANVIL_DEV_ADDRESSES)
    named = [a.address for a in config.authorities] + ([config.admin] if config.admin else [])
    if any(address in public for address in named):
        raise ConfigurationError(
            f"{settings.deployment_config} names anvil's development accounts, whose keys anyone knows: "
            "not on a chain the service did not start (LEDGER_DEV_CHAIN declares a development chain)"
        )


def chain_worker_process(settings: Settings, rpc_url: str) -> None:
    """Entry of the relayer and indexer's own process (chain_worker="process")."""

    def start() -> tuple[threading.Event, Callable[[], None]]:
        runtime = Runtime(settings).start_chain_worker(rpc_url)
        assert runtime.relayer is not None
        return runtime.relayer.wake, runtime.stop

    run_worker(settings.data_dir, start)


def _configured_country(config: DeploymentConfig, authority: str) -> str | None:
    return next((a.country for a in config.authorities if a.address == authority), None)


def _no_chain(_: str) -> int:
    raise NodeUnavailable("this instance serves reads only (LEDGER_ROLE=reader)")
