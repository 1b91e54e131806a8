"""`shoplake ui` serves Dagster's web UI on 127.0.0.1 with shoplake's asset graph, without
telemetry or the first-visit newsletter prompt, and fails when its webserver does."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoplake.services import free_port
from tests.support.browser import CHROMIUM, CHROMIUM_FLAGS

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPLAKE_", "DAGSTER_"))}


def _should_show_nux(url: str) -> bool:
    """What the UI asks the server before opening its "join the community" dialog."""
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": "{ shouldShowNux }"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return bool(json.load(response)["data"]["shouldShowNux"])


@pytest.fixture
def ui(generated: Path, tmp_path: Path) -> Iterator[str]:
    """`shoplake ui` on a free port over a data dir with one recorded run; stopped by PID."""
    shutil.copy(generated, tmp_path / "source.db")
    env = CLEAN_ENV
    cli = [sys.executable, "-m", "shoplake.cli", "--data-dir", str(tmp_path)]
    ran = subprocess.run(
        [*cli, "run", "-s", "ingest"], env=env, capture_output=True, timeout=300, check=False
    )
    assert ran.returncode == 0, ran.stderr
    port = free_port()
    log = (tmp_path / "ui.log").open("wb")  # what a user would see in the terminal
    process = subprocess.Popen(
        [*cli, "ui", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
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
        log.close()


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
            for name in ("fact_orders", "sales_by_month", "interactions"):
                page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
            page.wait_for_timeout(2_000)  # Dagster opens its prompt 1 s after the page loads
            assert page.get_by_text("Join the Dagster community").count() == 0
            page.goto(f"{ui}/runs", wait_until="domcontentloaded")
            page.get_by_text("Success").first.wait_for(timeout=30_000)  # the recorded run
        finally:
            browser.close()


@pytest.mark.e2e
def test_the_ui_has_no_prompt_and_no_telemetry(ui: str, tmp_path: Path) -> None:
    assert _should_show_nux(ui) is False
    shown = (tmp_path / "ui.log").read_text()
    assert f"Dagster UI on {ui}" in shown
    assert "telemetry" not in shown.lower() and "dagster.yaml" not in shown


def test_ui_fails_when_its_webserver_dies(tmp_path: Path) -> None:
    """A Dagster home whose dagster.yaml Dagster refuses: the webserver exits, and so does
    `shoplake ui`, non-zero and saying so."""
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: maybe\n")  # not a boolean
    command = [sys.executable, "-m", "shoplake.cli", "--data-dir", str(tmp_path)]
    done = subprocess.run(
        [*command, "ui", "--port", str(free_port())],
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "error: the Dagster webserver stopped with exit status 1"
