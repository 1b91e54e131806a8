"""Measure shoplake's ingest: full-load rows/s, incremental cost, and dlt as a reference."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shoplake.config import Settings
    from shoplake.ingest.runner import TableResult
    from shoplake.platform import Platform

TABLE = "orderdetails"
CURSOR = "orderNumber"
TARGET_ROWS_PER_S = 500_000
RUNS = 3
SEED = 42
DLT_BACKENDS: tuple[str, ...] = ("pyarrow", "sqlalchemy")


# Results ---------------------------------------------------------------------------------------


@dataclass
class LoadRun:
    """One timed ingest call: the wall time of ``Platform.ingest`` and what it reported."""

    wall: float
    result: TableResult


@dataclass
class FullLoad:
    """Best-of-N full loads of one table, each into a fresh lakehouse."""

    runs: list[LoadRun]

    @property
    def best(self) -> LoadRun:
        return min(self.runs, key=lambda r: r.wall)

    @property
    def rows_per_s(self) -> float:
        return self.best.result.rows / self.best.wall


@dataclass
class ReadOnly:
    """shoplake's extractor reading the table into Arrow, with no lakehouse write."""

    rows: int
    seconds: list[float]


@dataclass
class DltRun:
    """The reference loader: dlt ``sql_table`` to Parquet files on the filesystem destination."""

    backend: str
    rows: int = 0
    seconds: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def rows_per_s(self) -> float:
        return self.rows / min(self.seconds) if self.seconds else 0.0


@dataclass
class Incremental:
    """One incremental ingest of every table after ``orders`` new orders were simulated."""

    orders: int
    changes: dict[str, int]
    wall: float
    results: list[TableResult]


FIRST = "first after full load"
STEADY = "steady"


@dataclass
class CursorPoint:
    """Incremental ``orderdetails`` runs at one table size and one change size.

    ``first``: the first incremental run after a full load (the watermark row sits in the
    full load's data file); ``steady``: later runs (it sits in the previous increment's).
    """

    scale: float
    orders: int
    phase: str = STEADY
    table_rows: list[int] = field(default_factory=list)
    changed_rows: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.seconds)


@dataclass
class BenchResults:
    """Everything the report shows."""

    scale: float
    changes: int
    started: dt.datetime
    source_counts: dict[str, int] = field(default_factory=dict)
    generate_seconds: float = 0.0
    full: FullLoad | None = None
    read_only: ReadOnly | None = None
    all_tables: Incremental | None = None
    dlt: list[DltRun] = field(default_factory=list)
    dlt_skipped: str | None = None
    incremental: Incremental | None = None
    points: list[CursorPoint] = field(default_factory=list)
    plans: list[tuple[str, list[str]]] = field(default_factory=list)
    finished: dt.datetime | None = None


# Entry point -----------------------------------------------------------------------------------


@dataclass
class Bench:
    """One benchmark run's parameters, directories and collected results."""

    settings: Settings
    work: Path
    runs: int
    seed: int
    results: BenchResults

    @property
    def source_dir(self) -> Path:
        return self.work / "source"

    def platform(self, data_dir: Path, source_url: str | None = None) -> Platform:
        return _platform(self.settings, data_dir, source_url)


def run_ingest_benchmark(
    settings: Settings,
    *,
    scale: float,
    changes: int,
    report: Path,
    dlt: bool = True,
    work_dir: Path | None = None,
    runs: int = RUNS,
    seed: int = SEED,
) -> Path:
    """Run every phase, write the Markdown report to ``report`` and return its path.

    Every phase works on its own directory under ``work_dir`` (default ``<data_dir>/bench``),
    removed before the phase starts. The source is a generated SQLite database under that
    directory (never the configured source: the benchmark writes to it); the lakehouse of each
    run is a fresh data dir beside it.
    """
    from shoplake.bench.ingest_report import render_report

    work = (work_dir or settings.data_dir / "bench").absolute()
    bench = Bench(settings, work, runs, seed, BenchResults(scale, changes, dt.datetime.now(dt.UTC)))
    _progress(f"ingest benchmark: scale {scale:g}, {changes:,} changes, work dir {work}")
    source_url = _generate_phase(bench)
    _full_load_phase(bench, source_url)
    _read_only_phase(bench, source_url)
    if dlt:
        _dlt_phase(bench, source_url)
    else:
        bench.results.dlt_skipped = "skipped (--no-dlt)"
    lake = _all_tables_phase(bench, source_url)
    _incremental_phase(bench, lake)
    _cursor_points_phase(bench, lake)
    bench.results.plans = cursor_query_plans(source_url)
    bench.results.finished = dt.datetime.now(dt.UTC)
    report = report.absolute()
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(render_report(bench.results, settings, report, dlt))
    return report


# Phases ----------------------------------------------------------------------------------------


def _generate_phase(bench: Bench) -> str:
    results = bench.results
    _progress(f"generate: scale {results.scale:g} into {bench.source_dir}")
    source = bench.platform(_clean(bench.source_dir))
    started = time.perf_counter()
    generated = source.generate(scale=results.scale, seed=bench.seed)
    results.generate_seconds = time.perf_counter() - started
    results.source_counts = dict(generated.counts)
    _progress(f"  {results.source_counts.get(TABLE, 0):,} {TABLE} rows")
    return source.settings.source_url


def _full_load_phase(bench: Bench, source_url: str) -> None:
    directory = bench.work / "full"
    loads = []
    for run in range(1, bench.runs + 1):
        lake = bench.platform(_clean(directory / f"run-{run}"), source_url)
        wall, result = _timed_ingest(lake, [TABLE])
        loads.append(LoadRun(wall, result))
        _progress(f"full load {run}/{bench.runs}: {result.rows:,} rows in {wall:.2f} s")
    shutil.rmtree(directory, ignore_errors=True)
    bench.results.full = FullLoad(loads)


def _read_only_phase(bench: Bench, source_url: str) -> None:
    """Time shoplake's extractor alone, to split a full load into source read and lake write."""
    from shoplake.ingest.columns import reflect_columns
    from shoplake.ingest.extract import make_extractor

    extractor = make_extractor(source_url)
    columns = reflect_columns(extractor.engine, TABLE)
    batch_rows = bench.settings.ingest.batch_rows
    seconds, rows = [], 0
    for _ in range(bench.runs):
        started = time.perf_counter()
        rows = sum(b.num_rows for b in extractor.batches(TABLE, columns, None, batch_rows))
        seconds.append(time.perf_counter() - started)
    extractor.engine.dispose()
    bench.results.read_only = ReadOnly(rows, seconds)
    _progress(f"source read only: {rows:,} rows in {min(seconds):.2f} s (best)")


def _dlt_phase(bench: Bench, source_url: str) -> None:
    directory = bench.work / "dlt"
    for backend in DLT_BACKENDS:
        outcome = DltRun(backend)
        # The row-by-row backend is much slower: once is enough to place it.
        for _ in range(bench.runs if backend == "pyarrow" else 1):
            try:
                seconds, rows = dlt_load(_clean(directory / backend), source_url, backend)
            except Exception as exc:  # the reference must never crash the benchmark
                outcome.error = _one_line(exc)
                break
            outcome.seconds.append(seconds)
            outcome.rows = rows
            _progress(f"dlt ({backend}): {rows:,} rows in {seconds:.2f} s")
        if outcome.error:
            _progress(f"dlt ({backend}) failed: {outcome.error}")
        bench.results.dlt.append(outcome)
    shutil.rmtree(directory, ignore_errors=True)


def _all_tables_phase(bench: Bench, source_url: str) -> Platform:
    """Full load of every table into the lakehouse the incremental runs continue from."""
    lake = bench.platform(_clean(bench.work / "lake"), source_url)
    wall, report = _timed_ingest_all(lake)
    bench.results.all_tables = Incremental(0, {}, wall, report)
    _progress(f"full load, all tables: {sum(r.rows for r in report):,} rows in {wall:.2f} s")
    return lake


def _incremental_phase(bench: Bench, lake: Platform) -> None:
    orders = bench.results.changes
    source = bench.platform(bench.source_dir)
    simulated = source.simulate(orders=orders, seed=bench.seed + 1)
    table_rows = count_rows(source.settings.source_url, TABLE)
    wall, report = _timed_ingest_all(lake)
    bench.results.incremental = Incremental(orders, dict(simulated.changes), wall, report)
    lines = next(r for r in report if r.table == TABLE)
    first = CursorPoint(bench.results.scale, orders, FIRST, [table_rows], [lines.rows])
    first.seconds.append(lines.seconds)
    bench.results.points.append(first)
    landed = sum(r.rows for r in report)
    _progress(f"incremental after {orders:,} orders: {landed:,} rows in {wall:.2f} s")


def _cursor_points_phase(bench: Bench, lake: Platform) -> None:
    """orderdetails incremental cost at two change sizes, then on a 10x smaller table."""
    scale, changes, seed = bench.results.scale, bench.results.changes, bench.seed
    source = bench.platform(bench.source_dir)
    for i, orders in enumerate((changes, changes * 10)):
        bench.results.points.append(_cursor_point(bench, (source, lake), orders, seed + 10 + i))
    small_scale = scale / 10
    _progress(f"generate: scale {small_scale:g} for the small-table runs")
    small_source = bench.platform(_clean(bench.work / "small-source"))
    small_source.generate(scale=small_scale, seed=seed)
    small_url = small_source.settings.source_url
    small_lake = bench.platform(_clean(bench.work / "small-lake"), small_url)
    _timed_ingest(small_lake, [TABLE])
    pair = (small_source, small_lake)
    first = _cursor_point(bench, pair, changes, seed + 20, runs=1, phase=FIRST)
    steady = _cursor_point(bench, pair, changes, seed + 21)
    for point in (first, steady):
        point.scale = small_scale
        bench.results.points.append(point)


def _cursor_point(
    bench: Bench,
    pair: tuple[Platform, Platform],
    orders: int,
    seed: int,
    *,
    runs: int | None = None,
    phase: str = STEADY,
) -> CursorPoint:
    source, lake = pair
    point = CursorPoint(bench.results.scale, orders, phase)
    for run in range(runs or bench.runs):
        source.simulate(orders=orders, seed=seed * 100 + run)
        point.table_rows.append(count_rows(source.settings.source_url, TABLE))
        _wall, result = _timed_ingest(lake, [TABLE])
        point.changed_rows.append(result.rows)
        point.seconds.append(result.seconds)
    _progress(
        f"cursor ({phase}): {statistics.median(point.table_rows):,.0f} rows, {orders:,} orders"
        f" -> {statistics.median(point.changed_rows):,.0f} new lines in {point.best:.3f} s (best)"
    )
    return point


# Building blocks -------------------------------------------------------------------------------


def _platform(settings: Settings, data_dir: Path, source_url: str | None = None) -> Platform:
    """A platform on ``data_dir`` with the caller's ingest settings and a local lakehouse."""
    from shoplake.config import SourceSettings
    from shoplake.platform import Platform

    url = source_url or f"sqlite:///{data_dir / 'source.db'}"
    lake = settings.lake.model_copy(update={"catalog_uri": None, "warehouse": None})
    copy = settings.model_copy(
        update={"data_dir": data_dir, "source": SourceSettings(url=url), "lake": lake}, deep=True
    )
    return Platform(copy)


def _timed_ingest(lake: Platform, tables: list[str]) -> tuple[float, TableResult]:
    wall, results = _timed_ingest_all(lake, tables)
    return wall, results[0]


def _timed_ingest_all(
    lake: Platform, tables: list[str] | None = None
) -> tuple[float, list[TableResult]]:
    started = time.perf_counter()
    report = lake.ingest(tables)
    wall = time.perf_counter() - started
    failed = [f"{r.table}: {r.error}" for r in report.results if r.status == "failed"]
    if failed:
        raise RuntimeError("ingest failed during the benchmark: " + "; ".join(failed))
    return wall, report.results


def dlt_load(directory: Path, source_url: str, backend: str) -> tuple[float, int]:
    """Load ``orderdetails`` with dlt into Parquet under ``directory``; (seconds, rows)."""
    with _dlt_environment(directory):
        import dlt
        import pyarrow.parquet as pq
        from dlt.sources.sql_database import sql_table

        destination = directory / "parquet"
        pipeline = dlt.pipeline(
            pipeline_name=f"bench_{backend}",
            destination=dlt.destinations.filesystem(bucket_url=destination.as_uri()),
            dataset_name="bronze",
            pipelines_dir=str(directory / "pipelines"),
        )
        resource = sql_table(credentials=source_url, table=TABLE, backend=backend)  # type: ignore[arg-type]
        started = time.perf_counter()
        pipeline.run(resource, loader_file_format="parquet")
        seconds = time.perf_counter() - started
    files = list((destination / "bronze" / TABLE).rglob("*.parquet"))
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return seconds, rows


def _dlt_environment(directory: Path) -> AbstractContextManager[None]:
    """dlt configured in code: no telemetry, no network, state kept under ``directory``."""
    from shoplake.environ import temporary_environment

    return temporary_environment(
        {
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "RUNTIME__LOG_LEVEL": "WARNING",
            "DLT_DATA_DIR": str(directory / "dlt-data"),
        }
    )


def count_rows(source_url: str, table: str) -> int:
    """Rows in a table of a SQLite source."""
    with _sqlite(source_url) as con:
        return int(con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def cursor_query_plans(source_url: str) -> list[tuple[str, list[str]]]:
    """SQLite's EXPLAIN QUERY PLAN for the queries of an incremental orderdetails run."""
    where = f'"{CURSOR}" >= ? AND "{CURSOR}" <= ?'
    with _sqlite(source_url) as con:
        high = con.execute(f'SELECT max("{CURSOR}") FROM {TABLE}').fetchone()[0] or 0
        queries = [
            (f"SELECT * FROM {TABLE} WHERE {where}", (high - 10, high)),
            (f"SELECT count(*) FROM {TABLE} WHERE {where}", (high - 10, high)),
            (f'SELECT max("{CURSOR}") FROM {TABLE} WHERE "{CURSOR}" >= ?', (high - 10,)),
            (_extractor_shape(con, where), (high - 10, high)),
        ]
        return [
            (sql, [row[3] for row in con.execute(f"EXPLAIN QUERY PLAN {sql}", args)])
            for sql, args in queries
        ]


def _extractor_shape(con: sqlite3.Connection, where: str) -> str:
    """The shape of the SQL shoplake's ADBC extractor runs: a typed primer row, CASTs, a range."""
    names = [row[1] for row in con.execute(f"PRAGMA table_info({TABLE})")]
    primer = ", ".join(f'0 AS "{name}"' for name in names)
    casts = ", ".join(f'CAST("{name}" AS TEXT) AS "{name}"' for name in names)
    return f"SELECT {primer} UNION ALL SELECT {casts} FROM {TABLE} WHERE {where}"


@contextmanager
def _sqlite(source_url: str) -> Iterator[sqlite3.Connection]:
    from shoplake.sourcedb import sqlite_path

    path = sqlite_path(source_url)
    if path is None:
        raise ValueError(f"the ingest benchmark needs a SQLite source, not {source_url!r}")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        yield con
    finally:
        con.close()


def _clean(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip().rstrip(":")
