"""The one settings object: read from the environment (prefix LEDGER_) and `.env`.
Every default works on a laptop; secrets come only from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEV_DEPLOYMENT_CONFIG = PROJECT_ROOT / "config" / "deployment.dev.yaml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = PROJECT_ROOT / "data"
    build_dir: Path = PROJECT_ROOT / "build"

    # Chain: without rpc_url the service starts its own anvil, keeping its state in data_dir.
    rpc_url: str | None = None
    anvil_port: int = 8545
    deployment_config: Path = DEV_DEPLOYMENT_CONFIG
    manifest_path: Path | None = None
    deployer_key: SecretStr | None = None

    @property
    def embedded_chain(self) -> bool:
        return self.rpc_url is None

    @property
    def manifest_file(self) -> Path:
        return self.manifest_path or self.data_dir / "deployment.json"

    @model_validator(mode="after")
    def _refuse_development_material_in_production(self) -> Settings:
        if self.environment == "production":
            if self.embedded_chain:
                raise ValueError("LEDGER_RPC_URL is required in production (the embedded anvil is for development)")
            if self.deployment_config.resolve() == DEV_DEPLOYMENT_CONFIG:
                raise ValueError("LEDGER_DEPLOYMENT_CONFIG points at the development config, whose keys are public")
        if not self.embedded_chain and self.deployer_key is None:
            raise ValueError("LEDGER_DEPLOYER_KEY is required with LEDGER_RPC_URL (an external chain)")
        return self
