"""One small trained lakehouse for the API tests, keys per role, and clients over it.

The lakehouse (scale 0.02, seed 42: generated, ingested, transformed, trained) is built once
per test session. Its valkey port is a free one with nothing listening, so the API starts
without an online store unless a test starts one (:func:`online_store`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shoplake.config import Settings
from shoplake.platform import Platform
from shoplake.serve.app import create_app
from shoplake.serve.auth import ROLES, create_key
from shoplake.services import free_port
from tests.support.streams import local_valkey


@pytest.fixture(scope="session")
def lakehouse(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    """A generated shop, ingested, transformed and trained; its model promoted."""
    data_dir = tmp_path_factory.mktemp("serve") / "shop"
    shop = Platform(data_dir=data_dir, **{"services.valkey_port": free_port()})
    shop.generate(scale=0.02, seed=42)
    assert shop.ingest().ok
    assert shop.transform().ok
    assert shop.train().promoted
    return shop


@pytest.fixture(scope="session")
def api_keys(lakehouse: Platform) -> dict[str, str]:
    """One key per role (plaintext), created through the key store."""
    return {role: create_key(lakehouse.settings, role, f"{role} tests")[1] for role in ROLES}


def auth(api_keys: dict[str, str], role: str) -> dict[str, str]:
    """The header carrying ``role``'s key."""
    return {"X-API-Key": api_keys[role]}


def with_serve(settings: Settings, **serve: Any) -> Settings:
    """A copy of ``settings`` with some ``serve`` options changed."""
    return settings.model_copy(update={"serve": settings.serve.model_copy(update=serve)})


@pytest.fixture(scope="module")
def client(lakehouse: Platform, api_keys: dict[str, str]) -> Iterator[TestClient]:
    """The API over the lakehouse, without an online store."""
    with TestClient(create_app(lakehouse.settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def online_store(lakehouse: Platform) -> Iterator[str]:
    """The lakehouse's own valkey, running for one module (stopped by PID afterwards)."""
    with local_valkey(lakehouse.settings) as url:
        yield url


def rows(shop: Platform, sql: str) -> list[dict[str, Any]]:
    """A lakehouse query's rows, read directly (not through the API)."""
    return shop.query(sql).table.to_pylist()
