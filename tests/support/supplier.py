"""A running local supplier API (``shoplake sources api``) for tests, as a real subprocess."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx

from shoplake import services
from shoplake.config import Settings, child_environment

START_TIMEOUT = 30.0


@contextlib.contextmanager
def running_supplier_api(settings: Settings, timeout: float = START_TIMEOUT) -> Iterator[str]:
    """Serve the supplier API of ``settings`` (its data dir needs a source database) on
    ``settings.supplier.port``; yields its base URL once ``/health`` answers, stops it after.

    The store is created and seeded on first start under ``<data_dir>/supplier/``.
    """
    command = [
        sys.executable,
        "-m",
        "shoplake.cli",
        "--data-dir",
        str(settings.data_dir),
        "sources",
        "api",
        "--port",
        str(settings.supplier.port),
    ]
    # stderr goes to a file, not a pipe: a full pipe would block the server.
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command,
            env=child_environment(settings),
            preexec_fn=services.child_setup,  # noqa: PLW1509 - default signal handling
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        base_url = f"http://127.0.0.1:{settings.supplier.port}"
        try:
            _wait_healthy(process, errors, base_url, timeout)
            yield base_url
        finally:
            services.stop_child(process)


def _wait_healthy(
    process: subprocess.Popen[bytes], errors: IO[bytes], base_url: str, timeout: float
) -> None:
    """Poll ``/health`` until it answers 200; on exit or timeout raise with the child's stderr."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"supplier API exited with code {process.returncode}: {_stderr(errors)}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    services.stop_child(process)
    raise RuntimeError(f"supplier API not healthy within {timeout:.0f} s: {_stderr(errors)}")


def _stderr(errors: IO[bytes]) -> str:
    """What the child wrote to stderr so far."""
    errors.seek(0)
    return errors.read().decode(errors="replace").strip() or "(empty stderr)"


def copy_source(source_dir: Path, data_dir: Path) -> Path:
    """A new data dir holding a copy of ``source_dir``'s source database; returns it."""
    data_dir.mkdir(parents=True)
    with (
        sqlite3.connect(source_dir / "source.db") as src,
        sqlite3.connect(data_dir / "source.db") as dst,
    ):
        src.backup(dst)
    return data_dir


def fetch_token(base_url: str, client_id: str, secret: str, scope: str | None = None) -> str:
    """An access token by client credentials (asserts the grant succeeds)."""
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    if scope is not None:
        form["scope"] = scope
    response = httpx.post(f"{base_url}/oauth/token", data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def fetch_pages(
    base_url: str, resource: str, token: str, **params: Any
) -> Iterator[dict[str, Any]]:
    """Each page body of ``/v1/<resource>`` in turn, following ``next_cursor`` (asserts 200s)."""
    headers = {"Authorization": f"Bearer {token}"}
    query = {k: v for k, v in params.items() if v is not None}
    with httpx.Client(base_url=base_url, headers=headers) as client:
        while True:
            response = client.get(f"/v1/{resource}", params=query)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            yield body
            if body["next_cursor"] is None:
                return
            query = {"cursor": body["next_cursor"], "limit": query.get("limit")}
            query = {k: v for k, v in query.items() if v is not None}


def fetch_all(base_url: str, resource: str, token: str, **params: Any) -> list[dict[str, Any]]:
    """Every record of ``/v1/<resource>`` through all its pages."""
    return [r for page in fetch_pages(base_url, resource, token, **params) for r in page["data"]]
