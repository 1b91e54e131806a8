"""A source table that bronze holds but the source no longer shows (dropped, renamed, or hidden
from this user) fails that table with one line and a non-zero exit; bronze keeps its rows and
the other tables still ingest."""

from __future__ import annotations

from shoplake.platform import Platform
from tests.ingest.conftest import ingest_cli, source_sql
from tests.support.lakehouse import snapshot_ids

GONE = (
    "source table 'payments' does not exist or is not visible to this user; "
    "bronze.payments, if any, is left as it was"
)


def test_dropped_source_table_fails_by_name_and_keeps_bronze(shop: Platform) -> None:
    shop.ingest()
    before = snapshot_ids(shop)
    rows = {s.name: s.rows for s in shop.tables()}["bronze.payments"]
    source_sql(
        shop,
        "DROP TABLE payments",
        "UPDATE customers SET creditLimit = 1.00 WHERE customerNumber = 103",
    )
    report = shop.ingest()
    results = {r.table: r for r in report.results}
    assert not report.ok
    assert (results["payments"].status, results["payments"].error) == ("failed", GONE)
    assert [r.table for r in report.results if r.status == "failed"] == ["payments"]
    assert (results["customers"].status, results["customers"].updates) == ("loaded", 1)
    assert snapshot_ids(shop)["bronze.payments"] == before["bronze.payments"]
    assert {s.name: s.rows for s in shop.tables()}["bronze.payments"] == rows

    done = ingest_cli(shop.settings.data_dir)
    assert done.returncode == 1
    assert [line for line in done.stderr.splitlines() if line.strip()] == [f"error: {GONE}"]


def test_renamed_source_table_is_named_and_the_new_name_ingested(shop: Platform) -> None:
    shop.ingest(["payments", "customers"])
    source_sql(shop, "ALTER TABLE payments RENAME TO payments_2025")
    report = shop.ingest()
    results = {r.table: r for r in report.results}
    assert results["payments"].error == GONE
    assert results["payments_2025"].status == "loaded"
    landed = {s.name: s.rows for s in shop.tables()}
    assert results["payments_2025"].inserts == landed["bronze.payments"] == 885
    assert results["customers"].status == "unchanged"
