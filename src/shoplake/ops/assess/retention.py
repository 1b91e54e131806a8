"""Reliability: snapshots kept past ``lake.snapshot_retention_hours`` — maintenance not running."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from shoplake.cli.output import plural
from shoplake.ops.assess.history import DAY_MS

if TYPE_CHECKING:
    from shoplake.ops.assess.context import Context
    from shoplake.ops.assess.model import Recorder

#: Maintenance runs daily (orchestrate.maintain_cron), so a snapshot may outlive the retention
#: by up to a day before that says anything.
GRACE_HOURS = 24.0
#: More snapshots than this make every commit and scan plan read a long metadata history.
MAX_SNAPSHOTS = 1000
HOUR_MS = 3_600_000


def check_retention(ctx: Context, rec: Recorder) -> None:
    """Per table: snapshots that `maintain` should have expired (older than the retention plus
    :data:`GRACE_HOURS`, beyond the newest ``lake.min_snapshots_to_keep``), and tables with more
    than :data:`MAX_SNAPSHOTS` snapshots."""
    lake = ctx.settings.lake
    now = int(time.time() * 1000)
    limit_ms = (lake.snapshot_retention_hours + GRACE_HOURS) * HOUR_MS
    overdue: dict[str, str] = {}
    crowded: dict[str, int] = {}
    for name in ctx.table_names:
        points = ctx.history(name)
        expirable = [
            p for p in points[: -lake.min_snapshots_to_keep] if now - p.timestamp_ms > limit_ms
        ]
        if expirable:
            oldest_days = (now - points[0].timestamp_ms) / DAY_MS
            maintained = (
                "compacted before" if any(p.maintenance for p in points) else "never compacted"
            )
            overdue[name] = (
                f"{plural(len(points), 'snapshot')}, {len(expirable)} past retention, oldest "
                f"{oldest_days:.1f} days; {maintained}"
            )
        if len(points) > MAX_SNAPSHOTS:
            crowded[name] = len(points)
    if overdue:
        rec.finding(
            "snapshots-past-retention",
            "medium",
            f"{len(overdue)} table(s) keep snapshots past lake.snapshot_retention_hours "
            f"({lake.snapshot_retention_hours:g} h): maintenance is not running",
            overdue,
            "run `shoplake maintain` and keep the Dagster maintain schedule on",
        )
    if crowded:
        rec.finding(
            "snapshots-too-many",
            "low",
            f"{plural(len(crowded), 'table')} {'has' if len(crowded) == 1 else 'have'} more "
            f"than {MAX_SNAPSHOTS} snapshots",
            {name: f"{count} snapshots" for name, count in crowded.items()},
            "batch commits (ingest.batch_rows, stream.batch_seconds) and run `shoplake maintain`",
        )
    if not overdue and not crowded:
        rec.passed(
            "snapshot retention",
            f"{plural(len(ctx.table_names), 'table')} within {lake.snapshot_retention_hours:g} h "
            "retention",
        )
