"""The floor under any FastAPI service on this machine: an endpoint that reads a JSON body
and answers 202, and does nothing else (no checks, no store, no chain), served by uvicorn
as `ledger_api.run` serves the ledger (one process, the same settings). `ledger bench
ingest` posts a stream's request bodies to it from the same clients as its single-record
stream: what HTTP alone costs on the cores the service shares with the node."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

app = FastAPI()


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/records", status_code=202)
def accept(body: dict[str, Any]) -> dict[str, str]:
    # A sync endpoint, run in the thread pool, as the ledger's submit_record is.
    return {"id": "0x" + "00" * 32, "status": "accepted", "location": "/v1/records/0x" + "00" * 32}


def serve(port: int) -> None:
    import uvicorn

    uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info")).run()


if __name__ == "__main__":
    import sys

    serve(int(sys.argv[1]))
