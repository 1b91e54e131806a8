"""Stage 2 command: batch ingestion from the source into bronze."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shoplake.cli.main import platform
from shoplake.cli.output import emit_json, ingest_progress, plural, print_table, say

if TYPE_CHECKING:
    from shoplake.ingest.runner import IngestReport
    from shoplake.platform import Platform


def ingest(
    ctx: typer.Context,
    tables: Annotated[
        list[str] | None,
        typer.Argument(
            help="Source tables to ingest (default: all), or `api` for the supplier's REST API."
        ),
    ] = None,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Reload the bronze tables from scratch; a source table's old content stays "
            "until the new content commits.",
        ),
    ] = False,
    output: Annotated[str, typer.Option(help="text or json.")] = "text",
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Land source changes in bronze.<table>: append-only history with _op, _batch_id.

    Each table is one atomic Iceberg commit holding its rows and its watermark; a re-run
    with no source change commits nothing. Strategies: `cursor` (rows past a watermark) for
    tables with a trustworthy cursor, `snapshot` (full extract diffed by key and row hash)
    for the rest; override per table in shoplake.toml under [ingest.tables.<name>].

    `shoplake ingest api [products|reviews]` reads the supplier's REST API instead
    (settings under [supplier]): OAuth2 client credentials, retries with backoff that honour
    Retry-After, incremental by updated_since with the watermark in bronze's snapshot
    summary; invalid records go to bronze.supplier_dead_letters with the reason.
    """
    plat = platform(ctx)
    if tables and tables[0] == "api":
        ingest_supplier_api(plat, tables[1:], full_refresh, output, progress)
        return
    with ingest_progress(progress and output == "text") as hook:
        report = plat.ingest(tables or None, full_refresh=full_refresh, progress=hook)
    if output == "json":
        emit_json([vars(r) for r in report.results])
    else:
        print_ingest_report(report)
    if not report.ok:
        from rich.markup import escape

        for result in report.results:
            if result.error:  # escaped: a row key may hold [brackets]
                say(f"[red]error:[/red] {escape(result.error)}")
        raise typer.Exit(1)


def ingest_supplier_api(
    plat: Platform, resources: list[str], full_refresh: bool, output: str, progress: bool
) -> None:
    """`shoplake ingest api`: the supplier API's products and reviews into bronze."""
    with ingest_progress(progress and output == "text") as hook:
        report = plat.ingest_api(resources or None, full_refresh=full_refresh, progress=hook)
    if output == "json":
        emit_json({**vars(report), "results": [vars(r) for r in report.results]})
    else:
        columns = ["resource", "status", "pages", "fetched", "inserts", "updates"]
        columns += ["already_landed", "dead_letters", "watermark"]
        print_table([vars(r) for r in report.results], columns, title=report.base_url)
        retries = ", ".join(f"{n} {why}" for why, n in sorted(report.retries.items()))
        fetches = plural(report.token_fetches, "token fetch", "token fetches")
        say(
            f"{plural(report.requests, 'request')}, {fetches}, "
            f"retries: {retries or 'none'} ({report.waited_seconds:.1f} s waiting)"
        )
    failures = [r for r in report.results if r.error]
    for result in failures:
        say(f"[red]error:[/red] {result.resource}: {result.error}")
    if not report.ok:
        raise typer.Exit(1)


def print_ingest_report(report: IngestReport) -> None:
    """The per-table summary of an ingest run."""
    rows = [
        {
            "table": r.table,
            "strategy": r.strategy,
            "status": r.status,
            "inserts": r.inserts,
            "updates": r.updates,
            "deletes": r.deletes,
            "batch": r.batch_id,
            "watermark": r.watermark,
            "seconds": round(r.seconds, 2),
        }
        for r in report.results
    ]
    columns = ["table", "strategy", "status", "inserts", "updates", "deletes", "batch"]
    print_table(rows, [*columns, "watermark", "seconds"])
    for r in report.results:
        for line in r.schema_changes:
            say(f"schema: {line}")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="2 · ingest")(ingest)
