"""The seeded generator: sizes, determinism, integrity, exact money and taste-driven behaviour."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy import select, text

from shoplake.generate import schema
from shoplake.generate.synthetic import GenerateResult, generate, table_digests
from shoplake.generate.tastes import affinity, load_tastes
from shoplake.generate.writer import bulk_insert, decimal_array
from shoplake.sourcedb import create_source_engine


def _generate(directory: Path, scale: float, seed: int) -> tuple[str, Path, GenerateResult]:
    directory.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{directory / 'source.db'}"
    tastes = directory / "tastes.parquet"
    return url, tastes, generate(url, scale=scale, seed=seed, tastes_path=tastes)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, GenerateResult]:
    return _generate(tmp_path_factory.mktemp("small"), 0.01, 42)


def _rows(url: str, sql: str) -> list[tuple]:
    engine = create_source_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _count(url: str, table: str) -> int:
    return _rows(url, f"SELECT COUNT(*) FROM {table}")[0][0]


@pytest.mark.parametrize(
    ("scale", "customers", "products", "orders", "employees"),
    [(0.01, 100, 110, 1000, 23), (0.05, 500, 110, 5000, 23)],
)
def test_row_counts_follow_the_scale(tmp_path, scale, customers, products, orders, employees):
    url, _, result = _generate(tmp_path, scale, 7)
    expected = {"customers": customers, "products": products, "orders": orders, "offices": 7,
                "productlines": 7, "employees": employees}  # fmt: skip
    for table, count in expected.items():
        assert _count(url, table) == count == result.counts[table]
    for table in schema.SOURCE_TABLES:
        assert _count(url, table) == result.counts[table]
    assert 9 * orders <= result.counts["orderdetails"] <= 11 * orders
    assert 0.8 * orders <= result.counts["payments"] <= orders
    assert result.counts["ratings"] > customers
    assert result.seconds > 0


def test_same_seed_same_bytes_other_seed_differs(tmp_path, small):
    url, tastes_path, _ = small
    again_url, again_tastes, _ = _generate(tmp_path / "again", 0.01, 42)
    other_url, _, _ = _generate(tmp_path / "other", 0.01, 43)
    digests = [table_digests(create_source_engine(u)) for u in (url, again_url, other_url)]
    assert digests[0] == digests[1]
    random_tables = set(schema.SOURCE_TABLES) - {"offices", "productlines"}
    assert all(digests[0][t] != digests[2][t] for t in random_tables)
    first, second = load_tastes(tastes_path), load_tastes(again_tastes)
    assert np.array_equal(first.line_weights, second.line_weights)
    assert (first.seed, first.scale) == (42, 0.01)


def test_foreign_keys_hold(small):
    url = small[0]
    orphans = {
        "orderdetails.productCode": "SELECT COUNT(*) FROM orderdetails d LEFT JOIN products p "
        "ON p.productCode = d.productCode WHERE p.productCode IS NULL",
        "orderdetails.orderNumber": "SELECT COUNT(*) FROM orderdetails d LEFT JOIN orders o "
        "ON o.orderNumber = d.orderNumber WHERE o.orderNumber IS NULL",
        "orders.customerNumber": "SELECT COUNT(*) FROM orders o LEFT JOIN customers c "
        "ON c.customerNumber = o.customerNumber WHERE c.customerNumber IS NULL",
        "payments.customerNumber": "SELECT COUNT(*) FROM payments p LEFT JOIN customers c "
        "ON c.customerNumber = p.customerNumber WHERE c.customerNumber IS NULL",
        "employees.officeCode": "SELECT COUNT(*) FROM employees e LEFT JOIN offices o "
        "ON o.officeCode = e.officeCode WHERE o.officeCode IS NULL",
        "customers.salesRep": "SELECT COUNT(*) FROM customers c LEFT JOIN employees e ON "
        "e.employeeNumber = c.salesRepEmployeeNumber WHERE c.salesRepEmployeeNumber IS NOT NULL"
        " AND (e.employeeNumber IS NULL OR e.jobTitle != 'Sales Rep')",
        "products.productLine": "SELECT COUNT(*) FROM products p LEFT JOIN productlines l "
        "ON l.productLine = p.productLine WHERE l.productLine IS NULL",
        # Ratings are of products the customer received.
        "ratings.purchase": "SELECT COUNT(*) FROM ratings r WHERE NOT EXISTS (SELECT 1 FROM "
        "orders o JOIN orderdetails d ON d.orderNumber = o.orderNumber WHERE "
        "o.customerNumber = r.customerNumber AND d.productCode = r.productCode "
        "AND o.shippedDate IS NOT NULL)",
    }
    assert {name: _rows(url, sql)[0][0] for name, sql in orphans.items()} == dict.fromkeys(
        orphans, 0
    )
    boss = dict(_rows(url, "SELECT employeeNumber, reportsTo FROM employees"))
    titles = dict(_rows(url, "SELECT employeeNumber, jobTitle FROM employees"))
    for employee in boss:
        chain = [employee]
        while boss[chain[-1]] is not None:
            chain.append(boss[chain[-1]])
            assert len(chain) < 10
        assert titles[chain[-1]] == "President"
    assert sum(title == "President" for title in titles.values()) == 1


def test_orders_lines_and_statuses_look_like_the_sample(small):
    url = small[0]
    lines = _rows(url, "SELECT orderNumber, productCode, orderLineNumber FROM orderdetails")
    per_order: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for number, code, line in lines:
        per_order[number].append((code, line))
    for items in per_order.values():
        assert len({code for code, _ in items}) == len(items)
        assert sorted(line for _, line in items) == list(range(1, len(items) + 1))
    assert _rows(url, "SELECT MIN(orderDate), MAX(orderDate) FROM orders")[0] == (
        "2003-01-01", "2005-05-31",
    )  # fmt: skip
    statuses = dict(_rows(url, "SELECT status, COUNT(*) FROM orders GROUP BY status"))
    assert set(statuses) <= {"Shipped", "In Process", "On Hold", "Cancelled", "Resolved",
                             "Disputed"}  # fmt: skip
    assert statuses["Shipped"] > 0.9 * sum(statuses.values())
    assert statuses["In Process"] > 0
    unshipped = _rows(url, "SELECT DISTINCT status FROM orders WHERE shippedDate IS NULL")
    assert {s for (s,) in unshipped} <= {"In Process", "On Hold", "Cancelled"}
    assert _rows(url, "SELECT COUNT(*) FROM orders WHERE shippedDate < orderDate "
                      "OR requiredDate <= orderDate")[0][0] == 0  # fmt: skip
    assert _rows(url, "SELECT COUNT(*) FROM orders WHERE status NOT IN ('Shipped', "
                      "'In Process') AND comments IS NULL")[0][0] == 0  # fmt: skip
    # Every rating comes after the first delivery of that product to that customer.
    late = _rows(
        url,
        "SELECT COUNT(*) FROM ratings r WHERE r.ratedAt <= (SELECT MIN(o.orderDate)"
        " FROM orders o JOIN orderdetails d ON d.orderNumber = o.orderNumber WHERE"
        " o.customerNumber = r.customerNumber AND d.productCode = r.productCode)",
    )
    assert late[0][0] == 0


def test_products_customers_and_payments_look_like_the_sample(small):
    url = small[0]
    for code, scale, stock in _rows(url, "SELECT productCode, productScale, quantityInStock "
                                         "FROM products"):  # fmt: skip
        assert re.fullmatch(r"S\d+_\d{4}", code) and code[1:].split("_")[0] == scale[2:]
        assert 0 <= stock < 32768
    assert _rows(url, "SELECT COUNT(*) FROM products WHERE MSRP <= buyPrice")[0][0] == 0
    no_rep = _rows(url, "SELECT creditLimit FROM customers WHERE salesRepEmployeeNumber IS NULL")
    assert no_rep and all(limit == 0 for (limit,) in no_rep)
    assert _rows(url, "SELECT COUNT(*) FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o"
                      " WHERE o.customerNumber = c.customerNumber)")[0][0] > 0  # fmt: skip
    assert _rows(url, "SELECT COUNT(*) FROM payments WHERE checkNumber NOT GLOB "
                      "'[A-Z][A-Z][0-9][0-9][0-9][0-9][0-9][0-9]'")[0][0] == 0  # fmt: skip
    assert {c for (c,) in _rows(url, "SELECT country FROM customers")} >= {"USA", "France"}


def test_money_is_exact(small):
    url = small[0]
    engine = create_source_engine(url)
    with engine.connect() as conn:
        lines = conn.execute(
            select(schema.orders.c.customerNumber, schema.orders.c.orderNumber,
                   schema.orderdetails.c.quantityOrdered, schema.orderdetails.c.priceEach)
            .join(schema.orderdetails)
        ).all()  # fmt: skip
        payments = conn.execute(select(schema.payments.c.customerNumber,
                                       schema.payments.c.amount)).all()  # fmt: skip
    engine.dispose()
    totals: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for customer, number, quantity, price in lines:
        assert isinstance(price, Decimal) and price == price.quantize(Decimal("0.01"))
        totals[customer, number] += quantity * price
    grand = sum(totals.values(), Decimal(0))
    (sql_total,) = _rows(url, "SELECT SUM(priceEach * quantityOrdered) FROM orderdetails")[0]
    assert Decimal(str(round(sql_total, 2))) == grand
    # Every payment is exactly one order's amount; stored values have at most two decimals.
    by_customer: dict[int, set[Decimal]] = defaultdict(set)
    for (customer, _), total in totals.items():
        by_customer[customer].add(total)
    assert all(amount in by_customer[customer] for customer, amount in payments)
    for (raw,) in _rows(url, "SELECT priceEach FROM orderdetails UNION SELECT amount FROM "
                             "payments UNION SELECT MSRP FROM products"):  # fmt: skip
        assert Decimal(repr(raw)).as_tuple().exponent >= -2


def test_bulk_insert_lands_decimals_dates_and_timestamps_exactly(tmp_path):
    engine = create_source_engine(f"sqlite:///{tmp_path / 'x.db'}")
    schema.create_schema(engine)
    cents = np.array([7282, 35, 1, 99_999_999], dtype=np.int64)
    data = pa.table({
        "productCode": pa.array(["A", "B", "C", "D"]), "productName": pa.array(["n"] * 4),
        "productLine": pa.array(["L"] * 4), "productScale": pa.array(["1:18"] * 4),
        "productVendor": pa.array(["V"] * 4), "productDescription": pa.array(["d"] * 4),
        "quantityInStock": pa.array([1, 2, 3, 4], pa.int16()),
        "buyPrice": decimal_array(cents), "MSRP": decimal_array(cents + 1),
    })  # fmt: skip
    assert bulk_insert(engine, "products", data) == 4
    with engine.connect() as conn:
        prices = conn.execute(select(schema.products.c.buyPrice).order_by("productCode")).all()
    assert [p for (p,) in prices] == [Decimal("72.82"), Decimal("0.35"), Decimal("0.01"),
                                      Decimal("999999.99")]  # fmt: skip
    engine.dispose()


def test_tastes_drive_orders_and_ratings(small):
    url, tastes_path, _ = small
    tastes = load_tastes(tastes_path)
    engine = create_source_engine(url)
    with engine.connect() as conn:
        products = conn.execute(select(schema.products).order_by("productCode")).all()
        bought = conn.execute(text(
            "SELECT o.customerNumber, p.productLine FROM orderdetails d JOIN orders o ON "
            "o.orderNumber = d.orderNumber JOIN products p ON p.productCode = d.productCode"
        )).all()  # fmt: skip
        ratings = conn.execute(select(schema.ratings)).all()
    engine.dispose()
    columns = ("productCode", "productLine", "productVendor", "productScale", "MSRP")
    catalogue = {c: [r._mapping[c] for r in products] for c in columns}
    utility = affinity(tastes, catalogue)
    assert utility.shape == (len(tastes), len(products))
    favourite = dict(
        zip(
            tastes.customer_number.tolist(),
            np.array(tastes.lines)[tastes.line_weights.argmax(axis=1)],
            strict=True,
        )
    )
    hits: dict[int, list[bool]] = defaultdict(list)
    for customer, line in bought:
        hits[customer].append(line == favourite[customer])
    assert np.mean([np.mean(h) for h in hits.values()]) > 0.4  # uniform would be ~1/7
    column = {code: i for i, code in enumerate(catalogue["productCode"])}
    row = tastes.rows_of(np.array([r.customerNumber for r in ratings]))
    scores = utility[row, [column[r.productCode] for r in ratings]]
    stars = np.array([r.productRating for r in ratings])
    low, high = np.quantile(scores, [0.25, 0.75])
    assert stars[scores >= high].mean() - stars[scores <= low].mean() > 1.0
    assert set(stars.tolist()) == {1, 2, 3, 4, 5}


def test_a_failed_generation_leaves_the_source_as_it_was(tmp_path):
    url, tastes, _ = _generate(tmp_path, 0.01, 1)
    before = table_digests(create_source_engine(url))

    def interrupt(table: str, rows: int) -> None:
        if table == "orders":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(url, scale=0.02, seed=2, tastes_path=tastes, progress=interrupt)
    assert table_digests(create_source_engine(url)) == before
