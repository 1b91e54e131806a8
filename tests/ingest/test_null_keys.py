"""A source row whose primary key is NULL is refused at ingest, naming table and row.

Such a row matches none of its own versions: each update became a delete plus an insert in
one batch and silver dropped the row. SQLite lets a non-integer PRIMARY KEY column hold NULL
unless it is declared NOT NULL, as tables created outside shoplake often are not.
"""

from __future__ import annotations

from shoplake.platform import Platform
from tests.ingest.conftest import ingest_cli, source_sql
from tests.support.lakehouse import snapshot_ids


def recreate_without_not_null(shop: Platform, table: str, columns: str) -> None:
    """Rebuild a source table with the same rows but a primary key that accepts NULL."""
    source_sql(
        shop,
        f"CREATE TABLE {table}_copy AS SELECT * FROM {table}",
        f"DROP TABLE {table}",
        f"CREATE TABLE {table} ({columns})",
        f"INSERT INTO {table} SELECT * FROM {table}_copy",
        f"DROP TABLE {table}_copy",
    )


OFFICES = (
    '"officeCode" VARCHAR(10), city VARCHAR(50), phone VARCHAR(50), "addressLine1" VARCHAR(50), '
    '"addressLine2" VARCHAR(50), state VARCHAR(50), country VARCHAR(50), '
    '"postalCode" VARCHAR(15), territory VARCHAR(10), PRIMARY KEY ("officeCode")'
)
ORDERDETAILS = (
    '"orderNumber" INTEGER, "productCode" VARCHAR(15), "quantityOrdered" INTEGER, '
    '"priceEach" NUMERIC(10, 2), "orderLineNumber" SMALLINT, '
    'PRIMARY KEY ("orderNumber", "productCode")'
)


def test_null_key_row_is_refused_and_bronze_kept(shop: Platform) -> None:
    recreate_without_not_null(shop, "offices", OFFICES)
    shop.ingest()
    before = snapshot_ids(shop)
    source_sql(
        shop,
        "INSERT INTO offices VALUES (NULL, 'Lyon', '+33 4 00 00 00 00', '1 quai', NULL, NULL, "
        "'France', '69001', 'EMEA')",
        "UPDATE customers SET creditLimit = 1.00 WHERE customerNumber = 103",
    )
    report = shop.ingest()
    results = {r.table: r for r in report.results}
    assert not report.ok
    assert results["offices"].status == "failed"
    assert results["offices"].error == (
        "offices: primary key column officeCode is NULL in row 8 read from the source; "
        "nothing written for offices"
    )
    assert snapshot_ids(shop)["bronze.offices"] == before["bronze.offices"]
    assert (results["customers"].status, results["customers"].updates) == ("loaded", 1)

    # Updating the row (what silver used to lose) is refused the same way, and the CLI
    # prints that one line and exits 1; once the row has a key it lands.
    source_sql(shop, "UPDATE offices SET city = 'Lyon 2' WHERE officeCode IS NULL")
    done = ingest_cli(shop.settings.data_dir, "offices")
    assert done.returncode == 1
    assert [line for line in done.stderr.splitlines() if line.strip()] == [
        f"error: {results['offices'].error}"
    ]
    source_sql(shop, "UPDATE offices SET officeCode = '8' WHERE officeCode IS NULL")
    fixed = {r.table: r for r in shop.ingest(["offices"]).results}["offices"]
    assert (fixed.status, fixed.inserts, fixed.updates, fixed.deletes) == ("loaded", 1, 0, 0)


def test_null_part_of_a_composite_key_past_the_cursor_is_refused(shop: Platform) -> None:
    recreate_without_not_null(shop, "orderdetails", ORDERDETAILS)
    shop.ingest()
    before = snapshot_ids(shop)["bronze.orderdetails"]
    source_sql(shop, "INSERT INTO orderdetails VALUES (11100, NULL, 3, 60.00, 1)")
    result = {r.table: r for r in shop.ingest(["orderdetails"]).results}["orderdetails"]
    assert result.status == "failed"
    assert result.error == (
        "orderdetails: primary key column productCode is NULL in row 1 read from the source "
        "(orderNumber=11100); nothing written for orderdetails"
    )
    assert snapshot_ids(shop)["bronze.orderdetails"] == before


RATINGS = (
    '"customerNumber" INTEGER, "productCode" VARCHAR(15), "productRating" SMALLINT, '
    '"ratedAt" DATETIME, PRIMARY KEY ("customerNumber", "productCode")'
)


def test_null_cursor_value_is_refused_instead_of_never_read(shop: Platform) -> None:
    # ratings are read by ratedAt ranges, which no NULL falls in: the row was never landed.
    recreate_without_not_null(shop, "ratings", RATINGS)
    source_sql(shop, "UPDATE ratings SET ratedAt = NULL WHERE rowid IN (3, 5)")
    result = shop.ingest(["ratings"]).results[0]
    assert result.error == (
        "ratings.ratedAt: the cursor column is NULL in 2 source rows, which a cursor read "
        "never lands; nothing written for ratings "
        "(fill them in, or set ingest.tables.ratings.strategy = 'snapshot')"
    )
    assert not shop.catalog.table_exists("bronze.ratings")
