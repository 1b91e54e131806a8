"""SQL tests that find SQLite values their column's bronze type cannot hold.

SQLite stores any value in any column: text in a NUMERIC column stays text, and the
extractor's ``CAST(col AS REAL)`` would turn ``'N/A'`` into 0 and ``'12abc'`` into 12. Each
column of a numeric, date or timestamp type therefore gets a condition that is true when its
value does not fit (wrong storage class, out of range, not a real calendar date). The
extractor reads one extra small column flagging the first such column per row, so the check
costs no second scan; only when a row is flagged is the source asked which row it was.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from shoplake.ingest.columns import SourceColumn, describe_type

Quote = Callable[[str], str]


def invalid_condition(column: SourceColumn, quote: Quote) -> str | None:
    """SQLite condition true when the column's value cannot be stored as its bronze type.

    None for types that take any value (text, blobs). NULLs always fit.
    """
    col, kind = quote(column.name), column.arrow_type
    if pa.types.is_boolean(kind):
        bad = f"typeof({col}) <> 'integer' OR {col} NOT IN (0, 1)"
    elif pa.types.is_integer(kind):
        bad = f"typeof({col}) <> 'integer'"
        if kind.bit_width < 64:
            low, high = -(2 ** (kind.bit_width - 1)), 2 ** (kind.bit_width - 1) - 1
            bad += f" OR {col} NOT BETWEEN {low} AND {high}"
    elif pa.types.is_decimal(kind):
        limit = f"1e{kind.precision - kind.scale}"
        bad = (
            f"typeof({col}) NOT IN ('integer', 'real') "
            f"OR NOT abs(round({col}, {kind.scale})) < {limit}"
        )
    elif pa.types.is_floating(kind):
        bad = f"typeof({col}) NOT IN ('integer', 'real')"
    elif pa.types.is_date(kind):
        bad = f"typeof({col}) <> 'text' OR {_not_calendar_day(col)}"
    elif pa.types.is_timestamp(kind):
        day = f"substr({col}, 1, 10)"
        bad = (
            f"typeof({col}) <> 'text' OR length({col}) < 19 OR {_not_calendar_day(day)} "
            f"OR julianday({col}) IS NULL"
        )
    else:
        return None
    return f"({col} IS NOT NULL AND ({bad}))"


def _not_calendar_day(text: str) -> str:
    """True unless ``text`` is a real YYYY-MM-DD day.

    Going through the Julian day number normalises an impossible day ('2003-02-30' comes
    back as '2003-03-02'); date() alone keeps it in some SQLite versions and not others.
    """
    return f"strftime('%Y-%m-%d', julianday({text})) IS NOT {text}"


def flag_expression(columns: list[SourceColumn], quote: Quote) -> str:
    """An integer per row: 1 + the index of the first column whose value does not fit, or 0."""
    cases = [
        f"WHEN {condition} THEN {index + 1}"
        for index, column in enumerate(columns)
        if (condition := invalid_condition(column, quote)) is not None
    ]
    return f"CASE {' '.join(cases)} ELSE 0 END" if cases else "0"


def problem(column: SourceColumn, storage: str | None) -> str:
    """What is wrong with a flagged value, given the storage class SQLite reports for it."""
    kind = column.arrow_type
    wanted = describe_type(kind)
    if storage is None:
        return f"value is not {wanted}"
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        allowed = {"text"}
    elif pa.types.is_boolean(kind) or pa.types.is_integer(kind):
        allowed = {"integer"}
    else:
        allowed = {"integer", "real"}
    if storage not in allowed:
        return f"holds {storage} where {wanted} is expected"
    if pa.types.is_date(kind):
        return "is not a real calendar date written YYYY-MM-DD"
    if pa.types.is_timestamp(kind):
        return "is not a real date and time written YYYY-MM-DD HH:MM:SS"
    return f"is out of range for {wanted}"
