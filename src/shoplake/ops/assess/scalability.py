"""The scalability pillar: growth from snapshot history, and when each embedded default —
local disk warehouse, SQLite catalog, single valkey, faiss in memory, DuckDB on one machine —
stops fitting, with the backend to move to."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from shoplake.ops.assess.capacity import Capacity, judge, memory_bytes
from shoplake.ops.assess.history import DAY_MS, Growth, growth
from shoplake.ops.assess.units import size

if TYPE_CHECKING:
    from shoplake.ops.assess.context import Context
    from shoplake.ops.assess.model import Recorder

#: Keep a tenth of the disk free: compaction rewrites a whole table before deleting the old
#: files, and ext4 already reserves 5 % for root.
DISK_FULL_SHARE = 0.90
#: SQLite admits one writer at a time (sqlite.org/lockingv3.html); an Iceberg commit holds it
#: for a metadata write and a row swap, tens of ms on local disk: beyond about one commit per
#: second sustained, writers queue.
CATALOG_COMMITS_PER_SECOND = 1.0
#: valkey-benchmark: about 100k simple commands/s on one core; an event costs about five
#: (XADD, XREAD, session HSET + EXPIRE, XTRIM), leaving 2x headroom at 10k events/s.
VALKEY_EVENTS_PER_SECOND = 10_000.0
#: A flat faiss index holds every vector as float32 in RAM; keep it under a tenth of memory.
FAISS_MEMORY_SHARE = 0.10
FLOAT32_BYTES = 4
#: DuckDB's default memory_limit is 80 % of RAM (duckdb.org docs, "memory_limit"); Parquet
#: typically expands about 5x in memory (columnar compression + encoding), so the largest
#: table's working set is estimated at 5x its files.
DUCKDB_MEMORY_SHARE = 0.80
PARQUET_EXPANSION = 5.0
EVENTS_TABLE = "bronze.events"
ITEM_TABLES = ("gold.item_embeddings", "gold.dim_products")
SECONDS_PER_DAY = 86_400


def assess_scalability(ctx: Context, rec: Recorder) -> None:
    """Growth per table, then each embedded default's capacity against its limit."""
    if not ctx.readable(rec):
        return
    rates = {name: growth(ctx.history(name)) for name in ctx.table_names}
    _report_growth(ctx, rates, rec)
    memory = memory_bytes()
    for capacity in (
        _disk(ctx, rates),
        _catalog(ctx),
        _valkey(ctx, rates),
        _faiss(ctx, rates, memory),
        _duckdb(ctx, rates, memory),
    ):
        if capacity is not None:
            judge(capacity, rec)


def _latest(ctx: Context, name: str) -> tuple[int, int]:
    """(rows, bytes) of a table now."""
    points = ctx.history(name)
    return (points[-1].records, points[-1].bytes) if points else (0, 0)


def _report_growth(ctx: Context, rates: dict[str, Growth | None], rec: Recorder) -> None:
    rows = sum(_latest(ctx, n)[0] for n in ctx.table_names)
    stored = sum(_latest(ctx, n)[1] for n in ctx.table_names)
    measured = {n: g for n, g in rates.items() if g is not None}
    per_table = {
        name: f"{_latest(ctx, name)[0]:,} rows (+{g.rows_per_day:,.0f}/day), "
        f"{size(_latest(ctx, name)[1])} (+{size(g.bytes_per_day)}/day) over {g.span_days:.1f} days"
        for name, g in sorted(measured.items(), key=lambda item: -item[1].bytes_per_day)[:10]
    }
    per_day = sum(g.bytes_per_day for g in measured.values())
    title = f"the lakehouse holds {rows:,} rows in {size(stored)}"
    title += (
        f", growing {size(per_day)}/day" if measured else "; history under a day: no growth yet"
    )
    rec.finding(
        "growth",
        "info",
        title,
        per_table or {"tables": len(ctx.table_names)},
        "keep snapshot history (lake.snapshot_retention_hours) long enough to measure growth",
    )


def _disk(ctx: Context, rates: dict[str, Growth | None]) -> Capacity | None:
    warehouse = ctx.settings.warehouse
    if not warehouse.startswith("file://"):
        return None
    root = Path(urlparse(warehouse).path)
    path = root
    while not path.exists():
        path = path.parent
    usage = shutil.disk_usage(path)
    growths = [g.bytes_per_day for g in rates.values() if g is not None]
    return Capacity(
        "capacity-disk",
        f"local disk warehouse ({root}, {size(tree_bytes(root))} of files)",
        current=usage.used,
        limit=usage.total * DISK_FULL_SHARE,
        per_day=sum(growths) if growths else None,
        unit="bytes",
        source=f"{DISK_FULL_SHARE:.0%} of the {size(usage.total)} disk (shutil.disk_usage)",
        move_to="Iceberg on S3 with the Glue catalog (profile = 'aws', infra/aws)",
        measure="disk usage",
    )


def tree_bytes(root: Path) -> int:
    """The size of every file under ``root`` (0 when it does not exist); links not followed."""
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:  # removed while walking
                continue
    return total


def _catalog(ctx: Context) -> Capacity | None:
    if ctx.settings.profile != "local" or not ctx.settings.catalog_uri.startswith("sqlite"):
        return None
    since = int(time.time() * 1000) - DAY_MS
    commits = sum(1 for n in ctx.table_names for p in ctx.history(n) if p.timestamp_ms >= since)
    return Capacity(
        "capacity-catalog",
        "SQLite catalog (commits in the last day)",
        current=commits / SECONDS_PER_DAY,
        limit=CATALOG_COMMITS_PER_SECOND,
        per_day=None,
        unit="commits/s",
        source="SQLite: one writer at a time; about 1 Iceberg commit/s sustained",
        move_to="the Glue catalog (profile = 'aws') or a PostgreSQL lake.catalog_uri",
    )


def _valkey(ctx: Context, rates: dict[str, Growth | None]) -> Capacity | None:
    if ctx.settings.stream.backend != "valkey" or EVENTS_TABLE not in ctx.table_names:
        return None
    events = rates.get(EVENTS_TABLE)
    return Capacity(
        "capacity-valkey",
        "single valkey event log (events/s)",
        current=(events.rows_per_day / SECONDS_PER_DAY) if events else 0.0,
        limit=VALKEY_EVENTS_PER_SECOND,
        per_day=None,
        unit="events/s",
        source="valkey-benchmark ~100k commands/s per core, ~5 commands per event, 2x headroom",
        move_to="Kinesis for the event log (stream.backend = 'kinesis') and Redis/ElastiCache "
        "for the online store",
    )


def _faiss(ctx: Context, rates: dict[str, Growth | None], memory: int) -> Capacity | None:
    if ctx.settings.vectors.backend != "faiss":
        return None
    table = next((t for t in ITEM_TABLES if t in ctx.table_names), None)
    if table is None:
        return None
    vector = ctx.settings.ml.factors * FLOAT32_BYTES
    items = rates.get(table)
    return Capacity(
        "capacity-faiss",
        f"faiss index in memory ({table} x {ctx.settings.ml.factors} float32)",
        current=_latest(ctx, table)[0] * vector,
        limit=memory * FAISS_MEMORY_SHARE,
        per_day=items.rows_per_day * vector if items else None,
        unit="bytes",
        source=f"{FAISS_MEMORY_SHARE:.0%} of {size(memory)} RAM (/proc/meminfo)",
        move_to="PostgreSQL + pgvector (vectors.backend = 'pgvector')",
    )


def _duckdb(ctx: Context, rates: dict[str, Growth | None], memory: int) -> Capacity | None:
    if not ctx.table_names:
        return None
    largest = max(ctx.table_names, key=lambda n: _latest(ctx, n)[1])
    table_growth = rates.get(largest)
    return Capacity(
        "capacity-duckdb",
        f"DuckDB working set on one machine (largest table {largest} x {PARQUET_EXPANSION:g})",
        current=_latest(ctx, largest)[1] * PARQUET_EXPANSION,
        limit=memory * DUCKDB_MEMORY_SHARE,
        per_day=table_growth.bytes_per_day * PARQUET_EXPANSION if table_growth else None,
        unit="bytes",
        source=f"DuckDB memory_limit default {DUCKDB_MEMORY_SHARE:.0%} of {size(memory)} RAM",
        move_to="Spark (`shoplake transform --engine spark`, spark.master on a cluster)",
    )
