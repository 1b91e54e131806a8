"""A table's snapshot history as numbers: when, how many rows and bytes, what was added."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.table import Table

#: History shorter than this is too short to extrapolate a daily growth from.
MIN_SPAN_DAYS = 1.0
#: Growth is measured over at most this much recent history.
GROWTH_WINDOW_DAYS = 30.0
DAY_MS = 86_400_000


@dataclass(frozen=True)
class SnapshotPoint:
    """One snapshot's totals from its summary (``total-records``, ``total-files-size``…)."""

    timestamp_ms: int
    records: int
    bytes: int
    files: int
    added_records: int
    operation: str
    maintenance: bool

    @property
    def moment(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.timestamp_ms / 1000, tz=dt.UTC)


@dataclass(frozen=True)
class Growth:
    """Rows and bytes added per day over a span of history."""

    rows_per_day: float
    bytes_per_day: float
    span_days: float


def snapshot_history(table: Table) -> list[SnapshotPoint]:
    """Every snapshot still in the table's metadata, oldest first."""
    from shoplake.lake.snapshots import is_maintenance, operation, summary_int

    points = []
    for snapshot in table.metadata.snapshots:
        points.append(
            SnapshotPoint(
                timestamp_ms=snapshot.timestamp_ms,
                records=summary_int(snapshot, "total-records"),
                bytes=summary_int(snapshot, "total-files-size"),
                files=summary_int(snapshot, "total-data-files"),
                added_records=summary_int(snapshot, "added-records"),
                operation=operation(snapshot),
                maintenance=is_maintenance(snapshot),
            )
        )
    return sorted(points, key=lambda p: p.timestamp_ms)


def growth(points: list[SnapshotPoint], now_ms: int | None = None) -> Growth | None:
    """Net growth per day over the last :data:`GROWTH_WINDOW_DAYS` of history, or None when
    the history spans less than :data:`MIN_SPAN_DAYS` (too short to say)."""
    if not points:
        return None
    now_ms = now_ms if now_ms is not None else points[-1].timestamp_ms
    window = [p for p in points if now_ms - p.timestamp_ms <= GROWTH_WINDOW_DAYS * DAY_MS]
    first, last = (window or points)[0], points[-1]
    span = (last.timestamp_ms - first.timestamp_ms) / DAY_MS
    if span < MIN_SPAN_DAYS:
        return None
    return Growth(
        rows_per_day=(last.records - first.records) / span,
        bytes_per_day=(last.bytes - first.bytes) / span,
        span_days=span,
    )


def added_since(points: list[SnapshotPoint], since_ms: int) -> int:
    """Rows appended by snapshots at or after ``since_ms`` (maintenance rewrites excluded)."""
    return sum(
        p.added_records
        for p in points
        if p.timestamp_ms >= since_ms and p.operation == "append" and not p.maintenance
    )
