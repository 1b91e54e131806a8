"""The event schema v1: one test per rule with its exact reason, round trips, Arrow types."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from shoplake.streams import events
from shoplake.streams.events import (
    DEAD_LETTERS_SCHEMA,
    EVENTS_SCHEMA,
    FIELDS,
    Event,
    Invalid,
    dead_letters_to_arrow,
    encode,
    events_to_arrow,
    validate,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KNOWN = frozenset({"S18_1749", "S10_1678"})


@pytest.fixture(params=["orjson", "stdlib"], autouse=True)
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Every rule holds, with the same reason, whichever JSON library parses."""
    if request.param == "stdlib":
        monkeypatch.setattr(events, "_orjson", None)
    elif events._orjson is None:
        pytest.skip("orjson is not installed")
    yield request.param


def good(**changes: Any) -> dict[str, Any]:
    event = {
        "event_id": "e-1",
        "event_type": "purchase",
        "event_time": "2026-11-24T10:15:02.123Z",
        "session_id": "s-1",
        "customer_number": 103,
        "product_code": "S18_1749",
        "quantity": 2,
        "price": 136.5,
        "device": "web",
        "query": None,
        "schema_version": 1,
    }
    event.update(changes)
    return event


def reason(event: dict[str, Any] | bytes, **kwargs: Any) -> str:
    raw = event if isinstance(event, bytes) else json.dumps(event).encode()
    result = validate(raw, known_products=kwargs.pop("known", KNOWN), now=NOW, **kwargs)
    assert isinstance(result, Invalid), result
    assert result.raw == raw
    return result.reason


def ok(event: dict[str, Any], **kwargs: Any) -> Event:
    result = validate(encode(event), known_products=kwargs.pop("known", KNOWN), now=NOW, **kwargs)
    assert isinstance(result, Event), result
    return result


def test_a_valid_event_is_typed() -> None:
    assert ok(good()) == Event(
        event_id="e-1",
        event_type="purchase",
        event_time=datetime(2026, 11, 24, 10, 15, 2, 123000, tzinfo=UTC),
        session_id="s-1",
        customer_number=103,
        product_code="S18_1749",
        quantity=2,
        price=Decimal("136.50"),
        device="web",
        query=None,
        schema_version=1,
    )


# -- JSON and envelope --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "bad JSON: Expecting value at char 0"),
        (b'{"event_id": "e-1"', "bad JSON: Expecting ',' delimiter at char 18"),
        (b'{"event_id"= "e-1"}', "bad JSON: Expecting ':' delimiter at char 11"),
        (b"{} x", "bad JSON: Extra data at char 3"),
        (b'{"price": NaN}', "bad JSON: NaN is not valid JSON"),
        (b'{"a": "\xff"}', "bad JSON: invalid UTF-8 at byte 7"),
        (b"[1, 2]", "expected a JSON object, got a list"),
        (b'"page_view"', "expected a JSON object, got a string"),
    ],
)
def test_bad_json(raw: bytes, expected: str) -> None:
    assert reason(raw) == expected


def test_schema_version_rules() -> None:
    event = good()
    del event["schema_version"]
    assert reason(event) == "missing field 'schema_version'"
    assert (
        reason(good(schema_version="1"))
        == "field 'schema_version': expected an integer, got a string"
    )
    assert (
        reason(good(schema_version=True)) == "field 'schema_version': expected an integer, got true"
    )
    assert reason(good(schema_version=7)) == "unknown schema_version 7"
    # the version is checked before anything else: a v7 event may have other fields
    assert reason({"schema_version": 7}) == "unknown schema_version 7"


@pytest.mark.parametrize("name", [f for f in FIELDS if f != "schema_version"])
def test_every_field_must_be_present(name: str) -> None:
    event = good()
    del event[name]
    assert reason(event) == f"missing field '{name}'"


def test_unknown_extra_fields_are_ignored() -> None:
    assert ok(good(referrer="https://example.com", page={"id": 3})) == ok(good())


# -- one rule per field -------------------------------------------------------------------


def test_event_id() -> None:
    assert (
        reason(good(event_id=""))
        == "field 'event_id': expected a non-empty string, got an empty string"
    )
    assert (
        reason(good(event_id=12345))
        == "field 'event_id': expected a non-empty string, got an integer"
    )
    assert reason(good(event_id="x" * 65)) == "field 'event_id': longer than 64 characters (65)"
    assert ok(good(event_id="x" * 64)).event_id == "x" * 64


def test_event_type() -> None:
    assert reason(good(event_type="click")) == (
        "field 'event_type': expected one of add_to_cart, page_view, purchase, "
        "remove_from_cart, search, got a string"
    )


def test_event_time_must_be_a_string() -> None:
    assert reason(good(event_time=1764000000)) == (
        "field 'event_time': expected an ISO-8601 string with a timezone, got an integer"
    )


def test_event_time_must_parse() -> None:
    assert reason(good(event_time="yesterday")) == ("field 'event_time': not an ISO-8601 timestamp")


def test_event_time_needs_a_timezone() -> None:
    assert reason(good(event_time="2026-11-24T10:15:02")) == (
        "field 'event_time': the timestamp has no timezone"
    )


def test_event_time_is_converted_to_utc() -> None:
    event = ok(good(event_time="2026-11-24T12:15:02.5+02:00"))
    assert event.event_time == datetime(2026, 11, 24, 10, 15, 2, 500000, tzinfo=UTC)
    assert event.event_time.utcoffset() == timedelta(0)


def test_event_time_in_the_future() -> None:
    assert reason(good(event_time="2031-01-01T00:00:00Z")) == (
        "field 'event_time': more than 1 day in the future"
    )
    assert ok(good(event_time="2026-11-25T12:00:00Z")).event_time == NOW + timedelta(days=1)
    assert reason(good(event_time="2026-11-25T12:00:00.001Z")).endswith("1 day in the future")
    assert reason(good(event_time="2026-11-24T18:00:01Z"), max_future=timedelta(hours=6)) == (
        "field 'event_time': more than 6 hours in the future"
    )


def test_session_id() -> None:
    assert reason(good(session_id=None)) == (
        "field 'session_id': expected a non-empty string, got null"
    )
    assert reason(good(session_id="s" * 129)) == (
        "field 'session_id': longer than 128 characters (129)"
    )


def test_customer_number() -> None:
    assert reason(good(customer_number="103")) == (
        "field 'customer_number': expected an integer or null, got a string"
    )
    assert reason(good(customer_number=1.5)) == (
        "field 'customer_number': expected an integer or null, got a number"
    )
    assert reason(good(customer_number=2**63)) == ("field 'customer_number': out of range (int64)")
    assert ok(good(customer_number=None)).customer_number is None


@pytest.mark.parametrize("event_type", ["add_to_cart", "remove_from_cart", "purchase"])
def test_product_code_required_for_cart_and_purchase(event_type: str) -> None:
    assert reason(good(event_type=event_type, product_code=None)) == (
        f"field 'product_code': required for {event_type} events"
    )


def test_product_code_optional_for_page_views_and_searches() -> None:
    page = ok(good(event_type="page_view", product_code=None, quantity=None, price=None))
    assert page.product_code is None
    search = ok(good(event_type="search", product_code=None, quantity=None, query="mustang"))
    assert (search.product_code, search.query) == (None, "mustang")


def test_product_code_type_and_catalogue() -> None:
    assert reason(good(product_code=123)) == (
        "field 'product_code': expected a non-empty string or null, got an integer"
    )
    assert reason(good(product_code="S99_9999")) == (
        "field 'product_code': unknown product (not in the catalogue)"
    )
    assert ok(good(product_code="S99_9999"), known=None).product_code == "S99_9999"


def test_quantity() -> None:
    assert reason(good(quantity="three")) == (
        "field 'quantity': expected an integer >= 1, got a string"
    )
    assert reason(good(quantity=0)) == "field 'quantity': expected an integer >= 1, got an integer"
    assert reason(good(quantity=2.0)) == "field 'quantity': expected an integer >= 1, got a number"
    assert reason(good(quantity=2**31)) == "field 'quantity': out of range (int32)"
    assert reason(good(event_type="add_to_cart", quantity=None)) == (
        "field 'quantity': required for add_to_cart events"
    )
    assert ok(good(event_type="page_view", quantity=None, price=None)).quantity is None


def test_price() -> None:
    assert reason(good(price=None)) == "field 'price': required for purchase events"
    assert reason(good(price=-1)) == "field 'price': expected a number >= 0, got a negative integer"
    assert reason(good(price="19.99")) == "field 'price': expected a number >= 0, got a string"
    assert reason(good(price=False)) == "field 'price': expected a number >= 0, got false"
    assert reason(good(price=19.999)) == "field 'price': more than 2 decimals"
    assert reason(good(price=1e8)) == "field 'price': does not fit decimal(10,2)"
    assert ok(good(price=19.9)).price == Decimal("19.90")
    assert ok(good(price=20)).price == Decimal("20.00")
    assert ok(good(price=0)).price == Decimal("0.00")
    assert ok(good(price=99999999.99)).price == Decimal("99999999.99")
    assert ok(good(event_type="add_to_cart", price=None)).price is None


def test_device() -> None:
    assert reason(good(device="tv")) == (
        "field 'device': expected one of app, bot, mobile, web, got a string"
    )


def test_query() -> None:
    search = {"event_type": "search", "product_code": None, "quantity": None, "price": None}
    assert reason(good(**search)) == (
        "field 'query': expected a non-empty string for search, got null"
    )
    assert reason(good(**search, query="")) == (
        "field 'query': expected a non-empty string for search, got an empty string"
    )
    assert reason(good(query="mustang")) == (
        "field 'query': only allowed for search events, got a string"
    )


def test_first_problem_wins() -> None:
    assert reason(good(event_id="", device="tv")).startswith("field 'event_id'")


PERSONAL = {"query": "jane.doe@example.com +1 555 0100", "session_id": 31415926, "device": "Jane"}


@pytest.mark.parametrize(("name", "value"), PERSONAL.items())
def test_reasons_name_the_field_and_rule_never_the_value(name: str, value: object) -> None:
    text = reason(good(**{name: value}))
    assert text.startswith(f"field '{name}': ")
    assert str(value) not in text and "jane" not in text.lower()


# -- encode, round trips, Arrow -----------------------------------------------------------


def test_encode_is_compact_json() -> None:
    assert encode({"a": 1, "b": None, "c": "ü"}) == '{"a":1,"b":null,"c":"ü"}'.encode()


def test_round_trip_dict_and_event() -> None:
    for event in (
        good(),
        good(event_type="page_view", customer_number=None, quantity=None, price=None),
        good(event_type="search", product_code=None, quantity=None, price=None, query="1:18 ford"),
        good(event_type="add_to_cart", price=0.1, quantity=5, device="app"),
    ):
        parsed = ok(event)
        assert parsed.to_dict() == event
        assert encode(parsed) == encode(event)
        assert ok(json.loads(encode(parsed))) == parsed


def test_encode_accepts_decimal_and_datetime() -> None:
    moment = datetime(2026, 11, 24, 10, 15, 2, 123456, tzinfo=UTC)
    raw = encode(good(price=Decimal("5.10"), event_time=moment))
    assert json.loads(raw)["event_time"] == "2026-11-24T10:15:02.123456Z"
    assert ok(json.loads(raw)).price == Decimal("5.10")


def test_events_to_arrow_types_and_values() -> None:
    rows = [
        ok(good()),
        ok(good(event_type="search", customer_number=None, product_code=None, quantity=None,
                price=None, query="ford", device="mobile")),
    ]  # fmt: skip
    table = events_to_arrow(rows)
    assert table.schema == EVENTS_SCHEMA
    assert table.schema.field("event_time").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("price").type == pa.decimal128(10, 2)
    assert table.schema.field("quantity").type == pa.int32()
    assert table.schema.field("customer_number").type == pa.int64()
    assert table.schema.field("schema_version").type == pa.int32()
    assert (
        table["event_time"].to_pylist()
        == [datetime(2026, 11, 24, 10, 15, 2, 123000, tzinfo=UTC)] * 2
    )
    assert table["price"].to_pylist() == [Decimal("136.50"), None]
    assert table["quantity"].to_pylist() == [2, None]
    assert table["customer_number"].to_pylist() == [103, None]
    assert table["query"].to_pylist() == [None, "ford"]
    assert events_to_arrow([]).num_rows == 0


def test_dead_letters_to_arrow() -> None:
    refused = [Invalid("bad JSON: Expecting value at char 0", b"\xff{")]
    table = dead_letters_to_arrow(refused)
    assert table.schema == DEAD_LETTERS_SCHEMA
    assert table.column_names == ["payload", "reason"]
    assert table.to_pylist() == [
        {"payload": "\ufffd{", "reason": "bad JSON: Expecting value at char 0"}
    ]
