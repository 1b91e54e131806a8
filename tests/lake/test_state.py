"""Ingestion state round-trips through its JSON form with types intact."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from shoplake.lake.state import IngestState, decode_value, encode_value


@pytest.mark.parametrize(
    "value",
    [
        None,
        10425,
        "S18_1749",
        Decimal("72.82"),
        dt.date(2005, 5, 31),
        dt.datetime(2005, 6, 1, 12, 0, 1, 5),
    ],
)
def test_watermark_round_trip(value: object) -> None:
    decoded = decode_value(encode_value(value))
    assert decoded == value
    assert type(decoded) is type(value)


def test_state_json_round_trip() -> None:
    state = IngestState(
        batch_id=3,
        strategy="cursor",
        cursor="ratedAt",
        watermark=dt.datetime(2005, 6, 1, 12),
        primary_key=["customerNumber", "productCode"],
    )
    assert IngestState.from_json(state.to_json()) == state
