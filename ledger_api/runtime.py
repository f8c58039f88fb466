"""Wires the running service together: the chain (embedded anvil or an RPC URL), the
deployment, the store, the relayer and the indexer threads, and the use cases the API
calls. One object to start and stop, so that tests and `make run` do the same thing."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_abi.abi import decode as abi_decode
from eth_account import Account
from web3 import HTTPProvider, Web3

from ledger_api.chain.abi import ContractAbi
from ledger_api.chain.artifacts import load_artifacts
from ledger_api.chain.deploy import DeploymentConfig, Manifest, Sender, load_config
from ledger_api.chain.deployed import stored_manifest, use_or_deploy
from ledger_api.chain.election import Leadership, StepHealth, lease_name
from ledger_api.chain.endpoints import endpoint_on_chain, party_on_chain, publish_from_unlocked, transaction_sender
from ledger_api.chain.heads import HeadsState, follow_heads, ws_url_of
from ledger_api.chain.loop import QUIET_IDLE_SECONDS, run_steps
from ledger_api.chain.node import AnvilNode
from ledger_api.chain.relayer import Relayer
from ledger_api.chain.rpc import Rpc
from ledger_api.chain.worker import (
    ChainWorker,
    WakeSender,
    forget_status,
    make_wake_pipe,
    read_status,
    run_worker,
)
from ledger_api.domain.endpoints import development_publication
from ledger_api.domain.forwarding import endpoint_calldata
from ledger_api.domain.peer_tokens import raw_public
from ledger_api.domain.recognition import RecognitionBook
from ledger_api.domain.records import LedgerDomain
from ledger_api.errors import ChainError, ConfigurationError, NodeUnavailable
from ledger_api.indexer import Indexer
from ledger_api.peering import PeerClient
from ledger_api.services.access import Access
from ledger_api.services.credentials import Credentials
from ledger_api.services.flags import Flags
from ledger_api.services.instance import Identity, Instance
from ledger_api.services.parties import PartyWrites
from ledger_api.services.payload_exchange import PayloadExchange
from ledger_api.services.peer_records import PeerRecords
from ledger_api.services.queries import Queries
from ledger_api.services.readiness import Readiness
from ledger_api.services.recognition_writes import RecognitionWrites
from ledger_api.services.submission import Submissions
from ledger_api.services.verification import EvidenceReader, Verifier
from ledger_api.services.worklist import Worklist
from ledger_api.settings import ANVIL_CHAIN_ID, ANVIL_DEV_ADDRESSES, Settings
from ledger_api.store.db import Store
from ledger_api.store.instance_keys import (
    load_or_create_encryption_key,
    load_or_create_shared_encryption_key,
    raw_public_encryption_key,
)
from ledger_api.store.receipt_keys import KeyRing, load_or_create_keyring, load_or_create_shared_keyring
from ledger_api.store.risk_rules_file import load_rules

log = logging.getLogger(__name__)
LOOP_IDLE = 0.02  # the relayer's and the indexer's pause without work, in seconds (chain/loop.py)
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
    flags: Flags | None = None  # intelligence flags: sealed and served here, fetched from the authors'
    worker: ChainWorker | None = None  # the relayer and indexer's process (chain_worker="process")
    # On a PostgreSQL store: whether this instance's worker runs the relayer and indexer or stands by.
    leadership: Leadership | None = None
    readiness: Readiness | None = None
    relayer_wake: threading.Event = field(default_factory=threading.Event)  # whichever Relayer runs
    health: dict[str, StepHealth] = field(default_factory=lambda: {"relayer": StepHealth(), "indexer": StepHealth()})
    heads: HeadsState | None = None  # the node's new blocks, when it announces them (LEDGER_WS_URL)
    _encryption_key: X25519PrivateKey | None = None  # read once: encryption_key()
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self, *, background: bool = True) -> Runtime:
        s = self.settings
        _private_folder(s.data_dir)
        # Rules first: a bad rules file stops the start before anything runs.
        rules = load_rules(s.risk_rules)
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
        self.store = Store(_private_store(s))
        keyring = _keyring(s, self.store)
        self.manifest, how = use_or_deploy(
            self.store, w3, deployer, config, s.build_dir, s.manifest_file, s.instance, replace_stale=s.embedded_chain
        )
        log.info(
            "%s contracts on chain %d (%s)",
            "deployed" if how == "deployed" else "reusing",
            self.manifest.chain_id,
            {"deployed": "recorded in the store", "recorded": "the manifest file's, now in the store"}.get(
                how, "the store's deployment"
            ),
        )
        self.rpc = Rpc(url)
        abi = ContractAbi(load_artifacts(s.build_dir))
        addresses = {name: c.address for name, c in self.manifest.contracts.items()}
        identity = self._identity(config, keyring, self.rpc, addresses["PartyRegistry"])
        wake: Callable[[], None]
        if background and s.chain_worker == "process":
            wake = WakeSender(make_wake_pipe(s.data_dir)).set
        else:
            self._chain_workers(abi, addresses)
            wake = self.relayer_wake.set
        domain = LedgerDomain(self.manifest.chain_id, self.manifest.address("ConsignmentLedger"))
        ledger = addresses["ConsignmentLedger"]
        rpc = self.rpc

        def chain_nonce(party: str) -> int:
            data = abi.encode_call("ConsignmentLedger", "nonces", party)
            result = rpc.call("eth_call", {"to": ledger, "data": "0x" + data.hex()}, "latest")
            return int(abi_decode(["uint256"], bytes.fromhex(result[2:]))[0])

        self.submissions = Submissions(
            self.store,
            domain,
            chain_nonce,
            wake_relayer=wake,
            max_queued=s.max_queued_writes,
            max_pending_per_party=s.max_pending_per_party,
            min_deadline_margin=s.min_deadline_margin_seconds,
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
        if self.flags is None:
            self.flags = self._flags(self.instance, self.party_writes, self.peer_records, self.evidence_reader.book)
        self.verifier = Verifier(
            self.evidence_reader,
            rules,
            keyring,
            s.service_id,
            issuer=(identity.authority, identity.country),
            fetch_missing=self.payload_exchange.fetch_missing,
            fetch_seconds=s.peer_fetch_on_verify_seconds,
            receipt_validity_seconds=s.receipt_validity_seconds,
            flags=self.flags,
        )
        self.worklist = Worklist(
            self.store, self.evidence_reader, rules, flags=self.flags, own_country=self.instance.country
        )
        self.queries = Queries(self.store, s.confirmations, self.submissions.next_nonce)
        self.readiness = Readiness(
            self.store,
            self.manifest.as_json(),
            lease_name(Account.from_key(s.relayer_secret).address) if s.shared_store else None,
            self.chain_worker_status,
            stalled_after=s.stalled_after_seconds,
            worker_expected=lambda: self.worker is not None,
        )
        if background and s.chain_worker == "process":
            forget_status(s.data_dir)  # an earlier run's report says nothing of this run's worker
            self.worker = ChainWorker(chain_worker_process, (s, url)).start()
        elif background:
            self._run_chain_workers(abi, addresses)
        return self

    def start_chain_worker(self, rpc_url: str) -> Runtime:
        """The relayer and indexer threads alone, for the store and deployment of the API
        process that started this one (chain/worker.py)."""
        s = self.settings
        self.store = Store(s.database)
        self.manifest = stored_manifest(self.store)
        self.rpc = Rpc(rpc_url)
        addresses = {name: c.address for name, c in self.manifest.contracts.items()}
        abi = ContractAbi(load_artifacts(s.build_dir))
        self._chain_workers(abi, addresses)
        keyring = _keyring(s, self.store)
        config = load_config(s.deployment_config)
        identity = self._identity(config, keyring, self.rpc, addresses["PartyRegistry"], publish=False)
        domain = LedgerDomain(self.manifest.chain_id, self.manifest.address("ConsignmentLedger"))
        worker_instance = Instance(self.store, identity, keyring, None)
        self.payload_exchange = self._payload_exchange(worker_instance, domain)
        self.flags = self._flags(worker_instance, None, None, None)
        # The worklist's refresher runs here, beside the indexer, not in the API's process.
        self.evidence_reader = EvidenceReader(self.store, domain, addresses, s.confirmations)
        self.worklist = Worklist(
            self.store,
            self.evidence_reader,
            load_rules(s.risk_rules),
            flags=self.flags,
            own_country=worker_instance.country,
        )
        self._run_chain_workers(abi, addresses)
        return self

    def _chain_workers(self, abi: ContractAbi, addresses: dict[str, str], store: Store | None = None) -> None:
        """A relayer and an indexer on `store` (the runtime's own by default)."""
        s = self.settings
        store = store or self.store
        assert store is not None and self.rpc is not None and self.manifest is not None
        self.relayer = Relayer(
            store,
            self.rpc,
            abi,
            Account.from_key(s.relayer_secret),
            self.manifest.chain_id,
            addresses,
            resend_after=s.resend_after_seconds,
            own_node=s.embedded_chain,
        )
        self.relayer.wake = self.relayer_wake
        self.indexer = Indexer(
            store, self.rpc, abi, addresses, self.manifest.deploy_block, confirmations=s.confirmations
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

    def _flags(
        self,
        instance: Instance,
        writes: PartyWrites | None,
        served: PeerRecords | None,
        book: Callable[[], tuple[RecognitionBook, int]] | None,
    ) -> Flags:
        """Intelligence flags: sealed, shared and served in the API process (`writes`,
        `served`, `book`), fetched from the authors' instances in the chain worker's."""
        assert self.store is not None
        return Flags(
            self.store,
            instance.authority,
            instance.country,
            self.encryption_key(),
            writes=writes,
            book=book,
            authenticate=None if served is None else served.authenticate,
            fetcher=self.peer_client,
            signing_key=instance.peer_signing_key,
        )

    def _run_chain_workers(self, abi: ContractAbi, addresses: dict[str, str]) -> None:
        """The relayer and indexer loops, and beside them the payload exchange's background
        fetches (what the indexer learnt from others' instances): at once on SQLite (the
        data folder's lock keeps them single); on PostgreSQL once this instance holds the
        lease of its relayer key, the relayer and indexer on a store fenced by it, new ones
        at each election (chain/election.py)."""
        s = self.settings
        assert self.store is not None
        if not s.shared_store:
            self._threads.extend(self._loops(self._stop))
            return

        def lead(fenced: Store) -> Callable[[], None]:
            self._chain_workers(abi, addresses, fenced)
            stop = threading.Event()
            threads = self._loops(stop)

            def halt() -> None:
                stop.set()
                self.relayer_wake.set()
                if self.relayer is not None:
                    self.relayer.mined.set()
                if self.payload_exchange is not None:
                    self.payload_exchange.wake.set()
                if self.flags is not None:
                    self.flags.wake.set()
                if self.worklist is not None:
                    self.worklist.wake.set()
                for thread in threads:
                    thread.join(timeout=10)

            return halt

        relayer = Account.from_key(s.relayer_secret).address
        self.leadership = Leadership(self.store, lease_name(relayer), f"{s.instance} pid {os.getpid()}", lead)
        thread = threading.Thread(target=self.leadership.run, args=(self._stop,), name="chain-leadership", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _indexer_idle(self) -> float:
        """The indexer's pause without work: short while no subscription tells it of new
        blocks; while one does, as long as an idle loop's (chain/loop.py), since each
        block wakes it and each transaction the relayer sends too. Its polls between two
        blocks of a stream were a fifth of the worker's time (docs/benchmarks.md)."""
        return QUIET_IDLE_SECONDS if self.heads is not None and self.heads.following else LOOP_IDLE

    def _heads_url(self) -> str | None:
        """Where the node announces its new blocks: LEDGER_WS_URL, or on an anvil (embedded,
        or a LEDGER_DEV_CHAIN one) its RPC port; None: the indexer polls only."""
        s = self.settings
        if s.ws_url is not None:
            return s.ws_url
        assert self.rpc is not None
        return ws_url_of(self.rpc.url) if s.embedded_chain or s.dev_chain else None

    def _loops(self, stop: threading.Event) -> list[threading.Thread]:
        assert self.relayer is not None and self.indexer is not None
        threads = []
        heads = self._heads_url()
        self.heads = HeadsState() if heads is not None else None
        for name, step, wake, idle in (
            ("relayer", self.relayer.step, self.relayer.wake, LOOP_IDLE),
            ("indexer", self.indexer.step, self.indexer.wake, self._indexer_idle),
        ):
            watched = self.health[name].watch(step)
            thread = threading.Thread(target=run_steps, args=(name, watched, stop, wake, idle), name=name, daemon=True)
            thread.start()
            threads.append(thread)
        if heads is not None:  # the indexer woken by each new block, besides its poll
            thread = threading.Thread(
                target=follow_heads, args=(heads, self.indexer.wake.set, stop, self.heads), name="heads", daemon=True
            )
            thread.start()
            threads.append(thread)
        # Beside them, each on its own pause when idle: fetches of what the indexer learnt
        # from others' instances, flags sent here, the worklist's lines.
        beside = (
            ("payload-exchange", self.payload_exchange, 0.5),
            ("flag-exchange", self.flags, 1.0),
            ("worklist", self.worklist, WORKLIST_IDLE),
        )
        for name, loop, idle in beside:
            if loop is not None:
                thread = threading.Thread(
                    target=run_steps, args=(name, loop.step, stop, loop.wake, idle), name=name, daemon=True
                )
                thread.start()
                threads.append(thread)
        return threads

    def chain_worker_status(self) -> dict[str, Any] | None:
        """How this instance's relayer and indexer go (chain/election.py's StepHealth), from
        its worker process's report or its own threads; None before anything reported."""
        if self.worker is not None:
            return read_status(self.settings.data_dir)
        if not self._threads:
            return None
        return self.status_report()

    def status_report(self) -> dict[str, Any]:
        leadership = self.leadership
        return {
            "pid": os.getpid(),
            "updated": time.time(),
            "active": leadership.active if leadership is not None else True,
            "token": leadership.token if leadership is not None else None,
            **{name: health.as_json() for name, health in self.health.items()},
            "heads": self.heads.as_json() if self.heads is not None else None,
        }

    def start_reader(self) -> Runtime:
        """The read side only, from the store the writers keep: the deployment comes from
        there, so a reader needs the store's URL and the chain's, no key and no manifest file."""
        s = self.settings
        rules = load_rules(s.risk_rules)
        self.store = Store(s.database)
        keyring = _keyring(s, self.store)
        self.manifest = stored_manifest(self.store)
        if s.rpc_url is not None:
            self.rpc = Rpc(s.rpc_url)
            _refuse_another_chain(self.rpc, self.manifest)
        addresses = {name: c.address for name, c in self.manifest.contracts.items()}
        domain = LedgerDomain(self.manifest.chain_id, self.manifest.address("ConsignmentLedger"))
        self.credentials = Credentials(self.store)
        self.access = Access(self.store)
        self.evidence_reader = EvidenceReader(self.store, domain, addresses, s.confirmations)
        identity = self._reader_identity(keyring)
        self.instance = Instance(self.store, identity, keyring, None)
        # The flags the writers fetched and opened are in the store: a reader's lanes fire
        # them as the writers' do (it shares nothing and fetches nothing itself).
        self.flags = self._flags(self.instance, None, None, None)
        self.verifier = Verifier(
            self.evidence_reader,
            rules,
            keyring,
            s.service_id,
            issuer=(identity.authority, identity.country),
            receipt_validity_seconds=s.receipt_validity_seconds,
            flags=self.flags,
        )
        self.worklist = Worklist(
            self.store, self.evidence_reader, rules, flags=self.flags, own_country=self.instance.country
        )
        self.queries = Queries(self.store, s.confirmations, _no_chain)
        self.peer_records = PeerRecords(self.store, identity.authority, identity.public_url)
        return self

    # ------------------------------------------------------------ the consortium

    def _identity(
        self, config: DeploymentConfig, keyring: KeyRing, rpc: Rpc, registry: str, *, publish: bool = True
    ) -> Identity:
        """Who this instance is: its authority (LEDGER_AUTHORITY, or on a development
        chain the deployment config's first), that authority's country as the registry
        has it, its public URL, relayer and encryption key. On a development chain it also
        publishes its endpoint from the authority's unlocked account when the chain does not
        show it as domain/endpoints.py development_publication says (never on another chain:
        there the authority signs, `ledger admin publish-endpoint`)."""
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
            encryption_key=raw_public_encryption_key(self.encryption_key()),
        )
        if publish and development and party is not None and party.is_authority:
            self._publish_on_development_chain(identity, keyring, rpc, registry)
        return identity

    def _publish_on_development_chain(self, identity: Identity, keyring: KeyRing, rpc: Rpc, registry: str) -> None:
        signing = raw_public(keyring.active.private.public_key())
        current = endpoint_on_chain(rpc, registry, identity.authority, identity.country or "")
        publication = development_publication(
            current,
            identity.public_url,
            "0x" + signing.hex(),
            "0x" + identity.encryption_key.hex(),
            identity.relayer,
            shared_store=self.settings.shared_store,
        )
        if publication is None:
            return
        url, relayer = publication
        data = endpoint_calldata(url, signing, identity.encryption_key, relayer)
        try:
            tx = publish_from_unlocked(rpc, registry, identity.authority, data)
        except ChainError as exc:
            log.warning("could not publish this instance's endpoint for %s: %s", identity.authority, exc)
            return
        log.info(
            "published the endpoint of %s: %s (kid %s, transaction %s)",
            identity.authority,
            url,
            keyring.active.kid,
            tx,
        )

    def encryption_key(self) -> X25519PrivateKey:
        """The authority's encryption key: the store's, shared by every instance, when there
        is a store key (a writer brings the key file of its folder into an empty store, so
        the key its authority published stays valid), the folder's otherwise. Read once."""
        if self._encryption_key is None:
            s = self.settings
            store_key = s.receipt_store_key
            if store_key is None:
                self._encryption_key = load_or_create_encryption_key(s.receipt_keys)
            else:
                assert self.store is not None
                import_from = s.receipt_keys if s.role != "reader" else None
                self._encryption_key = load_or_create_shared_encryption_key(self.store, store_key, import_from)
        return self._encryption_key

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
            encryption_key=raw_public_encryption_key(self.encryption_key()),
        )

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self._stop.set()
        self.relayer_wake.set()
        if self.relayer is not None:
            self.relayer.mined.set()
        if self.payload_exchange is not None:
            self.payload_exchange.wake.set()
        if self.flags is not None:
            self.flags.wake.set()
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

    runtimes: list[Runtime] = []

    def start() -> tuple[threading.Event, Callable[[], None]]:
        runtime = Runtime(settings).start_chain_worker(rpc_url)
        runtimes.append(runtime)
        return runtime.relayer_wake, runtime.stop

    def report() -> dict[str, Any]:
        """What the API process's /readyz reads of this worker (chain/worker.py writes it)."""
        return runtimes[0].status_report() if runtimes else {}

    run_worker(settings.data_dir, start, report)


def _keyring(settings: Settings, store: Store) -> KeyRing:
    """The receipt keys: the store's, shared by every instance, when there is a store key
    (a writer brings the keys of its folder into an empty store); the folder's otherwise."""
    store_key = settings.receipt_store_key
    if store_key is None:
        return load_or_create_keyring(settings.receipt_keys)
    import_from = settings.receipt_keys if settings.role != "reader" else None
    return load_or_create_shared_keyring(store, store_key, import_from)


def _refuse_another_chain(rpc: Rpc, manifest: Manifest) -> None:
    """A reader pointed at another chain than its store's deployment would serve verdicts
    about contracts that chain does not have; a chain that does not answer yet is no reason
    not to serve the index."""
    try:
        chain_id = int(rpc.call("eth_chainId"), 16)
    except ChainError as exc:
        log.warning("the chain at LEDGER_RPC_URL does not answer (%s); serving the index", exc)
        return
    if chain_id != manifest.chain_id:
        raise ConfigurationError(
            f"LEDGER_RPC_URL is chain {chain_id}, but the store's deployment is on chain {manifest.chain_id}"
        )


def _configured_country(config: DeploymentConfig, authority: str) -> str | None:
    return next((a.country for a in config.authorities if a.address == authority), None)


def _no_chain(_: str) -> int:
    raise NodeUnavailable("this instance serves reads only (LEDGER_ROLE=reader)")
