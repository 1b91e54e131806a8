"""`shoplake serve` runs the API on uvicorn; the CLI itself never imports FastAPI."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

import shoplake.cli.main  # noqa: F401  (registers the command modules, serve among them)
from shoplake.platform import Platform
from shoplake.services import free_port, is_loopback


def test_the_cli_does_not_import_fastapi() -> None:
    probe = "import sys, shoplake.cli.main; print('fastapi' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False),
     ("192.168.1.5", False), ("example.com", False)],
)  # fmt: skip
def test_binding_beyond_loopback_is_recognised(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.integration
def test_serve_answers_on_loopback(lakehouse: Platform, api_keys: dict[str, str]) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLAKE_")}
    env["SHOPLAKE_SERVICES__VALKEY_PORT"] = str(lakehouse.settings.services.valkey_port)
    data_dir = str(lakehouse.settings.data_dir)
    command = ["--data-dir", data_dir, "serve", "--port", str(port)]
    server = subprocess.Popen(
        [sys.executable, "-m", "shoplake.cli", *command],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{url}/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        assert health.status_code == 200
        assert health.json()["backends"]["model"]["state"] == "ok"
        response = httpx.get(
            f"{url}/recommendations/103", headers={"X-API-Key": api_keys["app"]}, timeout=10
        )
        assert response.status_code == 200
        assert response.json()["customer_number"] == 103
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert f"shoplake API on http://127.0.0.1:{port}" in stderr
    assert "warning" not in stderr
