"""Per-table strategy overrides, and switching a table's strategy without duplicating rows."""

from __future__ import annotations

import sqlite3

from shoplake.config import TableIngestSettings
from shoplake.platform import Platform
from tests.support.lakehouse import bronze_table


def test_override_then_switch_back_lands_no_duplicates(shop: Platform) -> None:
    shop.settings.ingest.tables["orderdetails"] = TableIngestSettings(strategy="snapshot")
    (first,) = shop.ingest(["orderdetails"]).results
    assert (first.strategy, first.watermark) == ("snapshot", "")

    shop.settings.ingest.tables.clear()  # back to the default: cursor on orderNumber
    (switched,) = shop.ingest(["orderdetails"]).results
    # The first cursor run over existing history diffs once (nothing changed) and records
    # the watermark; it must not re-append the table.
    with sqlite3.connect(shop.settings.data_dir / "source.db") as conn:
        top, lines = conn.execute("SELECT max(orderNumber), count(*) FROM orderdetails").fetchone()
    assert (switched.strategy, switched.rows, switched.watermark) == ("cursor", 0, str(top))
    assert bronze_table(shop, "orderdetails").num_rows == lines

    shop.simulate(orders=5, seed=11)
    (after,) = shop.ingest(["orderdetails"]).results
    assert after.status == "loaded" and after.updates == 0
    assert bronze_table(shop, "orderdetails").num_rows == lines + after.inserts


def test_cursor_override_needs_a_cursor_column(shop: Platform) -> None:
    shop.settings.ingest.tables["orders"] = TableIngestSettings(strategy="cursor")
    (result,) = shop.ingest(["orders"]).results
    assert result.status == "failed"
    assert result.error == "orders: strategy 'cursor' needs ingest.tables.orders.cursor"


def test_cursor_override_on_a_missing_column_is_named(shop: Platform) -> None:
    shop.settings.ingest.tables["orders"] = TableIngestSettings(
        strategy="cursor", cursor="updatedAt"
    )
    (result,) = shop.ingest(["orders"]).results
    assert result.error == "orders.updatedAt: configured column does not exist in the source"
