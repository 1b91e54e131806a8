"""Reliability: dead letters — their share of what arrived, and their growth over the last day
against the daily rate before, read from the tables' snapshot history."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from shoplake.cli.output import plural
from shoplake.ops.assess.history import DAY_MS, added_since

if TYPE_CHECKING:
    from shoplake.ops.assess.context import Context
    from shoplake.ops.assess.model import Recorder, Severity

#: Share of records refused above which the producer or the schema is broken (high), or
#: degrading (medium). A healthy producer refuses well under 1 % of what it sends.
HIGH_SHARE = 0.05
MEDIUM_SHARE = 0.01
#: The last day's dead letters above this multiple of the daily rate before are a surge…
SURGE_FACTOR = 2.0
#: …when there are at least this many of them (a handful is noise).
SURGE_MIN_ROWS = 100


def check_dead_letters(ctx: Context, rec: Recorder) -> None:
    """``bronze.dead_letters`` against ``bronze.events``, ``bronze.supplier_dead_letters``
    against the supplier tables: share of the total and last-day growth."""
    from shoplake.ingest.api.load import DEAD_LETTERS_TABLE as SUPPLIER_DEAD_LETTERS
    from shoplake.ingest.api.records import RESOURCES
    from shoplake.ingest.stream_sink import DEAD_LETTERS_TABLE, EVENTS_TABLE

    pairs = {
        DEAD_LETTERS_TABLE: [EVENTS_TABLE],
        SUPPLIER_DEAD_LETTERS: [f"bronze.{r.table}" for r in RESOURCES.values()],
    }
    for dead, accepted in pairs.items():
        if dead not in ctx.table_names:
            rec.passed("dead letters", f"no {dead} table")
            continue
        _judge(ctx, rec, dead, [t for t in accepted if t in ctx.table_names])


def _judge(ctx: Context, rec: Recorder, dead: str, accepted: list[str]) -> None:
    points = ctx.history(dead)
    total = points[-1].records if points else 0
    good = sum(ctx.history(t)[-1].records for t in accepted if ctx.history(t))
    share = total / (total + good) if total + good else 0.0
    now = int(time.time() * 1000)
    last_day = added_since(points, now - DAY_MS)
    days_before = (now - DAY_MS - points[0].timestamp_ms) / DAY_MS if points else 0.0
    rate_before = (total - last_day) / days_before if days_before >= 1 else None
    evidence = {
        "dead letters": total,
        "accepted rows": f"{good} in {', '.join(accepted) or 'no table'}",
        "share": f"{share:.2%}",
        "added in the last day": last_day,
        "daily rate before": "n/a (less than a day of history)"
        if rate_before is None
        else f"{rate_before:.1f}",
    }
    severity: Severity | None = None
    if share >= HIGH_SHARE:
        severity = "high"
    elif share >= MEDIUM_SHARE:
        severity = "medium"
    if severity:
        rec.finding(
            "dead-letters-share",
            severity,
            f"{dead} holds {share:.1%} of the records that arrived",
            evidence,
            f'read the reasons (`shoplake query "select reason, count(*) from {dead} group by '
            '1"`) and fix the producer or the schema',
        )
    surge = rate_before is not None and last_day > max(SURGE_FACTOR * rate_before, SURGE_MIN_ROWS)
    if surge:
        rec.finding(
            "dead-letters-surge",
            "medium",
            f"{dead} grew by {last_day} rows in the last day, over {SURGE_FACTOR:g}x its rate",
            evidence,
            "look at the last day's reasons: a producer release or a schema change is likely",
        )
    if not severity and not surge:
        rec.passed("dead letters", f"{dead}: {plural(total, 'row')}, {share:.2%} of arrivals")
