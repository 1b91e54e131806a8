"""Schema drift: a new nullable column evolves bronze; incompatible changes fail one table only."""

from __future__ import annotations

import logging

import pytest

from shoplake.platform import Platform
from tests.ingest.conftest import source_sql
from tests.support.lakehouse import bronze_table, snapshot_ids


def test_new_nullable_column_evolves_bronze(
    shop: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    shop.ingest()
    source_sql(
        shop,
        'ALTER TABLE customers ADD COLUMN "loyaltyTier" VARCHAR(10)',
        "UPDATE customers SET loyaltyTier = 'gold' WHERE customerNumber IN "
        "(SELECT customerNumber FROM customers ORDER BY customerNumber LIMIT 3)",
    )
    with caplog.at_level(logging.WARNING):
        report = {r.table: r for r in shop.ingest().results}
    customers = report["customers"]
    assert customers.status == "loaded"
    # Adding a column that is NULL everywhere changes no row; only the three new values land.
    assert (customers.inserts, customers.updates, customers.deletes) == (0, 3, 0)
    assert customers.schema_changes == [
        "bronze.customers: new source column 'loyaltyTier' (string) added"
    ]
    assert "new source column 'loyaltyTier'" in caplog.text
    data = bronze_table(shop, "customers")
    assert data.column_names[-4:] == ["loyaltyTier", "_op", "_ingested_at", "_batch_id"]
    tiers = [r["loyaltyTier"] for r in data.to_pylist() if r["_batch_id"] == 2]
    assert tiers == ["gold", "gold", "gold"]
    assert shop.ingest().rows == 0  # and the evolved table is stable on re-run


def test_incompatible_type_change_fails_that_table_and_writes_nothing(shop: Platform) -> None:
    shop.ingest()
    before = snapshot_ids(shop)
    source_sql(
        shop,
        "CREATE TABLE products_new AS SELECT * FROM products",
        "DROP TABLE products",
        'CREATE TABLE products ("productCode" VARCHAR(15) PRIMARY KEY, "productName" VARCHAR(70), '
        '"productLine" VARCHAR(50), "productScale" VARCHAR(10), "productVendor" VARCHAR(50), '
        '"productDescription" TEXT, "quantityInStock" VARCHAR(20), "buyPrice" NUMERIC(10, 2), '
        '"MSRP" NUMERIC(10, 2))',
        "INSERT INTO products SELECT * FROM products_new",
        "DROP TABLE products_new",
        "UPDATE customers SET creditLimit = 1.00 WHERE customerNumber = "
        "(SELECT min(customerNumber) FROM customers)",
    )
    report = shop.ingest()
    results = {r.table: r for r in report.results}
    assert not report.ok
    assert results["products"].status == "failed"
    assert results["products"].error == (
        "products.quantityInStock: source type changed from int32 to string, which bronze "
        "cannot store; nothing written for products (rebuild with `shoplake ingest products "
        "--full-refresh`)"
    )
    assert snapshot_ids(shop)["bronze.products"] == before["bronze.products"]
    assert results["customers"].status == "loaded"  # other tables still ingest
    assert results["customers"].updates == 1

    refreshed = shop.ingest(["products"], full_refresh=True)
    assert refreshed.ok
    data = bronze_table(shop, "products")
    assert str(data.schema.field("quantityInStock").type) in {"string", "large_string"}
    assert set(data.column("_op").to_pylist()) == {"insert"}


def test_dropped_column_fails_naming_table_and_column(shop: Platform) -> None:
    shop.ingest()
    before = snapshot_ids(shop)
    source_sql(shop, 'ALTER TABLE customers DROP COLUMN "addressLine2"')
    result = {r.table: r for r in shop.ingest().results}["customers"]
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith(
        "customers.addressLine2: column was dropped from the source; bronze keeps its history"
    )
    assert snapshot_ids(shop)["bronze.customers"] == before["bronze.customers"]
