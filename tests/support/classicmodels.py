"""Facts of the public ClassicModels sample (version 3.1) that tests check against."""

from decimal import Decimal
from pathlib import Path

from shoplake.platform import Platform

DUMP_COUNTS = {
    "customers": 122,
    "employees": 23,
    "offices": 7,
    "orderdetails": 2996,
    "orders": 326,
    "payments": 273,
    "productlines": 7,
    "products": 110,
}
DUMP_REVENUE = Decimal("9604190.61")  # sum(quantityOrdered * priceEach) over orderdetails
DUMP_PROFIT = Decimal("3825880.25")  # sum(quantityOrdered * (priceEach - buyPrice))
RATINGS_IN_CSV = 2532  # rows in ratings_ml_training.csv, all distinct (customer, product) pairs


def classicmodels_lakehouse(data_dir: Path, dump: Path, ratings_csv: Path) -> Platform:
    """The real dump and ratings loaded into a source, ingested and transformed (all checked)."""
    shop = Platform(data_dir=data_dir)
    shop.load_classicmodels(dump, ratings_csv)
    assert shop.ingest().ok
    report = shop.transform()
    assert report.ok, [r.error for r in report.results if r.error]
    return shop
