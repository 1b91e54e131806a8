"""Source columns and their Arrow types: reflection of a source table into a typed schema."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from shoplake.errors import IngestError, SourceError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

TIMESTAMP = pa.timestamp("us")
TIMESTAMP_TZ = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class SourceColumn:
    """One column of a source table with the Arrow type bronze stores it as."""

    name: str
    arrow_type: pa.DataType
    nullable: bool


def arrow_type_for(sql_type: Any) -> pa.DataType:
    """Map a reflected SQLAlchemy type to the Arrow type bronze uses for it.

    Integers up to SMALLINT become int32, other integers int64; NUMERIC(p, s) keeps its
    precision and scale; text of any length is string; unknown types land as string.
    """
    from sqlalchemy import types as t

    if isinstance(sql_type, t.Boolean):
        return pa.bool_()
    if isinstance(sql_type, t.SmallInteger):
        return pa.int32()
    if isinstance(sql_type, t.Integer):
        return pa.int64()
    if isinstance(sql_type, t.Numeric) and not isinstance(sql_type, t.Float):
        precision, scale = sql_type.precision, sql_type.scale
        if precision is None:
            return pa.float64()
        return pa.decimal128(min(int(precision), 38), int(scale or 0))
    if isinstance(sql_type, (t.Float, t.REAL)):
        return pa.float64()
    if isinstance(sql_type, t.DateTime):
        return TIMESTAMP_TZ if getattr(sql_type, "timezone", False) else TIMESTAMP
    if isinstance(sql_type, t.Date):
        return pa.date32()
    if isinstance(sql_type, t.Time):
        return pa.time64("us")
    if isinstance(sql_type, (t.LargeBinary, t._Binary)):
        return pa.binary()
    return pa.string()


def reflect_columns(engine: Engine, table: str) -> list[SourceColumn]:
    """The columns of a source table, in source order; SourceError if it does not exist."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

    try:
        inspector = inspect(engine)
        columns = inspector.get_columns(table)
    except NoSuchTableError:
        raise _missing_table(table) from None
    except SQLAlchemyError as exc:
        raise SourceError(f"cannot read the schema of source table {table!r}: {exc}") from None
    if not columns:
        raise _missing_table(table)
    return [
        SourceColumn(col["name"], arrow_type_for(col["type"]), bool(col.get("nullable", True)))
        for col in columns
    ]


def _missing_table(table: str) -> SourceError:
    return SourceError(
        f"source table {table!r} does not exist or is not visible to this user; "
        f"bronze.{table}, if any, is left as it was"
    )


def reflect_primary_key(engine: Engine, table: str) -> list[str]:
    """The primary key columns of a source table (empty if it has none)."""
    from sqlalchemy import inspect

    constraint = inspect(engine).get_pk_constraint(table)
    return list(constraint.get("constrained_columns") or [])


def list_source_tables(engine: Engine) -> list[str]:
    """Every table in the source's default schema."""
    from sqlalchemy import inspect

    return sorted(inspect(engine).get_table_names())


def arrow_schema(columns: list[SourceColumn]) -> pa.Schema:
    """The Arrow schema of extracted batches (every field nullable, as bronze stores it)."""
    return pa.schema([pa.field(c.name, c.arrow_type) for c in columns])


def describe_type(arrow_type: pa.DataType) -> str:
    """How an error names the bronze type a value must fit (``a date``, ``decimal(10, 2)``)."""
    if pa.types.is_boolean(arrow_type):
        return "a boolean (0 or 1)"
    if pa.types.is_integer(arrow_type):
        return (
            "an integer" if arrow_type.bit_width == 64 else f"a {arrow_type.bit_width}-bit integer"
        )
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision}, {arrow_type.scale})"
    if pa.types.is_floating(arrow_type):
        return "a number"
    if pa.types.is_timestamp(arrow_type):
        return "a timestamp"
    if pa.types.is_date(arrow_type):
        return "a date"
    if pa.types.is_time(arrow_type):
        return "a time of day"
    return str(arrow_type)


def describe_key(key: dict[str, Any]) -> str:
    """``orderNumber=10100, productCode='S18_1749'``: how an error names one row."""
    return ", ".join(f"{name}={value!r}" for name, value in key.items())


def bad_value_error(table: str, column: str, problem: str, key: dict[str, Any]) -> IngestError:
    """The one-line refusal of a value: table, column and the row's key, never the value.

    The value itself is left out because any column may hold personal data.
    """
    where = f" in row {describe_key(key)}" if key else ""
    return IngestError(f"{table}.{column}{where}: {problem}; nothing written for {table}")


def conform_column(array: pa.Array, target: pa.DataType, *, table: str, column: str) -> pa.Array:
    """Cast one extracted column to its bronze type, rounding floats into decimals exactly.

    Raises IngestError naming table and column when a value cannot be represented (text in
    a numeric column, an out-of-range number, a malformed date).
    """
    try:
        return _cast(array, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        problem = f"value is not {describe_type(target)}"
        raise bad_value_error(table, column, problem, {}) from None


#: Days (date32) and microseconds (timestamp[us]) of 0001-01-01 and of 9999-12-31's last
#: instant: the calendar Python, Parquet statistics and every reader share. PostgreSQL's
#: 'infinity' arrives as the extreme 32/64-bit value; year 0 parses from text.
CALENDAR_DAYS = (-719_162, 2_932_896)
CALENDAR_MICROS = (-62_135_596_800_000_000, 253_402_300_799_999_999)


def _cast(array: pa.Array, target: pa.DataType) -> pa.Array:
    """``array`` as ``target``; ArrowInvalid when any value cannot be represented exactly."""
    result = _convert(array, target)
    if pa.types.is_date32(target) or pa.types.is_timestamp(target):
        _refuse_outside_calendar(result)
    return result


def _refuse_outside_calendar(array: pa.Array) -> None:
    import pyarrow.compute as pc

    low, high = CALENDAR_DAYS if pa.types.is_date32(array.type) else CALENDAR_MICROS
    if pa.types.is_timestamp(array.type) and array.type.unit != "us":
        array = array.cast(pa.timestamp("us", tz=array.type.tz), safe=False)
    numbers = array.view(pa.int32() if pa.types.is_date32(array.type) else pa.int64())
    extremes = pc.min_max(numbers).as_py()
    if extremes["min"] is not None and not low <= extremes["min"] <= extremes["max"] <= high:
        raise pa.ArrowInvalid("outside years 1 to 9999")


def _convert(array: pa.Array, target: pa.DataType) -> pa.Array:
    import pyarrow.compute as pc

    if array.type == target:
        return array
    if pa.types.is_decimal(target) and pa.types.is_floating(array.type):
        # A double is rarely the exact decimal it stands for (72.82 is 72.8199…): round to the
        # scale, then cast unchecked; the unchecked cast turns overflow and infinities into a
        # silent 0, so the magnitude is checked first.
        rounded = pc.round(array, target.scale)
        fits = pc.less(pc.abs(rounded), 10.0 ** (target.precision - target.scale))
        if not pc.all(fits).as_py():  # NaN and infinities compare false too
            raise pa.ArrowInvalid(f"value out of range for {target}")
        return rounded.cast(target, safe=False)
    if pa.types.is_timestamp(target) and pa.types.is_string(array.type):
        return _parse_timestamps(array, target)
    return array.cast(target)


def _parse_timestamps(array: pa.Array, target: pa.DataType) -> pa.Array:
    """Parse ISO-8601 text (``2005-06-01 12:00:00[.ffffff]``) into timestamps."""
    import pyarrow.compute as pc

    text = pc.replace_substring(array, " ", "T", max_replacements=1)
    parsed = text.cast(pa.timestamp("us", tz=target.tz) if target.tz else pa.timestamp("us"))
    return parsed


def first_bad_row(array: pa.Array, target: pa.DataType) -> int | None:
    """Position of the first value of ``array`` that cannot be cast to ``target``."""
    for index in range(len(array)):
        try:
            _cast(array.slice(index, 1), target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return index
    return None


def row_key(batch: pa.RecordBatch, key: Sequence[str], index: int) -> dict[str, Any]:
    """The key columns' values of one row of ``batch``."""
    return {name: batch.column(name)[index].as_py() for name in key}


def conform_batch(
    batch: pa.RecordBatch, schema: pa.Schema, *, table: str, key: Sequence[str] = ()
) -> pa.RecordBatch:
    """Cast an extracted batch to the bronze column types, column by column.

    A value that does not fit is refused naming table, column and the row's ``key``.
    """
    arrays = []
    for i, field in enumerate(schema):
        try:
            arrays.append(_cast(batch.column(i), field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            index = first_bad_row(batch.column(i), field.type)
            where = row_key(batch, key, index) if index is not None else {}
            problem = f"value is not {describe_type(field.type)}"
            raise bad_value_error(table, field.name, problem, where) from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def require_columns(columns: list[SourceColumn], names: list[str], *, table: str) -> None:
    """IngestError if a configured key or cursor column is not in the source table."""
    known = {c.name for c in columns}
    for name in names:
        if name not in known:
            raise IngestError(f"{table}.{name}: configured column does not exist in the source")
