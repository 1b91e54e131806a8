"""Orchestration commands: run the asset graph through Dagster, and its web UI."""

from __future__ import annotations

from typing import Annotated

import typer

from shoplake.cli.main import platform
from shoplake.cli.output import emit_json, out, say

PANEL = "orchestrate"
Environment = Annotated[
    str,
    typer.Option(
        envvar="SHOPLAKE_ENVIRONMENT", help="Resources to run with: local or aws (settings only)."
    ),
]
MARKS = {"materialized": "[green]ok[/green]", "failed": "[red]failed[/red]", "not run": "skipped"}


def run(
    ctx: typer.Context,
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            "-s",
            help="A group (ingest, transform, ml) or table (silver.orders); TABLE+ adds "
            "everything downstream. Repeatable; default: the whole graph.",
        ),
    ] = None,
    environment: Environment = "local",
    output: Annotated[str, typer.Option(help="text or json.")] = "text",
) -> None:
    """Materialize the asset graph in-process through Dagster, with retries of transient
    failures; the run is recorded under <data-dir>/dagster (see `shoplake ui`)."""
    import logging

    from shoplake.orchestrate.execute import run as run_assets

    verbose = logging.getLogger().isEnabledFor(logging.INFO)  # --verbose shows Dagster's log
    summary = run_assets(
        platform(ctx),
        select or None,
        environment=environment,
        log_level="DEBUG" if verbose else "ERROR",
    )
    if output == "json":
        emit_json(
            {
                "run_id": summary.run_id,
                "success": summary.success,
                "assets": [vars(a) for a in summary.assets],
                "contracts": summary.contracts,
            }
        )
    else:
        for item in summary.assets:
            contract = summary.contracts.get(item.asset)
            checked = (
                "" if contract is None else (" contract pass" if contract else " contract FAIL")
            )
            detail = f": {item.error}" if item.error else ""
            out.print(f"{item.asset:<28} {MARKS[item.outcome]}{checked}{detail}", highlight=False)
        say(f"run {summary.run_id}: {'success' if summary.success else 'failed'}")
    if not summary.success:
        raise typer.Exit(1)


def ui(
    ctx: typer.Context,
    port: Annotated[
        int | None, typer.Option(help="Port on 127.0.0.1 [orchestrate.ui_port].")
    ] = None,
    environment: Environment = "local",
) -> None:
    """Start the Dagster web UI on 127.0.0.1 for this data dir's run history; Ctrl-C stops it.

    A taken port, or a webserver that stops on its own, is an error (exit status 1)."""
    from shoplake.orchestrate.webserver import serve_ui

    shop = platform(ctx)
    serve_ui(shop.settings, port or shop.settings.orchestrate.ui_port, environment)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=PANEL)(run)
    app.command(rich_help_panel=PANEL)(ui)
