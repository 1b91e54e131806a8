"""Source columns and their Arrow types: reflection of a source table into a typed schema."""

from __future__ import annotations

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
        raise SourceError(f"source table {table!r} does not exist") from None
    except SQLAlchemyError as exc:
        raise SourceError(f"cannot read the schema of source table {table!r}: {exc}") from None
    if not columns:
        raise SourceError(f"source table {table!r} does not exist")
    return [
        SourceColumn(col["name"], arrow_type_for(col["type"]), bool(col.get("nullable", True)))
        for col in columns
    ]


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


def conform_column(array: pa.Array, target: pa.DataType, *, table: str, column: str) -> pa.Array:
    """Cast one extracted column to its bronze type, rounding floats into decimals exactly.

    Raises IngestError naming table, column and the first bad value when a value cannot be
    represented (e.g. text in a numeric column, an out-of-range integer).
    """
    import pyarrow.compute as pc

    if array.type == target:
        return array
    try:
        if pa.types.is_decimal(target) and pa.types.is_floating(array.type):
            array = pc.round(array, target.scale)
            return array.cast(target, safe=False)
        if pa.types.is_timestamp(target) and pa.types.is_string(array.type):
            return _parse_timestamps(array, target)
        return array.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        sample = _first_uncastable(array, target)
        raise IngestError(
            f"{table}.{column}: cannot store {array.type} value {sample!r} as {target} ({exc})"
        ) from None


def _parse_timestamps(array: pa.Array, target: pa.DataType) -> pa.Array:
    """Parse ISO-8601 text (``2005-06-01 12:00:00[.ffffff]``) into timestamps."""
    import pyarrow.compute as pc

    text = pc.replace_substring(array, " ", "T", max_replacements=1)
    parsed = text.cast(pa.timestamp("us", tz=target.tz) if target.tz else pa.timestamp("us"))
    return parsed


def _first_uncastable(array: pa.Array, target: pa.DataType) -> Any:
    for value in array.to_pylist():
        if value is None:
            continue
        try:
            pa.array([value], type=array.type).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return value
    return None


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema, *, table: str) -> pa.RecordBatch:
    """Cast an extracted batch to the bronze column types, column by column."""
    arrays = [
        conform_column(batch.column(i), field.type, table=table, column=field.name)
        for i, field in enumerate(schema)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def require_columns(columns: list[SourceColumn], names: list[str], *, table: str) -> None:
    """IngestError if a configured key or cursor column is not in the source table."""
    known = {c.name for c in columns}
    for name in names:
        if name not in known:
            raise IngestError(f"{table}.{name}: configured column does not exist in the source")
