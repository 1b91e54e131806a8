"""A source value its column's type cannot hold is refused: one line naming table, column and
row key (never the value), bronze untouched for that table, the other tables still ingested."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from shoplake.errors import IngestError
from shoplake.ingest.columns import conform_column, reflect_columns
from shoplake.ingest.extract import SqlAlchemyExtractor
from shoplake.platform import Platform
from tests.ingest.conftest import ingest_cli, source_sql
from tests.support.lakehouse import snapshot_ids

TEXT_NOT_DECIMAL = "holds text where decimal(10, 2) is expected"
DECIMAL_RANGE = "is out of range for decimal(10, 2)"
BAD_DATE = "value is not a date"
BAD_TIMESTAMP = "value is not a timestamp"

# (table, column, change to the source, row key in the message, what is wrong)
UPDATED = [
    ("customers", "creditLimit", "SET creditLimit = 'lots' WHERE customerNumber = 103",
     "customerNumber=103", TEXT_NOT_DECIMAL),
    ("products", "MSRP", "SET MSRP = '12abc' WHERE productCode = 'S10_2556'",
     "productCode='S10_2556'", TEXT_NOT_DECIMAL),
    ("orders", "orderDate", "SET orderDate = '2003-13-45' WHERE orderNumber = 10100",
     "orderNumber=10100", BAD_DATE),
    ("orders", "shippedDate", "SET shippedDate = '2003-02-30' WHERE orderNumber = 10100",
     "orderNumber=10100", BAD_DATE),
    ("orders", "requiredDate", "SET requiredDate = 20030106 WHERE orderNumber = 10100",
     "orderNumber=10100", BAD_DATE),
    ("orders", "requiredDate", "SET requiredDate = '0000-01-01' WHERE orderNumber = 10100",
     "orderNumber=10100", BAD_DATE),  # parses, but no Python or Parquet reader has year 0
    ("employees", "reportsTo", "SET reportsTo = 12.5 WHERE employeeNumber = 1002",
     "employeeNumber=1002", "holds real where an integer is expected"),
    ("products", "quantityInStock",
     "SET quantityInStock = 3000000000 WHERE productCode = 'S10_2556'",
     "productCode='S10_2556'", "is out of range for a 32-bit integer"),
    ("payments", "amount",
     "SET amount = 1e300 WHERE customerNumber = 103 AND checkNumber = 'BM597038'",
     "customerNumber=103, checkNumber='BM597038'", DECIMAL_RANGE),
    ("customers", "creditLimit", "SET creditLimit = 99999999.999 WHERE customerNumber = 103",
     "customerNumber=103", DECIMAL_RANGE),
]  # fmt: skip


@pytest.mark.parametrize(("table", "column", "change", "key", "problem"), UPDATED)
def test_unfit_value_in_a_changed_row_is_refused_naming_table_column_and_key(
    shop: Platform, table: str, column: str, change: str, key: str, problem: str
) -> None:
    shop.ingest()
    before = snapshot_ids(shop)
    source_sql(
        shop,
        f"UPDATE {table} {change}",
        "UPDATE offices SET city = 'Paris 2' WHERE officeCode = '1'",  # a good change elsewhere
    )
    report = shop.ingest()
    results = {r.table: r for r in report.results}
    assert not report.ok
    assert results[table].status == "failed"
    assert results[table].error == (
        f"{table}.{column} in row {key}: {problem}; nothing written for {table}"
    )
    assert snapshot_ids(shop)[f"bronze.{table}"] == before[f"bronze.{table}"]
    assert results["offices"].status == "loaded" and results["offices"].updates == 1
    assert [r.table for r in report.results if r.status == "failed"] == [table]


# Rows past the cursor: order lines and ratings are read by cursor, not diffed.
INSERTED = [
    ("orderdetails", "priceEach",
     "INSERT INTO orderdetails VALUES (11100, 'S10_2556', 3, 'N/A', 1)",
     "orderNumber=11100, productCode='S10_2556'", TEXT_NOT_DECIMAL),
    ("orderdetails", "quantityOrdered",
     "INSERT INTO orderdetails VALUES (11100, 'S10_2556', '12abc', 10.5, 1)",
     "orderNumber=11100, productCode='S10_2556'", "holds text where an integer is expected"),
    ("ratings", "ratedAt",
     "INSERT INTO ratings VALUES (103, 'S10_2556', 4, '2005-06-31 10:00:00')",
     "customerNumber=103, productCode='S10_2556'", BAD_TIMESTAMP),
]  # fmt: skip


@pytest.mark.parametrize(("table", "column", "change", "key", "problem"), INSERTED)
def test_unfit_value_in_a_new_row_past_the_cursor_is_refused(
    shop: Platform, table: str, column: str, change: str, key: str, problem: str
) -> None:
    shop.ingest()
    before = snapshot_ids(shop)
    source_sql(shop, "DELETE FROM ratings WHERE customerNumber = 103", change)
    result = {r.table: r for r in shop.ingest([table]).results}[table]
    assert result.status == "failed"
    assert result.error == f"{table}.{column} in row {key}: {problem}; nothing written for {table}"
    assert snapshot_ids(shop)[f"bronze.{table}"] == before[f"bronze.{table}"]


@pytest.mark.parametrize(
    ("declared", "value", "problem"),
    [
        ("BOOLEAN", "'yes'", "holds text where a boolean (0 or 1) is expected"),
        ("BOOLEAN", "2", "is out of range for a boolean (0 or 1)"),
        ("REAL", "'heavy'", "holds text where a number is expected"),
        ("DATETIME", "'2005-02-29 10:00:00'", BAD_TIMESTAMP),
    ],
)
def test_unfit_value_in_a_new_column_of_each_remaining_type_is_refused(
    shop: Platform, declared: str, value: str, problem: str
) -> None:
    source_sql(
        shop,
        f'ALTER TABLE customers ADD COLUMN "extra" {declared}',
        f"UPDATE customers SET extra = {value} WHERE customerNumber = 103",
    )
    result = {r.table: r for r in shop.ingest(["customers"]).results}["customers"]
    assert result.error == (
        f"customers.extra in row customerNumber=103: {problem}; nothing written for customers"
    )


def test_unfit_value_on_first_ingest_lands_no_rows(shop: Platform) -> None:
    source_sql(shop, "UPDATE customers SET creditLimit = 'N/A' WHERE customerNumber = 103")
    result = {r.table: r for r in shop.ingest(["customers"]).results}["customers"]
    assert result.error == (
        f"customers.creditLimit in row customerNumber=103: {TEXT_NOT_DECIMAL}; "
        "nothing written for customers"
    )
    assert not shop.catalog.table_exists("bronze.customers")  # not even created empty


def test_cli_prints_one_line_and_exits_1_for_a_malformed_date(shop: Platform) -> None:
    data_dir = shop.settings.data_dir
    source_sql(shop, "UPDATE orders SET orderDate = '2003-13-45' WHERE orderNumber = 10100")
    done = ingest_cli(data_dir, "orders", "customers")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert errors == [
        f"error: orders.orderDate in row orderNumber=10100: {BAD_DATE}; nothing written for orders"
    ]
    assert "2003-13-45" not in done.stdout + done.stderr  # the value itself is never quoted
    assert {s.name: s.rows for s in shop.tables()}["bronze.customers"] == 100


@pytest.mark.parametrize(
    ("values", "target", "problem"),
    [
        ([1e12, 5.0], pa.decimal128(10, 2), "value is not decimal(10, 2)"),
        ([float("inf")], pa.decimal128(10, 2), "value is not decimal(10, 2)"),
        ([float("nan")], pa.decimal128(10, 2), "value is not decimal(10, 2)"),
        (["12", "twelve"], pa.int64(), "value is not an integer"),
        (["2003-02-29"], pa.date32(), "value is not a date"),
    ],
)
def test_conversion_refuses_instead_of_storing_a_silent_zero(
    values: list[object], target: pa.DataType, problem: str
) -> None:
    # Every extractor (PostgreSQL, MySQL…) converts through this: a double too large for the
    # decimal used to become 0.00 in an unchecked cast.
    with pytest.raises(IngestError) as info:
        conform_column(pa.array(values), target, table="t", column="c")
    assert str(info.value) == f"t.c: {problem}; nothing written for t"


def test_conversion_keeps_values_that_fit() -> None:
    fitting = pa.array([99_999_999.99, -99_999_999.994, 0.01])
    result = conform_column(fitting, pa.decimal128(10, 2), table="t", column="c")
    assert result.to_pylist() == [Decimal("99999999.99"), Decimal("-99999999.99"), Decimal("0.01")]


def test_cli_prints_a_key_with_brackets_as_it_is(shop: Platform) -> None:
    source_sql(
        shop,
        'INSERT INTO products SELECT \'[bold]S99\', "productName", "productLine", '
        '"productScale", "productVendor", "productDescription", 5, 1.5, \'N/A\' '
        "FROM products WHERE \"productCode\" = 'S10_2556'",
    )
    done = ingest_cli(shop.settings.data_dir, "products")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: products.MSRP in row productCode='[bold]S99': {TEXT_NOT_DECIMAL}; "
        "nothing written for products"
    ]


def test_portable_extractor_refuses_mixed_driver_values_by_key(shop: Platform) -> None:
    # The SQLAlchemy extractor (MySQL, any other database) gets Python values; a loosely
    # typed column mixing them used to raise a raw ArrowInvalid (a traceback in the CLI).
    source_sql(
        shop,
        "UPDATE customers SET creditLimit = 'lots' WHERE customerNumber = 103",
        "UPDATE orders SET orderDate = '0000-00-00' WHERE orderNumber = 10100",
    )
    extractor = SqlAlchemyExtractor(shop.settings.source_url)
    for table, key, expected in [
        ("customers", "customerNumber", "customers.creditLimit in row customerNumber=103: "
         "value is not decimal(10, 2); nothing written for customers"),
        ("orders", "orderNumber", "orders.orderDate in row orderNumber=10100: "
         "value is not a date; nothing written for orders"),
    ]:  # fmt: skip
        columns = reflect_columns(extractor.engine, table)
        with pytest.raises(IngestError) as info:
            for _batch in extractor.batches(table, columns, None, 1000, [key]):
                pass
        assert str(info.value) == expected
