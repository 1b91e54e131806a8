"""``shoplake assess``: security, reliability, performance and scalability findings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from shoplake.errors import ShoplakeError

if TYPE_CHECKING:
    from shoplake.ops.assess import Pillar

PANEL = "ops"
OUTPUTS = ("text", "json", "html")
THRESHOLDS = ("high", "medium", "low")


def assess(
    ctx: typer.Context,
    output: Annotated[
        str, typer.Option(help="text, json or html (one self-contained page).")
    ] = "text",
    pillar: Annotated[
        list[str] | None,
        typer.Option(
            "--pillar",
            "-p",
            metavar="PILLAR",
            help="Pillar to assess, repeatable: security, reliability, performance, "
            "scalability [default: all].",
            show_default=False,
        ),
    ] = None,
    fail_on: Annotated[
        str, typer.Option(help="high, medium or low: exit 1 when a finding is this severe.")
    ] = "high",
    report_file: Annotated[
        Path | None,
        typer.Option("--report-file", help="Write the report to this file instead of stdout."),
    ] = None,
) -> None:
    """Inspect the configuration, the lakehouse metadata and the local servers, and report
    findings per pillar — each with its severity (high, medium, low, info), the evidence that
    proves it and the fix. Secrets are shown masked.

    Exit status: 0 when no finding is high (or as severe as --fail-on), 1 otherwise.
    """
    from shoplake.cli.main import platform  # not at import: main imports this module
    from shoplake.ops.assess import PILLARS
    from shoplake.ops.assess import assess as run_assessment
    from shoplake.ops.assess.render import RENDERERS

    _choose("--output", [output], OUTPUTS)
    _choose("--fail-on", [fail_on], THRESHOLDS)
    _choose("--pillar", pillar or [], PILLARS)
    settings = platform(ctx).settings
    report = run_assessment(settings, cast("list[Pillar]", pillar or []))
    text = RENDERERS[output](report)
    if report_file is not None:
        report_file.write_text(text + "\n")
    else:
        print(text)
    if report.fails(fail_on):
        raise typer.Exit(1)


def _choose(option: str, values: list[str], choices: tuple[str, ...]) -> None:
    """Refuse values outside ``choices`` with a one-line error."""
    unknown = [v for v in values if v not in choices]
    if unknown:
        raise ShoplakeError(f"{option}: unknown {', '.join(unknown)}; choose {', '.join(choices)}")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=PANEL)(assess)
