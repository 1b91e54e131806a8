"""A seeded ClassicModels-shaped source at any scale, driven by latent customer tastes.

Scale 1 is about 10,000 customers, 1,000 products, 100,000 orders and 1,000,000 order lines;
scale 0.01 is about the size of the public sample. Each part of the data draws from its own
random stream (seed + part name), so the same seed always gives byte-identical tables.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass, replace
from time import perf_counter
from typing import TYPE_CHECKING

import numpy as np

from shoplake.errors import ConfigError, SourceError
from shoplake.generate import names
from shoplake.generate.tastes import (
    Tastes,
    UtilityOf,
    affinity,
    choose_products,
    draw_ratings,
    draw_tastes,
    pair_utility,
    save_tastes,
    standardized,
)
from shoplake.generate.writer import (
    bulk_insert,
    fresh_schema,
    source_table,
)
from shoplake.sourcedb import write_transaction

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import pyarrow as pa
    from sqlalchemy.engine import Engine

START, END = np.datetime64("2003-01-01", "D"), np.datetime64("2005-05-31", "D")
FIRST_ORDER, FIRST_CUSTOMER, FIRST_EMPLOYEE = 10100, 103, 1002
MAX_LINES = 18
OPEN_DAYS = 14  # orders of the last two weeks are still open
PAID_STATUSES = ("Shipped", "Resolved", "Disputed")


@dataclass(frozen=True)
class GenerateResult:
    """Rows written per table and the wall-clock time it took."""

    counts: dict[str, int]
    seconds: float


@dataclass(frozen=True)
class Sizes:
    """Row counts implied by a scale factor."""

    customers: int
    products: int
    orders: int
    offices: int
    reps: int

    @classmethod
    def of(cls, scale: float) -> Sizes:
        customers = max(1, round(10_000 * scale))
        extra = math.ceil(2 * math.log2(scale)) if scale > 1 else 0
        return cls(
            customers=customers,
            products=max(110, round(1_000 * scale)),
            orders=max(1, round(100_000 * scale)),
            offices=min(len(names.OFFICES), 7 + extra),
            reps=max(17, round(customers / 100)),
        )


def stream(seed: int, part: str) -> np.random.Generator:
    """An independent numpy random stream for one part of the data."""
    return np.random.default_rng([seed, zlib.crc32(part.encode())])


def text_stream(seed: int, part: str) -> random.Random:
    """An independent stdlib random stream for strings (fast per-row choices)."""
    return random.Random(f"{seed}:{part}")


def line_quantities(rng: np.random.Generator, n: int) -> np.ndarray:
    """quantityOrdered: mostly 20–50, a few small and a few bulk orders."""
    quantity = rng.integers(20, 51, size=n)
    roll = rng.random(n)
    quantity = np.where(roll < 0.06, rng.integers(51, 98, size=n), quantity)
    return np.where(roll > 0.97, rng.integers(10, 20, size=n), quantity)


def line_prices(rng: np.random.Generator, msrp_cents: np.ndarray) -> np.ndarray:
    """priceEach in cents: MSRP less a 0–20 % discount."""
    return np.rint(msrp_cents * (1 - rng.uniform(0.0, 0.2, size=len(msrp_cents)))).astype(np.int64)


def comments(rng: random.Random, statuses: np.ndarray, shipped_share: float = 0.2) -> list:
    """A comment for every cancelled, disputed, resolved or held order and some shipped ones."""
    return [
        rng.choice(names.COMMENTS[s])
        if s in names.COMMENTS and (s != "Shipped" or rng.random() < shipped_share)
        else None
        for s in statuses
    ]


def generate(
    url: str,
    *,
    scale: float,
    seed: int,
    tastes_path: Path,
    progress: Callable[[str, int], None] | None = None,
) -> GenerateResult:
    """Drop and re-create shoplake's source tables at ``url`` and fill them; save the tastes.

    Everything is written in one transaction: on an error the source is left as it was.
    ``progress(table, rows)`` is called after each table is written.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from shoplake.generate.schema import SOURCE_TABLES
    from shoplake.redact import error_message, redact
    from shoplake.sourcedb import check_connection, create_source_engine

    if not scale > 0:
        raise ConfigError(f"scale must be positive, got {scale}")
    if seed < 0:
        raise ConfigError(f"seed must be zero or more, got {seed}")
    started = perf_counter()
    tables, tastes = build(scale, seed)
    engine = create_source_engine(url)
    counts: dict[str, int] = {}
    try:
        check_connection(engine, url)
        with write_transaction(engine) as conn, fresh_schema(conn):
            for name in SOURCE_TABLES:
                counts[name] = bulk_insert(conn, name, tables[name])
                if progress:
                    progress(name, counts[name])
    except SQLAlchemyError as exc:
        reason = error_message(exc, url=url)
        raise SourceError(f"cannot generate into {redact(url)!r}: {reason}") from None
    finally:
        engine.dispose()
    try:
        save_tastes(tastes_path, tastes)
    except OSError as exc:
        raise SourceError(f"cannot write tastes file {tastes_path}: {exc}") from None
    return GenerateResult(counts=counts, seconds=perf_counter() - started)


def build(scale: float, seed: int) -> tuple[dict[str, pa.Table], Tastes]:
    """Every source table as Arrow, plus the tastes that drove them."""
    size = Sizes.of(scale)
    offices = _offices(size.offices)
    customers = _Customers.draw(seed, size.customers)
    employees, reps, rep_territory = _employees(seed, offices, size.reps, customers.territory)
    tastes = draw_tastes(stream(seed, "tastes"), customers.number)
    tastes = replace(tastes, seed=seed, scale=scale)
    products = _products(seed, size.products)
    orders, lines, ratings = _orders(seed, size.orders, customers, tastes, products)
    tables = {
        "offices": offices,
        "productlines": _productlines(),
        "employees": employees,
        "customers": customers.table(seed, reps, rep_territory),
        "products": products,
        "orders": orders,
        "orderdetails": lines,
        "payments": _payments(seed, orders, lines),
        "ratings": ratings,
    }
    return tables, tastes


def _offices(n: int) -> pa.Table:
    rows = names.OFFICES[:n]
    keys = ("city", "phone", "addressLine1", "addressLine2", "state", "country")
    columns = {k: [row[i] for row in rows] for i, k in enumerate(keys)}
    columns |= {"postalCode": [r[6] for r in rows], "territory": [r[7] for r in rows]}
    return source_table("offices", {"officeCode": [str(i + 1) for i in range(n)], **columns})


def _productlines() -> pa.Table:
    lines = names.PRODUCT_LINES
    return source_table(
        "productlines",
        {"productLine": [line.name for line in lines], "textDescription": [x.text for x in lines]},
    )


def _employees(
    seed: int, offices: pa.Table, n_reps: int, customer_territory: np.ndarray
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """President, two VPs, a sales manager per territory and sales reps spread over offices.

    Returns the table, the reps' employee numbers and each rep's territory.
    """
    rng, text = stream(seed, "employees"), text_stream(seed, "employees")
    codes = offices["officeCode"].to_pylist()
    territories = offices["territory"].to_pylist()
    countries = offices["country"].to_pylist()
    head = [("1", None, "President"), ("1", 0, "VP Sales"), ("1", 0, "VP Marketing")]
    managers = {}
    for territory in ("NA", "EMEA", "APAC"):
        managers[territory] = len(head)
        head.append((codes[territories.index(territory)], 1, f"Sales Manager ({territory})"))
    # Reps per territory in proportion to its customers (at least one per territory with an office).
    present = sorted(set(territories), key=territories.index)
    share = np.array([np.sum(customer_territory == t) + 1 for t in present], dtype=np.float64)
    per = np.maximum(1, np.floor(share / share.sum() * (n_reps - len(present)))).astype(int)
    per[np.argmax(share)] += n_reps - per.sum()
    staff = list(head)
    rep_territory: list[str] = []
    for territory, count in zip(present, per, strict=True):
        own = [c for c, t in zip(codes, territories, strict=True) if t == territory]
        boss = managers.get(territory, 1)
        staff += [(own[i % len(own)], boss, "Sales Rep") for i in range(count)]
        rep_territory += [territory] * count
    gaps = rng.integers(10, 60, len(staff) - 1)
    numbers = FIRST_EMPLOYEE + np.concatenate([[0], np.cumsum(gaps)])
    people = [
        names.person(text, names.COUNTRY_BY_NAME[countries[codes.index(office)]].people)
        for office, _, _ in staff
    ]
    table = source_table(
        "employees",
        {
            "employeeNumber": numbers,
            "lastName": [last for _, last in people],
            "firstName": [first for first, _ in people],
            "extension": [f"x{text.randrange(100, 9999)}" for _ in staff],
            "email": [f"{_ascii(first[0] + last)[:9].lower()}@{names.OFFICE_DOMAIN}"
                      for first, last in people],
            "officeCode": [office for office, _, _ in staff],
            "reportsTo": [None if boss is None else int(numbers[boss]) for _, boss, _ in staff],
            "jobTitle": [title for _, _, title in staff],
        },
    )  # fmt: skip
    reps = numbers[len(head) :]
    return table, reps, np.array(rep_territory)


def _ascii(value: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()


@dataclass(frozen=True)
class _Customers:
    """Customers as arrays: number, country, territory and how often they order."""

    number: np.ndarray
    country: list[names.Country]
    territory: np.ndarray
    activity: np.ndarray  # relative order rate; 0 = never orders

    @classmethod
    def draw(cls, seed: int, n: int) -> _Customers:
        rng = stream(seed, "customers")
        number = FIRST_CUSTOMER + np.concatenate([[0], np.cumsum(rng.integers(1, 8, n - 1))])
        weights = np.array([c.weight for c in names.COUNTRIES], dtype=np.float64)
        picks = rng.choice(len(weights), size=n, p=weights / weights.sum())
        country = [names.COUNTRIES[i] for i in picks]
        activity = rng.lognormal(0.0, 0.8, size=n) * (rng.random(n) >= 0.15)
        return cls(number, country, np.array([c.territory for c in country]), activity)

    def table(self, seed: int, reps: np.ndarray, rep_territory: np.ndarray) -> pa.Table:
        """The customers table; active customers get a rep of their territory and credit."""
        rng, text = stream(seed, "customer-accounts"), text_stream(seed, "customer-accounts")
        n = len(self.number)
        has_rep = (self.activity > 0) | (rng.random(n) < 0.1)
        rep_pick = rng.random(n)
        credit = rng.lognormal(np.log(75_000), 0.35, size=n) * np.sqrt(
            np.maximum(self.activity, 0.2)
        )
        credit_cents = np.where(has_rep, np.clip(np.rint(credit / 100), 200, 2500) * 10_000, 0)
        columns: dict[str, list[object]] = {k: [] for k in (
            "customerName", "contactLastName", "contactFirstName", "phone", "addressLine1",
            "addressLine2", "city", "state", "postalCode", "country", "salesRepEmployeeNumber",
        )}  # fmt: skip
        for i, country in enumerate(self.country):
            line1, city, state, postal = names.address(text, country)
            first, last = names.person(text, country.people)
            company = text.choice(names.COMPANY_PATTERNS).format(
                w=text.choice(names.COMPANY_WORDS), p=last, c=city
            )
            own = np.flatnonzero(rep_territory == country.territory)
            pool = own if len(own) else np.arange(len(reps))
            rep = int(reps[pool[int(rep_pick[i] * len(pool))]]) if has_rep[i] else None
            line2 = text.choice(names.ADDRESS_LINE2) if text.random() < 0.12 else None
            for key, value in zip(columns, (
                company[:50], last, first, names.fill(text, country.phone), line1, line2, city,
                state, postal, country.name, rep,
            ), strict=True):  # fmt: skip
                columns[key].append(value)
        return source_table(
            "customers", {"customerNumber": self.number, **columns, "creditLimit": credit_cents}
        )


def _products(seed: int, n: int) -> pa.Table:
    """The catalogue: lines in their sample proportions, codes like S18_1749, MSRP > buyPrice."""
    rng, text = stream(seed, "products"), text_stream(seed, "products")
    lines = names.PRODUCT_LINES
    shares = np.array([line.share for line in lines])
    exact = shares / shares.sum() * n
    counts = np.maximum(1, np.floor(exact)).astype(int)
    counts[np.argsort(counts - exact, kind="stable")[: n - counts.sum()]] += 1
    line_of = np.repeat(np.arange(len(lines)), counts)
    scale_of = np.empty(n, dtype=object)
    for i, line in enumerate(lines):
        weights = 1.0 / np.arange(1, len(line.scales) + 1)
        picks = rng.choice(len(line.scales), size=counts[i], p=weights / weights.sum())
        scale_of[line_of == i] = np.array(line.scales)[picks]
    size_factor = {"1:10": 1.4, "1:12": 1.3, "1:18": 1.1, "1:700": 0.8}
    base = np.array([lines[i].buy_price * size_factor.get(s, 1.0) for i, s in zip(
        line_of, scale_of, strict=True)])  # fmt: skip
    buy = np.rint(np.clip(base * rng.lognormal(0, 0.3, n), 15, 110) * 100).astype(np.int64)
    msrp = np.rint(buy * rng.uniform(1.3, 2.2, n)).astype(np.int64)
    codes = np.empty(n, dtype=object)
    for scale in names.SCALES:
        rows = np.flatnonzero(scale_of == scale)
        digits = max(4, len(str(len(rows) * 2)))
        numbers = rng.choice(9 * 10 ** (digits - 1), size=len(rows), replace=False)
        codes[rows] = [f"S{scale[2:]}_{10 ** (digits - 1) + k}" for k in numbers]
    order = np.argsort(codes.astype(str), kind="stable")
    product_names, descriptions = [], []
    for line in (lines[i] for i in line_of.tolist()):
        model = text.choice(line.models)
        product_names.append(f"{text.randint(*line.years)} {model}" if line.years else model)
        features = text.sample(line.features, k=min(len(line.features), text.randint(3, 5)))
        descriptions.append(f"Features include: {'; '.join(features)}. {line.text}")
    return source_table(
        "products",
        {
            "productCode": codes[order].tolist(),
            "productName": np.array(product_names)[order],
            "productLine": np.array([lines[i].name for i in line_of])[order],
            "productScale": scale_of[order].tolist(),
            "productVendor": np.array(names.VENDORS)[rng.integers(len(names.VENDORS), size=n)],
            "productDescription": np.array(descriptions)[order],
            "quantityInStock": rng.integers(0, 10_000, size=n),
            "buyPrice": buy[order],
            "MSRP": msrp[order],
        },
    )


def _order_dates(rng: np.random.Generator, n: int) -> np.ndarray:
    """Order dates between START and END: growing over time, busiest in October–December."""
    days = np.arange(START, END + 1)
    months = days.astype("datetime64[M]").astype(int) % 12 + 1
    weight = (1 + 0.6 * np.linspace(0, 1, len(days))) * np.where(months >= 10, 1.8, 1.0)
    return np.sort(rng.choice(days, size=n, p=weight / weight.sum()))


def _statuses(rng: np.random.Generator, dates: np.ndarray) -> np.ndarray:
    """Mostly Shipped; the last two weeks In Process / On Hold; a few cancelled or disputed.

    Disputes of the last quarter are still open; older ones have been resolved.
    """
    roll = rng.random(len(dates))
    status = np.select([roll < 0.018, roll < 0.036], ["Cancelled", "Disputed"], "Shipped")
    status = np.where((status == "Disputed") & (dates < END - 90), "Resolved", status)
    recent = dates > END - OPEN_DAYS
    return np.where(recent, np.where(roll < 0.85, "In Process", "On Hold"), status)


def _orders(
    seed: int, n: int, customers: _Customers, tastes: Tastes, products: pa.Table
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Orders, their lines (sampled from the tastes) and ratings of what was delivered."""
    rng = stream(seed, "orders")
    per_customer = rng.multinomial(n, customers.activity / customers.activity.sum())
    buyer = rng.permutation(np.repeat(np.arange(len(per_customer)), per_customer))
    dates = _order_dates(rng, n)
    status = _statuses(rng, dates)
    shipped = np.where(
        np.isin(status, PAID_STATUSES), dates + rng.integers(1, 7, n), np.datetime64("NaT")
    )
    orders = source_table(
        "orders",
        {
            "orderNumber": FIRST_ORDER + np.arange(n),
            "orderDate": dates,
            "requiredDate": dates + rng.integers(6, 11, n),
            "shippedDate": shipped,
            "status": status,
            "comments": comments(text_stream(seed, "orders"), status),
            "customerNumber": customers.number[buyer],
        },
    )
    size = np.clip(1 + rng.poisson(9, n), 1, MAX_LINES)

    def utility_of(rows: np.ndarray) -> np.ndarray:
        return affinity(tastes.take(rows), products)

    n_products = products.num_rows
    order_of, product_of, line_no = choose_products(
        stream(seed, "order-lines"), utility_of, buyer, size, n_products
    )
    msrp = _cents(products, "MSRP")
    line_rng = stream(seed, "line-prices")
    details = source_table(
        "orderdetails",
        {
            "orderNumber": FIRST_ORDER + order_of,
            "productCode": products["productCode"].take(product_of),
            "quantityOrdered": line_quantities(line_rng, len(order_of)),
            "priceEach": line_prices(line_rng, msrp[product_of]),
            "orderLineNumber": line_no,
        },
    )
    customer_of, rated_product, rating, rated_at = _ratings(
        stream(seed, "ratings"), utility_of, (buyer[order_of], product_of), shipped[order_of],
        n_products,
    )  # fmt: skip
    rating_table = source_table(
        "ratings",
        {
            "customerNumber": customers.number[customer_of],
            "productCode": products["productCode"].take(rated_product),
            "productRating": rating,
            "ratedAt": rated_at,
        },
    )
    return orders, details, rating_table


def _cents(table: pa.Table, column: str) -> np.ndarray:
    from shoplake.generate.writer import unscaled

    return unscaled(table[column].combine_chunks())


def _ratings(
    rng: np.random.Generator,
    utility_of: UtilityOf,
    lines: tuple[np.ndarray, np.ndarray],
    shipped: np.ndarray,
    n_products: int,
) -> tuple[np.ndarray, ...]:
    """Ratings of ~70 % of delivered (customer, product) pairs, a while after first delivery.

    ``lines`` are (customer index, product index) per order line and ``shipped`` each line's
    shipped date (NaT when not delivered). Returns customer, product, rating, ratedAt arrays.
    """
    delivered = ~np.isnat(shipped)
    key = lines[0][delivered].astype(np.int64) * n_products + lines[1][delivered]
    pairs, inverse = np.unique(key, return_inverse=True)
    first_day = np.full(len(pairs), np.iinfo(np.int64).max)
    np.minimum.at(first_day, inverse, shipped[delivered].astype(np.int64))
    who, what = pairs // n_products, pairs % n_products
    z = standardized(who, pair_utility(utility_of, who, what, n_products))
    rate = rng.beta(7, 3, size=int(who.max(initial=-1)) + 1)  # each customer's propensity
    keep = rng.random(len(pairs)) < rate[who]
    n = int(keep.sum())
    seconds = rng.integers(1, 45, n) * 86_400 + rng.integers(8 * 3600, 22 * 3600, n)
    rated_at = (first_day[keep] * 86_400 + seconds).astype("datetime64[s]")
    return who[keep], what[keep], draw_ratings(rng, z[keep]), rated_at


def _payments(seed: int, orders: pa.Table, lines: pa.Table) -> pa.Table:
    """One payment for most delivered orders, for the order's amount, weeks after shipping."""
    rng = stream(seed, "payments")
    index = lines["orderNumber"].to_numpy() - FIRST_ORDER
    amount = lines["quantityOrdered"].to_numpy().astype(np.int64) * _cents(lines, "priceEach")
    totals = np.bincount(index, weights=amount, minlength=orders.num_rows).astype(np.int64)
    shipped = orders["shippedDate"].to_numpy(zero_copy_only=False).astype("datetime64[D]")
    status = np.asarray(orders["status"].to_pylist())
    paid = np.flatnonzero(np.isin(status, PAID_STATUSES) & (rng.random(len(status)) < 0.92))
    customer = orders["customerNumber"].to_numpy()[paid]
    return source_table(
        "payments",
        {
            "customerNumber": customer,
            "checkNumber": check_numbers(rng, len(paid)),
            "paymentDate": shipped[paid] + rng.integers(1, 45, len(paid)),
            "amount": totals[paid],
        },
    )


def check_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct check numbers like 'HQ336336'."""
    codes = rng.choice(26 * 26 * 900_000, size=n, replace=False)
    letters, digits = np.divmod(codes, 900_000)
    return [
        f"{chr(65 + a // 26)}{chr(65 + a % 26)}{100_000 + d}"
        for a, d in zip(letters.tolist(), digits.tolist(), strict=True)
    ]


def table_digests(engine: Engine) -> dict[str, str]:
    """SHA-256 of every source table's rows in primary-key order (to compare two sources)."""
    import hashlib

    from sqlalchemy import select

    from shoplake.generate.schema import SOURCE_TABLES, metadata

    digests = {}
    with engine.connect() as conn:
        for name in SOURCE_TABLES:
            table = metadata.tables[name]
            digest = hashlib.sha256()
            for row in conn.execute(select(table).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
            digests[name] = digest.hexdigest()
    return digests
