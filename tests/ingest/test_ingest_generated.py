"""Batch ingestion of a generated source: full load, idempotent re-run, incremental changes."""

from __future__ import annotations

import sqlite3

from shoplake.platform import Platform
from tests.ingest.conftest import SOURCE_TABLES
from tests.support.lakehouse import (
    bronze_rows,
    bronze_table,
    replay_latest,
    snapshot_ids,
    source_rows,
)

KEYS = {
    "customers": ["customerNumber"],
    "employees": ["employeeNumber"],
    "offices": ["officeCode"],
    "orderdetails": ["orderNumber", "productCode"],
    "orders": ["orderNumber"],
    "payments": ["customerNumber", "checkNumber"],
    "productlines": ["productLine"],
    "products": ["productCode"],
    "ratings": ["customerNumber", "productCode"],
}


def source_count(shop: Platform, table: str) -> int:
    with sqlite3.connect(shop.settings.data_dir / "source.db") as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_full_load_lands_every_source_row_once(shop: Platform) -> None:
    report = shop.ingest()
    assert report.ok
    assert [r.table for r in report.results] == list(SOURCE_TABLES)
    for result in report.results:
        expected = source_count(shop, result.table)
        assert (result.status, result.inserts, result.updates, result.deletes) == (
            "loaded",
            expected,
            0,
            0,
        ), result.table
        data = bronze_table(shop, result.table)
        assert data.num_rows == expected
        assert set(data.column("_op").to_pylist()) == {"insert"}
        assert set(data.column("_batch_id").to_pylist()) == {1}
    # One run, one _ingested_at: rows landed together can be matched in time across tables.
    moments = {
        m for t in SOURCE_TABLES for m in bronze_table(shop, t).column("_ingested_at").to_pylist()
    }
    assert len(moments) == 1
    strategies = {r.table: r.strategy for r in report.results}
    assert strategies["orderdetails"] == strategies["ratings"] == "cursor"
    assert strategies["orders"] == strategies["customers"] == "snapshot"


def test_rerun_without_source_change_creates_no_snapshot(shop: Platform) -> None:
    shop.ingest()
    before = snapshot_ids(shop)
    rows_before = {t: bronze_rows(shop, t) for t in SOURCE_TABLES}
    report = shop.ingest()
    assert {r.status for r in report.results} == {"unchanged"}
    assert report.rows == 0
    assert snapshot_ids(shop) == before
    assert {t: bronze_rows(shop, t) for t in SOURCE_TABLES} == rows_before


def test_incremental_ingest_lands_only_the_changes(shop: Platform) -> None:
    shop.ingest()
    with sqlite3.connect(shop.settings.data_dir / "source.db") as conn:
        max_order = conn.execute("SELECT max(orderNumber) FROM orderdetails").fetchone()[0]
        ratings_mark = conn.execute("SELECT max(ratedAt) FROM ratings").fetchone()[0]
    changes = shop.simulate(orders=40, seed=3).changes
    with sqlite3.connect(shop.settings.data_dir / "source.db") as conn:
        new_lines = conn.execute(
            "SELECT count(*) FROM orderdetails WHERE orderNumber > ?", (max_order,)
        ).fetchone()[0]
        new_or_rerated = conn.execute(
            "SELECT count(*) FROM ratings WHERE ratedAt > ?", (ratings_mark,)
        ).fetchone()[0]
    report = {r.table: r for r in shop.ingest().results}

    assert new_lines > 40
    assert (report["orderdetails"].inserts, report["orderdetails"].updates) == (new_lines, 0)
    assert report["orders"].inserts == 40
    assert report["orders"].updates > 0  # shipments and cancellations of open orders
    assert report["ratings"].inserts + report["ratings"].updates == new_or_rerated
    assert report["ratings"].updates > 0  # re-ratings are updates of an existing key
    assert report["payments"].deletes > 0  # bounced checks disappear from the source
    assert report["products"].updates > 0  # price changes
    untouched = [t for t, r in report.items() if r.status == "unchanged"]
    assert "productlines" in untouched and "offices" in untouched
    assert sum(changes.values()) > 0

    for result in report.values():
        if result.status == "loaded":
            assert result.batch_id == 2
            batch_ids = bronze_table(shop, result.table).column("_batch_id").to_pylist()
            assert batch_ids.count(2) == result.rows, result.table
    # Bronze replayed to its latest version per key equals the source, table by table.
    for table, key in KEYS.items():
        assert replay_latest(shop, table, key) == source_rows(shop.settings.source_url, table), (
            table
        )


def test_bronze_history_keeps_every_version(shop: Platform) -> None:
    shop.ingest()
    with sqlite3.connect(shop.settings.data_dir / "source.db") as conn:
        conn.execute(
            "UPDATE customers SET creditLimit = 12345.67 WHERE customerNumber = "
            "(SELECT min(customerNumber) FROM customers)"
        )
        first = conn.execute("SELECT min(customerNumber) FROM customers").fetchone()[0]
    shop.ingest(["customers"])
    versions = shop.query(
        f'SELECT _op, _batch_id, "creditLimit" FROM bronze.customers '
        f'WHERE "customerNumber" = {first} ORDER BY _batch_id'
    ).table.to_pylist()
    assert [(v["_op"], v["_batch_id"]) for v in versions] == [("insert", 1), ("update", 2)]
    assert str(versions[1]["creditLimit"]) == "12345.67"
