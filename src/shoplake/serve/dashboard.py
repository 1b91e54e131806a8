"""The web dashboard: one static page at ``/`` and its files under ``/static/``.

The page itself needs no key; it asks for one and sends it as ``X-API-Key`` on every call to
the analytics endpoints (:mod:`shoplake.serve.routes.analytics`), which enforce the roles.
Everything the browser loads comes from this server, the charting libraries included
(``static/vendor``), so the dashboard works offline.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).parent / "static"

#: Only this server's files; ``unsafe-eval`` because Vega compiles its expressions to functions.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(tags=["dashboard"], include_in_schema=False)


@router.get("/")
def dashboard() -> FileResponse:
    """The dashboard page."""
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers=HEADERS | {"Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )


@router.get("/static/{path:path}")
def static_file(path: str) -> FileResponse:
    """A file of the dashboard; nothing outside the static folder is reachable."""
    root = STATIC_DIR.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(404, f"no dashboard file {path!r}")
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type.endswith("javascript"):
        media_type += "; charset=utf-8"
    return FileResponse(target, media_type=media_type, headers=HEADERS)
