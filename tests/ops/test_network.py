"""Network layers without a server: unknown hosts, closed ports, missing and stale sockets."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

from shoplake.config import load_settings
from shoplake.ops.doctor import EndpointReport, diagnose
from shoplake.ops.endpoints import build_probes
from shoplake.services import free_port


def _report(tmp_path: Path, endpoint: str, **overrides: object) -> EndpointReport:
    settings = load_settings(data_dir=tmp_path, **overrides)
    (report,) = diagnose(build_probes(settings, [endpoint]))
    return report


def test_unknown_host_names_the_setting(tmp_path: Path) -> None:
    url = "redis://:pw@no-such-host.invalid:6379/0"
    report = _report(tmp_path, "online-store", **{"stream.url": url})
    assert report.failed_layer == "dns"
    assert (report.problem or "").startswith("cannot resolve no-such-host.invalid (stream.url): ")
    assert report.fix == "check the host name in stream.url or DNS"
    assert report.target == "redis://:***@no-such-host.invalid:6379/0"


def test_closed_port_of_the_shoplake_api(tmp_path: Path) -> None:
    port = free_port()
    report = _report(tmp_path, "api", **{"serve.port": port, "serve.host": "0.0.0.0"})
    assert report.target == f"http://127.0.0.1:{port}"  # a wildcard bind is probed on loopback
    assert report.failed_layer == "tcp"
    assert report.problem == f"connection refused on 127.0.0.1:{port}: nothing listens there"
    assert report.fix == "run `shoplake serve`, or fix serve.host/serve.port"


def test_missing_postgres_socket(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://app@/shop?host={tmp_path}"
    report = _report(tmp_path, "source", **{"source.url": url})
    assert [(r.layer, r.status) for r in report.layers] == [("dns", "skipped"), ("tcp", "fail")]
    assert report.layers[0].detail == "Unix socket"
    assert report.problem == f"socket {tmp_path}/.s.PGSQL.5432 does not exist: no server runs there"
    assert "start the PostgreSQL server" in (report.fix or "") and "source.url" in (
        report.fix or ""
    )


def test_stale_unix_socket(tmp_path: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="doc") as directory:  # short: socket path limit
        path = Path(directory) / "valkey.sock"
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(str(path))  # bound, never listening: what a crashed server leaves
        try:
            report = _report(tmp_path, "event-log", **{"stream.url": f"unix://{path}"})
        finally:
            stale.close()
    assert report.failed_layer == "tcp"
    assert report.problem == f"socket {path} exists but nothing accepts on it (a stopped server's)"
    assert report.layers[0].detail == "Unix socket"


def test_missing_sqlite_source(tmp_path: Path) -> None:
    report = _report(tmp_path, "source")
    assert report.failed_layer == "permission"
    assert report.problem == f"database file {tmp_path / 'source.db'} does not exist"
    assert "`shoplake generate`" in (report.fix or "")
