"""Fast bulk inserts of Arrow tables into existing source tables.

SQLite gets one ``executemany`` on the raw DB-API connection, PostgreSQL a psycopg 3
``COPY … FROM STDIN`` of Arrow-written CSV, anything else SQLAlchemy Core executemany. Values
land in the same form SQLAlchemy itself would write them: decimals exact (through integer
arithmetic, never binary floats formatted by Arrow), dates as dates, timestamps as timestamps.
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shoplake.errors import SourceError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Connection, Engine


def decimal_array(cents: np.ndarray, precision: int = 10, scale: int = 2) -> pa.Array:
    """An exact decimal128 array from integer unscaled values (e.g. cents for scale 2)."""
    unscaled = np.asarray(cents, dtype=np.int64)
    words = np.stack([unscaled, unscaled >> 63], axis=1)  # little-endian 128-bit two's complement
    buffer = pa.py_buffer(np.ascontiguousarray(words).tobytes())
    return pa.Array.from_buffers(pa.decimal128(precision, scale), len(unscaled), [None, buffer])


def unscaled(array: pa.Array) -> np.ndarray:
    """The unscaled int64 values of a decimal128 array with precision <= 18 (nulls as 0)."""
    words = np.frombuffer(array.buffers()[1], dtype=np.int64)
    return words[2 * array.offset : 2 * (array.offset + len(array)) : 2].copy()


@contextmanager
def fresh_schema(conn: Connection) -> Iterator[None]:
    """Drop and create shoplake's source tables around a bulk load in ``conn``'s transaction.

    On PostgreSQL the foreign keys are added after the load (one validating join each instead
    of a deferred trigger per row, several times faster at a million rows); elsewhere they are
    created with the tables. Either way the same constraints exist once the block ends.
    """
    from sqlalchemy.schema import AddConstraint, CreateIndex, CreateTable

    from shoplake.generate.schema import metadata

    metadata.drop_all(conn)
    late = conn.dialect.name == "postgresql"
    for table in metadata.sorted_tables:
        if not late:
            table.create(conn)
            continue
        conn.execute(CreateTable(table, include_foreign_key_constraints=[]))
        for index in table.indexes:
            conn.execute(CreateIndex(index))
    yield
    if late:
        for table in metadata.sorted_tables:
            for constraint in table.foreign_key_constraints:
                conn.execute(AddConstraint(constraint))


def bulk_insert(engine: Engine | Connection, table_name: str, data: pa.Table) -> int:
    """Insert every row of ``data`` into the existing ``table_name``; returns the row count.

    Given an Engine the rows are inserted in one transaction of their own; given a Connection
    they join the caller's open transaction.
    """
    from sqlalchemy.engine import Connection
    from sqlalchemy.exc import SQLAlchemyError

    if data.num_rows == 0:
        return 0
    errors: tuple[type[Exception], ...] = (SQLAlchemyError, *_driver_errors())
    try:
        if isinstance(engine, Connection):
            _insert(engine, table_name, data)
        else:
            with engine.begin() as conn:
                _insert(conn, table_name, data)
    except errors as exc:
        from shoplake.redact import error_message

        raise SourceError(f"cannot insert into {table_name}: {error_message(exc)}") from None
    return data.num_rows


def _driver_errors() -> tuple[type[Exception], ...]:
    """DB-API error classes of the drivers used through raw connections."""
    import sqlite3

    errors: list[type[Exception]] = [sqlite3.Error]
    try:
        import psycopg
    except ImportError:
        pass
    else:
        errors.append(psycopg.Error)
    return tuple(errors)


def _insert(conn: Connection, table_name: str, data: pa.Table) -> None:
    dialect = conn.dialect.name
    quote = conn.dialect.identifier_preparer.quote
    target = f"{quote(table_name)} ({', '.join(quote(c) for c in data.column_names)})"
    if dialect == "sqlite":
        raw = _driver_connection(conn)
        marks = ", ".join("?" * data.num_columns)
        cursor = raw.cursor()
        try:
            cursor.executemany(f"INSERT INTO {target} VALUES ({marks})", _sqlite_rows(data))
        finally:
            cursor.close()
    elif dialect == "postgresql" and conn.dialect.driver == "psycopg":
        raw = _driver_connection(conn)
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {target} FROM STDIN WITH (FORMAT csv)") as copy,
        ):
            for chunk in _csv_chunks(data):
                copy.write(chunk)
    else:
        from sqlalchemy import MetaData, Table

        table = Table(table_name, MetaData(), autoload_with=conn)
        conn.execute(table.insert(), data.to_pylist())


def _driver_connection(conn: Connection) -> Any:
    """The DB-API connection under a SQLAlchemy connection (same transaction)."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise SourceError("the source connection is closed")
    return raw


def _sqlite_rows(data: pa.Table) -> Any:
    """Rows as tuples of what SQLAlchemy's SQLite types store: floats, ISO text, ints, str."""
    columns = [_sqlite_values(data[name].combine_chunks()) for name in data.column_names]
    return zip(*columns, strict=True)


def _sqlite_values(array: pa.Array) -> list[Any]:
    kind = array.type
    if pa.types.is_decimal(kind) and kind.precision <= 18:
        values: list[Any] = (unscaled(array) / 10**kind.scale).tolist()
    elif pa.types.is_date(kind):
        values = pc.cast(array, pa.string()).to_pylist()
    elif pa.types.is_timestamp(kind):
        # SQLAlchemy's SQLite DateTime storage format, microseconds included ("%S" adds them).
        text = pc.strftime(pc.cast(array, pa.timestamp("us")), format="%Y-%m-%d %H:%M:%S")
        return text.to_pylist()
    elif (pa.types.is_integer(kind) or pa.types.is_floating(kind)) and array.null_count == 0:
        return array.to_numpy().tolist()
    else:
        return array.to_pylist()
    if array.null_count:
        for i in np.flatnonzero(pc.is_null(array).to_numpy(zero_copy_only=False)):
            values[i] = None
    return values


def _csv_chunks(data: pa.Table, rows: int = 200_000) -> Any:
    """CSV for COPY: nulls unquoted-empty, strings quoted, decimals/dates/timestamps as text."""
    from pyarrow import csv

    fixed = data
    for i, field in enumerate(data.schema):
        if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            hexed = ["\\x" + v.hex() if v is not None else None for v in data[i].to_pylist()]
            fixed = fixed.set_column(i, field.name, pa.array(hexed, pa.string()))
    options = csv.WriteOptions(include_header=False, quoting_style="needed")
    for batch in fixed.to_batches(max_chunksize=rows):
        sink = io.BytesIO()
        csv.write_csv(pa.Table.from_batches([batch]), sink, options)
        yield sink.getvalue()


def source_table(table_name: str, columns: dict[str, Any]) -> pa.Table:
    """An Arrow table typed like a source table from column values.

    Numeric columns take integer unscaled values (cents); date columns ``datetime64[D]`` and
    timestamp columns ``datetime64`` arrays, NaT meaning NULL; other columns numpy arrays or
    lists (None meaning NULL). Columns follow the schema's order.
    """
    from sqlalchemy import Date, DateTime, Integer, Numeric, SmallInteger

    from shoplake.generate.schema import metadata

    arrays: dict[str, pa.Array] = {}
    for column in metadata.tables[table_name].columns:
        if column.name not in columns:
            continue
        values = columns[column.name]
        kind = column.type
        if isinstance(values, pa.Array):
            arrays[column.name] = values
        elif isinstance(kind, Numeric) and not isinstance(kind, Integer):
            arrays[column.name] = decimal_array(values, kind.precision or 10, kind.scale or 0)
        elif isinstance(kind, (Date, DateTime)):
            unit = "D" if not isinstance(kind, DateTime) else "us"
            moments = np.asarray(values).astype(f"datetime64[{unit}]")
            target = pa.date32() if unit == "D" else pa.timestamp("us")
            arrays[column.name] = pa.array(moments, type=target, mask=np.isnat(moments))
        elif isinstance(kind, SmallInteger):
            arrays[column.name] = pa.array(values, pa.int16())
        elif isinstance(kind, Integer):
            arrays[column.name] = pa.array(values, pa.int32())
        else:
            arrays[column.name] = pa.array(values, pa.string())
    return pa.table(arrays)
