"""The supplier API's resources: their bronze schemas and the validation of each record.

A record that does not match its schema (a missing or mistyped field, a rating outside 1..5,
a price that is not a number, a review of a product the catalog does not have) is not
guessed at: it becomes a dead letter carrying the raw record and the reason. A reason names
the field and the rule it breaks, never the value: records carry personal data (a reviewer's
name, email and phone), and reasons are read by people who may not see it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from shoplake.streams.events import describe_kind

PRICE = pa.decimal128(10, 2)
TIMESTAMP = pa.timestamp("us", tz="UTC")


class InvalidRecordError(ValueError):
    """Why a record cannot be landed."""


@dataclass(frozen=True)
class Resource:
    """One collection of the API: its path, key, bronze table and fields."""

    name: str  # the path under /v1/
    key: str
    table: str  # bronze table name (without the namespace)
    fields: tuple[tuple[str, pa.DataType, bool], ...]  # (name, type, required)

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(name, kind) for name, kind, _ in self.fields])


PRODUCTS = Resource(
    name="products",
    key="sku",
    table="supplier_products",
    fields=(
        ("sku", pa.string(), True),
        ("product_code", pa.string(), True),
        ("name", pa.string(), True),
        ("vendor", pa.string(), False),
        ("unit_price", PRICE, True),
        ("currency", pa.string(), True),
        ("stock", pa.int64(), True),
        ("lead_time_days", pa.int32(), True),
        ("discontinued", pa.bool_(), True),
        ("updated_at", TIMESTAMP, True),
    ),
)
REVIEWS = Resource(
    name="reviews",
    key="review_id",
    table="supplier_reviews",
    fields=(
        ("review_id", pa.string(), True),
        ("sku", pa.string(), True),
        ("rating", pa.int32(), True),
        ("title", pa.string(), False),
        ("body", pa.string(), False),
        ("reviewer", pa.string(), False),
        ("created_at", TIMESTAMP, False),
        ("updated_at", TIMESTAMP, True),
    ),
)
RESOURCES = {r.name: r for r in (PRODUCTS, REVIEWS)}
#: Bounds of integer fields: (min, max); None is unbounded.
BOUNDS: dict[tuple[str, str], tuple[int | None, int | None]] = {
    ("reviews", "rating"): (1, 5),
    ("products", "stock"): (0, None),
    ("products", "lead_time_days"): (0, 3650),
}


def parse_timestamp(value: Any) -> dt.datetime:
    """An ISO 8601 timestamp with a zone (``Z`` or an offset), as UTC."""
    if not isinstance(value, str):
        raise InvalidRecordError(f"expected an ISO 8601 string, got {describe_kind(value)}")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRecordError("not an ISO 8601 timestamp") from exc
    if parsed.tzinfo is None:
        raise InvalidRecordError("timestamp without a time zone")
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError as exc:
        raise InvalidRecordError("timestamp out of range") from exc


def _price(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidRecordError(f"expected a price, got {describe_kind(value)}")
    try:
        price = Decimal(str(value))
    except InvalidOperation as exc:
        raise InvalidRecordError("not a decimal number") from exc
    if not price.is_finite() or price < 0 or price >= Decimal("1e8"):
        raise InvalidRecordError("price outside 0..99999999.99")
    return price.quantize(Decimal("0.01"))


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRecordError(f"expected an integer, got {describe_kind(value)}")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidRecordError(f"expected a boolean, got {describe_kind(value)}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidRecordError(f"expected a string, got {describe_kind(value)}")
    return value


def _converter(kind: pa.DataType) -> Callable[[Any], Any]:
    if pa.types.is_decimal(kind):
        return _price
    if pa.types.is_timestamp(kind):
        return parse_timestamp
    if pa.types.is_integer(kind):
        return _integer
    if pa.types.is_boolean(kind):
        return _boolean
    return _text


def validate(resource: Resource, record: Any) -> dict[str, Any]:
    """The record's typed values, or :class:`InvalidRecordError` naming the first bad field."""
    if not isinstance(record, dict):
        raise InvalidRecordError(f"record is a {type(record).__name__}, not an object")
    row: dict[str, Any] = {}
    for name, kind, required in resource.fields:
        value = record.get(name)
        if value is None:
            if required:
                raise InvalidRecordError(f"{name}: missing")
            row[name] = None
            continue
        try:
            converted = _converter(kind)(value)
        except InvalidRecordError as exc:
            raise InvalidRecordError(f"{name}: {exc}") from None
        low, high = BOUNDS.get((resource.name, name), (None, None))
        if (low is not None and converted < low) or (high is not None and converted > high):
            bounds = f"{'' if low is None else low}..{'' if high is None else high}"
            raise InvalidRecordError(f"{name}: outside {bounds}")
        if kind == pa.string() and required and not converted.strip():
            raise InvalidRecordError(f"{name}: empty")
        row[name] = converted
    return row


def record_id(resource: Resource, record: Any) -> str | None:
    """The record's key as text when it has one, for dead letters."""
    if isinstance(record, dict) and record.get(resource.key) is not None:
        return str(record[resource.key])
    return None
