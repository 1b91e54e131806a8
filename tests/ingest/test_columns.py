"""Type mapping and value conversion from source columns to bronze."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from sqlalchemy import types as t

from shoplake.ingest.columns import arrow_type_for, conform_column


@pytest.mark.parametrize(
    ("sql_type", "expected"),
    [
        (t.Integer(), pa.int64()),
        (t.SmallInteger(), pa.int32()),
        (t.BigInteger(), pa.int64()),
        (t.Numeric(10, 2), pa.decimal128(10, 2)),
        (t.Float(), pa.float64()),
        (t.String(50), pa.string()),
        (t.Text(), pa.string()),
        (t.Date(), pa.date32()),
        (t.DateTime(), pa.timestamp("us")),
        (t.DateTime(timezone=True), pa.timestamp("us", tz="UTC")),
        (t.LargeBinary(), pa.binary()),
        (t.Boolean(), pa.bool_()),
    ],
)
def test_arrow_type_for_sql_types(sql_type: t.TypeEngine, expected: pa.DataType) -> None:
    assert arrow_type_for(sql_type) == expected


def test_floats_round_exactly_into_decimals() -> None:
    # 72.82 is 72.8199999… as a double; bronze must store the cent value the source meant.
    floats = pa.array([72.82, 0.1 + 0.2, 117.44, None, 9_999_999.99])
    result = conform_column(floats, pa.decimal128(10, 2), table="t", column="c")
    assert result.to_pylist() == [
        Decimal("72.82"),
        Decimal("0.30"),
        Decimal("117.44"),
        None,
        Decimal("9999999.99"),
    ]


def test_text_timestamps_and_dates_parse() -> None:
    stamps = pa.array(["2005-06-01 12:00:00.000000", "2005-06-02 08:30:15", None])
    parsed = conform_column(stamps, pa.timestamp("us"), table="t", column="c")
    assert parsed.to_pylist() == [
        dt.datetime(2005, 6, 1, 12),
        dt.datetime(2005, 6, 2, 8, 30, 15),
        None,
    ]
    dates = conform_column(pa.array(["2003-01-06"]), pa.date32(), table="t", column="c")
    assert dates.to_pylist() == [dt.date(2003, 1, 6)]
