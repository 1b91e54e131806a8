"""The dashboard in a real browser: headless Chromium (Playwright) against the app served by
uvicorn in a child process, on a small trained lakehouse (tests/serve/conftest.py).

Checks that the revenue tile holds ``sum(order_amount)`` of gold to the cent, that every chart
has rendered, that the explorer shows the model's recommendations with reasons, that a refused
key brings the key form back, and saves screenshots (one copy in benchmarks/screenshots/).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from shoplake.platform import Platform
from tests.support.browser import CHROMIUM, CHROMIUM_FLAGS

SCREENSHOTS = Path(__file__).resolve().parents[2] / "benchmarks" / "screenshots"
CHARTS = ("#chart-revenue-by-month", "#chart-revenue-by-product-line")
TIMEOUT_MS = 20_000
SERVER = """
import sys
import uvicorn
from shoplake.config import load_settings
from shoplake.serve.app import create_app
app = create_app(load_settings(data_dir=sys.argv[1]))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def default_signals() -> None:
    """In the child: default signal dispositions, whatever the test runner installed."""
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(number, signal.SIG_DFL)


@pytest.fixture(scope="module")
def sync_api() -> Any:
    """Playwright's sync API and the system Chromium, or a skip saying which is missing."""
    if not CHROMIUM.exists():
        print(f"SKIP: {CHROMIUM} not found (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright import sync_api
    except ImportError:
        print("SKIP: playwright is not installed (pip install playwright)")
        pytest.skip("playwright is not installed (pip install playwright)")
    return sync_api


@pytest.fixture(scope="module")
def server(
    lakehouse: Platform, sync_api: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The app over the lakehouse (conftest), served by uvicorn in a child process; its base
    URL. Stopped by PID."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLAKE_")}
    env["SHOPLAKE_SERVICES__VALKEY_PORT"] = str(lakehouse.settings.services.valkey_port)
    log = tmp_path_factory.mktemp("dashboard-server") / "uvicorn.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(lakehouse.settings.data_dir), str(port)],
            env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            preexec_fn=default_signals,  # noqa: PLW1509 - only resets signal dispositions
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"the server exited: {log.read_text()}"
            try:
                if httpx.get(f"{base}/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"the server did not answer: {log.read_text()}"
            time.sleep(0.1)
        yield base
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def browser(sync_api: Any) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


def open_dashboard(browser: Any, base: str, key: str) -> tuple[Any, list[str]]:
    """A page with the dashboard loaded using ``key``, and a list collecting its JS errors."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    page.goto(f"{base}/")
    page.wait_for_selector("#key-panel:not([hidden])")
    page.fill("#key-input", key)
    page.click("#key-submit")
    return page, errors


def test_dashboard_shows_gold_figures_charts_and_recommendations(
    lakehouse: Platform, api_keys: dict[str, str], server: str, browser: Any, tmp_path: Path
) -> None:
    page, errors = open_dashboard(browser, server, api_keys["analyst"])

    page.wait_for_selector('#kpi-revenue:not([data-value=""])')
    [gold] = lakehouse.query(
        "SELECT sum(order_amount) AS revenue, count(DISTINCT order_number) AS orders "
        "FROM gold.fact_orders"
    ).table.to_pylist()
    assert Decimal(page.get_attribute("#kpi-revenue", "data-value")) == gold["revenue"]
    assert page.inner_text("#kpi-revenue") == f"${gold['revenue']:,}"
    assert int(page.get_attribute("#kpi-orders", "data-value")) == gold["orders"]
    average = (gold["revenue"] / gold["orders"]).quantize(Decimal("0.01"))
    assert Decimal(page.get_attribute("#kpi-aov", "data-value")) == average

    for chart in CHARTS:
        page.wait_for_selector(f'{chart}[data-rendered="true"] svg')
    lines = lakehouse.query("SELECT DISTINCT product_line FROM gold.sales_by_month").table.num_rows
    assert page.locator(f"{CHARTS[1]} svg .mark-rect path").count() == lines
    months = lakehouse.query("SELECT DISTINCT month FROM gold.sales_by_month").table.num_rows
    assert page.locator(f"{CHARTS[0]} svg .mark-symbol path").count() == months

    assert page.locator("#top-products tbody tr").count() == 10
    page.wait_for_selector("#health-table tbody tr")
    assert page.locator("#health-table tbody tr").count() == len(lakehouse.tables())
    fact_row = page.locator('#health-table tr[data-table="gold.fact_orders"]')
    assert fact_row.get_attribute("data-status") == "pass"
    page.wait_for_selector("#stream-log.ok, #stream-log.warn")
    assert "log down" in page.inner_text("#stream-log")
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    # The explorer: the first customer of the list, recommendations in the model's order.
    page.wait_for_selector("#customer-select option:nth-child(2)", state="attached")
    page.select_option("#customer-select", index=1)
    customer = int(page.input_value("#customer-select"))
    page.wait_for_selector(f'#explorer[data-customer="{customer}"]')
    expected = [item.product_code for item in lakehouse.recommend(customer, 10).items]
    shown = page.locator("#explorer-recommendations li")
    assert [shown.nth(i).get_attribute("data-product-code") for i in range(shown.count())] == (
        expected
    )
    assert "Why: close to what they bought" in shown.first.inner_text()
    assert page.locator("#explorer-history tbody tr").count() > 0
    page.locator("#explorer").screenshot(path=str(tmp_path / "explorer.png"))

    assert errors == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name in ("dashboard.png", "explorer.png"):
        assert (tmp_path / name).stat().st_size > 10_000
        shutil.copy(tmp_path / name, SCREENSHOTS / name)


def test_a_refused_key_brings_the_key_form_back(
    api_keys: dict[str, str], server: str, browser: Any
) -> None:
    page, _ = open_dashboard(browser, server, "slk_not-a-key")
    page.wait_for_selector("#key-panel:not([hidden])")
    page.wait_for_selector("#key-message:has-text('refused')")
    assert page.evaluate("sessionStorage.getItem('shoplake.apiKey')") is None
    assert page.get_attribute("#kpi-revenue", "data-value") == ""

    page.fill("#key-input", api_keys["app"])
    page.click("#key-submit")
    page.wait_for_selector("#key-message:has-text('may not read analytics')")
