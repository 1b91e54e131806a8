"""SQL tests that find SQLite values their column's bronze type cannot hold.

SQLite stores any value in any column: text in a NUMERIC column stays text, and the
extractor's ``CAST(col AS REAL)`` would turn ``'N/A'`` into 0 and ``'12abc'`` into 12. Each
numeric or boolean column therefore gets a condition that is true when its value does not
fit (wrong storage class, out of range). The extractor reads one extra small column flagging
such a column per row, so the check costs no second scan; only when a row is flagged is the
source asked which row it was.

Dates and timestamps need no test here: they are read as text and Arrow's ISO parser, which
converts them after the read, refuses anything but a real day and time (``2003-02-30``, an
integer, a stray space) and the refusal names the row's key. SQLite's date functions cost
more than the whole read of such a column.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from shoplake.ingest.columns import SourceColumn, describe_type

Quote = Callable[[str], str]


def invalid_condition(column: SourceColumn, quote: Quote) -> str | None:
    """SQLite condition true when the column's value cannot be stored as its bronze type.

    None for types checked after the read or that take any value (dates, text, blobs).
    NULLs always fit.
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
        # The largest magnitude that rounds to no more digits than the precision allows
        # (99999999.995 for a decimal(10, 2)). SQLite orders text and blobs after every
        # number, so this one comparison also refuses them, at half the cost of typeof().
        limit = f"{10 ** (kind.precision - kind.scale) - 1}.{'9' * kind.scale}5"
        bad = f"NOT ({col} >= -{limit} AND {col} <= {limit})"
    elif pa.types.is_floating(kind):
        bad = f"typeof({col}) NOT IN ('integer', 'real')"
    else:
        return None
    return f"({col} IS NOT NULL AND ({bad}))"


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
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind):
        allowed = {"integer"}
    else:
        allowed = {"integer", "real"}
    if storage not in allowed:
        return f"holds {storage} where {wanted} is expected"
    return f"is out of range for {wanted}"
