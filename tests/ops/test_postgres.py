"""The doctor against a real PostgreSQL (Unix socket, trust auth): roles, grants, pgvector."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shoplake.config import load_settings
from shoplake.ops.doctor import EndpointReport, diagnose
from shoplake.ops.endpoints import build_probes
from shoplake.services import free_port
from tests.support.postgres import (
    TCP_PASSWORD,
    EmbeddedPostgres,
    postgres_or_skip,
)


@pytest.fixture(scope="module")
def shop_db(postgres_server: EmbeddedPostgres) -> Iterator[str]:
    """A database with two source tables and a role ``reader`` granted nothing on them."""
    url = postgres_server.create_database("doctor")
    name = url.split("@/", 1)[1].split("?", 1)[0]
    with postgres_server.connect(name) as conn:
        conn.execute("CREATE TABLE customers (id integer PRIMARY KEY)")
        conn.execute("CREATE TABLE orders (id integer PRIMARY KEY)")
        conn.execute("DROP ROLE IF EXISTS reader")
        conn.execute("CREATE ROLE reader LOGIN")
    yield url
    postgres_server.drop_database(url)


def _report(tmp_path: Path, endpoint: str, **overrides: object) -> EndpointReport:
    settings = load_settings(data_dir=tmp_path, **overrides)
    (report,) = diagnose(build_probes(settings, [endpoint]))
    return report


def test_source_on_a_unix_socket_passes(tmp_path: Path, shop_db: str) -> None:
    report = _report(tmp_path, "source", **{"source.url": shop_db})
    assert report.ok, report.to_dict()
    layers = {r.layer: (r.status, r.detail) for r in report.layers}
    assert layers["dns"] == ("skipped", "Unix socket")
    assert layers["tls"] == ("skipped", "Unix socket")
    assert layers["tcp"][1].endswith("/.s.PGSQL.5432")
    assert layers["permission"] == ("ok", "read 2 tables (customers, orders)")


def test_role_without_select_gets_the_grant_to_run(tmp_path: Path, shop_db: str) -> None:
    url = shop_db.replace("postgres@", "reader@")
    report = _report(tmp_path, "source", **{"source.url": url})
    assert report.failed_layer == "permission"
    assert report.problem == "permission denied for table customers (role reader)"
    assert report.fix == "role reader needs `GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader`"


def test_unknown_database_and_role(tmp_path: Path, shop_db: str) -> None:
    name = shop_db.split("@/", 1)[1].split("?", 1)[0]
    report = _report(tmp_path, "source", **{"source.url": shop_db.replace(name, "nowhere")})
    assert (report.failed_layer, report.problem) == ("auth", "database nowhere does not exist")
    assert "createdb nowhere" in (report.fix or "") and "source.url" in (report.fix or "")
    report = _report(tmp_path, "source", **{"source.url": shop_db.replace("postgres@", "ghost@")})
    assert (report.failed_layer, report.problem) == (
        "auth",
        "role ghost does not exist on the server",
    )


def test_pgvector_extension_missing_then_installed(
    tmp_path: Path, postgres_server: EmbeddedPostgres
) -> None:
    url = postgres_server.create_database("vec")
    name = url.split("@/", 1)[1].split("?", 1)[0]
    try:
        with postgres_server.connect(name) as conn:
            available = conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
            ).fetchone()
        if available is None:
            pytest.skip("this PostgreSQL build has no pgvector extension")
        overrides = {"vectors.backend": "pgvector", "vectors.url": url}
        report = _report(tmp_path, "vectors", **overrides)
        assert report.failed_layer == "permission"
        assert report.problem == f"the vector extension is not installed in database {name}"
        assert "CREATE EXTENSION vector" in (report.fix or "")
        with postgres_server.connect(name) as conn:
            conn.execute("CREATE EXTENSION vector")
        report = _report(tmp_path, "vectors", **overrides)
        assert report.ok, report.to_dict()
        assert "TEMP vector table created and dropped" in report.layers[4].detail
    finally:
        postgres_server.drop_database(url)


def test_pgvector_without_a_postgres_url_is_a_config_failure(tmp_path: Path) -> None:
    report = _report(tmp_path, "vectors", **{"vectors.backend": "pgvector"})
    assert report.failed_layer == "config"
    assert "needs a PostgreSQL URL" in (report.problem or "")
    assert report.fix == "set vectors.url"


@pytest.fixture(scope="module")
def tcp_server() -> Iterator[EmbeddedPostgres]:
    """A second real PostgreSQL listening on 127.0.0.1 too: passwords (SCRAM), no TLS."""
    with postgres_or_skip(tcp_port=free_port()) as server:
        with server.connect() as conn:
            conn.execute("CREATE TABLE customers (id integer PRIMARY KEY)")
        yield server


def test_tcp_source_with_its_password_passes(tmp_path: Path, tcp_server: EmbeddedPostgres) -> None:
    report = _report(tmp_path, "source", **{"source.url": tcp_server.tcp_url(TCP_PASSWORD)})
    assert report.ok, report.to_dict()
    layers = {r.layer: (r.status, r.detail) for r in report.layers}
    assert [layers[name][0] for name in ("tcp", "auth", "permission")] == ["ok"] * 3
    assert layers["permission"][1] == "read 1 table (customers)"


def test_wrong_postgres_password_is_named(tmp_path: Path, tcp_server: EmbeddedPostgres) -> None:
    report = _report(tmp_path, "source", **{"source.url": tcp_server.tcp_url("wrong")})
    assert report.failed_layer == "auth"
    assert report.problem == "password authentication failed for user postgres"
    assert report.fix is not None and "fix the password in source.url" in report.fix


def test_tls_required_but_not_offered(tmp_path: Path, tcp_server: EmbeddedPostgres) -> None:
    url = tcp_server.tcp_url(TCP_PASSWORD, sslmode="require")
    report = _report(tmp_path, "source", **{"source.url": url})
    assert report.failed_layer == "tls"
    assert report.problem == (
        f"TLS required (sslmode=require) but not offered: 127.0.0.1:{tcp_server.port} "
        "answered 'N' to SSLRequest"
    )
