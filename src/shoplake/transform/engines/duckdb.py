"""The DuckDB engine: lakehouse tables (whole, or only rows appended since a snapshot) as
schema-qualified views, model SQL materialized as tables inside the run's connection, and
those tables written out as Parquet for the Iceberg commit.

One connection serves a whole transform run: a model's result stays in DuckDB (schema
``__run``) where its contract is checked, is written to Parquet by DuckDB itself when it
passes, and is what the downstream models of the same run read — the data never makes a
round trip through Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from shoplake.lake.sqlnames import quote_identifier as quoted

if TYPE_CHECKING:
    import duckdb
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import Table


@dataclass(frozen=True)
class Exposed:
    """How one lakehouse table was made visible to a model."""

    name: str
    snapshot_id: int | None
    rows: int
    files: int
    delta_from: int | None  # the snapshot after which rows were read; None = whole table


def new_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for one model run, timestamps rendered in UTC."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for namespace in ("bronze", "silver", "gold", "audit"):
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{namespace}"')
    return con


def expose(
    con: duckdb.DuckDBPyConnection,
    name: str,
    table: Table,
    delta_from: int | None = None,
    *,
    row_filter: BooleanExpression | None = None,
) -> Exposed:
    """Make ``name`` readable in ``con``: the whole table (optionally filtered), or only the
    rows appended after a snapshot.

    Local tables whose files carry no delete files are read by DuckDB straight from their
    Parquet data files (column pruning, parallel scans); anything else through PyIceberg. A
    broken file of the table raises CorruptTableError naming it.
    """
    from shoplake.lake.integrity import reading

    with reading(name, table.metadata, table.io):
        return _expose(con, name, table, delta_from, row_filter)


def _expose(
    con: duckdb.DuckDBPyConnection,
    name: str,
    table: Table,
    delta_from: int | None,
    row_filter: BooleanExpression | None,
) -> Exposed:
    snapshot = table.current_snapshot()
    snapshot_id = snapshot.snapshot_id if snapshot else None
    if delta_from is not None and snapshot_id is not None:
        scan = table.incremental_append_scan(
            from_snapshot_id_exclusive=delta_from, to_snapshot_id_inclusive=snapshot_id
        )
    else:
        scan = table.scan() if row_filter is None else table.scan(row_filter=row_filter)  # type: ignore[assignment]
        delta_from = None
    tasks = list(scan.plan_files()) if snapshot_id is not None else []
    namespace, table_name = name.split(".")
    paths = _local_parquet_paths(tasks)
    if paths and row_filter is None:
        select = _columns_over_files(con, table, paths)
        rows = sum(task.file.record_count for task in tasks)
        con.execute(f'CREATE OR REPLACE VIEW "{namespace}"."{table_name}" AS {select}')
        return Exposed(name, snapshot_id, rows, len(tasks), delta_from)
    data = scan.to_arrow() if tasks else table.schema().as_arrow().empty_table()
    view_source = "__" + name.replace(".", "__")
    con.register(view_source, data)
    con.execute(
        f'CREATE OR REPLACE VIEW "{namespace}"."{table_name}" AS SELECT * FROM "{view_source}"'
    )
    return Exposed(name, snapshot_id, data.num_rows, len(tasks), delta_from)


def _local_parquet_paths(tasks: list[Any]) -> list[str] | None:
    """Paths of the tasks' data files when all are local Parquet without delete files."""
    from urllib.parse import urlparse

    paths = []
    for task in tasks:
        location = urlparse(task.file.file_path)
        if task.delete_files or location.scheme not in ("", "file"):
            return None
        paths.append(location.path)
    return paths or None


def _columns_over_files(con: duckdb.DuckDBPyConnection, table: Table, paths: list[str]) -> str:
    """A SELECT of the table's current columns over its files; columns that no file has yet
    (added by schema evolution) come out as typed NULLs."""
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    listing = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    source = f"read_parquet([{listing}], union_by_name = true)"
    present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    columns = []
    for field in schema_to_pyarrow(table.schema(), include_field_ids=False):
        quoted = '"' + field.name.replace('"', '""') + '"'
        if field.name in present:
            columns.append(quoted)
        else:
            empty = con.from_arrow(pa.table({field.name: pa.array([], field.type)}))
            columns.append(f"CAST(NULL AS {empty.types[0]}) AS {quoted}")
    return f"SELECT {', '.join(columns)} FROM {source}"


RUN_SCHEMA = "__run"
DELETED = "_deleted"
#: DuckDB types Iceberg has no counterpart for, and the type each is stored as.
_WIDER = {
    "TINYINT": "INTEGER",
    "SMALLINT": "INTEGER",
    "UTINYINT": "INTEGER",
    "USMALLINT": "INTEGER",
    "UINTEGER": "BIGINT",
    "UBIGINT": "BIGINT",
    "HUGEINT": "BIGINT",
    "UHUGEINT": "BIGINT",
}


def run_relation(name: str) -> str:
    """Where a model's result lives in the run's connection (``"__run"."silver__orders"``)."""
    return f"{quoted(RUN_SCHEMA)}.{quoted(name.replace('.', '__'))}"


def subquery(sql: str) -> str:
    """A query usable in FROM (on its own lines: it may end in a ``--`` comment)."""
    return f"(\n{sql}\n)"


def columns_of(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of each column of a relation (or a :func:`subquery`)."""
    return [
        (row[0], row[1]) for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    ]


def materialize(con: duckdb.DuckDBPyConnection, sql: str, relation: str) -> int:
    """Run a SELECT into a table of the run's connection, with Iceberg-storable types.

    Returns the row count.
    """
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted(RUN_SCHEMA)}")
    select = ", ".join(
        f"CAST({quoted(n)} AS {_WIDER[t]}) AS {quoted(n)}" if t in _WIDER else quoted(n)
        for n, t in columns_of(con, subquery(sql))
    )
    con.execute(f"CREATE OR REPLACE TABLE {relation} AS SELECT {select} FROM {subquery(sql)}")
    return row_count(con, relation)


def first_row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...] | None:
    """The first row of a query, reading the result to its end (DuckDB refuses further work
    on a connection whose last result was only partly fetched)."""
    rows = con.execute(sql).fetchall()
    return tuple(rows[0]) if rows else None


def row_count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    row = first_row(con, f"SELECT count(*) FROM {relation}")
    return int(row[0]) if row else 0


def drop_deleted_rows(con: duckdb.DuckDBPyConnection, relation: str) -> None:
    """Remove rows flagged ``_deleted`` and the flag column itself, in place."""
    if DELETED not in {name for name, _ in columns_of(con, relation)}:
        return
    con.execute(f"DELETE FROM {relation} WHERE coalesce({DELETED}, false)")
    con.execute(f"ALTER TABLE {relation} DROP COLUMN {DELETED}")


def expose_relation(con: duckdb.DuckDBPyConnection, name: str, relation: str) -> None:
    """Make a table of the run's connection readable under a lakehouse name."""
    namespace, table_name = name.split(".")
    con.execute(
        f"CREATE OR REPLACE VIEW {quoted(namespace)}.{quoted(table_name)} AS "
        f"SELECT * FROM {relation}"
    )


def arrow_schema(con: duckdb.DuckDBPyConnection, relation: str) -> pa.Schema:
    """The Arrow schema a relation's rows have in Iceberg."""
    empty = con.sql(f"SELECT * FROM {relation} LIMIT 0").to_arrow_table()
    return iceberg_friendly(empty).schema


def write_parquet(con: duckdb.DuckDBPyConnection, relation: str, path: Path) -> None:
    """Write a relation to one Parquet file (zstd), by DuckDB's own parallel writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = str(path).replace("'", "''")
    con.execute(f"COPY {relation} TO '{target}' (FORMAT parquet, COMPRESSION zstd)")


def iceberg_friendly(data: pa.Table) -> pa.Table:
    """Cast Arrow types Iceberg cannot store (views, unsigned, small ints) to ones it can."""
    fields = []
    for field in data.schema:
        kind = field.type
        if pa.types.is_string_view(kind) or pa.types.is_large_string(kind):
            kind = pa.string()
        elif pa.types.is_binary_view(kind) or pa.types.is_large_binary(kind):
            kind = pa.binary()
        elif pa.types.is_integer(kind) and (
            kind.bit_width < 32 or pa.types.is_unsigned_integer(kind)
        ):
            kind = pa.int64() if kind.bit_width >= 32 else pa.int32()
        elif pa.types.is_timestamp(kind) and kind.tz is not None:
            kind = pa.timestamp("us", tz="UTC")  # DuckDB says "Etc/UTC"; Iceberg stores UTC
        fields.append(pa.field(field.name, kind))
    schema = pa.schema(fields)
    return data if schema == data.schema else data.cast(schema)
