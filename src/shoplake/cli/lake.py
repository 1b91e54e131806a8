"""Stage 3 commands: list, maintain and query the lakehouse."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from shoplake.cli.main import platform
from shoplake.cli.output import emit_json, human_bytes, out, plural, print_table, say


def tables(
    ctx: typer.Context,
    output: Annotated[str, typer.Option(help="text or json.")] = "text",
) -> None:
    """List every lakehouse table: rows, data files, bytes, snapshots, last commit, watermark."""
    stats = platform(ctx).tables()
    broken = [s.problem for s in stats if s.problem]
    if output == "json":
        emit_json([s.as_dict() for s in stats])
    elif not stats:
        say("the lakehouse is empty: run `shoplake ingest` (or `shoplake demo`)")
    else:
        rows = [
            {**s.as_dict(), "size": human_bytes(s.bytes), "rows": "BROKEN" if s.problem else s.rows}
            for s in stats
        ]
        columns = ["name", "rows", "data_files", "size", "snapshots", "last_commit", "watermark"]
        print_table(rows, columns)
    for problem in broken:
        print(f"error: {problem}", file=sys.stderr)
    if broken:
        raise typer.Exit(1)


def maintain(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None, typer.Argument(help="Tables (namespace.table); default: all.")
    ] = None,
    orphan_min_age: Annotated[
        float,
        typer.Option(help="Only delete unreferenced files older than this many seconds."),
    ] = 3600.0,
    output: Annotated[str, typer.Option(help="text or json.")] = "text",
) -> None:
    """Compact small files, expire snapshots past retention, delete orphaned data files.

    Table contents never change; ingestion state (kept in table properties) is preserved.
    Retention: lake.snapshot_retention_hours (default 168) and lake.min_snapshots_to_keep.
    """
    results = platform(ctx).maintain(names or None, orphan_min_age_seconds=orphan_min_age)
    if output == "json":
        emit_json([r.as_dict() for r in results])
        return
    print_table([r.as_dict() for r in results], list(results[0].as_dict()) if results else [])


def query(
    ctx: typer.Context,
    sql: Annotated[
        str, typer.Argument(help="One read-only SELECT, e.g. 'SELECT … FROM bronze.orders'.")
    ],
    output: Annotated[
        str, typer.Option(help="table, json (array of row objects) or csv.")
    ] = "table",
    max_rows: Annotated[
        int | None, typer.Option(help="Row limit [default: query.max_rows].")
    ] = None,
    role: Annotated[
        str,
        typer.Option(help="admin (every value) or analyst (PII masked, as POST /query shows it)."),
    ] = "admin",
) -> None:
    """Run read-only DuckDB SQL over lakehouse tables addressed as bronze.x, silver.x, gold.x."""
    from shoplake.lake.query import rows_as_json
    from shoplake.lake.query_json import csv_text, unique_names

    if role not in ("admin", "analyst"):
        raise typer.BadParameter(f"unknown role {role!r}: use admin or analyst")
    masked: list[str] | None = [] if role == "analyst" else None
    result = platform(ctx).query(sql, max_rows=max_rows, masked=masked)
    if output == "json":
        emit_json(rows_as_json(result.table))
    elif output == "csv":
        print(csv_text(result.table), end="")
    elif output == "table":
        print_table(rows_as_json(result.table), unique_names(result.table.column_names))
    else:
        raise typer.BadParameter(f"unknown output {output!r}: use table, json or csv")
    shown = plural(result.table.num_rows, "row")
    if result.truncated_by == "bytes":
        say(f"[yellow]showing the first {shown}: the result passed query.max_bytes")
    elif result.truncated:
        say(f"[yellow]showing the first {shown}; raise --max-rows for more")
    if output == "table":
        out.print(f"[dim]{plural(result.table.num_rows, 'row')} in {result.seconds:.2f} s[/dim]")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="3 · store")(tables)
    app.command(rich_help_panel="3 · store")(maintain)
    app.command(rich_help_panel="3 · store")(query)
