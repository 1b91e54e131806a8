"""The doctor against the real local supplier API: secrets, tokens, scopes, TLS, latency."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from shoplake.config import Settings, load_settings
from shoplake.ops.doctor import EndpointReport, diagnose
from shoplake.ops.endpoints import build_probes
from shoplake.services import free_port
from tests.support.streams import generate_source
from tests.support.supplier import copy_source, fetch_token, running_supplier_api

ENDPOINT = "supplier-api"
READER = {"reader": {"secret": "reader-secret", "scopes": ["reviews:read"]}}


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_source(tmp_path_factory.mktemp("doctor-source"))


def _serve(source_dir: Path, directory: Path, **overrides: Any) -> Iterator[Settings]:
    data_dir = copy_source(source_dir, directory / "data")
    settings = load_settings(data_dir=data_dir, **{"supplier.port": free_port(), **overrides})
    with running_supplier_api(settings):
        yield settings


@pytest.fixture(scope="module")
def short_tokens(source_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A supplier API whose tokens live 1 s, with a client ``reader`` of scope reviews:read."""
    overrides = {"supplier.token_ttl_seconds": 1, "supplier.clients": READER}
    yield from _serve(source_dir, tmp_path_factory.mktemp("short"), **overrides)


@pytest.fixture(scope="module")
def slow_api(source_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A supplier API adding 600 ms to every data request."""
    overrides = {"supplier.faults": {"latency_ms": 600}}
    yield from _serve(source_dir, tmp_path_factory.mktemp("slow"), **overrides)


def _report(settings: Settings, **overrides: Any) -> EndpointReport:
    if overrides:
        settings = settings.model_copy(
            update={"supplier": settings.supplier.model_copy(update=overrides)}
        )
    (report,) = diagnose(build_probes(settings, [ENDPOINT]))
    return report


def _with_doctor(settings: Settings, **doctor: Any) -> Settings:
    return settings.model_copy(update={"doctor": settings.doctor.model_copy(update=doctor)})


def test_healthy_supplier_api_notes_short_lived_tokens(short_tokens: Settings) -> None:
    report = _report(short_tokens)
    assert report.ok, report.to_dict()
    layers = {r.layer: (r.status, r.detail) for r in report.layers}
    assert layers["tls"] == ("skipped", "not requested (http://)")
    assert layers["auth"][0] == "ok" and "client shoplake got a token" in layers["auth"][1]
    assert layers["permission"] == ("ok", "read /v1/products and /v1/reviews")
    assert layers["latency"][0] == "ok"
    assert report.warning == "tokens live only 1 s (expires_in)"


def test_wrong_client_secret(short_tokens: Settings) -> None:
    report = _report(short_tokens, client_secret=SecretStr("not-the-secret"))
    assert report.failed_layer == "auth"
    assert report.problem is not None and report.fix is not None
    assert "client shoplake rejected by" in report.problem
    assert "unknown client or wrong secret (invalid_client)" in report.problem
    assert "fix supplier.client_id / supplier.client_secret" in report.fix


def test_expired_static_token(short_tokens: Settings) -> None:
    base_url = short_tokens.supplier.base_url()
    secret = short_tokens.supplier.client_secret.get_secret_value()
    token = fetch_token(base_url, "shoplake", secret)
    time.sleep(1.2)
    report = _report(short_tokens, token=SecretStr(token))
    assert report.failed_layer == "auth"
    assert report.problem == (
        "the static token in supplier.token was refused: token expired (401 invalid_token)"
    )
    assert "get a new token, or remove supplier.token" in (report.fix or "")


def test_unknown_static_token(short_tokens: Settings) -> None:
    report = _report(short_tokens, token=SecretStr("made-up"))
    assert report.failed_layer == "auth"
    assert "refused: unknown token" in (report.problem or "")


def test_missing_scope_is_named(short_tokens: Settings) -> None:
    report = _report(short_tokens, client_id="reader", client_secret=SecretStr("reader-secret"))
    assert report.failed_layer == "permission"
    assert report.problem == (
        "client reader lacks scope catalog:read for GET /v1/products "
        "(403 insufficient_scope; it has reviews:read)"
    )
    assert (
        report.fix == "add catalog:read to supplier.clients.reader.scopes (the local API's clients)"
    )


def test_https_to_the_plain_api(short_tokens: Settings) -> None:
    port = short_tokens.supplier.port
    report = _report(short_tokens, url=f"https://127.0.0.1:{port}")
    assert report.failed_layer == "tls"
    assert report.problem is not None
    assert report.problem.startswith(
        f"TLS required but not offered: 127.0.0.1:{port} speaks plain HTTP"
    )
    assert report.fix == "use http:// in supplier.url, or serve the API over TLS"


def test_unknown_host(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path, **{"supplier.url": "http://no-such-host.invalid:8070"}
    )
    report = _report(settings)
    assert report.failed_layer == "dns"
    assert (report.problem or "").startswith("cannot resolve no-such-host.invalid (supplier.url)")
    assert report.fix == "check the host name in supplier.url or DNS"


def test_closed_port(tmp_path: Path) -> None:
    port = free_port()
    report = _report(load_settings(data_dir=tmp_path, **{"supplier.port": port}))
    assert report.failed_layer == "tcp"
    assert report.problem == f"connection refused on 127.0.0.1:{port}: nothing listens there"
    assert report.fix == "run `shoplake sources api` or set supplier.url"


def test_slow_endpoint_names_the_figure_and_the_fault(slow_api: Settings) -> None:
    report = _report(_with_doctor(slow_api, slow_ms=200.0, latency_samples=3))
    assert report.failed_layer == "latency"
    latency = report.layers[-1]
    assert latency.ms is not None and latency.ms >= 600
    assert report.problem == (
        f"slow: median {latency.ms:.0f} ms over 3 × GET /v1/products?limit=1, "
        "above doctor.slow_ms 200 ms"
    )
    assert report.fix == "the local API adds supplier.faults.latency_ms=600 ms: set it to 0"
