"""Facts of the public ClassicModels sample (version 3.1) that tests check against."""

from decimal import Decimal

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
RATINGS_IN_CSV = 2532  # rows in ratings_ml_training.csv, all distinct (customer, product) pairs
