"""The model runner: incremental equals full refresh, idempotence, write–audit–publish."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from shoplake.platform import Platform
from tests.support.lakehouse import snapshot_ids

SILVER = [
    "silver.customers",
    "silver.orders",
    "silver.orderdetails",
    "silver.ratings",
    "silver.payments",
]


def table_rows(shop: Platform, name: str) -> list[tuple[object, ...]]:
    data = shop.catalog.load_table(name).scan().to_arrow()
    return sorted((tuple(row.values()) for row in data.to_pylist()), key=repr)


def test_incremental_reads_only_new_bronze_rows_and_equals_full_refresh(shop: Platform) -> None:
    shop.ingest()
    first = {r.model: r for r in shop.transform(["silver"]).results}
    sessions = first.pop("silver.sessions")
    assert (sessions.status, sessions.error) == (
        "waiting",
        "waiting for bronze.events: nothing has landed there yet",
    )
    for supplier in ("silver.supplier_products", "silver.supplier_reviews"):
        assert first.pop(supplier).status == "waiting"  # no supplier API ingested
    assert {r.mode for r in first.values()} == {"full"}
    shop.simulate(orders=30, seed=9)
    landed = {f"silver.{r.table}": r.rows for r in shop.ingest().results}

    report = shop.transform(["silver"])
    assert report.ok, [r.error for r in report.results]
    for result in report.results:
        if result.status == "waiting":
            continue
        if result.status == "unchanged":
            assert landed[result.model] == 0
            continue
        assert result.mode == "incremental", result.model
        # Only the rows the last ingest appended to bronze were read.
        assert result.scanned == {result.model.replace("silver.", "bronze."): landed[result.model]}
    incremental = {name: table_rows(shop, name) for name in SILVER}

    refreshed = shop.transform(SILVER, full_refresh=True)
    assert {r.mode for r in refreshed.results} == {"full"}
    assert {name: table_rows(shop, name) for name in SILVER} == incremental


def test_second_run_without_new_bronze_changes_nothing(shop: Platform) -> None:
    shop.ingest()
    assert shop.transform(["silver"]).ok
    before = snapshot_ids(shop)
    again = shop.transform(["silver"])
    assert {r.status for r in again.results} == {"unchanged", "waiting"}
    after = snapshot_ids(shop)
    assert {k: v for k, v in after.items() if k.startswith("silver.")} == {
        k: v for k, v in before.items() if k.startswith("silver.")
    }


def test_failing_contract_blocks_publish_and_skips_downstream(shop: Platform) -> None:
    shop.ingest()
    assert shop.transform().ok
    published = snapshot_ids(shop)
    with sqlite3.connect(shop.settings.data_dir / "source.db") as conn:
        top = conn.execute("SELECT max(orderNumber) FROM orders").fetchone()[0]
        conn.execute(
            "INSERT INTO orders VALUES "
            "(?, '2005-06-01', '2005-06-08', NULL, 'In Process', NULL, 987654)",
            (top + 1,),
        )
    shop.ingest()
    report = shop.transform()
    results = {r.model: r for r in report.results}
    orders = results["silver.orders"]
    assert not report.ok
    assert orders.status == "failed"
    assert orders.error == (
        "silver.orders: not published — relationship customer_number → "
        "silver.customers.customer_number failed: 1 rows, e.g. 987654"
    )
    assert snapshot_ids(shop)["silver.orders"] == published["silver.orders"]
    assert results["gold.fact_orders"].status == "skipped"
    assert results["gold.fact_orders"].error == "skipped: upstream silver.orders failed"
    assert snapshot_ids(shop)["gold.fact_orders"] == published["gold.fact_orders"]
    assert results["silver.customers"].status in ("published", "unchanged")

    kept = shop.query(
        "SELECT model, check_name, status, failing_rows, sample FROM audit.contract_results "
        "WHERE status <> 'pass'"
    ).table.to_pylist()
    assert kept == [
        {
            "model": "silver.orders",
            "check_name": "relationship customer_number → silver.customers.customer_number",
            "status": "fail",
            "failing_rows": 1,
            "sample": "987654",
        }
    ]


def test_compaction_is_skipped_by_incremental_reads_with_the_same_result(shop: Platform) -> None:
    shop.ingest()
    shop.transform(["silver"])
    shop.simulate(orders=10, seed=4)
    shop.ingest()
    shop.maintain(["bronze.orders"])  # one 'replace' snapshot: files rewritten, no row added
    report = {r.model: r for r in shop.transform(["silver"]).results}
    assert report["silver.orders"].mode == "incremental"  # only the simulated orders are read
    assert report["silver.customers"].mode == "incremental"
    incremental = table_rows(shop, "silver.orders")
    shop.transform(["silver.orders"], full_refresh=True)
    assert table_rows(shop, "silver.orders") == incremental

    # Rows ingested and transformed, then compacted: every model is still up to date.
    shop.simulate(orders=5, seed=5)
    shop.ingest()
    shop.transform(["silver"])
    (compaction,) = shop.maintain(["bronze.orders"])
    assert compaction.files_after < compaction.files_before
    assert {r.model: r.status for r in shop.transform(["silver"]).results}["silver.orders"] == (
        "unchanged"
    )

    # Once the snapshots before it have expired, the history cannot be read: a full rebuild.
    shop.simulate(orders=5, seed=6)
    shop.ingest()
    shop.settings.lake.snapshot_retention_hours = 0
    shop.settings.lake.min_snapshots_to_keep = 1
    shop.maintain(["bronze.orders"])
    report = {r.model: r for r in shop.transform(["silver"]).results}
    assert report["silver.orders"].mode == "full"
    rebuilt = table_rows(shop, "silver.orders")
    shop.transform(["silver.orders"], full_refresh=True)
    assert table_rows(shop, "silver.orders") == rebuilt


def test_transform_before_ingest_says_what_to_do(shop: Platform) -> None:
    import pytest

    from shoplake.errors import ShoplakeError

    with pytest.raises(ShoplakeError) as info:
        shop.transform()
    assert str(info.value) == (
        "the lakehouse has no bronze tables yet: run `shoplake ingest` before transforming"
    )


def test_a_commit_that_fails_publishes_nothing_and_skips_downstream(shop: Platform) -> None:
    """Commits run in the background: a failing one (here the table's data directory is a
    file, so its Parquet cannot be written) fails that model, leaves no table behind, skips
    what reads it and keeps what was committed before."""
    shop.ingest()
    blocker = shop.settings.data_dir / "warehouse" / "gold" / "dim_products" / "data"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a directory")

    report = shop.transform()
    results = {r.model: r for r in report.results}
    assert not report.ok
    failed = results["gold.dim_products"]
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.startswith("gold.dim_products: commit failed: ")
    assert results["gold.fact_orders"].status == "skipped"
    assert results["gold.fact_orders"].error == "skipped: upstream gold.dim_products failed"
    assert results["silver.products"].status == "published"
    assert results["gold.dim_customers"].status == "published"
    names = {".".join(t) for t in shop.catalog.list_tables("gold")}
    assert "gold.dim_products" not in names, failed.error
    assert "gold.fact_orders" not in names
    assert {"gold.dim_customers", "gold.dim_dates"} <= names

    blocker.unlink()
    again = shop.transform()
    assert again.ok, [r.error for r in again.results if r.error]
    assert {r.model: r.status for r in again.results}["gold.fact_orders"] == "published"


def test_republishing_keeps_each_tables_history(
    shop: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: DuckDB names the UTC zone "Etc/UTC" and Iceberg "UTC"; the runner took that
    for changed columns and dropped and re-created every table with a timestamptz column on
    each run after a change, losing its snapshots (time travel, re-training on old snapshots)."""
    shop.ingest()
    assert shop.transform().ok
    first = {
        name: shop.catalog.load_table(name).current_snapshot().snapshot_id  # type: ignore[union-attr]
        for name in ("silver.customers", "gold.dim_customers", "gold.fact_orders")
    }
    shop.simulate(orders=20, seed=4)
    shop.ingest()
    with caplog.at_level(logging.WARNING):
        assert shop.transform().ok
    assert "output columns changed" not in caplog.text
    for name, snapshot_id in first.items():
        table = shop.catalog.load_table(name)
        history = [s.snapshot_id for s in table.snapshots()]
        assert snapshot_id in history, name
        assert history[-1] != snapshot_id, name
