"""Realistic changes to an existing source, in one transaction: a day (or week) of business.

New orders (taste-driven lines, or popularity-driven when there is no tastes file, as for the
real sample) arrive after the latest order; open orders ship, some are cancelled, held,
disputed or resolved; payments arrive and a few bounce; credit limits, prices and addresses
change; customers rate and re-rate products; a few customers who never did anything are
deleted. Orders and order lines are never deleted or updated in place beyond an order's
status, so order lines stay append-only. Every kind of change scales with ``orders``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from shoplake.errors import ConfigError, SourceError
from shoplake.generate import names, schema
from shoplake.generate.synthetic import (
    FIRST_ORDER,
    MAX_LINES,
    PAID_STATUSES,
    check_numbers,
    comments,
    line_prices,
    line_quantities,
    stream,
    text_stream,
)
from shoplake.generate.tastes import (
    Tastes,
    affinity,
    choose_products,
    draw_ratings,
    load_tastes,
    pair_utility,
    standardized,
)
from shoplake.generate.writer import bulk_insert, source_table
from shoplake.sourcedb import write_transaction

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Connection

#: Changes per new order, by kind (at least one of each kind when ``orders`` > 0). As many
#: open orders ship as new ones arrive, so the backlog of open orders stays steady.
RATES: dict[str, float] = {
    "ship": 1.0,
    "hold": 0.01,
    "dispute": 0.01,
    "resolve": 0.01,
    "credit": 0.02,
    "price": 0.01,
    "move": 0.01,
    "rate": 0.3,
    "rerate": 0.05,
    "bounce": 0.005,
    "forget": 0.002,
}
_IN_LIST = 500  # keys per IN (...) list


@dataclass(frozen=True)
class SimulateResult:
    """How many rows each kind of change touched."""

    changes: dict[str, int]


def simulate(url: str, *, orders: int, seed: int, tastes_path: Path | None) -> SimulateResult:
    """Apply about ``orders`` new orders and proportionate other changes to the source at url."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from shoplake.redact import error_message, redact
    from shoplake.sourcedb import check_connection, create_source_engine

    if orders < 0 or seed < 0:
        raise ConfigError(f"orders and seed must be zero or more, got {orders} and {seed}")
    engine = create_source_engine(url)
    check_connection(engine, url)
    tastes = load_tastes(tastes_path) if tastes_path is not None and tastes_path.exists() else None
    missing = [t for t in schema.CLASSICMODELS_TABLES if not inspect(engine).has_table(t)]
    if missing:
        raise SourceError(f"source {redact(url)!r} has no table {missing[0]}: generate it first")
    try:
        with write_transaction(engine) as conn:
            run = _Run(conn, orders, seed, tastes, inspect(conn).has_table("ratings"))
            run.apply()
    except SQLAlchemyError as exc:
        reason = error_message(exc, url=url)
        raise SourceError(f"cannot simulate changes in {redact(url)!r}: {reason}") from None
    finally:
        engine.dispose()
    return SimulateResult(changes=run.changes)


def _cents(value: Any) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


def _money(cents: int) -> Decimal:
    return Decimal(int(cents)).scaleb(-2)


def _in_chunks(values: list[Any]) -> list[list[Any]]:
    return [values[i : i + _IN_LIST] for i in range(0, len(values), _IN_LIST)]


@dataclass
class _Run:
    """One simulation: the state read at the start and the changes applied so far."""

    conn: Connection
    n: int
    seed: int
    tastes: Tastes | None
    has_ratings: bool
    changes: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str) -> int:
        return 0 if self.n == 0 else max(1, round(RATES[kind] * self.n))

    def rng(self, part: str) -> np.random.Generator:
        return stream(self.seed, f"simulate:{part}")

    def rows(self, statement: Any) -> list[Any]:
        return list(self.conn.execute(statement).all())

    def apply(self) -> None:
        self.read()
        forget = self.pick_forgotten()
        self.exclude = set(forget)
        shipped = self.move_orders()
        new_orders, totals = self.new_orders()
        self.payments(shipped, new_orders, totals)
        self.credit_limits()
        self.prices()
        self.moves()
        if self.has_ratings:
            self.ratings()
        self.delete_customers(forget)

    # -- state ------------------------------------------------------------------------------

    def read(self) -> None:
        from sqlalchemy import func, select

        p, c, o, d = schema.products, schema.customers, schema.orders, schema.orderdetails
        products = self.rows(
            select(p.c.productCode, p.c.productLine, p.c.productVendor, p.c.productScale,
                   p.c.buyPrice, p.c.MSRP).order_by(p.c.productCode)
        )  # fmt: skip
        customers = self.rows(
            select(c.c.customerNumber, c.c.country, c.c.city, c.c.state, c.c.postalCode,
                   c.c.creditLimit).order_by(c.c.customerNumber)
        )  # fmt: skip
        if not products or not customers:
            raise SourceError("the source has no products or no customers: generate it first")
        self.codes = [r[0] for r in products]
        self.products = {
            "productLine": [r[1] for r in products],
            "productVendor": [r[2] for r in products],
            "productScale": [r[3] for r in products],
            "MSRP": [float(r[5]) for r in products],
        }
        self.buy = np.array([_cents(r[4]) for r in products], dtype=np.int64)
        self.msrp = np.array([_cents(r[5]) for r in products], dtype=np.int64)
        self.customers = customers
        self.numbers = np.array([r[0] for r in customers], dtype=np.int64)
        self.orders = self.rows(
            select(o.c.orderNumber, o.c.orderDate, o.c.status, o.c.customerNumber).order_by(
                o.c.orderNumber
            )
        )
        sold = dict(self.rows(select(d.c.productCode, func.count()).group_by(d.c.productCode)))
        self.popularity = np.log1p(np.array([sold.get(code, 0) for code in self.codes], float))
        last = max((r[1] for r in self.orders), default=None)
        self.last_day: date = last or date(2003, 1, 1)
        first = min((r[1] for r in self.orders), default=self.last_day)
        per_day = max(1.0, len(self.orders) / ((self.last_day - first).days + 1))
        self.now = self.last_day + timedelta(days=max(1, math.ceil(self.n / per_day)))

    def utility_of(self, rows: np.ndarray) -> np.ndarray:
        """Tastes where the customer has them, product popularity otherwise."""
        utility = np.tile(self.popularity, (len(rows), 1))
        if self.tastes is not None:
            known = self.tastes.rows_of(self.numbers[rows])
            has = known >= 0
            if has.any():
                utility[has] = affinity(self.tastes.take(known[has]), self.products)
        return utility

    def update(self, table: Any, keys: list[str], rows: list[dict[str, Any]]) -> int:
        """UPDATE rows by key: one executemany per set of columns being changed."""
        from sqlalchemy import and_, bindparam

        where = and_(*(table.c[k] == bindparam(f"k_{k}") for k in keys))
        shapes = sorted({tuple(row) for row in rows})
        for shape in shapes:
            values: dict[str, Any] = {k: bindparam(f"v_{k}") for k in shape if k not in keys}
            params = [
                {f"{'k' if k in keys else 'v'}_{k}": v for k, v in row.items()}
                for row in rows
                if tuple(row) == shape
            ]
            self.conn.execute(table.update().where(where).values(values), params)
        return len(rows)

    # -- customers that never did anything -----------------------------------------------

    def pick_forgotten(self) -> list[int]:
        from sqlalchemy import select

        c = schema.customers
        active = [schema.orders, schema.payments] + ([schema.ratings] if self.has_ratings else [])
        lonely = select(c.c.customerNumber).where(
            *(c.c.customerNumber.not_in(select(t.c.customerNumber)) for t in active)
        )
        candidates = [r[0] for r in self.rows(lonely.order_by(c.c.customerNumber))]
        n = min(len(candidates), self.count("forget"))
        picks = self.rng("forget").choice(len(candidates), size=n, replace=False)
        return sorted(candidates[i] for i in picks)

    def delete_customers(self, numbers: list[int]) -> None:
        c = schema.customers
        for chunk in _in_chunks(numbers):
            self.conn.execute(c.delete().where(c.c.customerNumber.in_(chunk)))
        self.changes["customers_deleted"] = len(numbers)

    # -- orders -----------------------------------------------------------------------------

    def move_orders(self) -> list[tuple[int, int, date]]:
        """Ship, hold, cancel, dispute and resolve existing orders; returns the shipped ones."""
        rng, text = self.rng("status"), text_stream(self.seed, "simulate:status")
        by_status: dict[str, list[tuple[int, date, int]]] = {}
        for number, day, status, customer in self.orders:
            by_status.setdefault(status, []).append((number, day, customer))
        updates: list[dict[str, Any]] = []
        shipped: list[tuple[int, int, date]] = []
        counts = dict.fromkeys(("shipped", "cancelled", "on_hold", "disputed", "resolved"), 0)

        def change(number: int, status: str, kind: str, ship: date | None = None) -> None:
            row = {"orderNumber": number, "status": status}
            row["comments"] = comments(text, np.array([status]), shipped_share=0.0)[0]
            if kind in ("shipped", "cancelled", "on_hold"):
                row["shippedDate"] = ship
            updates.append(row)
            counts[kind] += 1

        # The oldest open orders move first: most ship, a few are cancelled or put on hold.
        held = by_status.get("On Hold", [])[: self.count("hold")]
        for number, day, customer in by_status.get("In Process", [])[: self.count("ship")] + held:
            roll = rng.random()
            if roll < 0.03:
                change(number, "Cancelled", "cancelled")
            elif roll < 0.06 and (number, day, customer) not in held:
                change(number, "On Hold", "on_hold")
            else:
                ship = min(day + timedelta(days=int(rng.integers(1, 7))), self.now)
                change(number, "Shipped", "shipped", ship)
                shipped.append((number, customer, ship))
        # Disputes come from recent deliveries; older disputes get resolved.
        recent = [o for o in by_status.get("Shipped", []) if o[1] > self.last_day - timedelta(60)]
        for i in sorted(rng.permutation(len(recent))[: self.count("dispute")].tolist()):
            change(recent[i][0], "Disputed", "disputed")
        for number, _, _ in by_status.get("Disputed", [])[: self.count("resolve")]:
            change(number, "Resolved", "resolved")
        self.update(schema.orders, ["orderNumber"], updates)
        self.changes.update({f"orders_{k}": v for k, v in counts.items()})
        return shipped

    def new_orders(self) -> tuple[list[tuple[int, int, date]], dict[int, int]]:
        """Insert the new orders and their lines; returns (number, customer, date) and totals."""
        rng = self.rng("orders")
        active = np.array([n not in self.exclude for n in self.numbers.tolist()])
        placed = np.bincount(
            np.searchsorted(self.numbers, [r[3] for r in self.orders]), minlength=len(self.numbers)
        )
        weight = (placed + 0.2) * active
        if not weight.sum():
            raise SourceError("the source has no customers left to place orders")
        buyer = rng.choice(len(self.numbers), size=self.n, p=weight / weight.sum())
        span = (self.now - self.last_day).days
        dates = np.sort(np.datetime64(self.last_day, "D") + rng.integers(1, span + 1, self.n))
        first = max((r[0] for r in self.orders), default=FIRST_ORDER - 1) + 1
        numbers = first + np.arange(self.n)
        size = np.clip(1 + rng.poisson(9, self.n), 1, MAX_LINES)
        order_of, product_of, line_no = choose_products(
            self.rng("order-lines"), self.utility_of, buyer, size, len(self.codes)
        )
        quantity = line_quantities(rng, len(order_of))
        price = line_prices(rng, self.msrp[product_of])
        status = np.full(self.n, "In Process")
        self.changes["orders_inserted"] = bulk_insert(
            self.conn,
            "orders",
            source_table("orders", {
                "orderNumber": numbers, "orderDate": dates,
                "requiredDate": dates + rng.integers(6, 11, self.n),
                "shippedDate": np.full(self.n, np.datetime64("NaT"), dtype="datetime64[D]"),
                "status": status, "comments": [None] * self.n,
                "customerNumber": self.numbers[buyer],
            }),
        )  # fmt: skip
        self.changes["orderdetails_inserted"] = bulk_insert(
            self.conn,
            "orderdetails",
            source_table("orderdetails", {
                "orderNumber": numbers[order_of],
                "productCode": [self.codes[i] for i in product_of.tolist()],
                "quantityOrdered": quantity, "priceEach": price, "orderLineNumber": line_no,
            }),
        )  # fmt: skip
        totals = np.bincount(order_of, weights=quantity * price, minlength=self.n)
        placed_orders = [
            (int(numbers[i]), int(self.numbers[buyer[i]]), day)
            for i, day in enumerate(dates.astype(object))
        ]
        return placed_orders, dict(
            zip(numbers.tolist(), totals.astype(np.int64).tolist(), strict=True)
        )

    # -- payments ---------------------------------------------------------------------------

    def payments(
        self,
        shipped: list[tuple[int, int, date]],
        new_orders: list[tuple[int, int, date]],
        totals: dict[int, int],
    ) -> None:
        """Most orders shipped now are paid, a few new ones prepaid; a few old checks bounce."""
        from sqlalchemy import and_, select

        pay, d = schema.payments, schema.orderdetails
        rng = self.rng("payments")
        existing = self.rows(select(pay.c.customerNumber, pay.c.checkNumber).order_by(
            pay.c.customerNumber, pay.c.checkNumber))  # fmt: skip
        paid = [o for o in shipped if rng.random() < 0.8]
        paid += [o for o in new_orders if rng.random() < 0.15]
        owed = [o[0] for o in paid if o[0] not in totals]
        for chunk in _in_chunks(owed):
            lines = select(d.c.orderNumber, d.c.quantityOrdered, d.c.priceEach).where(
                d.c.orderNumber.in_(chunk)
            )
            for number, quantity, price in self.rows(lines):
                totals[number] = totals.get(number, 0) + quantity * _cents(price)
        taken = set(existing)
        checks: list[str] = []
        customers = [o[1] for o in paid]
        for customer, check in zip(customers, check_numbers(rng, len(paid)), strict=True):
            while (customer, check) in taken:
                check = check_numbers(rng, 1)[0]
            taken.add((customer, check))
            checks.append(check)
        days = [min(o[2] + timedelta(days=int(rng.integers(0, 10))), self.now) for o in paid]
        self.changes["payments_inserted"] = bulk_insert(
            self.conn,
            "payments",
            source_table("payments", {
                "customerNumber": [o[1] for o in paid], "checkNumber": checks,
                "paymentDate": np.array(days, dtype="datetime64[D]"),
                "amount": np.array([totals.get(o[0], 0) for o in paid], dtype=np.int64),
            }),
        )  # fmt: skip
        bounced = rng.choice(len(existing), size=min(len(existing), self.count("bounce")),
                             replace=False)  # fmt: skip
        for i in sorted(bounced.tolist()):
            customer, check = existing[i]
            self.conn.execute(pay.delete().where(
                and_(pay.c.customerNumber == customer, pay.c.checkNumber == check)))  # fmt: skip
        self.changes["payments_deleted"] = len(bounced)

    # -- customers and products -------------------------------------------------------------

    def some_customers(self, kind: str, factor: int = 1) -> list[Any]:
        """``factor`` x count(kind) random customer rows (never those about to be deleted)."""
        pool = [r for r in self.customers if r[0] not in self.exclude]
        size = min(len(pool), factor * self.count(kind))
        picks = self.rng(kind).choice(len(pool), size=size, replace=False)
        return [pool[i] for i in sorted(picks.tolist())]

    def credit_limits(self) -> None:
        rng = self.rng("credit-values")
        rows = []
        for number, *_, limit in self.some_customers("credit"):
            old = _cents(limit or 0)
            new = old * rng.uniform(0.8, 1.3) if old else rng.uniform(20_000_00, 60_000_00)
            new_cents = round(new / 10_000) * 10_000
            new_cents = new_cents if new_cents != old else old + 10_000
            rows.append({"customerNumber": number, "creditLimit": _money(new_cents)})
        self.changes["credit_limits_changed"] = self.update(
            schema.customers, ["customerNumber"], rows
        )

    def prices(self) -> None:
        rng = self.rng("prices")
        picks = rng.choice(len(self.codes), size=min(len(self.codes), self.count("price")),
                           replace=False)  # fmt: skip
        rows = []
        for i in sorted(picks.tolist()):
            factor = rng.uniform(0.92, 1.1)
            buy = max(1, round(self.buy[i] * factor))
            msrp = max(buy + 1, round(self.msrp[i] * factor * rng.uniform(0.98, 1.03)))
            if (buy, msrp) == (self.buy[i], self.msrp[i]):
                msrp += 1
            rows.append({"productCode": self.codes[i], "buyPrice": _money(buy),
                         "MSRP": _money(msrp)})  # fmt: skip
            self.buy[i], self.msrp[i] = buy, msrp
        self.changes["prices_changed"] = self.update(schema.products, ["productCode"], rows)

    def moves(self) -> None:
        text = text_stream(self.seed, "simulate:moves")
        rows = []
        for number, country, city, *_ in self.some_customers("move"):
            known = names.COUNTRY_BY_NAME.get(str(country).strip())
            if known is not None:
                line1, city, state, postal = names.address(text, known)
            else:  # keep the city, move down the road
                line1, state, postal = names.address(text, names.COUNTRIES[0])[0], None, None
                same = [r for r in self.customers if r[1] == country and r[2] != city]
                if same:
                    _, _, city, state, postal, _ = text.choice(same)
            rows.append({
                "customerNumber": number, "addressLine1": line1, "addressLine2": None,
                "city": city, "state": state, "postalCode": postal,
            })  # fmt: skip
        self.changes["customers_moved"] = self.update(schema.customers, ["customerNumber"], rows)

    # -- ratings ----------------------------------------------------------------------------

    def ratings(self) -> None:
        """New ratings of recent deliveries and some re-ratings, all stamped after every
        existing ratedAt so an updated-at cursor sees them."""
        from sqlalchemy import func, select

        r, o, d = schema.ratings, schema.orders, schema.orderdetails
        rng = self.rng("ratings")
        latest = self.conn.execute(select(func.max(r.c.ratedAt))).scalar()
        start = datetime.combine(self.now, time(8))
        if latest is not None:
            start = max(start, latest.replace(microsecond=0) + timedelta(seconds=1))
        recent = max((row[0] for row in self.orders), default=0) - 20 * max(self.n, 50)
        delivered = (
            select(o.c.customerNumber, d.c.productCode)
            .join(d, d.c.orderNumber == o.c.orderNumber)
            .where(o.c.orderNumber > recent, o.c.status.in_(PAID_STATUSES))
            .distinct()
        )
        unrated = delivered.except_(select(r.c.customerNumber, r.c.productCode))
        candidates = sorted(
            (row[0], row[1]) for row in self.rows(unrated) if row[0] not in self.exclude
        )
        picks = rng.choice(len(candidates), size=min(len(candidates), self.count("rate")),
                           replace=False)  # fmt: skip
        new = [candidates[i] for i in sorted(picks.tolist())]
        values = self.rate(rng, new)
        # Re-ratings: some earlier ratings of a random set of customers.
        raters = [row[0] for row in self.some_customers("rerate", factor=5)]
        everyone: list[Any] = []
        for chunk in _in_chunks(raters):
            query = select(r.c.customerNumber, r.c.productCode, r.c.productRating).where(
                r.c.customerNumber.in_(chunk), r.c.ratedAt < start
            )
            everyone += sorted(tuple(row) for row in self.rows(query))
        again = rng.choice(len(everyone), size=min(len(everyone), self.count("rerate")),
                           replace=False)  # fmt: skip
        steps = np.cumsum(rng.integers(1, 600, size=len(new) + len(again)))
        stamps = np.datetime64(start, "s") + steps
        self.changes["ratings_inserted"] = bulk_insert(
            self.conn,
            "ratings",
            source_table("ratings", {
                "customerNumber": [c for c, _ in new], "productCode": [p for _, p in new],
                "productRating": values, "ratedAt": stamps[: len(new)],
            }),
        )  # fmt: skip
        rows = []
        for i, stamp in zip(sorted(again.tolist()), stamps[len(new) :], strict=True):
            customer, code, old = everyone[i]
            step = 1 if (rng.random() < 0.5 and old < 5) or old <= 1 else -1
            rows.append({"customerNumber": customer, "productCode": code,
                         "productRating": old + step, "ratedAt": stamp.astype(object)})  # fmt: skip
        self.changes["ratings_updated"] = self.update(
            schema.ratings, ["customerNumber", "productCode"], rows
        )

    def rate(self, rng: np.random.Generator, pairs: list[Any]) -> np.ndarray:
        """Ratings for (customer, product) pairs from the utility relative to each customer's
        other purchases (the generator's rule)."""
        from sqlalchemy import select

        if not pairs:
            return np.zeros(0, dtype=np.int16)
        o, d = schema.orders, schema.orderdetails
        who = sorted({c for c, _ in pairs})
        bought: list[tuple[int, str]] = []
        for chunk in _in_chunks(who):
            query = (
                select(o.c.customerNumber, d.c.productCode)
                .join(d, d.c.orderNumber == o.c.orderNumber)
                .where(o.c.customerNumber.in_(chunk))
                .distinct()
                .order_by(o.c.customerNumber, d.c.productCode)
            )
            bought += [(row[0], row[1]) for row in self.rows(query)]
        code_index = {code: i for i, code in enumerate(self.codes)}
        rows = np.searchsorted(self.numbers, [c for c, _ in bought])
        products = np.array([code_index[p] for _, p in bought], dtype=np.int64)
        z = standardized(rows, pair_utility(self.utility_of, rows, products, len(self.codes)))
        position = {pair: i for i, pair in enumerate(bought)}
        return draw_ratings(rng, z[[position[(c, p)] for c, p in pairs]])
