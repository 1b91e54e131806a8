"""A damaged table file: the API answers 503 naming the table (not the file: its path is the
server's layout) on routes reading it, and everything else keeps working — also after a
restart, when the analyst's PII tracing loads every table's schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shoplake.platform import Platform
from shoplake.serve.app import create_app
from shoplake.serve.auth import create_key
from shoplake.serve.pii import MASK_PREFIX
from shoplake.services import free_port
from tests.support.corrupt import corrupt, restore_dir, snapshot_dir

BROKEN = "gold.fact_orders"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("api-corrupt")
    shop = Platform(data_dir=root / "shop", **{"services.valkey_port": free_port()})
    shop.load_classicmodels()
    assert shop.ingest().ok
    assert shop.transform().ok
    snapshot_dir(root / "shop", root / "pristine")
    return root


@pytest.fixture(params=["data-truncate", "metadata-shape", "manifest_list-delete"])
def broken(request: pytest.FixtureRequest, pristine: Path) -> Iterator[tuple[TestClient, dict]]:
    """The API started (as after a restart) over a lakehouse whose BROKEN table is damaged."""
    restore_dir(pristine / "pristine", pristine / "shop")
    shop = Platform(data_dir=pristine / "shop", **{"services.valkey_port": free_port()})
    corrupt(shop, BROKEN, request.param)
    keys = {role: create_key(shop.settings, role, role)[1] for role in ("analyst", "admin")}
    headers = {role: {"X-API-Key": key} for role, key in keys.items()}
    with TestClient(create_app(shop.settings)) as client:
        yield client, headers


def test_routes_reading_the_broken_table_answer_503_naming_it(broken: tuple) -> None:
    client, headers = broken
    for response in (
        client.get("/analytics/kpis", headers=headers["analyst"]),
        client.post(
            "/query",
            json={"sql": f"SELECT count(*) AS n FROM {BROKEN}"},
            headers=headers["analyst"],
        ),
        client.post("/query", json={"sql": f"SELECT * FROM {BROKEN}"}, headers=headers["admin"]),
    ):
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["table"] == BROKEN
        assert body["detail"].startswith(f"table {BROKEN} is unreadable: a ")
        assert "fact_orders/" not in body["detail"]  # no file path of the server


def test_other_tables_and_routes_keep_working(broken: tuple) -> None:
    client, headers = broken
    response = client.post(
        "/query",
        json={"sql": "SELECT count(*) AS n, min(customer_name) AS name FROM silver.customers"},
        headers=headers["analyst"],
    )
    assert response.status_code == 200, response.text
    [row] = response.json()["rows"]
    assert row["n"] == 122
    assert row["name"].startswith(MASK_PREFIX)  # still masked without the broken table
    listed = client.get("/tables", headers=headers["analyst"])
    assert listed.status_code == 200
    tables = {t["name"]: t for t in listed.json()}
    assert tables["silver.customers"]["rows"] == 122
    problem = tables[BROKEN]["problem"]
    assert problem is None or (
        problem.startswith(f"table {BROKEN} is unreadable: a file") and "/" not in problem
    )
    health = client.get("/analytics/health", headers=headers["analyst"])
    assert health.status_code == 200, health.text
    statuses = {t["name"]: (t["status"], t["problem"]) for t in health.json()["tables"]}
    assert statuses["silver.customers"] == ("pass", None)
    assert statuses[BROKEN] == (("unreadable", problem) if problem else ("pass", None))
    assert client.get("/health").status_code == 200


def test_pii_tracing_reads_a_broken_table_from_its_last_readable_schema(pristine: Path) -> None:
    """Every table's PII columns are traced as on the healthy lakehouse, whichever table's
    current metadata is damaged."""
    from shoplake.lake.catalog import list_tables
    from shoplake.serve.pii import trace

    restore_dir(pristine / "pristine", pristine / "shop")
    shop = Platform(data_dir=pristine / "shop")
    healthy = trace(shop.catalog, shop.project())
    for table in ("bronze.customers", "silver.customers", "bronze.employees"):
        restore_dir(pristine / "pristine", pristine / "shop")
        shop = Platform(data_dir=pristine / "shop")
        corrupt(shop, table, "metadata-invalid")
        traced = trace(shop.catalog, shop.project())
        assert traced.names == healthy.names, table
        assert traced.traced == healthy.traced, table
    assert len(list_tables(shop.catalog)) > 20
