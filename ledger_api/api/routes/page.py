"""The customs officer's page: one HTML file and its local assets (no CDN), calling the
same /v1 endpoints as any client with the officer's bearer token."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["page"])


@router.get("/", include_in_schema=False)
def officer_page() -> FileResponse:
    """The officer's verification page."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})
