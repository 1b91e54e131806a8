"""`shoplake maintain` is invisible: every figure a command or an API route gives is the same
after it, and every command still works (train, transform, stream status, run's steps).

One data dir gets everything a user builds: batch ingest, a clickstream processed through a
real valkey, the supplier API ingested, the models transformed and a recommender trained and
promoted. Each figure is recorded through the real CLI (JSON output, in subprocesses) and the
real API (every GET route of its OpenAPI document, as an analyst and as an admin), then
``maintain`` compacts and expires, and everything is asked again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shoplake.platform import Platform
from shoplake.serve.app import create_app
from shoplake.serve.auth import create_key
from shoplake.services import free_port
from tests.support.streams import local_valkey, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROLES = ("analyst", "admin")
#: What maintenance exists to change (files, bytes, snapshot history) and what is a clock.
VOLATILE = {
    "data_files", "bytes", "snapshots", "files_before", "files_after",
    "age_seconds", "generated_at", "checked_at", "run_id", "seconds", "uptime_seconds",
}  # fmt: skip
AUDIT_GROWTH = {"rows", "last_commit"}
FACT_TOTALS = (
    "SELECT count(*) AS lines, sum(order_amount) AS revenue, sum(profit) AS profit "
    "FROM gold.fact_orders"
)
QUERIES = (
    FACT_TOTALS,
    "SELECT status, count(*) AS n FROM silver.orders GROUP BY 1 ORDER BY 1",
    "SELECT event_type, count(*) AS n, count(DISTINCT product_code) AS products "
    "FROM bronze.events GROUP BY 1 ORDER BY 1",
    "SELECT count(*) AS n, count(DISTINCT sku) AS skus FROM bronze.supplier_products",
    "SELECT count(*) AS n FROM gold.interactions",
)


def stable(value: Any) -> Any:
    """``value`` without the keys maintenance may legitimately change, nor the size and last
    commit of the audit log (every `check` appends its results there)."""
    if isinstance(value, dict):
        audit = str(value.get("name", "")).startswith("audit.")
        return {
            k: stable(v)
            for k, v in value.items()
            if k not in VOLATILE and not (audit and k in AUDIT_GROWTH)
        }
    if isinstance(value, list | tuple):
        return [stable(v) for v in value]
    return value


def differences(before: Any, after: Any, where: str = "") -> list[str]:
    """Where two figure trees differ, as readable paths with both values."""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(set(before) | set(after), key=str)
        return [d for k in keys for d in differences(before.get(k), after.get(k), f"{where}/{k}")]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            d
            for i, pair in enumerate(zip(before, after, strict=True))
            for d in differences(*pair, f"{where}[{i}]")
        ]
    return [] if before == after else [f"{where}: {before!r} -> {after!r}"]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A full data dir: batch, stream, supplier API, transformed, a promoted model."""
    from shoplake.supplier.process import running_api
    from shoplake.supplier.store import SupplierStore, store_path

    data_dir = tmp_path_factory.mktemp("maintain") / "shop"
    shop = Platform(data_dir=data_dir, **{"services.valkey_port": free_port()})
    shop.generate(scale=0.02, seed=42)
    assert shop.ingest().ok
    shop.simulate(orders=50, seed=7)
    assert shop.ingest().ok  # a second batch: two files per changed table
    supplier = shop.settings.supplier.model_copy(update={"port": free_port()})
    api = shop.with_settings(shop.settings.model_copy(update={"supplier": supplier}))
    with running_api(api.settings):
        assert api.ingest_api().ok
        SupplierStore(store_path(api.settings.data_dir)).apply_changes(30, 7)
        assert api.ingest_api().ok
    with local_valkey(shop.settings):
        for seed in (3, 4):  # two processing rounds: two commits of events and dead letters
            assert shop.produce(events=300, bad_rate=0.05, seed=seed).events == 300
            processed = shop.process(until_idle=True)
            assert processed.valid > 0 and processed.invalid > 0
        shop.produce(events=40, seed=5)  # left on the log: a lag of 40
        assert shop.transform().ok
        assert shop.train().promoted
        yield shop


def cli_figures(shop: Platform, product: str) -> dict[str, Any]:
    """Every figure the commands print, as their JSON output."""
    env = {**os.environ, "SHOPLAKE_SERVICES__VALKEY_PORT": str(shop.settings.services.valkey_port)}

    def json_of(*args: str) -> Any:
        return json.loads(run_cli(shop.settings.data_dir, env, *args, "--output", "json").stdout)

    figures = {
        "tables": json_of("tables"),
        "check": sorted(json_of("check"), key=lambda c: (c["model"], c["check"])),
        "stream status": json_of("stream", "status"),
        "recommend 103": json_of("recommend", "103"),
        f"similar {product}": json_of("similar", product),
        "models list": json_of("models", "list"),
    }
    for sql in QUERIES:
        figures[sql] = json_of("query", sql)
    return stable(figures)


def api_figures(shop: Platform, keys: dict[str, str], product: str) -> dict[str, Any]:
    """Every GET route of the API (path parameters filled in), as analyst and as admin, and a
    query through POST /query."""
    figures: dict[str, Any] = {}
    with TestClient(create_app(shop.settings)) as client:
        paths = client.get("/openapi.json").json()["paths"]
        values = {"customer_number": "103", "product_code": product}
        tables = [t.name.split(".") for t in shop.tables()]
        for role, key in keys.items():
            headers = {"X-API-Key": key}
            urls = []
            for path, operations in paths.items():
                if "get" not in operations or path == "/metrics":
                    continue
                if "{namespace}" in path:
                    urls += [f"/tables/{ns}/{name}" for ns, name in tables]
                else:
                    urls.append(path.format(**values) if "{" in path else path)
            for url in urls:
                response = client.get(url, headers=headers)
                allowed = (200,) if role == "admin" else (200, 403)  # /recommendations: apps
                assert response.status_code in allowed, (role, url, response.text)
                figures[f"{role} GET {url}"] = (response.status_code, response.json())
            response = client.post("/query", headers=headers, json={"sql": FACT_TOTALS})
            assert response.status_code == 200, (role, response.text)
            figures[f"{role} POST /query"] = response.json()
            metrics = client.get("/metrics", headers=headers)
            assert metrics.status_code == 200
    return stable(figures)


def test_maintain_changes_no_figure_of_any_command_or_route(shop: Platform) -> None:
    keys = {role: create_key(shop.settings, role, "maintain test")[1] for role in ROLES}
    product = shop.query("SELECT min(product_code) AS p FROM gold.dim_products").table
    code = product.to_pylist()[0]["p"]
    cli_before = cli_figures(shop, code)
    api_before = api_figures(shop, keys, code)
    assert cli_before["stream status"]["log"] == "up"
    assert sum(s["lag"] for s in cli_before["stream status"]["shards"]) == 40
    assert len(cli_before["recommend 103"]["items"]) == 10
    [totals] = cli_before[FACT_TOTALS]
    assert totals["lines"] == next(
        t["rows"] for t in cli_before["tables"] if t["name"] == "gold.fact_orders"
    )
    assert api_before["analyst POST /query"]["rows"] == [totals]

    results = shop.maintain(orphan_min_age_seconds=0)  # the default retention otherwise
    compacted = [r.table for r in results if r.files_after < r.files_before]
    assert {"bronze.events", "bronze.orders", "bronze.supplier_products"} <= set(compacted)
    for name in compacted:
        current = shop.catalog.load_table(name).current_snapshot()
        assert current is not None and current.summary is not None
        assert current.summary.operation.value == "replace", name

    assert differences(cli_before, cli_figures(shop, code)) == []
    assert differences(api_before, api_figures(shop, keys, code)) == []

    # The commands that broke on a maintained lakehouse run, and leave the figures alone.
    env = {**os.environ, "SHOPLAKE_SERVICES__VALKEY_PORT": str(shop.settings.services.valkey_port)}
    trained = json.loads(run_cli(shop.settings.data_dir, env, "train", "--output", "json").stdout)
    assert trained["promoted"] is False  # the promoted version keeps serving
    transformed = run_cli(shop.settings.data_dir, env, "transform", "--output", "json")
    statuses = {m["model"]: m["status"] for m in json.loads(transformed.stdout)["models"]}
    assert set(statuses.values()) == {"unchanged"}, statuses  # compaction brings nothing new
    after = cli_figures(shop, code)
    assert differences(cli_before | {"models list": None}, after | {"models list": None}) == []
