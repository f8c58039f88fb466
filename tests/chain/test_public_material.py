"""anvil's development keys and accounts are public: the service refuses them on any chain
it did not start itself, unless that chain is declared a development anvil (security
review: "a copy of the development config, or anvil's well-known keys passed explicitly,
pass the production guard; with an RPC URL and no environment set, the public development
authorities are deployed to an external chain")."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from eth_account import Account

from ledger_api.chain.node import AnvilNode
from ledger_api.errors import ConfigurationError
from ledger_api.runtime import Runtime
from ledger_api.settings import ANVIL_DEV_ADDRESSES, ANVIL_DEV_KEYS, DEV_DEPLOYMENT_CONFIG, Settings

FRESH_DEPLOYER = "0x" + "11" * 32
FRESH_RELAYER = "0x" + "22" * 32


def test_the_public_keys_are_anvils_mnemonic_accounts():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Account.enable_unaudited_hdwallet_features()
    mnemonic = "test test test test test test test test test test test junk"
    accounts = [Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}") for i in range(10)]
    assert tuple("0x" + a.key.hex().removeprefix("0x") for a in accounts) == ANVIL_DEV_KEYS
    assert tuple(a.address for a in accounts) == ANVIL_DEV_ADDRESSES


def test_an_rpc_url_with_the_development_config_is_refused_whatever_the_environment():
    with pytest.raises(ConfigurationError, match="development config"):
        Settings.load(rpc_url="http://127.0.0.1:1", deployer_key=FRESH_DEPLOYER, relayer_key=FRESH_RELAYER)


@pytest.mark.parametrize("which", ["deployer_key", "relayer_key"])
def test_an_anvil_key_passed_explicitly_is_refused_on_an_external_chain(tmp_path: Path, which: str):
    config = tmp_path / "authorities.yaml"
    config.write_text("authorities: []\n")
    keys = {"deployer_key": FRESH_DEPLOYER, "relayer_key": FRESH_RELAYER, which: ANVIL_DEV_KEYS[9]}
    with pytest.raises(ConfigurationError, match=f"LEDGER_{which.upper()}.*development keys"):
        Settings.load(rpc_url="http://127.0.0.1:1", deployment_config=config, **keys)
    # The same keys on a chain declared a development anvil are allowed.
    assert Settings.load(rpc_url="http://127.0.0.1:1", deployment_config=config, dev_chain=True, **keys)


def test_a_development_chain_is_never_declared_in_production(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="LEDGER_DEV_CHAIN"):
        Settings.load(
            environment="production",
            rpc_url="http://127.0.0.1:1",
            dev_chain=True,
            deployer_key=FRESH_DEPLOYER,
            relayer_key=FRESH_RELAYER,
            deployment_config=tmp_path / "x.yaml",
        )


def test_a_copy_of_the_development_config_is_refused_before_anything_is_deployed(tmp_path: Path, anvil: AnvilNode):
    copy = tmp_path / "consortium.yaml"
    shutil.copy(DEV_DEPLOYMENT_CONFIG, copy)
    settings = Settings.load(
        data_dir=tmp_path / "data",
        rpc_url=anvil.url,
        deployment_config=copy,
        deployer_key=FRESH_DEPLOYER,
        relayer_key=FRESH_RELAYER,
    )
    with pytest.raises(ConfigurationError, match="anvil's development accounts"):
        Runtime(settings).start(background=False)
    assert not settings.manifest_file.exists()


def test_a_declared_development_chain_must_be_an_anvil(tmp_path: Path):
    with AnvilNode(tmp_path / "anvil", extra_args=("--chain-id", "4242")) as node:
        settings = Settings.load(
            data_dir=tmp_path / "data",
            rpc_url=node.url,
            dev_chain=True,
            deployer_key=ANVIL_DEV_KEYS[0],
            relayer_key=ANVIL_DEV_KEYS[9],
        )
        with pytest.raises(ConfigurationError, match="chain 4242"):
            Runtime(settings).start(background=False)
        assert not settings.manifest_file.exists()


def test_the_data_folder_and_the_store_are_their_owners_alone(tmp_path: Path, anvil: AnvilNode):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    settings = Settings.load(
        data_dir=data, rpc_url=anvil.url, dev_chain=True, deployer_key=ANVIL_DEV_KEYS[0], relayer_key=ANVIL_DEV_KEYS[9]
    )
    runtime = Runtime(settings).start(background=False)
    try:
        assert data.stat().st_mode & 0o777 == 0o700
        assert (data / "ledger.db").stat().st_mode & 0o777 == 0o600
    finally:
        runtime.stop()
