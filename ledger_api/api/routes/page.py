"""The customs officer's page: one HTML file and its local assets (no CDN), calling the
same /v1 endpoints as any client with the officer's bearer token. The page signs customs
decisions in the browser with ethers (npm), served here from the project's node_modules,
or from static/vendor/ where `make vendor` copies it for a deployment without node_modules."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from ledger_api.errors import NotFound

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
ETHERS = "ethers.umd.min.js"
# Where the ethers build is looked for, in order: the copy `make vendor` makes, then npm's.
ETHERS_PLACES = (
    STATIC_DIR / "vendor" / ETHERS,
    Path(__file__).resolve().parents[3] / "node_modules" / "ethers" / "dist" / ETHERS,
)

router = APIRouter(tags=["page"])


@router.get("/", include_in_schema=False)
def officer_page() -> FileResponse:
    """The officer's verification page."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get(f"/vendor/{ETHERS}", include_in_schema=False)
def ethers_library() -> FileResponse:
    """ethers v6 (npm, MIT): keystore v3 decryption and EIP-712 signing in the officer's browser."""
    for place in ETHERS_PLACES:
        if place.is_file():
            return FileResponse(place, media_type="text/javascript", headers={"Cache-Control": "no-cache"})
    raise NotFound("ethers is not installed here (npm ci, or make vendor): the page cannot sign")
