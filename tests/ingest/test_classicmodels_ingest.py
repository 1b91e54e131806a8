"""The real ClassicModels sample database through load → ingest → query."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from shoplake.platform import Platform
from tests.support.classicmodels import DUMP_COUNTS, DUMP_REVENUE


def test_real_dump_lands_in_bronze_with_exact_counts_and_revenue(
    tmp_path: Path, classicmodels_dump: Path
) -> None:
    shop = Platform(data_dir=tmp_path / "real")
    shop.load_classicmodels(classicmodels_dump)
    report = shop.ingest()
    assert report.ok
    landed = {r.table: r.inserts for r in report.results if r.table in DUMP_COUNTS}
    assert landed == DUMP_COUNTS
    stats = {s.name: s.rows for s in shop.tables()}
    assert {name: stats[f"bronze.{name}"] for name in DUMP_COUNTS} == DUMP_COUNTS

    revenue = shop.query(
        "SELECT sum(quantityOrdered * priceEach) AS revenue FROM bronze.orderdetails"
    ).table.to_pylist()[0]["revenue"]
    assert revenue == DUMP_REVENUE

    spot = shop.query(
        "SELECT customerName, contactFirstName, creditLimit FROM bronze.customers "
        "WHERE customerNumber IN (103, 172) ORDER BY customerNumber"
    ).table.to_pylist()
    assert spot == [
        {
            "customerName": "Atelier graphique",
            "contactFirstName": "Carine ",
            "creditLimit": Decimal("21000.00"),
        },
        {
            "customerName": "La Corne D'abondance, Co.",
            "contactFirstName": "Marie",
            "creditLimit": Decimal("84300.00"),
        },
    ]
    assert shop.ingest().rows == 0
