"""Arrow-native extraction from the source in bounded batches.

Three extractors share one interface: ADBC for SQLite and PostgreSQL (columnar, fast) and
SQLAlchemy for every other database. Each yields record batches already cast to the bronze
column types, so every backend produces identical bronze rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from shoplake.errors import SourceError
from shoplake.ingest.columns import SourceColumn, arrow_schema, bad_value_error, conform_batch
from shoplake.ingest.sqlite_checks import flag_expression, invalid_condition, problem
from shoplake.redact import error_message, redact
from shoplake.sourcedb import create_source_engine, dialect, libpq_uri, sqlite_path

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.sql import Select


@dataclass(frozen=True)
class CursorRange:
    """Rows whose cursor column lies between ``low`` and ``high`` (inclusive).

    ``low`` None reads from the start; ``low_inclusive=False`` excludes the low bound.
    """

    column: str
    low: Any
    high: Any
    low_inclusive: bool = True


class Extractor(Protocol):
    """Reads source tables as Arrow record batches."""

    engine: Engine

    def count(self, table: str, columns: list[SourceColumn], where: CursorRange | None) -> int:
        """Rows the matching extraction will return."""
        ...

    def max_value(self, table: str, column: str, low: Any) -> Any:
        """The largest value of ``column`` (at or above ``low`` when given), or None."""
        ...

    def null_count(self, table: str, column: str) -> int:
        """Rows whose ``column`` is NULL."""
        ...

    def batches(
        self,
        table: str,
        columns: list[SourceColumn],
        where: CursorRange | None,
        batch_rows: int,
        key: Sequence[str] = (),
    ) -> Iterator[pa.RecordBatch]:
        """The table's rows (optionally a cursor range) in batches of bronze-typed columns.

        A value its column's type cannot hold is an IngestError naming the row by ``key``.
        """
        ...


class SqlAlchemyExtractor:
    """Portable extraction through SQLAlchemy with server-side cursors where supported."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_source_engine(url)

    def _table(self, table: str, columns: list[SourceColumn]) -> Any:
        from sqlalchemy import column as sa_column
        from sqlalchemy import table as sa_table

        return sa_table(table, *(sa_column(c.name) for c in columns))

    def _select(
        self, table: str, columns: list[SourceColumn], where: CursorRange | None, exprs: list[Any]
    ) -> Select[Any]:
        from sqlalchemy import column as sa_column
        from sqlalchemy import select

        source = self._table(table, columns)
        query = select(*exprs).select_from(source)
        if where is not None:
            cursor: Any = sa_column(where.column)
            if where.low is not None:
                above = cursor >= where.low if where.low_inclusive else cursor > where.low
                query = query.where(above)
            query = query.where(cursor <= where.high)
        return query

    def _run(self, query: Any, table: str) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self.engine.connect() as conn:
                return conn.execute(query).scalar()
        except SQLAlchemyError as exc:
            raise SourceError(
                f"reading source table {table!r} failed on {redact(self.url)!r}: "
                f"{error_message(exc, url=self.url)}"
            ) from None

    def count(self, table: str, columns: list[SourceColumn], where: CursorRange | None) -> int:
        from sqlalchemy import func

        return int(self._run(self._select(table, columns, where, [func.count()]), table) or 0)

    def max_value(self, table: str, column: str, low: Any) -> Any:
        from sqlalchemy import column as sa_column
        from sqlalchemy import func, select
        from sqlalchemy import table as sa_table

        cursor: Any = sa_column(column)
        query = select(func.max(cursor)).select_from(sa_table(table, cursor))
        if low is not None:
            query = query.where(cursor >= low)
        return self._run(query, table)

    def null_count(self, table: str, column: str) -> int:
        from sqlalchemy import column as sa_column
        from sqlalchemy import func, select
        from sqlalchemy import table as sa_table

        value: Any = sa_column(column)
        query = select(func.count()).select_from(sa_table(table, value)).where(value.is_(None))
        return int(self._run(query, table) or 0)

    def batches(
        self,
        table: str,
        columns: list[SourceColumn],
        where: CursorRange | None,
        batch_rows: int,
        key: Sequence[str] = (),
    ) -> Iterator[pa.RecordBatch]:
        from sqlalchemy import column as sa_column
        from sqlalchemy.exc import SQLAlchemyError

        schema = arrow_schema(columns)
        query = self._select(table, columns, where, [sa_column(c.name) for c in columns])
        try:
            with self.engine.connect() as conn:
                result = conn.execution_options(stream_results=True).execute(query)
                while rows := result.fetchmany(batch_rows):
                    arrays = [driver_values(values) for values in zip(*rows, strict=True)]
                    raw = pa.RecordBatch.from_arrays(arrays, names=schema.names)
                    yield conform_batch(raw, schema, table=table, key=key)
        except SQLAlchemyError as exc:
            reason = error_message(exc, url=self.url)
            raise SourceError(f"reading source table {table!r} failed: {reason}") from None


def driver_values(values: Sequence[Any]) -> pa.Array:
    """One column of driver values as Arrow; a column of mixed Python types becomes text.

    A loosely typed source (SQLite, MySQL outside strict mode with its '0000-00-00' dates)
    can mix types in one column; as text, the conversion to the bronze type that follows
    refuses exactly the values that do not fit, naming their row.
    """
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


class SqliteExtractor(SqlAlchemyExtractor):
    """ADBC's columnar SQLite reader.

    ADBC infers each column's type from the first rows it sees, which breaks on SQLite's
    dynamic typing (a column NULL at first, text later). Every column is therefore CAST to
    one storage class and a typed "primer" row is put first, then dropped. Because a CAST
    turns text into 0, each row also carries a flag naming the first column whose value
    does not fit its type (see sqlite_checks); a flagged row stops the read.
    """

    FLAG = "_shoplake_unfit"

    @staticmethod
    def _storage_class(arrow_type: pa.DataType) -> tuple[str, str]:
        """The SQLite storage class a column is read as, and its typed zero for the primer."""
        if pa.types.is_integer(arrow_type) or pa.types.is_boolean(arrow_type):
            return "INTEGER", "0"
        if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
            return "REAL", "0.0"
        if pa.types.is_binary(arrow_type):
            return "BLOB", "X''"
        return "TEXT", "''"

    def batches(
        self,
        table: str,
        columns: list[SourceColumn],
        where: CursorRange | None,
        batch_rows: int,
        key: Sequence[str] = (),
    ) -> Iterator[pa.RecordBatch]:
        import adbc_driver_sqlite
        import adbc_driver_sqlite.dbapi as adbc_sqlite
        from sqlalchemy import literal_column

        exprs: list[Any] = []
        primer: list[str] = []
        quote = self.engine.dialect.identifier_preparer.quote
        for col in columns:
            storage, zero = self._storage_class(col.arrow_type)
            exprs.append(literal_column(f"CAST({quote(col.name)} AS {storage})").label(col.name))
            primer.append(f"{zero} AS {quote(col.name)}")
        exprs.append(literal_column(flag_expression(columns, quote)).label(self.FLAG))
        primer.append(f"0 AS {quote(self.FLAG)}")
        query = self._select(table, columns, where, exprs)
        compiled = query.compile(
            dialect=self.engine.dialect, compile_kwargs={"literal_binds": True}
        )
        sql = f"SELECT {', '.join(primer)} UNION ALL {compiled}"
        path = sqlite_path(self.url)
        if path is None:
            yield from super().batches(table, columns, where, batch_rows, key)
            return
        schema = arrow_schema(columns)
        option = adbc_driver_sqlite.StatementOptions.BATCH_ROWS.value
        try:
            with adbc_sqlite.connect(path) as conn, conn.cursor() as cur:
                cur.adbc_statement.set_options(**{option: str(batch_rows)})
                cur.execute(sql)
                first = True
                for batch in cur.fetch_record_batch():
                    if first:
                        batch, first = batch.slice(1), False
                    if batch.num_rows:
                        self._refuse_unfit(batch.column(len(columns)), table, columns, where, key)
                        raw = pa.RecordBatch.from_arrays(batch.columns[:-1], names=schema.names)
                        yield conform_batch(raw, schema, table=table, key=key)
        except OSError as exc:  # ADBC reports driver errors as OSError subclasses
            reason = error_message(exc, url=self.url)
            raise SourceError(f"reading source table {table!r} failed: {reason}") from None

    def _refuse_unfit(
        self,
        flags: pa.Array,
        table: str,
        columns: list[SourceColumn],
        where: CursorRange | None,
        key: Sequence[str],
    ) -> None:
        """Raise for the first flagged row, naming it by key (asked of the source again)."""
        import pyarrow.compute as pc
        from sqlalchemy import column as sa_column
        from sqlalchemy import literal_column

        flagged = pc.max(flags).as_py()
        if not flagged:
            return
        column = columns[flagged - 1]
        quote = self.engine.dialect.identifier_preparer.quote
        condition = invalid_condition(column, quote)
        storage: Any = literal_column(f"typeof({quote(column.name)})")
        query = self._select(table, columns, where, [storage, *(sa_column(k) for k in key)])
        with self.engine.connect() as conn:
            row = conn.execute(query.where(literal_column(str(condition))).limit(1)).first()
        if row is None:  # changed since the read: name the column only
            raise bad_value_error(table, column.name, problem(column, None), {})
        named = dict(zip(key, row[1:], strict=True))
        raise bad_value_error(table, column.name, problem(column, row[0]), named)


class PostgresExtractor(SqlAlchemyExtractor):
    """ADBC's PostgreSQL driver: the server streams COPY binary straight into Arrow."""

    def batches(
        self,
        table: str,
        columns: list[SourceColumn],
        where: CursorRange | None,
        batch_rows: int,
        key: Sequence[str] = (),
    ) -> Iterator[pa.RecordBatch]:
        try:
            import adbc_driver_postgresql.dbapi as adbc_pg
        except ModuleNotFoundError:
            yield from super().batches(table, columns, where, batch_rows, key)
            return
        from sqlalchemy import column as sa_column

        query = self._select(table, columns, where, [sa_column(c.name) for c in columns])
        sql = str(
            query.compile(dialect=self.engine.dialect, compile_kwargs={"literal_binds": True})
        )
        schema = arrow_schema(columns)
        try:
            with adbc_pg.connect(libpq_uri(self.url)) as conn, conn.cursor() as cur:
                cur.execute(sql)
                for batch in cur.fetch_record_batch():
                    for offset in range(0, batch.num_rows, batch_rows):
                        part = batch.slice(offset, batch_rows)
                        raw = pa.RecordBatch.from_arrays(part.columns, names=schema.names)
                        yield conform_batch(raw, schema, table=table, key=key)
        except adbc_pg.Error as exc:
            reason = error_message(exc, url=self.url)
            raise SourceError(f"reading source table {table!r} failed: {reason}") from None


def make_extractor(url: str) -> Extractor:
    """The fastest extractor available for a source URL."""
    backend = dialect(url)
    if backend == "sqlite":
        return SqliteExtractor(url)
    if backend == "postgresql":
        return PostgresExtractor(url)
    return SqlAlchemyExtractor(url)
