"""A running local supplier API (``shoplake sources api``) for tests, as a real subprocess."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from shoplake.supplier.process import running_api

#: The running-server fixture lives in src (the demo uses it too).
running_supplier_api = running_api


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
