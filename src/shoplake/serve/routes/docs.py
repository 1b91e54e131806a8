"""The API's documentation at ``/docs``: Swagger UI served from this server's own files.

FastAPI's default page loads Swagger UI from a CDN and is blank offline or behind a firewall;
this one loads the vendored build in ``static/vendor/swagger-ui`` (see the README there), with
the online validator badge off, so the page makes no request beyond this server. ReDoc is not
served.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

DOCS_PATH = "/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"
ASSETS_DIR = Path(__file__).parents[1] / "static" / "vendor" / "swagger-ui"
#: The files the page loads, and their media types: nothing else is reachable.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}

router = APIRouter(include_in_schema=False)


@router.get(DOCS_PATH)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over this API's OpenAPI document."""
    root = request.scope.get("root_path", "")
    app = request.app
    return get_swagger_ui_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} API — documentation",
        swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
    )


@router.get(f"{ASSETS_PATH}/{{name}}")
def swagger_asset(name: str) -> FileResponse:
    """One of the page's files."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(404, f"no documentation file {name!r}")
    return FileResponse(
        ASSETS_DIR / name, media_type=media_type, headers={"Cache-Control": "max-age=86400"}
    )
