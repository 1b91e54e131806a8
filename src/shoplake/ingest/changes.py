"""Change detection: which source rows must land in bronze, and as which operation.

``snapshot`` extracts the whole table and diffs it against bronze replayed to its latest
version per primary key, by a hash of each row's values (insert / update / delete).
``cursor`` extracts only rows whose cursor column is at or past the committed watermark;
rows sitting exactly on the watermark are compared with what bronze already holds, so a
re-run lands nothing and ties on an updated-at column are never lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from shoplake.errors import IngestError, ShoplakeError
from shoplake.ingest.bronze import BATCH_ID, OP
from shoplake.ingest.columns import SourceColumn, arrow_schema, conform_column, describe_key
from shoplake.ingest.extract import CursorRange, Extractor
from shoplake.lake.expressions import equals, one_of
from shoplake.lake.sqlnames import quote_identifier as quote

if TYPE_CHECKING:
    import duckdb
    from pyiceberg.table import Table

Tick = Callable[[int], None]
#: Opens a progress counter once the number of rows to extract is known.
OpenProgress = Callable[[int], Tick]


@dataclass
class TableJob:
    """Everything change detection needs about one table's ingest."""

    extractor: Extractor
    bronze: Table
    table: str
    columns: list[SourceColumn]
    key: list[str]
    batch_rows: int
    con: duckdb.DuckDBPyConnection
    open_progress: OpenProgress
    #: Diff against an empty bronze (a full refresh replaces whatever bronze holds).
    fresh: bool = False

    @property
    def has_history(self) -> bool:
        """True when changes are detected against rows bronze already holds."""
        return not self.fresh and self.bronze.current_snapshot() is not None

    def batches(self, where: CursorRange | None) -> Iterator[pa.RecordBatch]:
        """Extract the table's rows (optionally a cursor range) as bronze-typed batches.

        A row without a complete primary key stops the read (IngestError).
        """
        read = self.extractor.batches(self.table, self.columns, where, self.batch_rows, self.key)
        return _refuse_null_keys(read, self.table, self.key)

    def count(self, where: CursorRange | None) -> int:
        return self.extractor.count(self.table, self.columns, where)


@dataclass
class ChangeSet:
    """Rows to append to bronze (source columns plus ``_op``) and what they amount to."""

    batches: Iterator[pa.RecordBatch]
    expected_rows: int
    watermark: Any = None
    inserts: int | None = None
    updates: int | None = None
    deletes: int | None = None


def row_hash_sql(columns: list[SourceColumn], alias: str = "") -> str:
    """DuckDB expression hashing a row's non-null values as ``name=value`` pairs.

    NULLs are skipped and names sorted, so adding a column that is still NULL, or widening
    a type, leaves every existing row's hash unchanged.
    """
    prefix = f"{alias}." if alias else ""
    parts = [
        f"CASE WHEN {prefix}{quote(c.name)} IS NULL THEN NULL "
        f"ELSE {sql_string(c.name + '=')} || CAST({prefix}{quote(c.name)} AS VARCHAR) END"
        for c in sorted(columns, key=lambda c: c.name)
    ]
    return f"md5(concat_ws(chr(31), {', '.join(parts)}))"


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def new_duckdb(temp_dir: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to ``temp_dir`` and renders timestamps in UTC."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET temp_directory = {sql_string(temp_dir)}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    return con


def _counted(batches: Iterator[pa.RecordBatch], tick: Tick) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        tick(batch.num_rows)
        yield batch


def _refuse_null_keys(
    batches: Iterator[pa.RecordBatch], table: str, key: list[str]
) -> Iterator[pa.RecordBatch]:
    """Pass batches through; IngestError at the first row with a NULL key column.

    Such a row cannot be matched with its later versions: the diff would turn each update
    into a delete plus an insert and silver would lose the row.
    """
    read = 0
    for batch in batches:
        for name in key:
            values = batch.column(name)
            if values.null_count:
                index = pc.index(pc.is_null(values), True).as_py()
                others = describe_key({k: batch.column(k)[index].as_py() for k in key if k != name})
                others = f" ({others})" if others else ""
                raise IngestError(
                    f"{table}: primary key column {name} is NULL in row {read + index + 1} "
                    f"read from the source{others}; nothing written for {table}"
                )
        read += batch.num_rows
        yield batch


def _load(con: duckdb.DuckDBPyConnection, name: str, schema: pa.Schema, batches: Any) -> None:
    """Stage batches as DuckDB table ``name``, re-raising a shoplake error met while reading.

    DuckDB wraps an exception raised by the batch iterator in its own error, with a
    traceback in the text; the original one-line error is raised instead.
    """
    import duckdb

    failures: list[ShoplakeError] = []

    def relayed() -> Iterator[pa.RecordBatch]:
        try:
            yield from batches
        except ShoplakeError as exc:
            failures.append(exc)
            raise

    reader = pa.RecordBatchReader.from_batches(schema, relayed())
    con.register(f"{name}_reader", reader)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_reader")
    except duckdb.Error:
        if failures:
            raise failures[0] from None
        raise
    finally:
        con.unregister(f"{name}_reader")


def _latest_bronze(
    con: duckdb.DuckDBPyConnection,
    bronze: Table,
    columns: list[SourceColumn],
    key: list[str],
    row_filter: Any = None,
) -> None:
    """Create table ``cur``: bronze replayed to the latest live version of each key."""
    from pyiceberg.expressions import AlwaysTrue

    scan = bronze.scan(row_filter=row_filter if row_filter is not None else AlwaysTrue())
    reader = scan.to_arrow_batch_reader()
    present = set(reader.schema.names)
    con.register("bronze_reader", reader)
    select = ", ".join(
        quote(c.name) if c.name in present else f"NULL AS {quote(c.name)}" for c in columns
    )
    keys = ", ".join(quote(k) for k in key)
    con.execute(
        f"CREATE OR REPLACE TABLE cur AS SELECT {select} FROM ("
        f"  SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY {BATCH_ID} DESC) AS _rn"
        f"  FROM bronze_reader) WHERE _rn = 1 AND {OP} <> 'delete'"
    )
    con.unregister("bronze_reader")


def _check_unique(con: duckdb.DuckDBPyConnection, table: str, key: list[str]) -> None:
    keys = ", ".join(quote(k) for k in key)
    dupe = con.execute(
        f"SELECT {keys}, count(*) FROM src GROUP BY ALL HAVING count(*) > 1 LIMIT 1"
    ).fetchone()
    if dupe is not None:
        values = dict(zip(key, dupe[:-1], strict=True))
        raise IngestError(
            f"{table}: primary key ({', '.join(key)}) is not unique in the source, "
            f"e.g. {values} appears {dupe[-1]} times; set ingest.tables.{table}.primary_key"
        )


def snapshot_changes(job: TableJob) -> ChangeSet:
    """Full extract diffed against bronze's latest versions."""
    schema = arrow_schema(job.columns)
    tick = job.open_progress(job.count(None))
    _load(job.con, "src", schema, _counted(job.batches(None), tick))
    _check_unique(job.con, job.table, job.key)
    if job.has_history:
        _latest_bronze(job.con, job.bronze, job.columns, job.key)
    else:
        job.con.execute("CREATE OR REPLACE TABLE cur AS SELECT * FROM src LIMIT 0")
    on = " AND ".join(f"s.{quote(k)} = c.{quote(k)}" for k in job.key)
    first = quote(job.key[0])
    cols = ", ".join(quote(c.name) for c in job.columns)
    differs = f"{row_hash_sql(job.columns, 's')} <> {row_hash_sql(job.columns, 'c')}"
    job.con.execute(
        f"CREATE OR REPLACE TABLE changes AS "
        f"SELECT s.*, CASE WHEN c.{first} IS NULL THEN 'insert' ELSE 'update' END AS {OP} "
        f"FROM src s LEFT JOIN cur c ON {on} "
        f"WHERE c.{first} IS NULL OR {differs} "
        f"UNION ALL SELECT {cols}, 'delete' AS {OP} FROM cur c "
        f"WHERE NOT EXISTS (SELECT 1 FROM src s WHERE {on})"
    )
    counts = dict(job.con.execute(f"SELECT {OP}, count(*) FROM changes GROUP BY ALL").fetchall())
    total = sum(counts.values())
    keys = ", ".join(quote(k) for k in job.key)
    out_schema = schema.append(pa.field(OP, pa.string()))
    result = job.con.sql(f"SELECT * FROM changes ORDER BY {keys}")
    batches = (
        batch.cast(out_schema) for batch in result.to_arrow_reader(job.batch_rows) if batch.num_rows
    )
    return ChangeSet(
        batches=batches,
        expected_rows=total,
        inserts=counts.get("insert", 0),
        updates=counts.get("update", 0),
        deletes=counts.get("delete", 0),
    )


def cursor_changes(job: TableJob, cursor: str, watermark: Any) -> ChangeSet | None:
    """Rows at or past the watermark, or None when nothing changed since it."""
    schema = arrow_schema(job.columns)
    high = job.extractor.max_value(job.table, cursor, watermark)
    if high is None:
        return None
    has_history = job.has_history
    boundary: list[pa.RecordBatch] = []
    if watermark is not None and has_history:
        on_mark = CursorRange(cursor, watermark, watermark)
        _load(job.con, "src", schema, job.batches(on_mark))
        typed_mark = _as_bronze_value(watermark, job.columns, cursor, job.table)
        on_watermark = equals(cursor, typed_mark)
        _latest_bronze(job.con, job.bronze, job.columns, job.key, on_watermark)
        keys = " AND ".join(f"s.{quote(k)} = c.{quote(k)}" for k in job.key)
        same = f"{keys} AND {row_hash_sql(job.columns, 's')} = {row_hash_sql(job.columns, 'c')}"
        fresh = job.con.sql(
            f"SELECT s.* FROM src s WHERE NOT EXISTS (SELECT 1 FROM cur c WHERE {same})"
        )
        boundary = [b.cast(schema) for b in fresh.to_arrow_reader(job.batch_rows) if b.num_rows]
    past_mark = watermark is not None and high == watermark
    after = (
        None if past_mark else CursorRange(cursor, watermark, high, low_inclusive=watermark is None)
    )
    expected = job.count(after) if after is not None else 0
    expected += sum(b.num_rows for b in boundary)
    if expected == 0:
        return None
    tick = job.open_progress(expected)

    def rows() -> Iterator[pa.RecordBatch]:
        yield from boundary
        if after is not None:
            yield from job.batches(after)

    appends_only = cursor in job.key or not has_history
    if appends_only:
        batches: Iterator[pa.RecordBatch] = (
            b.append_column(OP, pa.nulls(b.num_rows, pa.string()).fill_null("insert"))
            for b in _counted(rows(), tick)
        )
    else:
        batches = _with_upsert_ops(job, schema, _counted(rows(), tick))
    return ChangeSet(batches=batches, expected_rows=expected, watermark=high)


def _as_bronze_value(value: Any, columns: list[SourceColumn], name: str, table: str) -> Any:
    """A watermark in the source's own form (SQLite returns text) as bronze's Python value."""
    (column,) = [c for c in columns if c.name == name]
    return conform_column(pa.array([value]), column.arrow_type, table=table, column=name)[0].as_py()


#: Above this many distinct keys, bronze is read whole instead of through an IN filter.
MAX_KEY_FILTER = 10_000


def _with_upsert_ops(
    job: TableJob, schema: pa.Schema, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """Mark each row insert or update by whether bronze already holds a live version.

    The incoming rows (as many as changed) are staged first, so bronze is read only for
    their keys rather than whole.
    """
    con, key = job.con, job.key
    _load(con, "incoming", schema, batches)
    first = quote(key[0])
    values = [row[0] for row in con.execute(f"SELECT DISTINCT {first} FROM incoming").fetchall()]
    key_filter = one_of(key[0], values) if len(values) <= MAX_KEY_FILTER else None
    key_columns = [c for c in job.columns if c.name in key]
    _latest_bronze(con, job.bronze, key_columns, key, key_filter)
    on = " AND ".join(f"i.{quote(k)} = c.{quote(k)}" for k in key)
    out_schema = schema.append(pa.field(OP, pa.string()))
    marked = con.sql(
        f"SELECT i.*, CASE WHEN c.{first} IS NULL THEN 'insert' ELSE 'update' END AS {OP} "
        f"FROM incoming i LEFT JOIN cur c ON {on}"
    )
    yield from (b.cast(out_schema) for b in marked.to_arrow_reader(job.batch_rows) if b.num_rows)


def op_counts(batch: pa.RecordBatch) -> dict[str, int]:
    """How many rows of a change batch are inserts, updates and deletes."""
    counts = pc.value_counts(batch.column(OP)).to_pylist()
    return {entry["values"]: entry["counts"] for entry in counts}
