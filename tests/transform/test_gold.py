"""The gold star schema on the real ClassicModels data and its SCD2 customer dimension."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from shoplake.generate.classicmodels import read_classicmodels_dump
from shoplake.platform import Platform
from tests.support.classicmodels import DUMP_REVENUE, classicmodels_lakehouse


@pytest.fixture(scope="module")
def real(
    tmp_path_factory: pytest.TempPathFactory,
    classicmodels_dump: Path,
    classicmodels_ratings_csv: Path,
) -> Platform:
    return classicmodels_lakehouse(
        tmp_path_factory.mktemp("real-gold"), classicmodels_dump, classicmodels_ratings_csv
    )


def one(shop: Platform, sql: str) -> dict[str, object]:
    (row,) = shop.query(sql).table.to_pylist()
    return row


def test_fact_orders_matches_the_dump(real: Platform, classicmodels_dump: Path) -> None:
    facts = one(real, "SELECT count(*) AS n, sum(order_amount) AS revenue FROM gold.fact_orders")
    assert facts == {"n": 2996, "revenue": DUMP_REVENUE}

    dump = read_classicmodels_dump(classicmodels_dump)
    order_year = {o["orderNumber"]: o["orderDate"].year for o in dump["orders"]}
    line_of = {p["productCode"]: p["productLine"] for p in dump["products"]}
    by_year: dict[int, Decimal] = defaultdict(Decimal)
    by_line: dict[str, Decimal] = defaultdict(Decimal)
    for line in dump["orderdetails"]:
        amount = line["quantityOrdered"] * line["priceEach"]
        by_year[order_year[line["orderNumber"]]] += amount
        by_line[line_of[line["productCode"]]] += amount

    years = real.query(
        "SELECT year(order_date) AS y, sum(order_amount) AS revenue "
        "FROM gold.fact_orders GROUP BY 1"
    ).table.to_pylist()
    assert {r["y"]: r["revenue"] for r in years} == dict(by_year)
    lines = real.query(
        "SELECT p.product_line, sum(f.order_amount) AS revenue FROM gold.fact_orders f "
        "JOIN gold.dim_products p USING (product_key) GROUP BY 1"
    ).table.to_pylist()
    assert {r["product_line"]: r["revenue"] for r in lines} == dict(by_line)
    mart = one(real, "SELECT sum(revenue) AS revenue FROM gold.sales_by_month")
    assert mart == {"revenue": DUMP_REVENUE}


def test_dim_dates_covers_every_order_date(real: Platform) -> None:
    missing = one(
        real,
        "SELECT count(*) AS n FROM gold.fact_orders f WHERE NOT EXISTS "
        "(SELECT 1 FROM gold.dim_dates d WHERE d.date = f.order_date)",
    )
    assert missing == {"n": 0}


def test_ml_tables_and_every_contract_pass(real: Platform) -> None:
    assert one(real, "SELECT count(*) AS n FROM gold.ratings_for_ml") == {"n": 2532}
    results = real.check()
    failed = [(r.model, r.check, r.message) for r in results if r.status != "pass"]
    assert failed == []
    assert len(results) > 50


def test_scd2_customer_versions_and_fact_keys(shop: Platform) -> None:
    shop.ingest()
    assert shop.transform().ok
    source = shop.settings.data_dir / "source.db"
    with sqlite3.connect(source) as conn:
        customer, old_order = conn.execute(
            "SELECT customerNumber, max(orderNumber) FROM orders GROUP BY 1 ORDER BY 1 LIMIT 1"
        ).fetchone()
        new_order = conn.execute("SELECT max(orderNumber) + 1 FROM orders").fetchone()[0]
        product = conn.execute("SELECT productCode FROM products LIMIT 1").fetchone()[0]
        conn.execute(
            "UPDATE customers SET city = 'Reykjavik', creditLimit = creditLimit + 1000 "
            "WHERE customerNumber = ?",
            (customer,),
        )
        conn.execute(
            "INSERT INTO orders VALUES "
            "(?, '2005-06-01', '2005-06-08', NULL, 'In Process', NULL, ?)",
            (new_order, customer),
        )
        conn.execute("INSERT INTO orderdetails VALUES (?, ?, 10, 50.00, 1)", (new_order, product))
    assert shop.ingest().ok
    assert shop.transform().ok

    versions = shop.query(
        "SELECT customer_key, city, valid_from, valid_to, is_current FROM gold.dim_customers "
        f"WHERE customer_number = {customer} ORDER BY valid_from"
    ).table.to_pylist()
    assert len(versions) == 2
    old, new = versions
    assert (old["is_current"], new["is_current"], new["valid_to"], new["city"]) == (
        False,
        True,
        None,
        "Reykjavik",
    )
    assert old["valid_to"] == new["valid_from"]
    assert isinstance(new["valid_from"], dt.datetime)

    keys = shop.query(
        "SELECT order_number, customer_key FROM gold.fact_orders "
        f"WHERE order_number IN ({old_order}, {new_order})"
    ).table.to_pylist()
    by_order = {row["order_number"]: row["customer_key"] for row in keys}
    assert by_order[old_order] == old["customer_key"]
    assert by_order[new_order] == new["customer_key"]
