"""The public ClassicModels dump alone — no ratings, or no ratings table at all — transforms.

Purchases are implicit feedback: gold.interactions comes from them, the ratings-derived tables
are published empty with a note, and a required table the source lacks is one line naming it.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest

from shoplake.generate.classicmodels import read_classicmodels_dump
from shoplake.platform import Platform
from tests.support.classicmodels import DUMP_PROFIT, DUMP_REVENUE
from tests.support.lakehouse import snapshot_ids

ABSENT = "bronze.ratings does not exist (an optional source): built from an empty stand-in"
EMPTY = "no rows: the optional source bronze.ratings has none"


def purchases(dump: Path) -> dict[tuple[int, str], int]:
    """Units bought per (customer, product) in orders not cancelled, read from the dump."""
    rows = read_classicmodels_dump(dump)
    owner = {o["orderNumber"]: o for o in rows["orders"]}
    units: dict[tuple[int, str], int] = defaultdict(int)
    for line in rows["orderdetails"]:
        order = owner[line["orderNumber"]]
        if order["status"] != "Cancelled":
            units[order["customerNumber"], line["productCode"]] += line["quantityOrdered"]
    return dict(units)


def dump_lakehouse(data_dir: Path, *, drop_ratings_table: bool) -> Platform:
    """The shipped dump loaded without ratings (optionally with no ratings table), ingested."""
    shop = Platform(data_dir=data_dir)
    counts = shop.load_classicmodels()
    assert "ratings" not in counts and counts["orderdetails"] == 2996
    if drop_ratings_table:  # as a MySQL copy of classicmodels is
        with sqlite3.connect(data_dir / "source.db") as con:
            con.execute("DROP TABLE ratings")
    assert shop.ingest().ok
    return shop


@pytest.fixture(scope="module", params=["empty ratings", "no ratings table"])
def dump_alone(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Platform:
    drop = request.param == "no ratings table"
    return dump_lakehouse(tmp_path_factory.mktemp("dump-alone"), drop_ratings_table=drop)


def test_every_model_builds_and_gold_equals_the_dump(
    dump_alone: Platform, classicmodels_dump: Path
) -> None:
    shop = dump_alone
    absent = not shop.catalog.table_exists("bronze.ratings")
    report = shop.transform()
    assert report.ok, [r.error for r in report.results if r.error]
    results = {r.model: r for r in report.results}
    waiting = {m for m, r in results.items() if r.status == "waiting"}
    assert waiting == {
        "silver.sessions",
        "silver.supplier_products",
        "silver.supplier_reviews",
        "gold.product_supplier",
    }
    assert {r.status for m, r in results.items() if m not in waiting} == {"published"}
    ratings, for_ml = results["silver.ratings"], results["gold.ratings_for_ml"]
    assert (ratings.rows, ratings.note) == (0, ABSENT if absent else EMPTY)
    assert (for_ml.rows, for_ml.note) == (0, EMPTY)
    assert [m for m, r in results.items() if r.note] == ["silver.ratings", "gold.ratings_for_ml"]

    (facts,) = shop.query(
        "SELECT count(*) AS n, sum(order_amount) AS revenue, sum(profit) AS profit "
        "FROM gold.fact_orders"
    ).table.to_pylist()
    assert facts == {"n": 2996, "revenue": DUMP_REVENUE, "profit": DUMP_PROFIT}

    bought = purchases(classicmodels_dump)
    rows = shop.query(
        "SELECT customer_number, product_code, quantity, rating, weight FROM gold.interactions"
    ).table.to_pylist()
    assert len(rows) == len(bought) == 2472
    assert {(r["customer_number"], r["product_code"]): r["quantity"] for r in rows} == bought
    assert {r["rating"] for r in rows} == {None}
    assert all(r["weight"] == pytest.approx(max(math.log1p(r["quantity"]), 0.1)) for r in rows)

    checks = shop.check()
    assert len(checks) == 187 and {c.status for c in checks} == {"pass"}
    freshness = next(c for c in checks if c.model == "silver.ratings" and "freshness" in c.check)
    assert freshness.message == "no rows (optional source)"


def test_a_second_transform_changes_nothing(dump_alone: Platform) -> None:
    shop = dump_alone
    assert shop.transform().ok
    before = snapshot_ids(shop)
    again = shop.transform()
    assert {r.status for r in again.results} == {"unchanged", "waiting"}
    assert {r.model: r.note for r in again.results if r.note} == {
        "silver.ratings": EMPTY,
        "gold.ratings_for_ml": EMPTY,
    }
    assert snapshot_ids(shop) == before


def test_recommendations_learn_from_purchases_alone(dump_alone: Platform) -> None:
    shop = dump_alone
    assert shop.transform().ok
    trained = shop.train()
    assert trained.promoted
    assert trained.counts["interactions"] == 2472
    served = shop.recommend(103)
    assert len(served.items) == 10
    assert len({item.product_code for item in served.items}) == 10


def test_a_required_table_the_source_lacks_is_one_line_naming_it(tmp_path: Path) -> None:
    shop = Platform(data_dir=tmp_path)
    shop.load_classicmodels()
    with sqlite3.connect(tmp_path / "source.db") as con:
        con.execute("DROP TABLE payments")
    assert shop.ingest().ok
    report = shop.transform()
    assert not report.ok
    failed = [(r.model, r.error) for r in report.results if r.status == "failed"]
    assert failed == [
        (
            "silver.payments",
            "silver.payments: required bronze.payments does not exist — the source has no "
            "such table, or it has not been ingested yet (`shoplake ingest`)",
        )
    ]
    assert {r.model for r in report.results if r.status == "skipped"} == set()
    facts = next(r for r in report.results if r.model == "gold.fact_orders")
    assert (facts.status, facts.rows) == ("published", 2996)
