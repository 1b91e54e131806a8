"""Everything running — valkey, the supplier API, `shoplake serve` with a key — is all green;
then the shoplake API's key problems, and servers started on demand that are not running,
through the real CLI."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from shoplake import services
from shoplake.config import Settings, child_environment, load_settings
from shoplake.ops.doctor import EndpointReport, diagnose
from shoplake.ops.endpoints import ENDPOINTS, build_probes
from shoplake.serve.keys import create_key, revoke_key
from shoplake.services import free_port
from tests.support.streams import generate_source, local_valkey
from tests.support.supplier import running_supplier_api

START_TIMEOUT = 30.0


@contextlib.contextmanager
def running_shoplake_api(settings: Settings) -> Iterator[str]:
    """`shoplake serve` of ``settings`` in a subprocess; yields its URL once /health answers."""
    command = [sys.executable, "-m", "shoplake.cli", "--data-dir", str(settings.data_dir)]
    command += ["serve", "--port", str(settings.serve.port)]
    process = subprocess.Popen(
        command,
        env=child_environment(settings),
        preexec_fn=services.child_setup,  # noqa: PLW1509 - default signal handling
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{settings.serve.port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, f"shoplake serve exited with {process.returncode}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            assert time.monotonic() < deadline, "shoplake serve did not answer /health"
            time.sleep(0.1)
        yield url
    finally:
        services.stop_child(process)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A data dir with a source, its valkey, its supplier API and its shoplake API running."""
    data_dir = generate_source(tmp_path_factory.mktemp("healthy"))
    overrides = {
        "services.valkey_port": free_port(),
        "supplier.port": free_port(),
        "serve.port": free_port(),
    }
    settings = load_settings(data_dir=data_dir, **overrides)
    with (
        local_valkey(settings),
        running_supplier_api(settings),
        running_shoplake_api(settings),
    ):
        yield settings


@pytest.fixture(scope="module")
def api_key(platform: Settings) -> str:
    return create_key(platform, "analyst", "doctor")[1]


def _doctor(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "shoplake.cli", "--data-dir", str(settings.data_dir)]
    return subprocess.run(
        [*command, "doctor", *args],
        env={**child_environment(settings), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_everything_running_is_all_green(platform: Settings, api_key: str) -> None:
    done = _doctor(platform, "--output", "json", SHOPLAKE_API_KEY=api_key)
    assert done.returncode == 0, done.stdout + done.stderr
    reports: list[dict[str, Any]] = json.loads(done.stdout)
    assert [r["endpoint"] for r in reports] == list(ENDPOINTS)
    for report in reports:
        assert report["status"] == "ok", report
        assert report["failed_layer"] is None and report["problem"] is None
        assert {layer["status"] for layer in report["layers"]} <= {"ok", "skipped"}
    by_name = {r["endpoint"]: r for r in reports}
    source_layers = {layer["layer"]: layer for layer in by_name["source"]["layers"]}
    assert source_layers["dns"]["detail"] == "SQLite file: no network"
    assert source_layers["permission"]["detail"].startswith("read 9 tables (customers, ")
    api = {layer["layer"]: layer for layer in by_name["api"]["layers"]}
    assert api["auth"]["detail"] == "API key accepted (role analyst)"
    assert api["latency"]["status"] == "ok" and api["latency"]["ms"] is not None
    for name in ("event-log", "online-store", "supplier-api"):
        assert [layer["status"] for layer in by_name[name]["layers"]] == [
            "skipped", "ok", "skipped", "ok", "ok", "ok"
        ]  # fmt: skip


def test_text_output_and_no_key(platform: Settings) -> None:
    done = _doctor(platform, "api", "event-log")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()  # in the order endpoints are listed, not as named
    assert lines[0].startswith("✓ event-log ")
    assert "dns– tcp✓ tls– auth✓ permission✓ latency✓" in lines[0]
    assert lines[1].startswith("! api ")
    assert "note:" in lines[2] and "API key not probed: set doctor.api_key" in lines[2]
    assert lines[-1] == "2 endpoints: 2 ok (1 with notes)"
    (report,) = diagnose(build_probes(platform, ["api"]))
    auth = report.layers[3]
    assert (auth.layer, auth.status) == ("auth", "skipped")
    assert "no API key configured" in auth.detail and "shoplake keys create" in auth.detail


def test_revoked_and_unknown_api_keys(platform: Settings) -> None:
    key_id, key = create_key(platform, "app", "old laptop")
    revoke_key(platform, key_id)
    report = _api_report(platform, key)
    assert report.failed_layer == "auth"
    assert report.problem == f"API key {key_id} (old laptop) was revoked"
    assert report.fix is not None
    assert (
        "`shoplake keys create --role analyst`" in report.fix
        and "`shoplake keys list`" in report.fix
    )
    report = _api_report(platform, "slk_not-a-key")
    assert report.failed_layer == "auth"
    assert report.problem == "the API key is unknown to the server (401 invalid or revoked API key)"


def _api_report(settings: Settings, key: str) -> EndpointReport:
    settings = settings.model_copy(
        update={"doctor": settings.doctor.model_copy(update={"api_key": SecretStr(key)})}
    )
    (report,) = diagnose(build_probes(settings, ["api"]))
    return report


def test_cli_failure_exit_status_and_json(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, **{"services.valkey_port": free_port()})
    done = _doctor(settings, "--output", "json", "event-log", "warehouse")
    assert done.returncode == 1
    warehouse, event_log = json.loads(done.stdout)  # in ENDPOINTS order
    assert event_log["status"] == "fail" and event_log["failed_layer"] == "tcp"
    assert event_log["fix"] == "run `shoplake up` or fix stream.url"
    assert warehouse["status"] == "ok"
    done = _doctor(settings, "nonsense")
    assert done.returncode == 1
    assert "unknown endpoint nonsense: choose from source, catalog" in done.stderr


def test_servers_started_on_demand_may_be_stopped(tmp_path: Path) -> None:
    """Right after `shoplake up`: valkey runs, the supplier API and the shoplake API do not."""
    overrides = {"supplier.port": free_port(), "serve.port": free_port()}
    data_dir = generate_source(tmp_path / "shop")
    settings = load_settings(
        data_dir=data_dir, **{"services.valkey_port": free_port()}, **overrides
    )
    with local_valkey(settings):
        done = _doctor(settings, "--output", "json")
        assert done.returncode == 0, done.stdout + done.stderr
        reports = {r["endpoint"]: r for r in json.loads(done.stdout)}
        assert {name: (r["status"], r["start"]) for name, r in reports.items()} == {
            "source": ("ok", None),
            "catalog": ("ok", None),
            "warehouse": ("ok", None),
            "event-log": ("ok", None),
            "online-store": ("ok", None),
            "vectors": ("ok", None),
            "supplier-api": ("not running", f"shoplake --data-dir {data_dir} sources api"),
            "api": ("not running", f"shoplake --data-dir {data_dir} serve"),
        }
        port = settings.serve.port
        assert reports["api"]["problem"] is None and reports["api"]["layers"][-1] == {
            "layer": "tcp",
            "status": "skipped",
            "detail": f"not running: connection refused on 127.0.0.1:{port}: nothing listens there",
            "ms": reports["api"]["layers"][-1]["ms"],
        }
        text = _doctor(settings)
        assert text.returncode == 0, text.stdout + text.stderr
        lines = text.stdout.splitlines()
        assert f"    not running — start it with `shoplake --data-dir {data_dir} serve`" in lines
        assert lines[-1] == "8 endpoints: 6 ok, 2 not running"

        named = _doctor(settings, "api", "supplier-api")  # asked for by name: they must be up
        assert named.returncode == 1
        assert named.stdout.splitlines()[-1] == "2 endpoints: 0 ok, 2 failing: supplier-api, api"
        assert "fix:           run `shoplake serve`, or fix serve.host/serve.port" in named.stdout


def test_without_shoplake_up_the_local_valkey_is_not_running(tmp_path: Path) -> None:
    data_dir = generate_source(tmp_path)
    settings = load_settings(data_dir=data_dir, **{"services.valkey_port": free_port()})
    done = _doctor(settings, "--output", "json", "warehouse", "event-log", "online-store")
    assert done.returncode == 1  # named: event-log and online-store must be up
    done = _doctor(settings, "--output", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    reports = {r["endpoint"]: r for r in json.loads(done.stdout)}
    for name in ("event-log", "online-store"):
        assert reports[name]["status"] == "not running"
        assert reports[name]["start"] == f"shoplake --data-dir {data_dir} up"


def test_configured_remote_endpoints_still_fail_when_unreachable(tmp_path: Path) -> None:
    """A supplier URL or a valkey URL someone configured is not started by shoplake."""
    settings = load_settings(
        data_dir=tmp_path,
        **{
            "supplier.url": f"http://127.0.0.1:{free_port()}",
            "stream.url": f"redis://127.0.0.1:{free_port()}/0",
            "serve.port": free_port(),
        },
    )
    done = _doctor(settings, "--output", "json")
    assert done.returncode == 1
    status = {r["endpoint"]: r["status"] for r in json.loads(done.stdout)}
    assert status["supplier-api"] == status["event-log"] == status["online-store"] == "fail"
    assert status["api"] == "not running"
