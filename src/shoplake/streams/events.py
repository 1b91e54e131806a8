"""Clickstream events: the versioned schema, its validation and its Arrow form.

Schema version 1 — every field must be present in the JSON object (``null`` where allowed);
unknown extra fields are ignored, so producers may add fields before consumers know them.

===================  =====================================================================
field                rule
===================  =====================================================================
``event_id``         string, 1..64 characters (producers retry: duplicates share it)
``event_type``       one of :data:`EVENT_TYPES`
``event_time``       ISO-8601 string with a timezone (``2026-11-24T10:15:02.123Z``), at most
                     ``max_future`` after ``now``; stored as an aware UTC datetime
``session_id``       string, 1..128 characters (the stream's partitioning key)
``customer_number``  integer (int64) or null — null for anonymous visitors
``product_code``     string or null; required for add_to_cart, remove_from_cart and purchase;
                     optional for page_view (null: a page that is not a product page) and
                     search; must be in ``known_products`` when that is given
``quantity``         integer >= 1 (int32) or null; required for cart events and purchase
``price``            number >= 0 with at most 2 decimals, below 10^8 (decimal(10,2)), or
                     null; required for purchase (the unit price)
``device``           one of :data:`DEVICES`
``query``            string or null; required (non-empty) for search, null otherwise
``schema_version``   integer, 1
===================  =====================================================================

:func:`validate` returns an :class:`Event` or an :class:`Invalid` whose ``reason`` names the
field and the problem in one line. Fields are checked in the order above and the first problem
wins; ``schema_version`` is checked first, since other versions may have other fields.

JSON is parsed with ``orjson`` when it is importable (it is not a dependency of shoplake) and
with the standard library otherwise; either way the same payloads are accepted and the same
reasons given (on an orjson error the payload is re-parsed with the standard library, whose
error message is reported). ``NaN`` and ``Infinity`` are not JSON and are refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

import pyarrow as pa


def _optional_orjson() -> Any:
    """orjson when installed (it comes with shoplake[bench]); None otherwise."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return orjson


_orjson: Any = _optional_orjson()

EventType = Literal["page_view", "add_to_cart", "remove_from_cart", "purchase", "search"]
Device = Literal["web", "mobile", "app", "bot"]

SCHEMA_VERSION: Final = 1
EVENT_TYPES: Final = frozenset(
    {"page_view", "add_to_cart", "remove_from_cart", "purchase", "search"}
)
DEVICES: Final = frozenset({"web", "mobile", "app", "bot"})
#: Event types that must name a product and a quantity.
NEEDS_PRODUCT: Final = frozenset({"add_to_cart", "remove_from_cart", "purchase"})
FIELDS: Final = (
    "event_id",
    "event_type",
    "event_time",
    "session_id",
    "customer_number",
    "product_code",
    "quantity",
    "price",
    "device",
    "query",
    "schema_version",
)
MAX_EVENT_ID: Final = 64
MAX_SESSION_ID: Final = 128
DEFAULT_MAX_FUTURE: Final = timedelta(days=1)

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_INT32_MAX = 2**31 - 1
_PRICE_LIMIT = 10**8  # decimal(10, 2)
_CENT = Decimal("0.01")

EVENTS_SCHEMA: Final = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("event_time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("session_id", pa.string(), nullable=False),
        pa.field("customer_number", pa.int64()),
        pa.field("product_code", pa.string()),
        pa.field("quantity", pa.int32()),
        pa.field("price", pa.decimal128(10, 2)),
        pa.field("device", pa.string(), nullable=False),
        pa.field("query", pa.string()),
        pa.field("schema_version", pa.int32(), nullable=False),
    ]
)
"""Arrow schema of valid events (``bronze.events`` without the processor's own columns)."""

DEAD_LETTERS_SCHEMA: Final = pa.schema(
    [
        pa.field("payload", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
    ]
)
"""Arrow schema of refused payloads: the raw bytes (decoded, errors replaced) and the reason."""


@dataclass(frozen=True, slots=True)
class Event:
    """One valid event: ``event_time`` is an aware UTC datetime, ``price`` a Decimal."""

    event_id: str
    event_type: str
    event_time: datetime
    session_id: str
    customer_number: int | None
    product_code: str | None
    quantity: int | None
    price: Decimal | None
    device: str
    query: str | None
    schema_version: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form (what :func:`encode` writes for this event)."""
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "event_time": format_time(self.event_time),
            "session_id": self.session_id,
            "customer_number": self.customer_number,
            "product_code": self.product_code,
            "quantity": self.quantity,
            "price": None if self.price is None else float(self.price),
            "device": self.device,
            "query": self.query,
            "schema_version": self.schema_version,
        }


@dataclass(frozen=True, slots=True)
class Invalid:
    """A payload refused by :func:`validate`, with a one-line reason naming the field."""

    reason: str
    raw: bytes


def format_time(moment: datetime) -> str:
    """ISO-8601 in UTC with a ``Z``: milliseconds, or microseconds when they are not zero."""
    utc = moment.astimezone(UTC) if moment.tzinfo is not UTC else moment
    spec = "microseconds" if utc.microsecond % 1000 else "milliseconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return format_time(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def page_view(
    event_id: str,
    at: datetime,
    session_id: str,
    product_code: str,
    customer_number: int | None = None,
) -> dict[str, Any]:
    """A schema-v1 page view of a product page, as the JSON object a tracker sends."""
    return {
        "event_id": event_id,
        "event_type": "page_view",
        "event_time": at.isoformat(),
        "session_id": session_id,
        "customer_number": customer_number,
        "product_code": product_code,
        "quantity": None,
        "price": None,
        "device": "web",
        "query": None,
        "schema_version": SCHEMA_VERSION,
    }


def encode(event: Mapping[str, Any] | Event) -> bytes:
    """Compact UTF-8 JSON of an event (a mapping of fields, or an :class:`Event`).

    Keys keep their order; Decimal values become numbers and datetimes ISO-8601 strings with
    ``Z`` (both encoders write the same bytes for the values events hold).
    """
    data = event.to_dict() if isinstance(event, Event) else event
    if _orjson is not None:
        return _orjson.dumps(data, default=_default, option=_orjson.OPT_PASSTHROUGH_DATETIME)
    return json.dumps(
        data, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
    ).encode()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _std_loads(raw: bytes) -> Any:
    return _DECODER.decode(raw.decode("utf-8"))


def parse(raw: bytes) -> Any:
    """Parse JSON bytes; raises ``ValueError`` with a one-line message on bad JSON."""
    if _orjson is not None:
        try:
            return _orjson.loads(raw)
        except _orjson.JSONDecodeError:
            pass  # re-parse below: the standard library's message (and its wider int range)
    try:
        return _std_loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at char {exc.pos}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"invalid UTF-8 at byte {exc.start}") from None
    except (ValueError, RecursionError) as exc:
        raise ValueError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None


def describe_kind(value: Any) -> str:
    """What a value is, as a reason names it: its JSON kind, never the value itself (a payload
    may carry personal data, and reasons are read by people who may not see it)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string" if value else "an empty string"
    if isinstance(value, int):
        return "an integer" if value >= 0 else "a negative integer"
    if isinstance(value, float):
        return "a number" if value >= 0 else "a negative number"
    return type(value).__name__


def humanize(span: timedelta) -> str:
    """``timedelta(days=1)`` → ``'1 day'``, ``timedelta(hours=6)`` → ``'6 hours'``…"""
    seconds = span.total_seconds()
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} second{'s' if seconds != 1 else ''}"


_MISSING: Any = object()


def validate(
    raw: bytes,
    *,
    known_products: frozenset[str] | None,
    now: datetime,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
) -> Event | Invalid:
    """Check one payload against the schema (module doc); never raises on bad input.

    ``now`` must be timezone-aware. ``known_products`` None skips the catalogue check.
    """
    try:
        data = parse(raw)
    except ValueError as exc:
        return Invalid(f"bad JSON: {exc}", raw)
    if type(data) is not dict:
        return Invalid(f"expected a JSON object, got {describe_kind(data)}", raw)
    result = _check(data, known_products, now + max_future, max_future)
    return Invalid(result, raw) if isinstance(result, str) else result


def _check(
    data: dict[str, Any],
    known_products: frozenset[str] | None,
    latest: datetime,
    max_future: timedelta,
) -> Event | str:
    """The event, or the reason it is refused."""
    get = data.get
    version = get("schema_version", _MISSING)
    if version is _MISSING:
        return "missing field 'schema_version'"
    if type(version) is not int:
        return f"field 'schema_version': expected an integer, got {describe_kind(version)}"
    if version != SCHEMA_VERSION:
        return f"unknown schema_version {version}"
    for name in FIELDS:
        if name not in data:
            return f"missing field '{name}'"

    event_id = data["event_id"]
    if type(event_id) is not str or not event_id:
        return f"field 'event_id': expected a non-empty string, got {describe_kind(event_id)}"
    if len(event_id) > MAX_EVENT_ID:
        return f"field 'event_id': longer than {MAX_EVENT_ID} characters ({len(event_id)})"

    event_type = data["event_type"]
    if type(event_type) is not str or event_type not in EVENT_TYPES:
        return (
            f"field 'event_type': expected one of {', '.join(sorted(EVENT_TYPES))}, "
            f"got {describe_kind(event_type)}"
        )

    text = data["event_time"]
    if type(text) is not str:
        return (
            "field 'event_time': expected an ISO-8601 string with a timezone, "
            f"got {describe_kind(text)}"
        )
    try:
        event_time = datetime.fromisoformat(text)
    except ValueError:
        return "field 'event_time': not an ISO-8601 timestamp"
    if event_time.tzinfo is None:
        return "field 'event_time': the timestamp has no timezone"
    if event_time.tzinfo is not UTC:
        try:
            event_time = event_time.astimezone(UTC)
        except OverflowError:
            return "field 'event_time': the timestamp is out of range"
    if event_time > latest:
        return f"field 'event_time': more than {humanize(max_future)} in the future"

    session_id = data["session_id"]
    if type(session_id) is not str or not session_id:
        return f"field 'session_id': expected a non-empty string, got {describe_kind(session_id)}"
    if len(session_id) > MAX_SESSION_ID:
        return f"field 'session_id': longer than {MAX_SESSION_ID} characters ({len(session_id)})"

    customer = data["customer_number"]
    if customer is not None:
        if type(customer) is not int:
            return (
                "field 'customer_number': expected an integer or null, "
                f"got {describe_kind(customer)}"
            )
        if not _INT64_MIN <= customer <= _INT64_MAX:
            return "field 'customer_number': out of range (int64)"

    needs_product = event_type in NEEDS_PRODUCT
    product = data["product_code"]
    if product is None:
        if needs_product:
            return f"field 'product_code': required for {event_type} events"
    elif type(product) is not str or not product:
        return (
            "field 'product_code': expected a non-empty string or null, "
            f"got {describe_kind(product)}"
        )
    elif known_products is not None and product not in known_products:
        return "field 'product_code': unknown product (not in the catalogue)"

    quantity = data["quantity"]
    if quantity is None:
        if needs_product:
            return f"field 'quantity': required for {event_type} events"
    elif type(quantity) is not int or quantity < 1:
        return f"field 'quantity': expected an integer >= 1, got {describe_kind(quantity)}"
    elif quantity > _INT32_MAX:
        return "field 'quantity': out of range (int32)"

    raw_price = data["price"]
    price: Decimal | None = None
    if raw_price is None:
        if event_type == "purchase":
            return "field 'price': required for purchase events"
    else:
        kind = type(raw_price)
        if kind is not float and kind is not int:
            return f"field 'price': expected a number >= 0, got {describe_kind(raw_price)}"
        if raw_price < 0 or (kind is float and not math.isfinite(raw_price)):
            return f"field 'price': expected a number >= 0, got {describe_kind(raw_price)}"
        if raw_price >= _PRICE_LIMIT:
            return "field 'price': does not fit decimal(10,2)"
        try:
            price = Decimal(repr(raw_price)) if kind is float else Decimal(raw_price)
            if price.as_tuple().exponent < -2:  # type: ignore[operator]
                return "field 'price': more than 2 decimals"
            price = price.quantize(_CENT)
        except InvalidOperation:
            return f"field 'price': expected a number >= 0, got {describe_kind(raw_price)}"

    device = data["device"]
    if type(device) is not str or device not in DEVICES:
        return (
            f"field 'device': expected one of {', '.join(sorted(DEVICES))}, "
            f"got {describe_kind(device)}"
        )

    query = data["query"]
    if event_type == "search":
        if type(query) is not str or not query:
            return (
                f"field 'query': expected a non-empty string for search, got {describe_kind(query)}"
            )
    elif query is not None:
        return f"field 'query': only allowed for search events, got {describe_kind(query)}"

    return Event(
        event_id,
        event_type,
        event_time,
        session_id,
        customer,
        product,
        quantity,
        price,
        device,
        query,
        version,
    )


def events_to_arrow(events: list[Event]) -> pa.Table:
    """Valid events as a table of :data:`EVENTS_SCHEMA`, built column by column."""
    columns = [
        [e.event_id for e in events],
        [e.event_type for e in events],
        [e.event_time for e in events],
        [e.session_id for e in events],
        [e.customer_number for e in events],
        [e.product_code for e in events],
        [e.quantity for e in events],
        [e.price for e in events],
        [e.device for e in events],
        [e.query for e in events],
        [e.schema_version for e in events],
    ]
    arrays = [
        pa.array(values, type=field.type)
        for values, field in zip(columns, EVENTS_SCHEMA, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=EVENTS_SCHEMA)


def dead_letters_to_arrow(refused: list[Invalid]) -> pa.Table:
    """Refused payloads as a table of :data:`DEAD_LETTERS_SCHEMA`."""
    payloads = [r.raw.decode("utf-8", errors="replace") for r in refused]
    return pa.Table.from_arrays(
        [pa.array(payloads, pa.string()), pa.array([r.reason for r in refused], pa.string())],
        schema=DEAD_LETTERS_SCHEMA,
    )
