"""``/docs`` works offline: the page and everything it loads come from the API's own server
(Swagger UI is vendored), and ReDoc, which would load from a CDN, is not served."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from shoplake.config import child_environment, load_settings
from shoplake.serve.app import create_app
from shoplake.serve.routes.docs import ASSETS_DIR
from shoplake.services import child_setup, free_port, stop_child
from tests.support.browser import CHROMIUM, CHROMIUM_FLAGS

PAGE_LOADS = {
    "/docs/assets/swagger-ui.css": "text/css; charset=utf-8",
    "/docs/assets/favicon-32x32.png": "image/png",
    "/docs/assets/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "/openapi.json": "application/json",
}


def references(page: str) -> list[str]:
    """Every address the page names: tag attributes and the document Swagger UI fetches."""
    return re.findall(r'(?:src|href)="([^"]+)"', page) + re.findall(r"url: '([^']+)'", page)


@pytest.fixture(scope="module")
def docs_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The API over an empty data dir: the documentation needs no lakehouse and no key."""
    data_dir = tmp_path_factory.mktemp("docs")
    settings = load_settings(data_dir=data_dir, **{"services.valkey_port": free_port()})
    with TestClient(create_app(settings)) as client:
        yield client


def test_docs_load_only_from_this_server(docs_client: TestClient) -> None:
    page = docs_client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "://" not in page.text  # no absolute address at all, so no CDN
    assert '"validatorUrl": null' in page.text  # no badge image from validator.swagger.io
    assert sorted(references(page.text)) == sorted(PAGE_LOADS)
    for path, media_type in PAGE_LOADS.items():
        response = docs_client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == media_type
    bundle = docs_client.get("/docs/assets/swagger-ui-bundle.js")
    assert len(bundle.content) == (ASSETS_DIR / "swagger-ui-bundle.js").stat().st_size


@pytest.mark.parametrize(
    "path",
    ["/redoc", "/docs/assets/LICENSE", "/docs/assets/..%2F..%2Fapp.py", "/docs/oauth2-redirect"],
)
def test_nothing_else_is_served_from_the_docs(docs_client: TestClient, path: str) -> None:
    assert docs_client.get(path).status_code == 404


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`shoplake serve` over an empty data dir in a child process; its base URL."""
    data_dir = tmp_path_factory.mktemp("docs-served")
    port = free_port()
    settings = load_settings(data_dir=data_dir, **{"services.valkey_port": free_port()})
    command = [sys.executable, "-m", "shoplake.cli", "--data-dir", str(data_dir)]
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        env=child_environment(settings),
        preexec_fn=child_setup,  # noqa: PLW1509 - default signal handling
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"shoplake serve exited with {process.returncode}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "shoplake serve did not answer /health"
            time.sleep(0.2)
        yield base
    finally:
        stop_child(process)


@pytest.mark.e2e
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no browser at {CHROMIUM}")
def test_swagger_ui_renders_the_operations_offline(served: str, tmp_path: Path) -> None:
    """Any request leaving the server is refused and recorded; the page still renders."""
    sync_api = pytest.importorskip("playwright.sync_api")
    off_host: list[str] = []
    errors: list[str] = []

    def only_this_server(route: Any) -> None:
        url = route.request.url
        if url.startswith(f"{served}/"):
            route.continue_()
        else:
            off_host.append(url)
            route.abort()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_this_server)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{served}/docs", wait_until="networkidle")
            paths = page.locator(".opblock-summary-path")
            paths.first.wait_for(timeout=30_000)
            shown = set(paths.all_inner_texts())
            assert page.get_by_text("shoplake", exact=False).first.is_visible()
            page.screenshot(path=str(tmp_path / "docs.png"))
        finally:
            browser.close()
    assert off_host == []
    assert errors == []
    assert {"/recommendations/{customer_number}", "/products/{product_code}/similar"} <= {
        path.replace("\u200b", "")
        for path in shown  # Swagger UI breaks long paths
    }
