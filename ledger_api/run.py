"""`make run`: the whole service on http://127.0.0.1:8000 — its own anvil (or the chain at
LEDGER_RPC_URL), the contracts deployed on first start and reused after, the relayer and
indexer, the API, and on the development chain the demo consignments. Ctrl-C stops it all
cleanly; the next `make run` resumes with the same data."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading

import uvicorn

from ledger_api import demo
from ledger_api.chain.node import AnvilNode
from ledger_api.errors import ConfigurationError
from ledger_api.main import create_app
from ledger_api.runtime import Runtime
from ledger_api.settings import Settings

log = logging.getLogger("ledger_api.run")


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _seed_when_up(server: uvicorn.Server, runtime: Runtime, settings: Settings) -> None:
    while not server.started:
        if server.should_exit:
            return
        threading.Event().wait(0.05)
    assert runtime.manifest is not None and runtime.node is not None and runtime.credentials is not None
    credentials = runtime.credentials
    try:
        _write_demo_credentials(settings, runtime)
        demo.seed(
            f"http://{settings.host}:{settings.port}",
            runtime.manifest,
            settings.build_dir,
            runtime.node.url,
            lambda address: credentials.issue(address, "demo"),
        )
    except Exception:
        if server.should_exit:  # Ctrl-C while seeding: the next start goes on from where it stopped
            log.info("seeding the demo consignments stopped by the shutdown; the next start completes it")
            return
        log.exception("seeding the demo consignments failed; the service runs on without it")


def _write_demo_credentials(settings: Settings, runtime: Runtime) -> None:
    """Credentials for trying the demo consignments (curl, the CLI, the officer page): the
    customs of both countries and the exporter, written once to data/demo-credentials.json
    (0600)."""
    path = settings.data_dir / "demo-credentials.json"
    if path.exists() or runtime.manifest is None or runtime.credentials is None:
        return
    who = {f"customs {a['country']}": a["address"] for a in runtime.manifest.authorities}
    who["exporter"] = demo.EXPORTER_P.account.address
    tokens = {
        name: {"address": address, "token": runtime.credentials.issue(address, f"demo {name}")}
        for name, address in who.items()
    }
    path.touch(mode=0o600)
    path.write_text(json.dumps(tokens, indent=2) + "\n")
    log.info("demo credentials (Authorization: Bearer …) in %s", path)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per chain call drowns the rest
    try:
        settings = Settings.load()
    except ConfigurationError as exc:
        log.error("settings refused: %s", exc)
        return 2
    taken = [settings.port] if _port_in_use(settings.port) else []
    if settings.embedded_chain and _port_in_use(settings.anvil_port):
        # An anvil left behind by a run that was killed is ours to stop; any other is not.
        chain_dir = settings.data_dir / "chain"
        if not AnvilNode(chain_dir, port=settings.anvil_port, state_file=chain_dir / "state.json").reclaim_orphan():
            taken.append(settings.anvil_port)
    if taken:
        log.error(
            "port %s is taken: the ledger is probably running already (see http://%s:%d/healthz), "
            "or set LEDGER_PORT / LEDGER_ANVIL_PORT",
            ", ".join(map(str, taken)),
            settings.host,
            settings.port,
        )
        return 1
    runtime = Runtime(settings)
    app = create_app(settings, runtime, freeze_heap=True)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info"))
    if settings.embedded_chain and settings.seed_demo:
        threading.Thread(target=_seed_when_up, args=(server, runtime, settings), name="demo", daemon=True).start()
    try:
        server.run()  # returns after SIGTERM, once the lifespan has stopped the chain
    except KeyboardInterrupt:
        # Ctrl-C: uvicorn shuts down, lifespan included, then raises the signal again for
        # the default handler, which asyncio's runner turns into a KeyboardInterrupt that
        # would end in a traceback. Die of the signal instead, quietly, as Ctrl-C means.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
