"""A model whose contract fails: its asset check fails, it is not published, its branch stops."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from shoplake.orchestrate.definitions import build_definitions
from shoplake.orchestrate.execute import execute, open_instance
from tests.orchestrate.conftest import fast_platform


def test_a_failed_contract_fails_its_check_and_stops_the_branch(
    generated: Path, tmp_path: Path
) -> None:
    shop = fast_platform(tmp_path)
    shutil.copy(generated, tmp_path / "source.db")
    with sqlite3.connect(tmp_path / "source.db") as con:
        con.execute(
            "UPDATE orders SET status = 'Lost' "
            "WHERE orderNumber = (SELECT min(orderNumber) FROM orders)"
        )
    with open_instance(shop.settings.dagster_home) as instance:
        summary = execute(build_definitions(shop), instance, ["ingest", "transform"])
    assert not summary.success
    outcome = {a.asset: a for a in summary.assets}
    assert outcome["silver.orders"].outcome == "failed"
    assert outcome["silver.orders"].error == (
        "silver.orders: not published — status accepted values failed: 1 rows, e.g. Lost"
    )
    assert summary.contracts["silver.orders"] is False
    assert summary.contracts["silver.customers"] is True
    assert outcome["silver.customers"].outcome == "materialized"
    for downstream in ("silver.orderdetails", "gold.fact_orders", "gold.sales_by_month"):
        assert outcome[downstream].outcome == "not run"
    assert not shop.catalog.table_exists("silver.orders")  # nothing half-published
