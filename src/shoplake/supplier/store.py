"""The supplier's SQLite store: every record as a JSON document, ordered by ``(updated_at, id)``.

The server reads it on every request (WAL, one short connection each), so another process
(``shoplake sources api-changes``) can change it while the API runs. Seeding reads the
``products`` table of the source database; everything else is derived from a seed.
"""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shoplake.errors import ShoplakeError
from shoplake.supplier import records as rec
from shoplake.supplier.records import PRODUCTS, REVIEWS

DEFAULT_SEED = 42
REVIEWS_PER_PRODUCT = (1, 5)  # uniform, about 3 on average
CHANGE_KINDS = ("price_changes", "stock_changes", "discontinued", "new_reviews", "rating_edits")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    resource TEXT NOT NULL, id TEXT NOT NULL, updated_at TEXT NOT NULL, body TEXT NOT NULL,
    malformed TEXT, PRIMARY KEY (resource, id));
CREATE INDEX IF NOT EXISTS records_order ON records (resource, updated_at, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_MISSING_SOURCE = (
    "no source products to seed the supplier API from ({why}): run `shoplake generate` or "
    "`shoplake sources load-classicmodels` first"
)


class SupplierStoreError(ShoplakeError):
    """The supplier store cannot be seeded, read or changed."""


@dataclass(frozen=True)
class Page:
    """One page of records and whether more follow it."""

    data: list[dict[str, Any]]
    has_more: bool


def store_path(data_dir: Path) -> Path:
    """Where a data dir's supplier store lives."""
    return data_dir / "supplier" / "supplier.db"


class SupplierStore:
    """The supplier's products and reviews in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        """Whether the store has been seeded."""
        if not self.path.exists():
            return False
        with self._connect() as db:
            return bool(db.execute("SELECT 1 FROM meta WHERE key = 'seed'").fetchone())

    @contextlib.contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A short-lived connection; with ``write``, inside one immediate transaction."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            if not write:
                yield db
                return
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    # Seeding ------------------------------------------------------------------------------------

    def seed_from_source(self, source_url: str, seed: int = DEFAULT_SEED) -> dict[str, int]:
        """Replace the store's contents with records derived from the source's products.

        Raises ``SupplierStoreError`` (one line) when the source has no ``products`` table.
        Returns the number of records per resource.
        """
        sources = read_source_products(source_url)
        rng = random.Random(seed)
        products = [rec.product_record(row, rng) for row in sources]
        planted = len(products) // 2
        rec.malform_product(products[planted])
        reviews: list[dict[str, Any]] = []
        for product in products:
            for _ in range(rng.randint(*REVIEWS_PER_PRODUCT)):
                created = rec.seeded_moment(rng)
                reviews.append(rec.review_record(len(reviews) + 1, product["sku"], created, rng))
        with self._connect(write=True) as db:
            db.execute("DELETE FROM records")
            db.execute("DELETE FROM meta")
            _write(db, PRODUCTS, products, {products[planted]["sku"]: rec.PRICE_MALFORMATION})
            malformed = {
                r["review_id"]: kind
                for n, r in enumerate(reviews, 1)
                if (kind := rec.review_malformation(n))
            }
            _write(db, REVIEWS, reviews, malformed)
            db.execute("INSERT INTO meta VALUES ('seed', ?)", (str(seed),))
            db.execute("INSERT INTO meta VALUES ('reviews', ?)", (str(len(reviews)),))
        return {PRODUCTS: len(products), REVIEWS: len(reviews)}

    # Reading ------------------------------------------------------------------------------------

    def page(
        self, resource: str, after: tuple[str, str] | None, since: str | None, limit: int
    ) -> Page:
        """Up to ``limit`` records after ``after`` = ``(updated_at, id)`` in ``(updated_at, id)``
        order, those with ``updated_at >= since`` only (both timestamps in the API's format)."""
        sql = "SELECT body FROM records WHERE resource = ?"
        args: list[Any] = [resource]
        if since is not None:
            sql += " AND updated_at >= ?"
            args.append(since)
        if after is not None:
            sql += " AND (updated_at > ? OR (updated_at = ? AND id > ?))"
            args += [after[0], after[0], after[1]]
        sql += " ORDER BY updated_at, id LIMIT ?"
        with self._connect() as db:
            rows = db.execute(sql, [*args, limit + 1]).fetchall()
        return Page([json.loads(body) for (body,) in rows[:limit]], len(rows) > limit)

    def records(self, resource: str) -> list[dict[str, Any]]:
        """Every record of ``resource`` the API serves, in its order."""
        return self.page(resource, None, None, 2**62).data

    def malformed_ids(self, resource: str) -> set[str]:
        """Ids of the records planted malformed."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT id FROM records WHERE resource = ? AND malformed IS NOT NULL", (resource,)
            )
            return {row[0] for row in rows}

    def counts(self) -> dict[str, int]:
        """Records per resource."""
        with self._connect() as db:
            rows = db.execute("SELECT resource, count(*) FROM records GROUP BY resource")
            found = dict(rows.fetchall())
        return {r: int(found.get(r, 0)) for r in rec.RESOURCES}

    # Changing -----------------------------------------------------------------------------------

    def apply_changes(self, n: int, seed: int) -> dict[str, int]:
        """Apply ``n`` random changes (seeded), in one transaction; returns counts per kind.

        Kinds: price and stock changes, products discontinued, new reviews, edited ratings.
        Planted malformed records are never touched. Every touched record gets ``updated_at``
        = now, strictly increasing and later than anything stored, so a client reading with
        ``updated_since`` sees exactly the changed records.
        """
        rng = random.Random(seed)
        counts = dict.fromkeys(CHANGE_KINDS, 0)
        with self._connect(write=True) as db:
            batch = _ChangeBatch(db, rng)
            for _ in range(n):
                kind = rng.choice(CHANGE_KINDS)
                if batch.apply(kind):
                    counts[kind] += 1
            batch.save()
        return counts


def _write(
    db: sqlite3.Connection, resource: str, items: list[dict[str, Any]], malformed: dict[str, str]
) -> None:
    """Insert or replace records of ``resource``, marking the planted malformed ones."""
    key = rec.ID_FIELDS[resource]
    db.executemany(
        "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?)",
        [(resource, r[key], r["updated_at"], json.dumps(r), malformed.get(r[key])) for r in items],
    )


class _ChangeBatch:
    """The clean (not malformed) records in memory while one round of changes is applied."""

    def __init__(self, db: sqlite3.Connection, rng: random.Random) -> None:
        self.db, self.rng = db, rng
        self.clean: dict[str, dict[str, dict[str, Any]]] = {r: {} for r in rec.RESOURCES}
        rows = db.execute("SELECT resource, id, body FROM records WHERE malformed IS NULL")
        for resource, key, body in rows:
            self.clean[resource][key] = json.loads(body)
        self.touched: dict[str, set[str]] = {r: set() for r in rec.RESOURCES}
        latest = db.execute("SELECT max(updated_at) FROM records").fetchone()[0]
        self.last = rec.parse_iso(latest) if latest else datetime.min.replace(tzinfo=UTC)
        row = db.execute("SELECT value FROM meta WHERE key = 'reviews'").fetchone()
        self.reviews = int(row[0]) if row else 0

    def tick(self) -> str:
        """A new ``updated_at``: now, or just after the latest one when the clock lags."""
        self.last = max(datetime.now(UTC), self.last + timedelta(microseconds=1))
        return rec.iso(self.last)

    def touch(self, resource: str, record: dict[str, Any]) -> None:
        """Mark ``record`` changed now."""
        record["updated_at"] = self.tick()
        self.touched[resource].add(record[rec.ID_FIELDS[resource]])

    def apply(self, kind: str) -> bool:
        """Apply one change of ``kind``; False when nothing was left to change."""
        if kind == "rating_edits":
            return self._edit_rating()
        products = list(self.clean[PRODUCTS].values())
        if kind == "discontinued":
            products = [p for p in products if not p["discontinued"]]
        if not products:
            return False
        product = self.rng.choice(products)
        if kind == "new_reviews":
            self._new_review(product["sku"])
            return True
        if kind == "price_changes":
            old = float(product["unit_price"])
            product["unit_price"] = rec.price(old * self.rng.uniform(0.9, 1.1))
        elif kind == "stock_changes":
            product["stock"] = max(0, product["stock"] + self.rng.randint(-30, 60))
        else:
            product["discontinued"] = True
        self.touch(PRODUCTS, product)
        return True

    def _new_review(self, sku: str) -> None:
        """A review of ``sku`` written now (every 40th one planted malformed)."""
        self.reviews += 1
        review = rec.review_record(self.reviews, sku, datetime.now(UTC), self.rng)
        self.touch(REVIEWS, review)
        review["created_at"] = review["updated_at"]
        kind = rec.review_malformation(self.reviews)
        if kind is None:
            self.clean[REVIEWS][review["review_id"]] = review
        else:  # keep planting 1 in 40, as a record no later change touches
            _write(self.db, REVIEWS, [review], {review["review_id"]: kind})

    def _edit_rating(self) -> bool:
        """A clean review's rating changed (and its title and body with it)."""
        reviews = list(self.clean[REVIEWS].values())
        if not reviews:
            return False
        review = self.rng.choice(reviews)
        rating = self.rng.choice([r for r in range(1, 6) if r != review["rating"]])
        review.update(rec.review_text(rating, self.rng))
        self.touch(REVIEWS, review)
        return True

    def save(self) -> None:
        """Write every touched clean record back, and the review counter."""
        for resource, keys in self.touched.items():
            items = [self.clean[resource][k] for k in keys if k in self.clean[resource]]
            _write(self.db, resource, items, {})
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('reviews', ?)", (str(self.reviews),))


def read_source_products(source_url: str) -> list[dict[str, Any]]:
    """The source's products (code, name, vendor, buy price, stock), ordered by code.

    Raises ``SupplierStoreError`` (one line) when there is no source or no ``products`` table.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from shoplake.redact import redact

    url = make_url(source_url)
    database = url.database or ""
    on_disk = url.get_backend_name() == "sqlite" and database not in ("", ":memory:")
    if on_disk and not Path(database).exists():
        raise SupplierStoreError(_MISSING_SOURCE.format(why=f"{database} does not exist"))
    names = ("productCode", "productName", "productVendor", "buyPrice", "quantityInStock")
    engine = create_engine(source_url)
    try:
        with engine.connect() as conn:
            found = [dict(row._mapping) for row in conn.execute(text("SELECT * FROM products"))]
            # Column names are matched case-insensitively (PostgreSQL folds them).
            rows = [{n: _get(row, n) for n in names} for row in found]
    except SQLAlchemyError as exc:
        why = f"cannot read products from {redact(source_url)}: {_cause(exc)}"
        raise SupplierStoreError(_MISSING_SOURCE.format(why=why)) from exc
    except KeyError as exc:
        why = f"the products table has no column {exc.args[0]}"
        raise SupplierStoreError(_MISSING_SOURCE.format(why=why)) from exc
    finally:
        engine.dispose()
    if not rows:
        raise SupplierStoreError(_MISSING_SOURCE.format(why="the products table is empty"))
    return sorted(rows, key=lambda row: str(row["productCode"]))


def _cause(exc: Exception) -> str:
    """The name of the database error behind a SQLAlchemy error."""
    return type(getattr(exc, "orig", None) or exc).__name__


def _get(row: dict[str, Any], name: str) -> Any:
    """``row[name]``, whatever the case of the column's name."""
    for key, value in row.items():
        if key.lower() == name.lower():
            return value
    raise KeyError(name)
