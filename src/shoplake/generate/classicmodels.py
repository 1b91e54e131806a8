"""Load the public ClassicModels dump and ratings CSV, unchanged, into the configured source."""

from __future__ import annotations

import csv
import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

from shoplake.errors import SourceDumpError, SourceError
from shoplake.generate.mysqldump import INTEGER, read_classicmodels_dump
from shoplake.generate.schema import CLASSICMODELS_TABLES, SOURCE_TABLES, create_schema, metadata
from shoplake.redact import error_message, redact
from shoplake.sourcedb import check_connection, create_source_engine, write_transaction

__all__ = [
    "FALLBACK_RATED_AT",
    "SHIPPED_DUMP",
    "SHIPPED_RATINGS",
    "load_classicmodels",
    "load_ratings_csv",
    "read_classicmodels_dump",
    "shipped_file",
]

log = logging.getLogger(__name__)

#: ``ratedAt`` of a rating whose customer never ordered the product: the day after the last
#: order in the sample (2005-05-31), at noon. Other ratings get the day after the customer's
#: latest order of that product, at noon — deterministic, and after the purchase.
FALLBACK_RATED_AT = dt.datetime(2005, 6, 1, 12, 0)

#: The public ClassicModels MySQL dump (version 3.1) and the course's ratings CSV, shipped
#: inside the package (``shoplake/generate/data/classicmodels/``).
SHIPPED_DUMP = "mysqlsampledatabase.sql"
SHIPPED_RATINGS = "ratings_ml_training.csv"


def shipped_file(name: str) -> Path:
    """The path of a ClassicModels file shipped with shoplake (:data:`SHIPPED_DUMP` or
    :data:`SHIPPED_RATINGS`)."""
    from importlib.resources import files

    path = Path(str(files("shoplake.generate").joinpath("data", "classicmodels", name)))
    if not path.is_file():
        raise SourceDumpError(f"{path}: the ClassicModels file shipped with shoplake is missing")
    return path


def load_classicmodels(url: str, dump_path: Path) -> dict[str, int]:
    """Load the ClassicModels dump unchanged into the source at ``url``; rows per table.

    The whole dump is parsed and checked first; then shoplake's source tables are dropped and
    recreated (``ratings`` stays empty) and every table is inserted, parents first, in one
    transaction. On any error nothing changes and a one-line SourceError says what and where.
    """
    from sqlalchemy.exc import SQLAlchemyError

    started = time.perf_counter()
    rows = read_classicmodels_dump(dump_path)
    parsed = time.perf_counter()
    engine = create_source_engine(url)
    try:
        check_connection(engine, url)
        step = "recreating the schema"
        try:
            with write_transaction(engine) as conn:
                create_schema(conn, drop_existing=True)
                for name in SOURCE_TABLES:
                    if rows.get(name):
                        step = f"inserting into `{name}`"
                        conn.execute(metadata.tables[name].insert(), rows[name])
                step = "committing"
        except SQLAlchemyError as exc:
            raise SourceError(
                f"loading {dump_path} into {redact(url)!r} failed while {step} "
                f"(nothing was changed): {error_message(exc, url=url)}"
            ) from None
    finally:
        engine.dispose()
    counts = {name: len(rows[name]) for name in CLASSICMODELS_TABLES}
    log.info(
        "loaded %s rows from %s (parse %.2fs, write %.2fs)",
        sum(counts.values()),
        dump_path,
        parsed - started,
        time.perf_counter() - parsed,
    )
    return counts


def _read_ratings(csv_path: Path) -> dict[tuple[int, str], tuple[int, int]]:
    """(customerNumber, productCode) -> (rating, CSV line); a later row for a pair wins."""
    path = Path(csv_path)
    pairs: dict[tuple[int, str], tuple[int, int]] = {}
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [h.strip().lower() for h in next(reader, [])]
            wanted = ("customernumber", "productcode", "productrating")
            missing = [h for h in wanted if h not in header]
            if missing:
                raise SourceDumpError(
                    f"{path}:1: ratings CSV has no column {missing[0]!r} (header: {header})"
                )
            at = [header.index(h) for h in wanted]
            for record in reader:
                if not any(field.strip() for field in record):
                    continue
                line = reader.line_num
                if len(record) < len(header):
                    raise SourceDumpError(
                        f"{path}:{line}: {len(record)} fields, expected {len(header)}"
                    )
                customer, product, rating = (record[i].strip() for i in at)
                if not INTEGER.fullmatch(customer):
                    raise SourceDumpError(f"{path}:{line}: customernumber {customer!r} is invalid")
                if not product:
                    raise SourceDumpError(f"{path}:{line}: productcode is empty")
                if not INTEGER.fullmatch(rating) or not 1 <= int(rating) <= 5:
                    raise SourceDumpError(
                        f"{path}:{line}: productrating {rating!r} is not an integer 1..5"
                    )
                pairs[int(customer), product] = (int(rating), line)
    except OSError as exc:
        raise SourceDumpError(f"cannot read ratings CSV {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SourceDumpError(f"{path}: unreadable ratings CSV: {exc}") from None
    return pairs


def _rating_rows(
    csv_path: Path,
    pairs: dict[tuple[int, str], tuple[int, int]],
    known_customers: set[int],
    known_products: set[str],
    last_order: dict[tuple[int, str], dt.date],
) -> list[dict[str, Any]]:
    """The ``ratings`` rows of the CSV's pairs, each dated after the customer's last order."""
    rows = []
    for (customer, product), (rating, line) in pairs.items():
        if customer not in known_customers:
            raise SourceDumpError(
                f"{csv_path}:{line}: customernumber {customer} is not in the source's customers"
            )
        if product not in known_products:
            raise SourceDumpError(
                f"{csv_path}:{line}: productcode {product!r} is not in the source's products"
            )
        day = last_order.get((customer, product))
        rated_at = (
            dt.datetime.combine(day + dt.timedelta(days=1), dt.time(12))
            if day is not None
            else FALLBACK_RATED_AT
        )
        rows.append(
            {
                "customerNumber": customer,
                "productCode": product,
                "productRating": rating,
                "ratedAt": rated_at,
            }
        )
    return rows


def load_ratings_csv(url: str, csv_path: Path) -> int:
    """Replace the source's ``ratings`` with a ClassicModels ratings CSV; returns the row count.

    Reads the columns ``customernumber``, ``productcode`` and ``productrating`` (any order and
    case, other columns ignored); a pair rated twice keeps its last row. ``ratedAt`` is the day
    after the customer's latest order of the product at 12:00, else :data:`FALLBACK_RATED_AT`.
    Every customer and product must already be in the source (load the dump first).
    """
    from sqlalchemy import delete, func, select
    from sqlalchemy.exc import SQLAlchemyError

    pairs = _read_ratings(csv_path)
    customers, products = metadata.tables["customers"], metadata.tables["products"]
    orders, details = metadata.tables["orders"], metadata.tables["orderdetails"]
    ratings = metadata.tables["ratings"]
    engine = create_source_engine(url)
    try:
        check_connection(engine, url)
        failure = (
            f"cannot read customers, products and orders from {redact(url)!r} "
            "(load the ClassicModels dump first)"
        )
        try:
            with write_transaction(engine) as conn:
                known_customers = set(conn.scalars(select(customers.c.customerNumber)))
                known_products = set(conn.scalars(select(products.c.productCode)))
                latest = select(
                    orders.c.customerNumber, details.c.productCode, func.max(orders.c.orderDate)
                ).join(details, details.c.orderNumber == orders.c.orderNumber)
                last_order = {
                    (c, p): day
                    for c, p, day in conn.execute(
                        latest.group_by(orders.c.customerNumber, details.c.productCode)
                    )
                }
                failure = (
                    f"loading {csv_path} into `ratings` of {redact(url)!r} failed "
                    "(nothing was changed)"
                )
                rows = _rating_rows(csv_path, pairs, known_customers, known_products, last_order)
                conn.execute(delete(ratings))
                if rows:
                    conn.execute(ratings.insert(), rows)
        except SQLAlchemyError as exc:
            raise SourceError(f"{failure}: {error_message(exc, url=url)}") from None
    finally:
        engine.dispose()
    return len(rows)
