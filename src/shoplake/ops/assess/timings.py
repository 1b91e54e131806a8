"""Performance: the slowest models, from where shoplake records their durations.

Models run through Dagster (``shoplake run``, the demo, ``shoplake ui``) leave each step's
duration in the Dagster run history under the data dir; any ``audit`` table with ``model``
and ``seconds`` columns is read too. ``shoplake transform`` prints its timings but keeps none,
and the API keeps request latencies in the serving process's memory (``GET /metrics``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from shoplake.ops.assess.context import Context
    from shoplake.ops.assess.model import Recorder

TIMING_COLUMNS = {"model", "seconds"}
SLOWEST = 5


def check_timings(ctx: Context, rec: Recorder) -> None:
    """The :data:`SLOWEST` slowest models from recorded runs, or a note that none are kept."""
    dagster, problem = _from_dagster(ctx.settings.dagster_home)
    slowest = dagster | _from_audit_tables(ctx)
    ranked = sorted(slowest.items(), key=lambda item: -item[1][0])[:SLOWEST]
    if ranked:
        rec.finding(
            "slowest-models",
            "info",
            f"the {len(ranked)} slowest model steps recorded",
            {step: shown for step, (_, shown) in ranked},
            "look at the slowest model's plan (`EXPLAIN ANALYZE` in `shoplake query`) first",
        )
    else:
        rec.finding(
            "model-timings-unrecorded",
            "info",
            "no model timings are recorded: `shoplake transform` prints them but stores none",
            {
                "dagster history": problem or _nothing_in(ctx.settings.dagster_home),
                "audit tables": _audit(ctx) or "none",
            },
            "run the models through Dagster (`shoplake run`) to keep each step's duration",
        )
    rec.finding(
        "query-timings-unrecorded",
        "info",
        "API query latencies live only in the serving process (GET /metrics), not on disk",
        {"metrics": f"http://{ctx.settings.serve.host}:{ctx.settings.serve.port}/metrics"},
        "scrape /metrics with Prometheus to keep latency history",
    )


def _from_dagster(home: Path) -> tuple[dict[str, tuple[float, str]], str | None]:
    """Step durations from Dagster's history, or none and why it could not be read."""
    from shoplake.ops.assess.dagster_runs import step_timings

    try:
        timings = step_timings(home)
    except Exception as exc:  # an unreadable instance is reported, never raised
        return {}, f"{home}: unreadable ({type(exc).__name__}: {exc})"
    return {t.step: (t.seconds, t.shown()) for t in timings}, None


def _audit(ctx: Context) -> list[str]:
    return [n for n in ctx.table_names if n.startswith("audit.")]


def _from_audit_tables(ctx: Context) -> dict[str, tuple[float, str]]:
    slowest: dict[str, tuple[float, str]] = {}
    for name in _audit(ctx):
        if not {f.name for f in ctx.table(name).schema().fields} >= TIMING_COLUMNS:
            continue
        data = ctx.table(name).scan(selected_fields=("model", "seconds")).to_arrow()
        for row in sorted(data.to_pylist(), key=lambda r: -(r["seconds"] or 0))[:SLOWEST]:
            seconds = float(row["seconds"] or 0)
            slowest.setdefault(row["model"], (seconds, f"{seconds:.2f} s (in {name})"))
    return slowest


def _nothing_in(home: Path) -> str:
    return f"{home}: no finished run" if home.exists() else f"none ({home} does not exist)"
