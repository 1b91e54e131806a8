"""Measure shoplake's transform: the full gold build against the same SQL run in plain DuckDB.

The reference is the model SQL executed in one DuckDB connection over the Parquet data files of
the bronze tables' current snapshots (``read_parquet``), each model materialized as a DuckDB
table the next models read, so both sides compute the same chain from the same files. shoplake
adds what a platform adds: an Arrow scan of every input through PyIceberg, the contract checks
and an Iceberg commit per model.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import os
import pstats
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from shoplake.bench.ingest import _clean, _platform, _progress, _timed_ingest_all

if TYPE_CHECKING:
    import duckdb
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from shoplake.config import Settings
    from shoplake.ingest.runner import TableResult
    from shoplake.platform import Platform
    from shoplake.transform.project import Model, Project
    from shoplake.transform.runner import ModelResult

TARGET_OVERHEAD = 0.30
RUNS = 3
SEED = 42
ORDERS = 1000
#: Totals compared between the raw result and the published table, beyond the row count.
SUMS: dict[str, str] = {"gold.fact_orders": "order_amount"}
DELETED = "_deleted"

#: (label, a path ending of the file, function name): where a profiled shoplake run spends its
#: time. The first block splits the run without overlap; the indented rows are parts of a row
#: above them.
PROFILE_PARTS: tuple[tuple[str, str, str], ...] = (
    ("inputs: views over upstream tables' files (`expose`)", "engines/duckdb.py", "expose"),
    ("model SQL into a DuckDB table (`materialize`)", "engines/duckdb.py", "materialize"),
    ("contract checks (`run_checks`)", "transform/contracts.py", "run_checks"),
    ("waiting for background commits (`Publisher.wait`)", "transform/publish.py", "wait"),
    ("catalog table loads (`Runner._table`)", "transform/runner.py", "_table"),
    ("deleted-row filter (`drop_deleted_rows`)", "engines/duckdb.py", "drop_deleted_rows"),
    ("row counts of results (`row_count`)", "engines/duckdb.py", "row_count"),
    ("DuckDB connections (`new_connection`)", "engines/duckdb.py", "new_connection"),
    (
        "project load: models, contracts, cached dependencies (`Project.load`)",
        "transform/project.py",
        "load",
    ),
    ("contract results appended (`record_results`)", "transform/results.py", "record_results"),
    (
        "  scan planning, all calls (`DataScan.plan_files`)",
        "table/__init__.py",
        "_plan_files_local",
    ),
    (
        "  metadata rebuilt per access, all calls (`update_table_metadata`)",
        "update/__init__.py",
        "update_table_metadata",
    ),
)


# Results ---------------------------------------------------------------------------------------


@dataclass
class ShoplakeRun:
    """One ``Platform.transform(full_refresh=True)``: its wall time and per-model results."""

    wall: float
    results: list[ModelResult]

    @property
    def by_model(self) -> dict[str, ModelResult]:
        return {r.model: r for r in self.results}


@dataclass
class RawRun:
    """One pass of the whole model chain in plain DuckDB, with what each model produced."""

    wall: float
    seconds: dict[str, float]
    rows: dict[str, int]
    sums: dict[str, Decimal]
    threads: int


@dataclass(frozen=True)
class BronzeInput:
    """One bronze table the models read: its current snapshot's data files."""

    name: str
    rows: int
    paths: tuple[str, ...]


@dataclass(frozen=True)
class ProfilePart:
    """Cumulative time of one function in the profiled run."""

    label: str
    seconds: float
    calls: int


@dataclass
class Profile:
    """One shoplake full build under cProfile."""

    wall: float
    parts: list[ProfilePart]


@dataclass
class IncrementalRun:
    """``simulate`` + ``ingest`` + one ``Platform.transform()`` without full refresh."""

    orders: int
    changes: dict[str, int]
    ingest: list[TableResult]
    bronze_rows: dict[str, int]
    wall: float
    results: list[ModelResult]


@dataclass
class TransformBenchResults:
    """Everything the report shows."""

    scale: float
    runs: int
    started: dt.datetime
    source_counts: dict[str, int] = field(default_factory=dict)
    generate_seconds: float = 0.0
    ingest_seconds: float = 0.0
    bronze: list[BronzeInput] = field(default_factory=list)
    listing_seconds: float = 0.0
    materialized: dict[str, str] = field(default_factory=dict)
    upstream: dict[str, tuple[str, ...]] = field(default_factory=dict)
    shoplake: list[ShoplakeRun] = field(default_factory=list)
    raw: list[RawRun] = field(default_factory=list)
    raw_persisted: list[RawRun] = field(default_factory=list)  # results written to Parquet
    published_rows: dict[str, int] = field(default_factory=dict)
    published_sums: dict[str, Decimal] = field(default_factory=dict)
    profile: Profile | None = None
    incremental: IncrementalRun | None = None
    finished: dt.datetime | None = None
    load_average: tuple[float, float] = (0.0, 0.0)  # 1-minute, at start and at end

    @property
    def best_shoplake(self) -> ShoplakeRun:
        return min(self.shoplake, key=lambda r: r.wall)

    @property
    def best_raw(self) -> RawRun:
        return min(self.raw, key=lambda r: r.wall)

    @property
    def overhead(self) -> float:
        return self.best_shoplake.wall / self.best_raw.wall - 1

    @property
    def best_raw_persisted(self) -> RawRun:
        return min(self.raw_persisted, key=lambda r: r.wall)

    @property
    def overhead_persisted(self) -> float:
        """Overhead over the raw chain that also writes each result to Parquet."""
        return self.best_shoplake.wall / self.best_raw_persisted.wall - 1


# Entry point -----------------------------------------------------------------------------------


def run_transform_benchmark(
    settings: Settings,
    *,
    scale: float,
    report: Path,
    work_dir: Path | None = None,
    runs: int = RUNS,
    seed: int = SEED,
    orders: int = ORDERS,
) -> Path:
    """Run every phase, write the Markdown report to ``report`` and return its path.

    Works in ``work_dir`` (default ``<data_dir>/bench-transform``), removed first: a generated
    SQLite source and a local lakehouse beside it, never the configured ones.
    """
    from shoplake.bench.transform_report import render_report

    work = _clean((work_dir or settings.data_dir / "bench-transform").absolute())
    results = TransformBenchResults(scale, runs, dt.datetime.now(dt.UTC))
    started_load = _load_average()
    _progress(f"transform benchmark: scale {scale:g}, best of {runs}, work dir {work}")
    lake = _platform(settings, work)
    _setup_phase(lake, results, seed)
    project = runnable(lake.project(), lake.catalog)
    results.materialized = {t: project.models[t].materialized for t in project.order}
    results.upstream = {t: tuple(sorted(project.models[t].upstream)) for t in project.order}
    bronze = _bronze_phase(lake.catalog, project, results)
    for run in range(1, runs + 1):
        _shoplake_run(lake, results, run)
        if run == 1:
            _published_phase(lake.catalog, project, results)
        _raw_run(project, bronze, results, run)
    _profile_phase(lake, results)
    _incremental_phase(lake, results, orders, seed + 1)
    results.finished = dt.datetime.now(dt.UTC)
    results.load_average = (started_load, _load_average())
    report = report.absolute()
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(render_report(results, settings, report))
    return report


# Phases ----------------------------------------------------------------------------------------


def _setup_phase(lake: Platform, results: TransformBenchResults, seed: int) -> None:
    _progress(f"generate: scale {results.scale:g}")
    started = time.perf_counter()
    results.source_counts = dict(lake.generate(scale=results.scale, seed=seed).counts)
    results.generate_seconds = time.perf_counter() - started
    results.ingest_seconds, landed = _timed_ingest_all(lake)
    _progress(f"ingest: {sum(r.rows for r in landed):,} rows in {results.ingest_seconds:.2f} s")


def _bronze_phase(
    catalog: Catalog, project: Project, results: TransformBenchResults
) -> list[BronzeInput]:
    """The data files of every bronze table a model reads (listing timed, not counted)."""
    names = sorted({u for m in project.models.values() for u in m.upstream if is_bronze(u)})
    started = time.perf_counter()
    results.bronze = [bronze_input(catalog, name) for name in names]
    results.listing_seconds = time.perf_counter() - started
    files = sum(len(b.paths) for b in results.bronze)
    _progress(f"bronze: {len(names)} tables, {files} data files")
    return results.bronze


def _shoplake_run(lake: Platform, results: TransformBenchResults, run: int) -> None:
    started = time.perf_counter()
    report = lake.transform(list(results.materialized), full_refresh=True)
    wall = time.perf_counter() - started
    _require_published(report.results)
    results.shoplake.append(ShoplakeRun(wall, report.results))
    _progress(f"shoplake full build {run}/{results.runs}: {wall:.2f} s")


def _published_phase(catalog: Catalog, project: Project, results: TransformBenchResults) -> None:
    """Row counts (and totals) of the tables shoplake published: the answers raw must give."""
    import pyarrow.compute as pc

    for target in project.order:
        table = catalog.load_table(target)
        results.published_rows[target] = snapshot_rows(table)
        column = SUMS.get(target)
        if column:
            data = table.scan(selected_fields=(column,)).to_arrow()
            results.published_sums[target] = pc.sum(data.column(column)).as_py()


def _raw_run(
    project: Project, bronze: list[BronzeInput], results: TransformBenchResults, run: int
) -> None:
    raw = raw_chain(project, bronze)
    verify_raw(raw, results.published_rows, results.published_sums)
    results.raw.append(raw)
    _progress(f"raw DuckDB chain {run}/{results.runs}: {raw.wall:.2f} s (results verified)")
    with tempfile.TemporaryDirectory(prefix="raw-parquet-") as out:
        persisted = raw_chain(project, bronze, Path(out))
    verify_raw(persisted, results.published_rows, results.published_sums)
    results.raw_persisted.append(persisted)
    _progress(f"raw DuckDB chain + Parquet out {run}/{results.runs}: {persisted.wall:.2f} s")


def _profile_phase(lake: Platform, results: TransformBenchResults) -> None:
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    try:
        report = lake.transform(list(results.materialized), full_refresh=True)
    finally:
        profiler.disable()
    wall = time.perf_counter() - started
    _require_published(report.results)
    results.profile = Profile(wall, attribute(profiler))
    _progress(f"profiled shoplake full build: {wall:.2f} s under cProfile")


def _incremental_phase(
    lake: Platform, results: TransformBenchResults, orders: int, seed: int
) -> None:
    simulated = lake.simulate(orders=orders, seed=seed)
    _wall, landed = _timed_ingest_all(lake)
    started = time.perf_counter()
    report = lake.transform(list(results.materialized))
    wall = time.perf_counter() - started
    _require_published(report.results, allowed=("published", "unchanged"))
    bronze_rows = {b.name: snapshot_rows(lake.catalog.load_table(b.name)) for b in results.bronze}
    results.incremental = IncrementalRun(
        orders, dict(simulated.changes), landed, bronze_rows, wall, report.results
    )
    modes = sorted({r.mode for r in report.results if r.mode})
    _progress(f"incremental after {orders:,} orders: {wall:.2f} s (modes: {', '.join(modes)})")


# The raw DuckDB chain --------------------------------------------------------------------------


def raw_chain(project: Project, bronze: list[BronzeInput], out: Path | None = None) -> RawRun:
    """Every model of ``project`` in run order in one DuckDB, over the bronze Parquet files.

    With ``out``, each result is also written to ``out/<target>.parquet`` (zstd) as part of
    its model's time: the least any pipeline that keeps its results must do.
    """
    from shoplake.transform.engines.duckdb import new_connection, write_parquet

    started = time.perf_counter()
    con = new_connection()
    try:
        for table in bronze:
            con.execute(f"CREATE VIEW {_quoted(table.name)} AS {read_parquet_sql(table.paths)}")
        seconds = {}
        for target in project.order:
            model_started = time.perf_counter()
            materialize(con, project.models[target])
            if out is not None:
                write_parquet(con, _quoted(target), out / f"{target}.parquet")
            seconds[target] = time.perf_counter() - model_started
        wall = time.perf_counter() - started
        threads = int(_scalar(con, "SELECT current_setting('threads')"))
        rows = {t: _scalar(con, f"SELECT count(*) FROM {_quoted(t)}") for t in project.order}
        sums = {t: _scalar(con, f'SELECT sum("{c}") FROM {_quoted(t)}') for t, c in SUMS.items()}
    finally:
        con.close()
    return RawRun(wall, seconds, rows, sums, threads)


def materialize(con: duckdb.DuckDBPyConnection, model: Model) -> None:
    """``CREATE TABLE <target> AS <model SQL>``, minus rows flagged ``_deleted`` and the flag,
    as the runner does for a full refresh."""
    select = model.sql
    if DELETED in con.sql(select).columns:
        select = (
            f"SELECT * EXCLUDE ({DELETED}) FROM ({select}) AS m "
            f"WHERE NOT coalesce(m.{DELETED}, false)"
        )
    con.execute(f"CREATE TABLE {_quoted(model.target)} AS {select}")


def read_parquet_sql(paths: tuple[str, ...]) -> str:
    files = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    return f"SELECT * FROM read_parquet([{files}], union_by_name = true)"


def verify_raw(raw: RawRun, rows: dict[str, int], sums: dict[str, Decimal]) -> None:
    """Raise unless every raw result has the published table's row count (and totals)."""
    wrong = [
        f"{t}: {raw.rows.get(t)} rows vs {n:,} published"
        for t, n in rows.items()
        if raw.rows.get(t) != n
    ]
    wrong += [f"{t}: sum {raw.sums.get(t)} vs {s}" for t, s in sums.items() if raw.sums.get(t) != s]
    if wrong:
        raise RuntimeError("raw DuckDB results differ from shoplake's: " + "; ".join(wrong))


# Building blocks -------------------------------------------------------------------------------


def runnable(project: Project, catalog: Catalog) -> Project:
    """The models whose bronze inputs exist (no clickstream in this benchmark: no sessions)."""
    from shoplake.lake.catalog import list_tables
    from shoplake.transform.project import Project

    existing = set(list_tables(catalog))
    keep: dict[str, Any] = {}
    for target in project.order:
        model = project.models[target]
        if all(u in existing or u in keep for u in model.upstream):
            keep[target] = model
    return Project(keep)


def bronze_input(catalog: Catalog, name: str) -> BronzeInput:
    """The data files of ``name``'s current snapshot, as local paths DuckDB can read."""
    table = catalog.load_table(name)
    paths = []
    for task in table.scan().plan_files():
        if task.delete_files:
            raise RuntimeError(f"{name} has delete files: plain read_parquet would be wrong")
        paths.append(local_path(task.file.file_path))
    return BronzeInput(name, snapshot_rows(table), tuple(paths))


def local_path(location: str) -> str:
    """``file:///a/b.parquet`` -> ``/a/b.parquet``; other locations (``s3://…``) unchanged."""
    parsed = urlparse(location)
    return unquote(parsed.path) if parsed.scheme == "file" else location


def snapshot_rows(table: Table) -> int:
    """Rows in a PyIceberg table's current snapshot (from its summary: no data read)."""
    from shoplake.lake.snapshots import current_rows

    return current_rows(table)


def attribute(profiler: cProfile.Profile) -> list[ProfilePart]:
    """Cumulative seconds and calls of each function in ``PROFILE_PARTS``.

    Where several functions match one part (same name, same file), only the time entering the
    group from outside counts, so a ``plan_files`` calling another ``plan_files`` counts once.
    """
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    parts = []
    for label, path_end, function in PROFILE_PARTS:
        matched = {
            key
            for key in stats
            if key[2] == function and key[0].replace("\\", "/").endswith(path_end)
        }
        seconds, calls = 0.0, 0
        for key in matched:
            _primitive, total, _own, cumulative, callers = stats[key]
            if not callers:
                seconds, calls = seconds + cumulative, calls + total
                continue
            outside = [edge for caller, edge in callers.items() if caller not in matched]
            seconds += sum(edge[3] for edge in outside)
            calls += sum(edge[0] for edge in outside)
        parts.append(ProfilePart(label, seconds, calls))
    return parts


def is_bronze(name: str) -> bool:
    return name.split(".", 1)[0] == "bronze"


def bronze_only(upstream: tuple[str, ...]) -> bool:
    """True for a model that reads nothing but bronze tables (a silver model)."""
    return bool(upstream) and all(is_bronze(u) for u in upstream)


def _require_published(
    results: list[ModelResult], allowed: tuple[str, ...] = ("published",)
) -> None:
    bad = [f"{r.model}: {r.status} ({r.error})" for r in results if r.status not in allowed]
    if bad:
        raise RuntimeError("transform did not publish every model: " + "; ".join(bad))


def _load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # not available on this platform
        return float("nan")


def _quoted(name: str) -> str:
    return ".".join(f'"{part}"' for part in name.split("."))


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    return row[0] if row else 0
