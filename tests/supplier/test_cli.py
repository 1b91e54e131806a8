"""`shoplake sources api` and `shoplake sources api-changes` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx

from shoplake import services
from shoplake.config import child_environment, load_settings
from shoplake.services import free_port
from shoplake.supplier.store import SupplierStore, store_path
from tests.support.streams import cli_command, generate_source, run_cli
from tests.support.supplier import fetch_token


def test_api_without_source_fails_in_one_line(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, **{"supplier.port": free_port()})
    done = subprocess.run(
        cli_command(tmp_path, "sources", "api", "--port", str(settings.supplier.port)),
        env=child_environment(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: no source products to seed the supplier API from")
    assert "run `shoplake generate` or `shoplake sources load-classicmodels` first" in done.stderr


def test_api_announces_itself_and_applies_options(tmp_path: Path) -> None:
    data_dir = generate_source(tmp_path / "data")
    settings = load_settings(data_dir=data_dir)
    port = free_port()
    args = ["--port", str(port), "--latency-ms", "5", "--error-rate", "0.1", "--token-ttl", "2"]
    process = subprocess.Popen(
        cli_command(data_dir, "sources", "api", *args),
        env=child_environment(settings),
        preexec_fn=services.child_setup,  # noqa: PLW1509 - default signal handling
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        counts = SupplierStore(store_path(data_dir)).counts()
        assert line.startswith(f"supplier API on http://127.0.0.1:{port} (client shoplake; ")
        assert f"{counts['products']} products, {counts['reviews']} reviews" in line
        assert "faults: latency_ms=5, error_rate=0.1" in line
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{url}/health")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        form = {"grant_type": "client_credentials", "client_id": "shoplake"}
        form["client_secret"] = settings.supplier.client_secret.get_secret_value()
        assert httpx.post(f"{url}/oauth/token", data=form).json()["expires_in"] == 2
        assert fetch_token(url, "shoplake", settings.supplier.client_secret.get_secret_value())
    finally:
        services.stop_child(process)
        if process.stderr is not None:
            process.stderr.close()


def test_api_changes_prints_counts_and_help(tmp_path: Path) -> None:
    data_dir = generate_source(tmp_path / "data")
    env = child_environment(load_settings(data_dir=data_dir))
    done = run_cli(data_dir, env, "sources", "api-changes", "--changes", "30", "--output", "json")
    counts = json.loads(done.stdout)
    assert sum(counts.values()) == 30
    assert set(counts) == {
        "price_changes",
        "stock_changes",
        "discontinued",
        "new_reviews",
        "rating_edits",
    }
    text = run_cli(data_dir, env, "sources", "api-changes", "--seed", "8").stdout
    assert "price_changes" in text
    helped = run_cli(data_dir, env, "sources", "api", "--help").stdout
    for option in ("--reseed", "--latency-ms", "--drop-rate", "--malformed-rate", "--token-ttl"):
        assert option in helped
