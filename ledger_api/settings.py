"""The one settings object: read from the environment (prefix LEDGER_) and `.env`.
Every default works on a laptop; secrets come only from the environment."""

from __future__ import annotations

import base64
import socket
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from eth_utils.address import is_address, to_checksum_address
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger_api.domain.endpoints import peer_url_problem
from ledger_api.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEV_DEPLOYMENT_CONFIG = PROJECT_ROOT / "config" / "deployment.dev.yaml"
# anvil's development accounts 0-9 (mnemonic "test test … junk", m/44'/60'/0'/0/i): their
# keys are public, so they are for local chains only (a test derives them again).
ANVIL_DEV_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
)
ANVIL_DEV_ADDRESSES = (
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
)
ANVIL_ACCOUNT_9_KEY = ANVIL_DEV_KEYS[9]
# The store key of a development PostgreSQL store without LEDGER_STORE_KEY: public, so
# refused in production.
DEV_STORE_KEY = bytes.fromhex("6c6564676572206465762073746f7265206b6579202d207075626c6963212121")
ANVIL_CHAIN_ID = 31337


class Settings(BaseSettings):
    # hide_input_in_errors: a refused setting's message must not carry its value, which may
    # be a key or a database password (security review: the tail of both reached the log).
    model_config = SettingsConfigDict(env_prefix="LEDGER_", env_file=".env", extra="ignore", hide_input_in_errors=True)

    environment: Literal["development", "production"] = "development"
    # "all": chain, relayer, indexer and API in one process. "reader": the read side only
    # (verification, history) from the store another "all" instance keeps; any number of
    # reader processes can serve behind a load balancer.
    role: Literal["all", "reader"] = "all"
    # Where an "all" instance runs its relayer and indexer: "process", a process of its own
    # beside the API's (each side has a core; docs/reliability.md has what it changed), or
    # "thread", threads of the API process.
    chain_worker: Literal["process", "thread"] = "process"
    data_dir: Path = PROJECT_ROOT / "data"
    build_dir: Path = PROJECT_ROOT / "build"

    # Chain: without rpc_url the service starts its own anvil, keeping its state in data_dir.
    rpc_url: str | None = None
    # The chain at rpc_url is a throwaway development chain (anvil, chain id 31337) that the
    # project started, as `make consortium` and the consortium tests do: anvil's public keys
    # and the development authorities are allowed on it. Refused in production; without it,
    # they are refused on any chain the service did not start itself.
    dev_chain: bool = False
    # The node's WebSocket endpoint (ws:// or wss://), where it announces each new block
    # (eth_subscribe newHeads): the indexer then takes a block in as soon as it exists
    # instead of at its next poll (chain/heads.py). Besu serves it with --rpc-ws-enabled
    # (port 8546 by default). Without it the indexer polls, except on the embedded anvil
    # and a LEDGER_DEV_CHAIN anvil, which serve it on their RPC port.
    ws_url: str | None = None
    anvil_port: int = 8545
    deployment_config: Path = DEV_DEPLOYMENT_CONFIG
    manifest_path: Path | None = None
    deployer_key: SecretStr | None = None
    # The relayer pays gas for the parties' signed records; it signs nothing for them.
    # On the embedded chain it defaults to anvil's well-known development account 9.
    relayer_key: SecretStr | None = None
    confirmations: int = Field(default=1, ge=1, le=1000)
    resend_after_seconds: float = Field(default=2.0, gt=0)
    # Writes not yet handed to the chain (outbox rows pending or signed) above which new
    # writes are refused with 503 and Retry-After, e.g. while the node is unreachable.
    max_queued_writes: int = Field(default=50_000, ge=1)
    # Of those, how many one party may hold (429 with Retry-After beyond it): one party
    # cannot fill the queue every party shares. A batch is one write, as on chain.
    max_pending_per_party: int = Field(default=5_000, ge=1)
    # A record whose signed deadline is closer than this is refused (422) before it costs
    # gas: the relayer might not get it mined in time, and a write that reverts is paid for.
    min_deadline_margin_seconds: int = Field(default=120, ge=0, le=86_400)
    # /readyz answers not ready when the oldest write waiting for the chain has waited this
    # long without the queue moving (services/readiness.py).
    stalled_after_seconds: float = Field(default=60.0, gt=0)

    # Store: SQLite in data_dir unless a SQLAlchemy URL (postgresql+psycopg://…) is given.
    database_url: str | None = None

    # Verification: risk rules (an operator may replace the file) and receipt signing keys.
    risk_rules: Path = PROJECT_ROOT / "config" / "risk-rules.yaml"
    receipt_keys_dir: Path | None = None  # default: data_dir / "receipt-keys"
    # Seals the receipt-signing keys and the encryption key kept in the store (32 bytes: 64 hex digits or base64),
    # the same for every instance of the authority. With it, or on a PostgreSQL store, the
    # keys live in the store and every instance (readers too) signs with the same ones;
    # without it on SQLite they stay in receipt_keys_dir, as for a lone instance. A
    # PostgreSQL store in development without it uses DEV_STORE_KEY (public); production
    # requires it there.
    store_key: SecretStr | None = None
    service_id: str = "customs-provenance-ledger"
    # How long a verification receipt may be relied on after it is issued (its `exp`).
    receipt_validity_seconds: int = Field(default=86_400, ge=60, le=366 * 86_400)

    # This instance's name among the authority's instances on one store: shown by /readyz
    # (which instance holds the relayer) and recorded with the deployment. Default: host:port.
    instance_name: str | None = None

    # Seed the demo consignments on the embedded development chain.
    seed_demo: bool = True

    # The consortium: the customs authority this instance acts for (its address; on a
    # development chain, the first authority of the deployment config when not given), and
    # where the instances of the other authorities reach it (default http://127.0.0.1:{port};
    # behind a reverse proxy, the proxy's https URL, with its path prefix if any). The URL
    # and the instance's keys are published on chain (PartyRegistry.publishEndpoint).
    authority: str | None = None
    public_url: str | None = None
    # Requests to other instances: seconds each may take, bytes an answer may hold, and
    # seconds a verification may spend fetching payloads it lacks before it answers.
    peer_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    peer_max_response_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    peer_fetch_on_verify_seconds: float = Field(default=2.0, ge=0, le=60)

    # HTTP
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 64 * 1024
    max_batch_body_bytes: int = 16 * 1024 * 1024
    # Records one batch (or events one EPCIS document) may carry; at most the API schema's
    # 10,000 (api/schemas.py MAX_BATCH_RECORDS), lower if an operator wants smaller batches.
    max_batch_records: int = Field(default=10_000, ge=1, le=10_000)
    # Requests per second per credential, per process (a token bucket: `rate_limit_burst`
    # at once, refilled at this rate); 0 turns the limit off. A backstop against a runaway
    # client, set above what the benchmarks and test suites drive on one credential
    # (docs/benchmarks.md): a deployment sets its own.
    rate_limit_per_second: float = Field(default=1000.0, ge=0)
    rate_limit_burst: int = Field(default=2000, ge=1)

    @classmethod
    def load(cls, **values: Any) -> Settings:
        """The settings from the environment (and `values`); ConfigurationError naming each
        refused setting and why, without its value."""
        try:
            return cls(**values)
        except ValidationError as exc:
            reasons = [
                f"{'LEDGER_' + '_'.join(str(p) for p in error['loc']).upper() if error['loc'] else 'settings'}: "
                f"{error['msg']}"
                for error in exc.errors(include_url=False, include_input=False)
            ]
            raise ConfigurationError("; ".join(reasons)) from None

    @property
    def embedded_chain(self) -> bool:
        return self.rpc_url is None

    @property
    def receipt_keys(self) -> Path:
        return self.receipt_keys_dir or self.data_dir / "receipt-keys"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'ledger.db'}"

    @property
    def relayer_secret(self) -> str:
        if self.relayer_key is not None:
            return self.relayer_key.get_secret_value()
        return ANVIL_ACCOUNT_9_KEY

    @property
    def shared_store(self) -> bool:
        """Whether the store may be shared by several instances (PostgreSQL)."""
        return not self.database.startswith("sqlite")

    @property
    def receipt_store_key(self) -> bytes | None:
        """The key sealing the receipt keys and the encryption key in the store; None: they stay in receipt_keys_dir."""
        if self.store_key is not None:
            return _store_key_bytes(self.store_key.get_secret_value())
        return DEV_STORE_KEY if self.shared_store else None

    @property
    def instance(self) -> str:
        return self.instance_name or f"{socket.gethostname()}:{self.port}"

    @property
    def manifest_file(self) -> Path:
        return self.manifest_path or self.data_dir / "deployment.json"

    @property
    def peer_url(self) -> str:
        """Where peers reach this instance, without a trailing slash."""
        return (self.public_url or f"http://{_url_host(self.host)}:{self.port}").rstrip("/")

    @field_validator("authority")
    @classmethod
    def _authority_is_an_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not is_address(value):
            raise ValueError("LEDGER_AUTHORITY must be an address (0x and 40 hex digits)")
        return str(to_checksum_address(value))

    @field_validator("ws_url")
    @classmethod
    def _ws_url_is_websocket(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError("LEDGER_WS_URL must be a ws:// or wss:// URL with a host")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = peer_url_problem(value)
        if problem is not None:
            raise ValueError(f"LEDGER_PUBLIC_URL {problem}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_development_material_in_production(self) -> Settings:
        if self.environment == "production":
            if self.embedded_chain:
                raise ValueError("LEDGER_RPC_URL is required in production (the embedded anvil is for development)")
            if self.dev_chain:
                raise ValueError("LEDGER_DEV_CHAIN is for development chains, not production")
        # A reader deploys nothing and sends nothing: the store and the chain are all it needs.
        if self.role != "reader" and not self.embedded_chain and self.deployer_key is None:
            raise ValueError("LEDGER_DEPLOYER_KEY is required with LEDGER_RPC_URL (an external chain)")
        if self.role != "reader" and not self.embedded_chain and self.relayer_key is None:
            raise ValueError("LEDGER_RELAYER_KEY is required with LEDGER_RPC_URL (an external chain)")
        if self.store_key is not None:
            _store_key_bytes(self.store_key.get_secret_value())
        if self.environment == "production" and self.shared_store:
            if self.store_key is None:
                raise ValueError(
                    "LEDGER_STORE_KEY is required in production on a PostgreSQL store: it seals the receipt-signing "
                    "keys and the encryption key every instance shares"
                )
            if _store_key_bytes(self.store_key.get_secret_value()) == DEV_STORE_KEY:
                raise ValueError("LEDGER_STORE_KEY is the public development key")
        if self.public_material_forbidden and self.role != "reader":  # a reader reads neither config nor keys
            if self.deployment_config.resolve() == DEV_DEPLOYMENT_CONFIG:
                raise ValueError("LEDGER_DEPLOYMENT_CONFIG points at the development config, whose keys are public")
            for name, key in (("LEDGER_DEPLOYER_KEY", self.deployer_key), ("LEDGER_RELAYER_KEY", self.relayer_key)):
                if key is not None and _normal_key(key.get_secret_value()) in ANVIL_DEV_KEYS:
                    raise ValueError(f"{name} is one of anvil's development keys, which anyone knows")
        return self

    @property
    def public_material_forbidden(self) -> bool:
        """Whether anvil's public keys and the development authorities must be refused: on
        any chain the service did not start itself and that is not declared a development
        chain (LEDGER_DEV_CHAIN)."""
        return not self.embedded_chain and not self.dev_chain


def _url_host(host: str) -> str:
    # An instance listening on every interface is reached on the loopback by default.
    host = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _normal_key(key: str) -> str:
    key = key.strip().lower()
    return key if key.startswith("0x") else "0x" + key


def _store_key_bytes(text: str) -> bytes:
    """LEDGER_STORE_KEY's 32 bytes, from 64 hex digits or base64 (standard or URL-safe)."""
    text = text.strip()
    try:
        key = bytes.fromhex(text.removeprefix("0x")) if len(text.removeprefix("0x")) == 64 else None
    except ValueError:
        key = None
    if key is None:
        try:
            key = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True)
        except ValueError:
            key = b""
    if len(key) != 32:
        raise ValueError("LEDGER_STORE_KEY must be 32 bytes: 64 hex digits, or base64 (openssl rand -base64 32)")
    return key
