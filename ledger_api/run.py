"""`make run`: start the embedded chain (or attach to LEDGER_RPC_URL), make sure the
contracts are deployed, and keep running until Ctrl-C, then stop cleanly.

The next `make run` resumes the same chain from data/ and reuses its deployment.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading

from eth_account import Account
from web3 import HTTPProvider, Web3

from ledger_api.chain.deploy import Sender, ensure_deployed, load_config
from ledger_api.chain.node import AnvilNode
from ledger_api.errors import LedgerError
from ledger_api.settings import Settings

log = logging.getLogger("ledger_api.run")


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings()
    except ValueError as exc:
        log.error("settings refused: %s", exc)
        return 2
    node: AnvilNode | None = None
    # Ctrl-C and SIGTERM end the wait below, so that the chain is always stopped cleanly.
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if settings.embedded_chain:
            if _port_in_use(settings.anvil_port):
                log.error(
                    "port %d is taken: the ledger is probably running already (or set LEDGER_ANVIL_PORT)",
                    settings.anvil_port,
                )
                return 1
            chain_dir = settings.data_dir / "chain"
            node = AnvilNode(chain_dir, port=settings.anvil_port, state_file=chain_dir / "state.json").start()
            url = node.url
            log.info("embedded anvil on %s, state in %s", url, chain_dir)
        else:
            url = settings.rpc_url or ""
        w3 = Web3(HTTPProvider(url))
        if settings.deployer_key is not None:
            sender = Sender(w3, Account.from_key(settings.deployer_key.get_secret_value()))
        else:
            sender = Sender(w3, w3.eth.accounts[0])
        manifest, created = ensure_deployed(
            w3,
            sender,
            load_config(settings.deployment_config),
            settings.build_dir,
            settings.manifest_file,
            replace_stale=settings.embedded_chain,
        )
        log.info("%s contracts on chain %d:", "deployed" if created else "reusing", manifest.chain_id)
        for name, deployed in manifest.contracts.items():
            log.info("  %-20s %s", name, deployed.address)
        log.info("manifest: %s — press Ctrl-C to stop", settings.manifest_file)
        stop.wait()
        log.info("stopping")
        return 0
    except LedgerError as exc:
        log.error("%s", exc)
        return 1
    finally:
        if node is not None:
            node.stop()


if __name__ == "__main__":
    sys.exit(main())
