"""Injected faults, observed by a plain httpx client against a real uvicorn server."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from shoplake.config import Settings, SupplierFaultSettings, load_settings
from shoplake.services import free_port
from shoplake.supplier.faults import decide
from tests.support.streams import generate_source
from tests.support.supplier import copy_source, fetch_token, running_supplier_api

FAULTS = {"error_rate": 0.2, "drop_rate": 0.2, "malformed_rate": 0.2, "seed": 3}
REQUESTS = 40


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_source(tmp_path_factory.mktemp("fault-source"))


def _settings(source_dir: Path, data_dir: Path, faults: dict[str, Any]) -> Settings:
    copy_source(source_dir, data_dir)
    overrides = {"supplier.port": free_port(), "supplier.faults": faults}
    return load_settings(data_dir=data_dir, **overrides)


def _outcome(client: httpx.Client) -> str:
    """What one data request looked like to the client: ok, 5xx status, drop or malformed."""
    try:
        response = client.get("/v1/products", params={"limit": 20})
    except httpx.TransportError:
        return "drop"
    if response.status_code >= 500:
        assert response.json()["error"]
        return str(response.status_code)
    assert response.status_code == 200
    try:
        assert len(response.json()["data"]) == 20
    except json.JSONDecodeError:
        return "malformed"
    return "ok"


def _observe(settings: Settings, requests: int = REQUESTS) -> list[str]:
    with running_supplier_api(settings) as url:
        token = fetch_token(url, "shoplake", settings.supplier.client_secret.get_secret_value())
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=5.0) as client:
            return [_outcome(client) for _ in range(requests)]


def _expected(faults: SupplierFaultSettings, requests: int = REQUESTS) -> list[str]:
    kinds = [decide(faults, n) for n in range(1, requests + 1)]
    return [str(f.status) if f.kind == "error" else (f.kind or "ok") for f in kinds]


def test_each_fault_is_observed_as_decided_and_repeats_with_the_seed(
    source_dir: Path, tmp_path: Path
) -> None:
    first = _settings(source_dir, tmp_path / "a", FAULTS)
    observed = _observe(first)
    assert observed == _expected(first.supplier.faults)
    kinds = Counter(observed)
    assert {"ok", "drop", "malformed"} <= set(kinds)
    assert {"500", "502", "503"} & set(kinds)
    again = _settings(source_dir, tmp_path / "b", FAULTS)
    assert _observe(again) == observed
    other = _expected(first.supplier.faults.model_copy(update={"seed": 4}))
    assert other != observed


def test_faults_spare_health_token_and_auth_and_latency_is_added(
    source_dir: Path, tmp_path: Path
) -> None:
    settings = _settings(source_dir, tmp_path / "d", {"error_rate": 1.0, "latency_ms": 200})
    with running_supplier_api(settings) as url:
        assert httpx.get(f"{url}/health").status_code == 200
        started = time.monotonic()
        assert httpx.get(f"{url}/v1/products").status_code == 401  # before any fault
        token = fetch_token(url, "shoplake", settings.supplier.client_secret.get_secret_value())
        assert time.monotonic() - started < 0.2
        headers = {"Authorization": f"Bearer {token}"}
        started = time.monotonic()
        statuses = [httpx.get(f"{url}/v1/reviews", headers=headers).status_code for _ in range(3)]
        assert time.monotonic() - started >= 0.6
    assert set(statuses) <= {500, 502, 503}


def test_decisions_follow_the_rates() -> None:
    faults = SupplierFaultSettings(error_rate=0.1, drop_rate=0.05, malformed_rate=0.15, seed=9)
    kinds = Counter(decide(faults, n).kind for n in range(1, 4001))
    assert kinds["error"] == pytest.approx(400, abs=80)
    assert kinds["drop"] == pytest.approx(200, abs=60)
    assert kinds["malformed"] == pytest.approx(600, abs=100)
    assert decide(SupplierFaultSettings(), 1).kind is None
