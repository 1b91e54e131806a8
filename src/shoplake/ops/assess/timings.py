"""Performance: the slowest models and queries, where shoplake records them.

The transform runner prints each model's seconds but stores only contract results
(``audit.contract_results``); the API keeps request latencies in the serving process's memory
(``GET /metrics``). Any ``audit`` table with ``model`` and ``seconds`` columns is read; otherwise
the report says that nothing was recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shoplake.ops.assess.context import Context
    from shoplake.ops.assess.model import Recorder

TIMING_COLUMNS = {"model", "seconds"}
SLOWEST = 5


def check_timings(ctx: Context, rec: Recorder) -> None:
    """The :data:`SLOWEST` slowest models from recorded runs, or a note that none are kept."""
    audit = [n for n in ctx.table_names if n.startswith("audit.")]
    sources = [n for n in audit if {f.name for f in ctx.table(n).schema().fields} >= TIMING_COLUMNS]
    slowest: dict[str, str] = {}
    for name in sources:
        data = ctx.table(name).scan(selected_fields=("model", "seconds")).to_arrow()
        for row in sorted(data.to_pylist(), key=lambda r: -(r["seconds"] or 0))[:SLOWEST]:
            slowest.setdefault(row["model"], f"{row['seconds']:.2f} s (in {name})")
    if slowest:
        rec.finding(
            "slowest-models",
            "info",
            f"the {len(slowest)} slowest model runs recorded",
            slowest,
            "look at the slowest model's plan (`EXPLAIN ANALYZE` in `shoplake query`) first",
        )
    else:
        rec.finding(
            "model-timings-unrecorded",
            "info",
            "no model timings are recorded: `shoplake transform` prints them but stores none",
            {"audit tables": audit or "none", "dagster history": _dagster(ctx)},
            "run transforms through Dagster (`shoplake ui`) to keep step durations",
        )
    rec.finding(
        "query-timings-unrecorded",
        "info",
        "API query latencies live only in the serving process (GET /metrics), not on disk",
        {"metrics": f"http://{ctx.settings.serve.host}:{ctx.settings.serve.port}/metrics"},
        "scrape /metrics with Prometheus to keep latency history",
    )


def _dagster(ctx: Context) -> str:
    home = ctx.settings.dagster_home
    return f"{home} (not read)" if home.exists() else "none"
