"""`shoplake ui` serves Dagster's web UI on 127.0.0.1 with shoplake's asset graph."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_FLAGS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def ui(generated: Path, tmp_path: Path) -> Iterator[str]:
    """`shoplake ui` on a free port over a data dir with one recorded run; stopped by PID."""
    shutil.copy(generated, tmp_path / "source.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPLAKE_", "DAGSTER_"))}
    cli = [sys.executable, "-m", "shoplake.cli", "--data-dir", str(tmp_path)]
    ran = subprocess.run(
        [*cli, "run", "-s", "ingest"], env=env, capture_output=True, timeout=300, check=False
    )
    assert ran.returncode == 0, ran.stderr
    port = free_port()
    process = subprocess.Popen(
        [*cli, "ui", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None, "shoplake ui exited"
            assert time.monotonic() < deadline, "shoplake ui did not start in 90 s"
            time.sleep(0.5)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)  # it stops its webserver child, then exits
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.e2e
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no browser at {CHROMIUM}")
def test_the_ui_shows_the_asset_graph(ui: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            group = f"{ui}/locations/shoplake.orchestrate.workspace/asset-groups/transform"
            page.goto(group, wait_until="domcontentloaded")
            skip = page.get_by_role("button", name="Skip")  # the first-visit newsletter prompt
            with contextlib.suppress(sync_api.TimeoutError):
                skip.click(timeout=5_000)
            for name in ("fact_orders", "sales_by_month", "interactions"):
                page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
            page.goto(f"{ui}/runs", wait_until="domcontentloaded")
            page.get_by_text("Success").first.wait_for(timeout=30_000)  # the recorded run
        finally:
            browser.close()
