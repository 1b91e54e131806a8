"""Test helpers that read the source and the lakehouse independently of the ingest code."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from shoplake.platform import Platform

META = ("_op", "_ingested_at", "_batch_id")


def normalise(value: Any) -> Any:
    """One comparable form for values read from SQLite, PostgreSQL, Arrow and Iceberg."""
    if isinstance(value, float):
        return Decimal(repr(value)).quantize(Decimal("0.01"))
    if isinstance(value, Decimal):
        return (
            value.quantize(Decimal("0.01")) if value == value.quantize(Decimal("0.01")) else value
        )
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def source_rows(url: str, table: str) -> list[tuple[Any, ...]]:
    """Every row of a source table, sorted, values normalised, columns in source order."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            meta = sa.MetaData()
            source = sa.Table(table, meta, autoload_with=conn)
            rows = conn.execute(sa.select(source)).fetchall()
    finally:
        engine.dispose()
    return sorted((tuple(normalise(v) for v in row) for row in rows), key=repr)


def bronze_table(platform: Platform, table: str) -> pa.Table:
    return platform.catalog.load_table(f"bronze.{table}").scan().to_arrow()


def bronze_rows(
    platform: Platform, table: str, drop: tuple[str, ...] = ("_ingested_at",)
) -> list[tuple[Any, ...]]:
    """Every bronze row (every version), sorted, without the columns in ``drop``."""
    data = bronze_table(platform, table)
    data = data.drop_columns([c for c in drop if c in data.column_names])
    return sorted((tuple(normalise(v) for v in row.values()) for row in data.to_pylist()), key=repr)


def replay_latest(platform: Platform, table: str, key: list[str]) -> list[tuple[Any, ...]]:
    """Bronze replayed to its latest live version per key: what the source should hold now."""
    data = bronze_table(platform, table)
    con = duckdb.connect()
    con.register("bronze", data)
    keys = ", ".join(f'"{k}"' for k in key)
    columns = ", ".join(f'"{c}"' for c in data.column_names if c not in META)
    result = con.sql(
        f"SELECT {columns} FROM (SELECT *, row_number() OVER (PARTITION BY {keys} "
        f"ORDER BY _batch_id DESC) AS rn FROM bronze) WHERE rn = 1 AND _op <> 'delete'"
    ).to_arrow_table()
    return sorted(
        (tuple(normalise(v) for v in row.values()) for row in result.to_pylist()), key=repr
    )


def snapshot_ids(platform: Platform) -> dict[str, int | None]:
    """The current snapshot id of every lakehouse table."""
    ids = {}
    for stats in platform.tables():
        snapshot = platform.catalog.load_table(stats.name).current_snapshot()
        ids[stats.name] = snapshot.snapshot_id if snapshot else None
    return ids
