"""Table maintenance: compact small files, expire old snapshots, remove orphaned data files.

None of it changes what a table contains or how readers see it: compaction rewrites the
current rows into fewer files in one ``replace`` snapshot (also tagged
``shoplake.maintenance=compaction`` in its summary, so incremental readers skip it) with every
column's Arrow type kept, and table properties — where ingestion state lives — are untouched.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from shoplake.lake.snapshots import (
    DATA_COMMIT_KEY,
    DATA_SNAPSHOT_KEY,
    MAINTENANCE_KEY,
    current_rows,
    last_data_snapshot,
)

if TYPE_CHECKING:
    from pyiceberg.table import Table

COMPACTION_SUMMARY = {MAINTENANCE_KEY: "compaction"}


@dataclass
class MaintenanceResult:
    """What maintenance did to one table."""

    table: str
    rows: int
    files_before: int
    files_after: int
    snapshots_expired: int
    orphans_removed: int
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _data_files(table: Table) -> list[Any]:
    snapshot = table.current_snapshot()
    if snapshot is None:
        return []
    return [task.file for task in table.scan().plan_files()]


def needs_compaction(table: Table, target_bytes: int) -> bool:
    """More than one data file, at least two of them smaller than the target size."""
    sizes = [f.file_size_in_bytes for f in _data_files(table)]
    return len(sizes) > 1 and sum(size < target_bytes for size in sizes) > 1


def has_wide_types(table: Table) -> bool:
    """Whether a data file stores 64-bit-offset types (``large_string``…) that readers would
    then get instead of ``string``: files an earlier shoplake's compaction wrote. Reads only
    the Parquet footers."""
    import pyarrow.parquet as pq

    for data_file in _data_files(table):
        with table.io.new_input(data_file.file_path).open() as stream:
            schema = pq.read_schema(stream)
        if any("large_" in str(field.type) for field in schema):
            return True
    return False


def compact(table: Table) -> None:
    """Rewrite the current rows into as few files as the target size allows, in one
    ``replace`` snapshot that keeps every column's type."""
    from shoplake.lake.rewrite import rewrite_files

    summary = dict(COMPACTION_SUMMARY)
    last = last_data_snapshot(table)
    if last is not None:
        summary[DATA_SNAPSHOT_KEY], summary[DATA_COMMIT_KEY] = str(last[0]), str(last[1])
    rewrite_files(table, summary)


def expire_snapshots(table: Table, older_than: dt.datetime, keep: int) -> int:
    """Expire snapshots older than a moment, always keeping the newest ``keep``; returns count."""
    snapshots = sorted(table.snapshots(), key=lambda s: s.timestamp_ms, reverse=True)
    current = table.current_snapshot()
    cutoff_ms = older_than.timestamp() * 1000
    doomed = [
        s.snapshot_id
        for s in snapshots[keep:]
        if s.timestamp_ms < cutoff_ms and (current is None or s.snapshot_id != current.snapshot_id)
    ]
    if doomed:
        table.maintenance.expire_snapshots().by_ids(doomed).commit()
    return len(doomed)


def remove_orphans(table: Table, min_age_seconds: float) -> int:
    """Delete data files under a local table location that no snapshot references.

    Files younger than ``min_age_seconds`` are kept: they may belong to a commit in flight.
    Returns the number of files removed (0 for non-local warehouses).
    """
    location = urlparse(table.location())
    if location.scheme not in ("", "file"):
        return 0
    data_dir = Path(location.path) / "data"
    if not data_dir.exists():
        return 0
    referenced = {
        urlparse(p).path for p in table.inspect.all_files().column("file_path").to_pylist()
    }
    now = time.time()
    removed = 0
    for path in data_dir.rglob("*"):
        unreferenced = path.is_file() and str(path) not in referenced
        if unreferenced and now - path.stat().st_mtime >= min_age_seconds:
            path.unlink()
            removed += 1
    return removed


def maintain_table(
    name: str,
    table: Table,
    *,
    target_bytes: int,
    retention: dt.timedelta,
    keep_snapshots: int,
    orphan_min_age_seconds: float,
) -> MaintenanceResult:
    """Compact, expire and clean one table; contents stay exactly as they were."""
    started = time.perf_counter()
    files_before = len(_data_files(table))
    if needs_compaction(table, target_bytes) or has_wide_types(table):
        compact(table)
        table.refresh()
    cutoff = dt.datetime.now(dt.UTC) - retention
    expired = expire_snapshots(table, cutoff, keep_snapshots)
    table.refresh()
    orphans = remove_orphans(table, orphan_min_age_seconds)
    return MaintenanceResult(
        table=name,
        rows=current_rows(table),
        files_before=files_before,
        files_after=len(_data_files(table)),
        snapshots_expired=expired,
        orphans_removed=orphans,
        seconds=time.perf_counter() - started,
    )


def maintain_tables(tables: Mapping[str, Table], **options: Any) -> list[MaintenanceResult]:
    """Maintain each table (:func:`maintain_table` ``options``) once every table's files were
    found readable: a broken table is named and no table is touched."""
    from shoplake.lake.integrity import verify

    for name, table in tables.items():
        verify(name, table)
    return [maintain_table(name, table, **options) for name, table in tables.items()]
