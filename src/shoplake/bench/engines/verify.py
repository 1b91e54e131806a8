"""Check an engine's output against the published model table, row for row.

Both tables are normalised first: the compared columns only, in the published table's order;
integers to int64, decimals and floats to float64, dates and timestamps to UTC microseconds,
strings to plain strings. Rows are sorted on every column (exact ones first). Floats match within a
relative 1e-9 or an absolute 1e-6 (the model's session durations are differences of epoch
seconds as doubles, exact to about 2.4e-7 s only); a decimal within one unit of its last place,
since engines without decimals compute it in floating point before rounding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

REL_TOL = 1e-9
ABS_TOL = 1e-6


class MismatchError(AssertionError):
    """An engine's output differs from the published table."""


def check_equal(
    engine: str,
    workload: str,
    actual: pa.Table,
    expected: pa.Table,
    columns: tuple[str, ...] | None = None,
) -> None:
    """Raise :class:`MismatchError` naming engine, workload and the first differing row."""
    import pyarrow.compute as pc

    names = list(columns or expected.column_names)
    where = f"{engine} / {workload}"
    missing = [c for c in names if c not in actual.column_names]
    if missing:
        raise MismatchError(f"{where}: output lacks columns {missing}")
    if actual.num_rows != expected.num_rows:
        raise MismatchError(
            f"{where}: {actual.num_rows:,} rows, the published table has {expected.num_rows:,}"
        )
    tolerances = {c: _tolerance(expected.schema.field(c).type) for c in names}
    left = _sorted(_normalised(actual.select(names)), tolerances)
    right = _sorted(_normalised(expected.select(names)), tolerances)
    differs = None
    for name in names:
        a, b = left.column(name), right.column(name)
        same = _same(a, b, tolerances[name])
        bad = pc.invert(same)
        if pc.any(bad).as_py():
            first = pc.index(bad, True).as_py()
            differs = first if differs is None else min(differs, first)
    if differs is not None:
        raise MismatchError(
            f"{where}: row {differs} (sorted) differs: got {_row(left, differs)}, "
            f"published {_row(right, differs)}"
        )


def _tolerance(kind: pa.DataType) -> float | None:
    """None for exact columns; else the absolute tolerance of a float/decimal column."""
    import pyarrow.types as pt

    if pt.is_decimal(kind):
        return 10.0**-kind.scale
    if pt.is_floating(kind):
        return ABS_TOL
    return None


def _normalised(table: pa.Table) -> pa.Table:
    import pyarrow as pa
    import pyarrow.types as pt

    columns = []
    for column in table.columns:
        kind = column.type
        if pt.is_dictionary(kind):
            column = column.cast(kind.value_type)
            kind = column.type
        if pt.is_integer(kind):
            column = column.cast(pa.int64())
        elif pt.is_decimal(kind) or pt.is_floating(kind):
            column = column.cast(pa.float64())
        elif pt.is_timestamp(kind) or pt.is_date(kind):
            column = column.cast(pa.timestamp("us")).cast(pa.int64())
        elif pt.is_large_string(kind) or pt.is_string_view(kind):
            column = column.cast(pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names).combine_chunks()


def _sorted(table: pa.Table, tolerances: dict[str, float | None]) -> pa.Table:
    exact = [c for c in table.column_names if tolerances[c] is None]
    approximate = [c for c in table.column_names if tolerances[c] is not None]
    return table.sort_by([(c, "ascending") for c in exact + approximate])


def _same(a: pa.ChunkedArray, b: pa.ChunkedArray, tolerance: float | None) -> pa.Array:
    """Element-wise: equal (within tolerance), or both null."""
    import pyarrow.compute as pc

    both_null = pc.and_(pc.is_null(a), pc.is_null(b))
    if tolerance is None:
        equal = pc.equal(a, b)
    else:
        allowed = pc.max_element_wise(pc.multiply(pc.abs(b), REL_TOL), tolerance * (1 + 1e-6))
        equal = pc.less_equal(pc.abs(pc.subtract(a, b)), allowed)
    return pc.or_(pc.fill_null(equal, False), both_null)


def _row(table: pa.Table, index: int) -> dict[str, object]:
    return table.slice(index, 1).to_pylist()[0]
