"""The DuckDB engine reads Iceberg tables through their Parquet files, schema evolution included."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.types import StringType

from shoplake.transform.engines.duckdb import expose, new_connection


def test_columns_added_after_the_files_were_written_read_as_nulls(tmp_path: Path) -> None:
    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path}/c.db", warehouse=(tmp_path / "w").as_uri())
    catalog.create_namespace("bronze")
    table = catalog.create_table("bronze.items", schema=pa.schema([pa.field("id", pa.int64())]))
    table.append(pa.table({"id": pa.array([1, 2], pa.int64())}))
    with table.update_schema() as update:
        update.add_column("label", StringType())
    table = catalog.load_table("bronze.items")

    con = new_connection()
    exposed = expose(con, "bronze.items", table)
    assert (exposed.rows, exposed.files) == (2, 1)
    assert con.execute("SELECT id, label FROM bronze.items ORDER BY id").fetchall() == [
        (1, None),
        (2, None),
    ]
    table.append(pa.table({"id": pa.array([3], pa.int64()), "label": ["new"]}))
    expose(con, "bronze.items", catalog.load_table("bronze.items"))
    assert con.execute("SELECT id, label FROM bronze.items ORDER BY id").fetchall() == [
        (1, None),
        (2, None),
        (3, "new"),
    ]
