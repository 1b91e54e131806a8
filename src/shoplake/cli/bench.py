"""``shoplake bench``: reproducible benchmarks that write reports (figures, machine, date)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shoplake.cli.main import platform
from shoplake.cli.output import say

bench_app = typer.Typer(help="Benchmarks that write Markdown reports.", no_args_is_help=True)


@bench_app.command("ingest")
def ingest(
    ctx: typer.Context,
    scale: Annotated[float, typer.Option(min=0.001, help="Generated shop size.")] = 1.0,
    changes: Annotated[
        int, typer.Option(min=1, help="Orders placed before the incremental run.")
    ] = 1000,
    report: Annotated[Path, typer.Option(help="Where to write the Markdown report.")] = Path(
        "benchmarks/reports/ingest.md"
    ),
    dlt: Annotated[bool, typer.Option(help="Also time dlt as the reference loader.")] = True,
) -> None:
    """Full-load rows/s for orderdetails, incremental cost after N changes, dlt as reference."""
    from shoplake.bench.ingest import run_ingest_benchmark

    settings = platform(ctx).settings
    path = run_ingest_benchmark(settings, scale=scale, changes=changes, report=report, dlt=dlt)
    say(f"report written to {path}")


@bench_app.command("transform")
def transform(
    ctx: typer.Context,
    scale: Annotated[float, typer.Option(min=0.001, help="Generated shop size.")] = 1.0,
    report: Annotated[Path, typer.Option(help="Where to write the Markdown report.")] = Path(
        "benchmarks/reports/transform.md"
    ),
) -> None:
    """Full gold build through shoplake vs the same SQL in plain DuckDB; incremental run."""
    from shoplake.bench.transform import run_transform_benchmark

    settings = platform(ctx).settings
    path = run_transform_benchmark(settings, scale=scale, report=report)
    say(f"report written to {path}")


@bench_app.command("stream")
def stream(
    ctx: typer.Context,
    events: Annotated[
        int, typer.Option(min=1000, help="Events produced for each throughput run.")
    ] = 200_000,
    report: Annotated[Path, typer.Option(help="Where to write the Markdown report.")] = Path(
        "benchmarks/reports/stream.md"
    ),
) -> None:
    """Events/s through validate → dedupe → commit; produce → session-state latency at 1,000/s."""
    from shoplake.bench.stream import run_stream_benchmark

    path = run_stream_benchmark(platform(ctx).settings, events=events, report=report)
    say(f"report written to {path}")


@bench_app.command("recommend")
def recommend(
    ctx: typer.Context,
    scale: Annotated[float, typer.Option(min=0.001, help="Generated shop size.")] = 1.0,
    lookups: Annotated[int, typer.Option(min=100, help="Precomputed lookups timed.")] = 5000,
    sessions: Annotated[int, typer.Option(min=100, help="Live computations timed.")] = 2000,
    report: Annotated[Path, typer.Option(help="Where to write the Markdown report.")] = Path(
        "benchmarks/reports/recommend.md"
    ),
) -> None:
    """Training time; p50/p99 of online-store lookups and of live session-aware scoring."""
    from shoplake.bench.recommend import run_recommend_benchmark

    settings = platform(ctx).settings
    path = run_recommend_benchmark(
        settings, scale=scale, report=report, lookups=lookups, sessions=sessions
    )
    say(f"report written to {path}")


@bench_app.command("api")
def api(
    ctx: typer.Context,
    scale: Annotated[float, typer.Option(min=0.001, help="Generated shop size.")] = 0.1,
    seconds: Annotated[float, typer.Option(min=1, help="Length of each measurement.")] = 10.0,
    rounds: Annotated[int, typer.Option(min=1, help="Rounds alternating the servers.")] = 2,
    report: Annotated[Path, typer.Option(help="Where to write the Markdown report.")] = Path(
        "benchmarks/reports/api.md"
    ),
) -> None:
    """GET /recommendations vs a bare FastAPI + valkey endpoint: max requests/s, p99 at 1,000/s."""
    from shoplake.bench.api import run_api_benchmark

    settings = platform(ctx).settings
    path = run_api_benchmark(settings, scale=scale, report=report, seconds=seconds, rounds=rounds)
    say(f"report written to {path}")


@bench_app.command("engines")
def engine_comparison(
    ctx: typer.Context,
    scales: Annotated[
        str, typer.Option(help="Comma-separated shop sizes, e.g. 0.1,1,5.")
    ] = "0.1,1,5",
    engines: Annotated[
        str, typer.Option(help="Comma-separated engines: pandas, polars, duckdb, spark.")
    ] = "pandas,polars,duckdb,spark",
    repeat: Annotated[int, typer.Option(min=1, help="Runs per measurement (best counts).")] = 3,
    report: Annotated[Path, typer.Option(help="Where to write the Markdown report.")] = Path(
        "benchmarks/reports/engines.md"
    ),
) -> None:
    """pandas, Polars, DuckDB or Spark: four workloads, checked equal, timed; memory; storage."""
    from shoplake.bench.engines.runner import run_engines_benchmark
    from shoplake.errors import ConfigError

    try:
        sizes = tuple(float(s) for s in scales.split(",") if s.strip())
    except ValueError as exc:
        raise ConfigError(f"--scales takes numbers separated by commas: {exc}") from exc
    names = tuple(e.strip().lower() for e in engines.split(",") if e.strip())
    path = run_engines_benchmark(
        platform(ctx).settings, scales=sizes, engines=names, report=report, repeat=repeat
    )
    say(f"report written to {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench", rich_help_panel="benchmarks")
