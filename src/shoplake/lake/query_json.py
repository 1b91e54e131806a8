"""Query results as JSON-ready rows, whatever DuckDB can put in a column.

``table.to_pylist()`` fails on values Python's ``datetime`` cannot hold (``'infinity'::date``,
year 10000, 44 BC), loses a column when two share a name, and leaves decimals, bytes, intervals
and non-finite floats that ``json`` cannot write. Here every value becomes something JSON holds:

* dates and timestamps: ISO 8601 (years past 9999 or before 1 with a sign, ``+10000-01-01``;
  ``'infinity'`` and ``'-infinity'`` as those words); times: ``HH:MM:SS[.ffffff]``;
* intervals: ISO 8601 durations (``P1M2DT3.5S``);
* decimals: a number when a float carries the value exactly, else its digits as a string;
* ``inf``, ``-inf`` and ``nan`` doubles: those strings; bytes: hex; UUIDs: their text;
* lists, structs and maps: arrays, objects and ``[key, value]`` pairs, converted the same way;
* BIT, BIGNUM, UHUGEINT and TIME WITH TIME ZONE columns: DuckDB's text for them
  (:func:`faithful`, applied before export, since Arrow would garble them).

Duplicate column names (``SELECT 1 a, 2 a``) become ``a`` and ``a_1`` (:func:`unique_names`).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

#: DuckDB's ``infinity`` and ``-infinity`` as Arrow date32 days and timestamp ticks.
_INFINITE_DAYS = 2**31 - 1
_INFINITE_TICKS = 2**63 - 1
_TICKS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def unique_names(names: Sequence[str]) -> list[str]:
    """``names`` with each repeat renamed ``<name>_1``, ``<name>_2`` … (skipping any taken)."""
    given, used, result = set(names), set(), []
    for name in names:
        chosen, suffix = name, 0
        while chosen in used:
            suffix += 1
            chosen = f"{name}_{suffix}"
            if chosen in given:
                chosen = name  # another column has that name: try the next suffix
        used.add(chosen)
        result.append(chosen)
    return result


def json_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Every row as an object keyed by :func:`unique_names`, each value JSON-ready."""
    names = unique_names(table.column_names)
    columns = [column_values(column) for column in table.columns]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def column_values(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """One column's values, JSON-ready (see the module docstring)."""
    try:
        values: Iterable[Any] = column.to_pylist()
    except (OverflowError, ValueError):  # a date or timestamp Python cannot hold
        return [scalar_value(scalar) for scalar in column]
    return [plain(value) for value in values]


def scalar_value(scalar: pa.Scalar) -> Any:
    """One Arrow value, JSON-ready, without going through Python types that cannot hold it."""
    import pyarrow as pa

    if not scalar.is_valid:
        return None
    kind = scalar.type
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        return _temporal(scalar)
    if pa.types.is_map(kind):
        pairs = scalar.values
        return [[scalar_value(p["key"]), scalar_value(p["value"])] for p in pairs]
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return [scalar_value(item) for item in scalar.values]
    if pa.types.is_struct(kind):
        names = unique_names([kind.field(i).name for i in range(kind.num_fields)])
        return {name: scalar_value(scalar[i]) for i, name in enumerate(names)}
    if pa.types.is_dictionary(kind) or pa.types.is_union(kind):
        return scalar_value(scalar.value)
    try:
        return plain(scalar.as_py())
    except (OverflowError, ValueError):
        return str(scalar)


def plain(value: Any) -> Any:
    """A Python value from Arrow, JSON-ready."""
    import pyarrow as pa

    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        exact = float(value)
        return exact if Decimal(repr(exact)) == value else str(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return duration(0, value.days, (value.seconds * 10**6 + value.microseconds) * 1_000)
    if isinstance(value, pa.MonthDayNano):
        return duration(value.months, value.days, value.nanoseconds)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return str(value)


def duration(months: int, days: int, nanoseconds: int) -> str:
    """An ISO 8601 duration: ``P1Y2M3DT4H5M6.5S``; ``PT0S`` when empty; a part may be
    negative (as DuckDB intervals can be)."""
    years, months = divmod(months, 12) if months >= 0 else (-(-months // 12), -(-months % 12))
    sign, nanoseconds = ("-", -nanoseconds) if nanoseconds < 0 else ("", nanoseconds)
    seconds, fraction = divmod(nanoseconds, 10**9)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    date = "".join(f"{n}{unit}" for n, unit in ((years, "Y"), (months, "M"), (days, "D")) if n)
    text = f"{seconds}.{fraction:09d}".rstrip("0").rstrip(".") if fraction else str(seconds)
    clock = [f"{sign}{hours}H" if hours else "", f"{sign}{minutes}M" if minutes else ""]
    clock.append(f"{sign}{text}S" if seconds or fraction else "")
    time = "".join(clock)
    if not date and not time:
        return "PT0S"
    return f"P{date}" + (f"T{time}" if time else "")


def _temporal(scalar: pa.Scalar) -> str:
    """A date or timestamp from its stored integer, for any year (and DuckDB's infinities)."""
    import pyarrow as pa

    kind = scalar.type
    if pa.types.is_date32(kind):
        days = scalar.cast(pa.int32()).as_py()
        return _infinite(days, _INFINITE_DAYS) or iso_date(days)
    if pa.types.is_date64(kind):
        return iso_date(scalar.cast(pa.int64()).as_py() // 86_400_000)
    ticks = scalar.cast(pa.int64()).as_py()
    infinite = _infinite(ticks, _INFINITE_TICKS)
    if infinite:
        return infinite
    per_second = _TICKS_PER_SECOND[kind.unit]
    days, rest = divmod(ticks, 86_400 * per_second)
    seconds, fraction = divmod(rest, per_second)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    text = f"{iso_date(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}"
    if fraction:
        digits = len(str(per_second)) - 1
        text += f".{fraction:0{digits}d}"
    return text + ("+00:00" if kind.tz else "")


def _infinite(value: int, infinity: int) -> str | None:
    if value == infinity:
        return "infinity"
    if value == -infinity:
        return "-infinity"
    return None


def iso_date(days: int) -> str:
    """The proleptic Gregorian date ``days`` after 1970-01-01, any year: ``0044-03-15``,
    ``-0043-03-15`` (44 BC; ISO years count a year 0), ``+10000-01-01``."""
    shifted = days + 719_468  # days since 0000-03-01
    era = shifted // 146_097
    day_of_era = shifted - era * 146_097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + 3 if shifted_month < 10 else shifted_month - 9
    year = year_of_era + era * 400 + (month <= 2)
    if 0 <= year <= 9999:
        return f"{year:04d}-{month:02d}-{day:02d}"
    return f"{'+' if year > 0 else '-'}{abs(year):04d}-{month:02d}-{day:02d}"


#: DuckDB types whose Arrow export loses or garbles the value (BIT and BIGNUM as opaque bytes,
#: UHUGEINT above 2**127 wrapped negative, TIME WITH TIME ZONE without its offset): their text.
_EXPORTED_AS_TEXT = frozenset({"bit", "bignum", "varint", "uhugeint", "time with time zone"})


def faithful(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """``relation`` with its top-level columns of :data:`_EXPORTED_AS_TEXT` types cast to
    text, so that what reaches Arrow is the value DuckDB computed (names kept, repeats too)."""
    types = [str(t.id) for t in relation.types]
    if not _EXPORTED_AS_TEXT.intersection(types):
        return relation
    columns = []
    for position, (name, kind) in enumerate(zip(relation.columns, types, strict=True), 1):
        quoted = '"' + name.replace('"', '""') + '"'
        cast = "::VARCHAR" if kind in _EXPORTED_AS_TEXT else ""
        columns.append(f"#{position}{cast} AS {quoted}")
    return relation.project(", ".join(columns))


def csv_text(table: pa.Table) -> str:
    """The table as CSV: numbers, text and booleans as Arrow writes them; every other column
    (dates, times, intervals, bytes, lists, structs, maps) as the text of its JSON-ready value."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns = [
        column if _arrow_writes(column.type) else pa.array(_texts(column), pa.string())
        for column in table.columns
    ]
    buffer = io.BytesIO()
    pacsv.write_csv(pa.Table.from_arrays(columns, names=table.column_names), buffer)
    return buffer.getvalue().decode()


def _arrow_writes(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return any(
        check(kind)
        for check in (
            pa.types.is_integer,
            pa.types.is_floating,
            pa.types.is_decimal,
            pa.types.is_string,
            pa.types.is_large_string,
            pa.types.is_boolean,
            pa.types.is_null,
        )
    )


def _texts(column: pa.ChunkedArray) -> list[str | None]:
    import json

    return [
        value if value is None or isinstance(value, str) else json.dumps(value)
        for value in column_values(column)
    ]
