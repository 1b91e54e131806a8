"""Every value DuckDB can return becomes JSON (or CSV) text; no column is lost to a repeated
name."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pyarrow as pa
import pytest

from shoplake.lake.query_json import (
    csv_text,
    duration,
    faithful,
    iso_date,
    json_rows,
    unique_names,
)


def rows_of(sql: str) -> list[dict[str, object]]:
    table = faithful(duckdb.connect().sql(sql)).to_arrow_table()
    rows = json_rows(table)
    json.dumps(rows, allow_nan=False)  # strict JSON: no NaN, no Infinity
    return rows


def test_dates_and_timestamps_out_of_pythons_range() -> None:
    sql = (
        "SELECT 'infinity'::date AS d, '-infinity'::date AS e, '10000-01-01'::date AS f, "
        "'0044-03-15 (BC)'::date AS g, DATE '2020-02-29' AS h, 'infinity'::timestamp AS t, "
        "'-infinity'::timestamptz AS u, '10000-01-01 12:34:56.5'::timestamp AS v, "
        "'10000-01-02'::timestamptz AS w, TIMESTAMP '2020-01-01 01:02:03' AS x"
    )
    assert rows_of(sql) == [
        {
            "d": "infinity",
            "e": "-infinity",
            "f": "+10000-01-01",
            "g": "-0043-03-15",
            "h": "2020-02-29",
            "t": "infinity",
            "u": "-infinity",
            "v": "+10000-01-01T12:34:56.500000",
            "w": "+10000-01-02T00:00:00+00:00",
            "x": "2020-01-01T01:02:03",
        }
    ]


def test_numbers_intervals_bytes_and_nested_values() -> None:
    sql = (
        "SELECT 'inf'::double AS a, '-inf'::float AS b, 'nan'::double AS c, "
        "12345678901234567890123456789012345678::hugeint AS h, 0.1::decimal(18,3) AS e, "
        "123456789012345678.12::decimal(38,2) AS f, "
        "340282366920938463463374607431768211455::uhugeint AS u, "
        "INTERVAL '1 month 2 days 3.5 seconds' AS i, INTERVAL '-3 hours' AS n, "
        "'\\xAA\\x00'::blob AS bl, '101'::bit AS bt, '12:00:00+02'::timetz AS tz, "
        "[DATE 'infinity', NULL] AS l, {'x': TIMESTAMP 'infinity', 'y': [1.5]} AS s, "
        "MAP {'k': 'v'} AS m, '0bd6f4c4-6f4e-4c5e-9b0a-1f2e3d4c5b6a'::uuid AS id"
    )
    assert rows_of(sql) == [
        {
            "a": "inf",
            "b": "-inf",
            "c": "nan",
            "h": "12345678901234567890123456789012345678",
            "e": 0.1,
            "f": "123456789012345678.12",
            "u": "340282366920938463463374607431768211455",
            "i": "P1M2DT3.5S",
            "n": "PT-3H",
            "bl": "aa00",
            "bt": "101",
            "tz": "12:00:00+02",
            "l": ["infinity", None],
            "s": {"x": "infinity", "y": [1.5]},
            "m": [["k", "v"]],
            "id": "0bd6f4c4-6f4e-4c5e-9b0a-1f2e3d4c5b6a",
        }
    ]


def test_repeated_column_names_each_keep_their_value() -> None:
    assert rows_of("SELECT 1 AS a, 2 AS a, 3 AS a_1, 4 AS a") == [
        {"a": 1, "a_2": 2, "a_1": 3, "a_3": 4}
    ]
    assert unique_names(["x", "y", "x", "x"]) == ["x", "y", "x_1", "x_2"]


@pytest.mark.parametrize(
    ("months", "days", "nanoseconds", "text"),
    [
        (0, 0, 0, "PT0S"),
        (14, 0, 0, "P1Y2M"),
        (0, 3, 0, "P3D"),
        (0, 0, 3_723_000_000_001, "PT1H2M3.000000001S"),
        (-1, -2, 0, "P-1M-2D"),
    ],
)
def test_durations(months: int, days: int, nanoseconds: int, text: str) -> None:
    assert duration(months, days, nanoseconds) == text


def test_iso_dates_agree_with_python_where_python_reaches() -> None:
    epoch = dt.date(1970, 1, 1)
    for days in range(-719_162, 2_932_897, 997):  # 0001-01-01 … 9999-12-31
        assert iso_date(days) == (epoch + dt.timedelta(days=days)).isoformat()
    assert iso_date(2_932_897) == "+10000-01-01"
    assert iso_date(-719_163) == "0000-12-31"


def test_csv_writes_every_type() -> None:
    table = faithful(
        duckdb.connect().sql(
            "SELECT 1 AS a, 1 AS a, 4.50::decimal(10,2) AS p, 'infinity'::date AS d, "
            "INTERVAL '1 day' AS i, [1, 2] AS l, {'k': 'v'} AS s, '\\xAA'::blob AS b"
        )
    ).to_arrow_table()
    assert csv_text(table).splitlines() == [
        '"a","a","p","d","i","l","s","b"',
        '1,1,4.50,"infinity","P1D","[1, 2]","{""k"": ""v""}","aa"',
    ]


def test_an_empty_table_has_no_rows() -> None:
    assert json_rows(pa.table({"a": pa.array([], pa.date32())})) == []
