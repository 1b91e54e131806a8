"""Stage 4 commands: build silver and gold, check contracts, show lineage."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from shoplake.cli.main import platform
from shoplake.cli.output import emit_json, out, plural, print_table, say

if TYPE_CHECKING:
    from shoplake.transform.contracts import CheckResult
    from shoplake.transform.project import Project


class Engine(StrEnum):
    """Where the models are computed."""

    duckdb = "duckdb"
    spark = "spark"


Selectors = Annotated[
    list[str] | None,
    typer.Argument(help="Models to run: NAME or namespace.NAME; NAME+ adds everything downstream."),
]


def transform(
    ctx: typer.Context,
    select: Annotated[
        list[str] | None,
        typer.Option("--select", "-s", help="MODEL or MODEL+ (repeatable); default: all."),
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild incremental models from all history.")
    ] = False,
    engine: Annotated[
        Engine,
        typer.Option(help="duckdb, or spark (the spark extra; every model computed in full)."),
    ] = Engine.duckdb,
    output: Annotated[str, typer.Option(help="text or json.")] = "text",
) -> None:
    """Run the SQL models (silver, gold, ml) on DuckDB or Spark and publish them to the
    lakehouse.

    Each result is checked against its contract before it is committed: a failing model is
    not published (its table keeps its previous snapshot) and its downstream models are
    skipped. Incremental models read only bronze snapshots newer than their last build; with
    --engine spark every model is computed in full from the snapshot's data files instead.
    """
    report = platform(ctx).transform(
        select or None,
        full_refresh=full_refresh,
        engine="spark" if engine is Engine.spark else "duckdb",
    )
    if output == "json":
        emit_json(
            {
                "run_id": report.run_id,
                "engine": report.engine,
                "models": [r.as_dict() for r in report.results],
            }
        )
    else:
        say(
            f"engine: {report.engine}"
            + (" (every model computed in full)" if engine is Engine.spark else "")
        )
        rows = [
            {
                "model": r.model,
                "status": r.status,
                "mode": r.mode,
                "rows": r.rows,
                "rows scanned": r.rows_scanned,
                "files read": r.files_read,
                "checks": f"{r.checks_passed}/{r.checks_passed + r.checks_failed}",
                "seconds": round(r.seconds, 2),
            }
            for r in report.results
        ]
        print_table(rows, list(rows[0]) if rows else [])
        for result in report.results:
            if result.note:
                say(f"note: {result.model}: {result.note}")
    if not report.ok:
        for result in report.results:
            if result.status == "failed" and result.error:
                say(f"[red]error:[/red] {result.error}")
        raise typer.Exit(1)


def check(
    ctx: typer.Context,
    models: Selectors = None,
    output: Annotated[str, typer.Option(help="text or json.")] = "text",
) -> None:
    """Run every contract against the published tables; exit 1 if any check fails.

    Results are appended to audit.contract_results.
    """
    shop = platform(ctx)
    results = sorted_by_layer(shop.check(models or None), shop.project())
    if output == "json":
        emit_json([r.as_dict() for r in results])
    else:
        rows = [
            {"model": r.model, "check": r.check, "status": r.status, "detail": r.message}
            for r in results
        ]
        print_table(rows, ["model", "check", "status", "detail"])
        passed = sum(r.status == "pass" for r in results)
        out.print(f"{passed} of {plural(len(results), 'check')} passed")
    if any(r.status != "pass" for r in results):
        raise typer.Exit(1)


#: The order ``check`` lists layers in: a model's folder (ml models publish to gold).
LAYER_ORDER = ("bronze", "silver", "gold", "ml")


def sorted_by_layer(results: list[CheckResult], project: Project) -> list[CheckResult]:
    """Check results by layer (bronze, silver, gold, ml), then table, then check name."""

    def key(result: CheckResult) -> tuple[int, str, str]:
        model = project.models.get(result.model)
        layer = model.folder if model else result.model.partition(".")[0]
        rank = LAYER_ORDER.index(layer) if layer in LAYER_ORDER else len(LAYER_ORDER)
        return rank, result.model, result.check

    return sorted(results, key=key)


def lineage(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Argument(help="A model; default: the whole graph.")] = None,
) -> None:
    """Print the tables a model reads (upstream) and the models that read it (downstream)."""
    project = platform(ctx).project()
    if model is None:
        for target in project.order:
            reads = ", ".join(sorted(project.models[target].upstream))
            out.print(f"{target} ← {reads}")
        return
    target = project.resolve(model)
    out.print(f"[bold]{target}[/bold] ({project.models[target].materialized})")
    out.print("upstream:   " + (", ".join(project.upstream(target)) or "none"))
    out.print("downstream: " + (", ".join(project.downstream(target)) or "none"))


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="4 · transform")(transform)
    app.command(rich_help_panel="4 · transform")(check)
    app.command(rich_help_panel="4 · transform")(lineage)
