"""Render the ingest benchmark's results as the Markdown report."""

from __future__ import annotations

import shlex
import statistics
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from shoplake.bench.ingest import FIRST, SEED, STEADY, TABLE, TARGET_ROWS_PER_S

if TYPE_CHECKING:
    from shoplake.bench.ingest import BenchResults, CursorPoint, FullLoad, Incremental
    from shoplake.config import Settings

T = TypeVar("T")


def render_report(results: BenchResults, settings: Settings, report: Path, dlt: bool) -> str:
    """The Markdown report."""
    from shoplake.bench.machine import collect_machine_facts

    sections = [
        "# Ingest benchmark",
        _header(results, settings, report, dlt),
        "## Machine\n\n" + collect_machine_facts().markdown(),
        _source_section(results, settings),
        _full_section(results),
        _dlt_section(results),
        _incremental_section(results),
        _cursor_section(results),
        _plan_section(results),
        _target_section(results),
        "## Interpretation\n\n" + "\n".join(f"- {line}" for line in interpretation(results)),
    ]
    return "\n\n".join(s.strip() for s in sections if s) + "\n"


def _header(results: BenchResults, settings: Settings, report: Path, dlt: bool) -> str:
    finished = results.finished or results.started
    minutes = (finished - results.started).total_seconds() / 60
    return (
        f"- date (UTC): {results.started:%Y-%m-%d %H:%M:%S} (benchmark took {minutes:.1f} min)\n"
        f"- command: `{_command_line(results, settings, report, dlt)}`"
    )


def _command_line(results: BenchResults, settings: Settings, report: Path, dlt: bool) -> str:
    if Path(sys.argv[0]).name == "shoplake":
        return shlex.join(["shoplake", *sys.argv[1:]])
    args = ["shoplake", "--data-dir", str(settings.data_dir), "bench", "ingest"]
    args += ["--scale", f"{results.scale:g}", "--changes", str(results.changes)]
    args += ["--report", str(report), *([] if dlt else ["--no-dlt"])]
    return shlex.join(args) + "  (equivalent; called from Python)"


def _source_section(results: BenchResults, settings: Settings) -> str:
    counts = ", ".join(f"{name} {rows:,}" for name, rows in sorted(results.source_counts.items()))
    return (
        "## Setup\n\n"
        f"- source: SQLite generated at scale {results.scale:g} (seed {SEED}) in "
        f"{results.generate_seconds:.1f} s: {counts}\n"
        f"- lakehouse: Iceberg (PyIceberg SQL catalog on SQLite, local warehouse), "
        f"a fresh one per full-load run; ingest batch_rows {settings.ingest.batch_rows:,}\n"
        "- timings are wall-clock seconds in one process; rows/s = rows / best run"
    )


def _full_section(results: BenchResults) -> str:
    full = _need(results.full)
    lines = [
        f"## Full load: {TABLE}\n",
        f"`Platform.ingest([{TABLE!r}])` into `bronze.{TABLE}`, each run on a fresh lakehouse "
        "(wall = the whole call, catalog creation included; table = the runner's own timer).\n",
        "| run | rows | wall s | table s | rows/s (wall) |",
        "|---|---:|---:|---:|---:|",
    ]
    for i, run in enumerate(full.runs, 1):
        rate = run.result.rows / run.wall
        lines.append(
            f"| {i} | {run.result.rows:,} | {run.wall:.3f} | {run.result.seconds:.3f} | "
            f"{rate:,.0f} |"
        )
    best = full.best
    lines.append(
        f"| **best** | **{best.result.rows:,}** | **{best.wall:.3f}** | "
        f"{best.result.seconds:.3f} | **{full.rows_per_s:,.0f}** |"
    )
    if results.read_only:
        read = results.read_only
        share = min(read.seconds) / best.wall
        lines.append(
            f"\nSource read alone (shoplake's ADBC extractor into Arrow, no lake write): "
            f"{read.rows:,} rows in {min(read.seconds):.3f} s best of {len(read.seconds)} "
            f"({read.rows / min(read.seconds):,.0f} rows/s), {share:.0%} of the best full load."
        )
    lines += ["", *_all_tables_lines(results)]
    return "\n".join(lines)


def _all_tables_lines(results: BenchResults) -> list[str]:
    full = _need(results.all_tables)
    lines = [
        "### Full load: every table (one run, the base of the incremental runs)\n",
        "| table | strategy | rows | seconds | rows/s |",
        "|---|---|---:|---:|---:|",
    ]
    for r in full.results:
        rate = f"{r.rows / r.seconds:,.0f}" if r.seconds else ""
        lines.append(f"| {r.table} | {r.strategy} | {r.rows:,} | {r.seconds:.3f} | {rate} |")
    total = sum(r.rows for r in full.results)
    lines.append(f"| **all (wall)** | | **{total:,}** | **{full.wall:.3f}** | |")
    return lines


def _dlt_section(results: BenchResults) -> str:
    lines = [
        "## Reference: dlt\n",
        f"dlt `sql_table({TABLE!r}, backend=…)` (default chunk_size) → `filesystem` destination, "
        "Parquet files under the work dir, telemetry off; wall time of `pipeline.run` "
        "(extract + normalize + load), best of the runs shown.\n",
    ]
    if results.dlt_skipped:
        return "\n".join([*lines, f"dlt {results.dlt_skipped}."])
    lines += [
        "| loader | rows | runs | best s | rows/s | shoplake / dlt |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    full = _need(results.full)
    lines.append(
        f"| shoplake | {full.best.result.rows:,} | {len(full.runs)} | {full.best.wall:.3f} | "
        f"{full.rows_per_s:,.0f} | 1.00 |"
    )
    for run in results.dlt:
        if run.seconds:
            ratio = full.rows_per_s / run.rows_per_s if run.rows_per_s else 0.0
            lines.append(
                f"| dlt {run.backend} | {run.rows:,} | {len(run.seconds)} | "
                f"{min(run.seconds):.3f} | {run.rows_per_s:,.0f} | {ratio:.2f} |"
            )
        else:
            lines.append(f"| dlt {run.backend} | | | | did not run | |")
    lines += [f"\ndlt {r.backend} could not run: {r.error}" for r in results.dlt if r.error]
    return "\n".join(lines)


def _incremental_section(results: BenchResults) -> str:
    inc = _need(results.incremental)
    simulated = ", ".join(f"{k} {v:,}" for k, v in inc.changes.items())
    lines = [
        f"## Incremental run after {inc.orders:,} new orders\n",
        f"`simulate(orders={inc.orders})` changed: {simulated}. Then `Platform.ingest()` "
        "of every table (cursor tables read past their watermark; snapshot tables are diffed "
        "in full against bronze).\n",
        "| table | strategy | status | rows landed | inserts | updates | deletes | seconds |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in inc.results:
        lines.append(
            f"| {r.table} | {r.strategy} | {r.status} | {r.rows:,} | {r.inserts:,} | "
            f"{r.updates:,} | {r.deletes:,} | {r.seconds:.3f} |"
        )
    total = sum(r.rows for r in inc.results)
    lines.append(f"| **all (wall)** | | | **{total:,}** | | | | **{inc.wall:.3f}** |")
    return "\n".join(lines)


def _cursor_section(results: BenchResults) -> str:
    lines = [
        f"## Cursor cost: {TABLE} incremental vs table size and changes\n",
        f"Each point: `simulate(orders=N)` then `Platform.ingest([{TABLE!r}])` on a lakehouse "
        f"already holding the table; *{FIRST}* is the first such run after the full load "
        f"(at full scale: the {TABLE} row of the incremental run above), *{STEADY}* the runs "
        "after it, each on top of the last (the table grows a little each time). Seconds are "
        "the runner's per-table timer.\n",
        "| scale | run | table rows | new orders | changed rows | runs | best s | median s "
        "| µs/changed row |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in results.points:
        changed = statistics.median(p.changed_rows)
        per_row = p.best / changed * 1e6 if changed else 0.0
        lines.append(
            f"| {p.scale:g} | {p.phase} | {statistics.median(p.table_rows):,.0f} | {p.orders:,} "
            f"| {changed:,.0f} | {len(p.seconds)} | {p.best:.3f} | "
            f"{statistics.median(p.seconds):.3f} | {per_row:,.1f} |"
        )
    return "\n".join(lines)


def _plan_section(results: BenchResults) -> str:
    lines = ["## Cursor query plan (SQLite `EXPLAIN QUERY PLAN`, benchmark source)\n", "```"]
    for sql, plan in results.plans:
        lines += [sql, *(f"  -> {step}" for step in plan)]
    lines.append("```")
    verdict = "uses an index SEARCH" if plans_use_index(results.plans) else "SCANS the table"
    lines.append(f"\nEvery cursor query {verdict}." if results.plans else "")
    return "\n".join(lines)


def plans_use_index(plans: list[tuple[str, list[str]]]) -> bool:
    """True when every plan step touching the table is an index SEARCH (no full SCAN)."""
    steps = [step for _sql, plan in plans for step in plan if TABLE in step]
    return bool(steps) and all(step.startswith("SEARCH") for step in steps)


def _target_section(results: BenchResults) -> str:
    full = _need(results.full)
    met = full.rows_per_s >= TARGET_ROWS_PER_S
    return (
        "## Target\n\n"
        f"Full load of {TABLE}: **{full.rows_per_s:,.0f} rows/s measured vs "
        f"{TARGET_ROWS_PER_S:,} rows/s target — {'MET' if met else 'NOT MET'}** "
        f"({full.rows_per_s / TARGET_ROWS_PER_S:.0%} of target)."
    )


def interpretation(results: BenchResults) -> list[str]:
    """3–5 plain sentences drawn from the figures."""
    full = _need(results.full)
    lines = [_full_line(results, full)]
    dlt_ok = [r for r in results.dlt if r.seconds]
    if dlt_ok:
        fastest = max(dlt_ok, key=lambda r: r.rows_per_s)
        lines.append(
            f"Against dlt's fastest backend here ({fastest.backend}, "
            f"{fastest.rows_per_s:,.0f} rows/s) shoplake loads {TABLE} "
            f"{full.rows_per_s / fastest.rows_per_s:.1f}x as fast, while also committing an "
            "Iceberg snapshot with its watermark (dlt writes plain Parquet files)."
        )
    elif results.dlt:
        lines.append(f"dlt did not run, so there is no reference ratio: {results.dlt[0].error}.")
    lines += _scaling_lines(results.points) if results.points else []
    if results.incremental:
        lines.append(_incremental_line(results.incremental))
    return lines


def _full_line(results: BenchResults, full: FullLoad) -> str:
    line = (
        f"The best full load moved {full.best.result.rows:,} {TABLE} rows in "
        f"{full.best.wall:.2f} s ({full.rows_per_s:,.0f} rows/s, "
        f"{'above' if full.rows_per_s >= TARGET_ROWS_PER_S else 'below'} the "
        f"{TARGET_ROWS_PER_S:,} rows/s target)"
    )
    if results.read_only:
        read = min(results.read_only.seconds)
        line += (
            f"; reading the source alone takes {read:.2f} s of it, the Iceberg write and "
            f"bookkeeping the other {max(full.best.wall - read, 0.0):.2f} s"
        )
    return line + "."


def _point(points: list[CursorPoint], *, large: bool, phase: str, more: bool = False) -> Any:
    """The point at the full (``large``) or the small scale, of one phase and change size."""
    top = max(p.scale for p in points)
    found = [p for p in points if (p.scale == top) == large and p.phase == phase]
    found.sort(key=lambda p: p.orders)
    return (found[-1] if more else found[0]) if found else None


def _scaling_lines(points: list[CursorPoint]) -> list[str]:
    base = _point(points, large=True, phase=STEADY)
    more = _point(points, large=True, phase=STEADY, more=True)
    small = _point(points, large=False, phase=STEADY)
    first, small_first = (_point(points, large=b, phase=FIRST) for b in (True, False))
    if None in (base, more, small, first, small_first) or base is more:
        return []
    table_ratio = statistics.median(base.table_rows) / max(statistics.median(small.table_rows), 1)
    first_ratio = first.best / small_first.best
    grows = "grows with the table" if first_ratio >= 2 else "stays flat"
    size_ratio = base.best / small.best
    follows = "not the table" if size_ratio < 1.5 else "and also the table"
    return [
        f"Steady-state cursor runs: {more.orders // base.orders}x the new orders cost "
        f"{more.best / base.best:.1f}x the time ({base.best:.3f} s → {more.best:.3f} s), while "
        f"a {table_ratio:.0f}x larger table with the same {base.orders:,} orders costs "
        f"{size_ratio:.1f}x ({small.best:.3f} s → {base.best:.3f} s): the cost follows the "
        f"changes, {follows}.",
        f"The first incremental run after a full load is the exception to check: "
        f"{first.best:.3f} s on the full table vs {small_first.best:.3f} s on the "
        f"{table_ratio:.0f}x smaller one ({first_ratio:.1f}x) — that one run {grows}.",
    ]


def _incremental_line(inc: Incremental) -> str:
    by_time = sorted(inc.results, key=lambda r: r.seconds, reverse=True)
    top = by_time[0]
    snapshot = sum(r.seconds for r in inc.results if r.strategy == "snapshot")
    cursor = sum(r.seconds for r in inc.results if r.strategy == "cursor")
    return (
        f"After {inc.orders:,} orders the whole incremental run took {inc.wall:.2f} s: "
        f"{snapshot:.2f} s in snapshot-diffed tables (a full read of each, so they grow with "
        f"the table) and {cursor:.2f} s in cursor tables; the slowest table was "
        f"{top.table} ({top.strategy}, {top.seconds:.2f} s)."
    )


def _need(value: T | None) -> T:
    if value is None:
        raise RuntimeError("benchmark phase did not run")
    return value
