"""`make consortium`: two customs authorities' instances on one development chain, as a
consortium runs them (a dev launcher: the service never imports it).

    make consortium        (or: .venv/bin/python -m scripts.consortium [--data DIR])

One anvil (http://127.0.0.1:8545), Japan Customs' instance on http://127.0.0.1:8000 and the
Netherlands Customs' on http://127.0.0.1:8001, each a `python -m ledger_api.run` process
with its own store, data folder and relayer key, on the chain at LEDGER_RPC_URL declared a
development chain (LEDGER_DEV_CHAIN): the first deploys the contracts, each publishes its
endpoint from its unlocked authority account and finds the other's on chain. The demo
consignments are written through Japan's instance; the Dutch one fetches their payloads
from it. Each data folder gets demo credentials for its own instance
(`demo-credentials.json`) and the instance's log (`service.log`).

Everything starts afresh under `.data/consortium/` (removed at each start). Ctrl-C stops
all of it, quietly.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from ledger_api import demo
from ledger_api.chain.deploy import Manifest
from ledger_api.chain.node import AnvilNode
from ledger_api.settings import ANVIL_DEV_KEYS, PROJECT_ROOT
from ledger_bench.consortium import JP_CUSTOMS, NL_CUSTOMS, Instance

log = logging.getLogger("consortium")

# Relayer keys of their own (anvil's accounts 9 and 8), never the deployer's (account 0).
MEMBERS = (("JP", JP_CUSTOMS, ANVIL_DEV_KEYS[9]), ("NL", NL_CUSTOMS, ANVIL_DEV_KEYS[8]))


def _write_credentials(instance: Instance, authorities: dict[str, str]) -> Path:
    """Demo credentials for this instance's store: both customs and the exporter."""
    who = {f"customs {country}": address for country, address in authorities.items()}
    who["exporter"] = demo.EXPORTER_P.account.address
    path = instance.data / "demo-credentials.json"
    tokens = {
        name: {"address": address, "token": instance.credentials.issue(address, f"demo {name}")}
        for name, address in who.items()
    }
    path.touch(mode=0o600)
    path.write_text(json.dumps(tokens, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.consortium", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=PROJECT_ROOT / ".data" / "consortium")
    parser.add_argument("--anvil-port", type=int, default=8545)
    parser.add_argument("--ports", type=int, nargs=2, default=(8000, 8001), metavar=("JP", "NL"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for noisy in ("httpx", "alembic"):  # a line per chain call, per store opened
        logging.getLogger(noisy).setLevel(logging.WARNING)

    stop = threading.Event()

    def interrupted(_signum: int, _frame: FrameType | None) -> None:
        stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)

    shutil.rmtree(args.data, ignore_errors=True)
    args.data.mkdir(parents=True)
    manifest = args.data / "deployment.json"  # the one deployment both instances join
    node = AnvilNode(args.data / "anvil", port=args.anvil_port)
    instances: list[Instance] = []
    try:
        node.start()
        log.info("anvil on %s (data under %s)", node.url, args.data)
        for (name, authority, relayer_key), port in zip(MEMBERS, args.ports, strict=True):
            log.info("starting %s customs' instance on http://127.0.0.1:%d …", name, port)
            instances.append(Instance(name, args.data / name.lower(), node.url, manifest, authority, relayer_key, port))
        jp = instances[0]
        log.info("both endpoints published on chain; writing the demo consignments through JP's instance")
        demo.seed(jp.url, Manifest.load(manifest), PROJECT_ROOT / "build", node.url, jp.credentials.issue)
        authorities = {name: authority for name, authority, _ in MEMBERS}
        for instance in instances:
            path = _write_credentials(instance, authorities)
            log.info(
                "%s customs: %s  (credentials %s, log %s)",
                instance.name,
                instance.url,
                path,
                instance.data / "service.log",
            )
        log.info(
            "NL's instance fetches the payloads from JP's as it learns the records from the chain. Ctrl-C stops all."
        )
        stop.wait()
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # a start that failed: say why in one line, the logs say more
        log.error("the consortium did not start: %s (logs under %s)", exc, args.data)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not cut the shutdown short
        for instance in reversed(instances):
            instance.stop()
        node.stop()
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
