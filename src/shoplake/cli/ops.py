"""``shoplake doctor``: diagnose every configured endpoint, layer by layer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from shoplake.cli.output import emit_json, out
from shoplake.ops.doctor import format_ms

if TYPE_CHECKING:
    from shoplake.ops.doctor import EndpointReport, LayerResult

PANEL = "ops"
_MARKS = {"ok": ("✓", "green"), "fail": ("✗", "red"), "skipped": ("–", "dim")}


def doctor(
    ctx: typer.Context,
    endpoints: Annotated[
        list[str] | None,
        typer.Argument(
            help="Endpoints to check (default all): source, catalog, warehouse, event-log, "
            "online-store, vectors, supplier-api, api.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[str, typer.Option(help="text or json.")] = "text",
    details: Annotated[
        bool, typer.Option("--details", "-d", help="Show every layer of every endpoint.")
    ] = False,
) -> None:
    """Check each endpoint's layers in order — dns, tcp, tls, auth, permission, latency —
    stopping at the first that fails, and say what is wrong and how to fix it.

    A server shoplake starts when needed (the API, the local supplier API, the local valkey)
    that is not running is reported with the command that starts it, and fails only when
    named. Exit status 1 when any endpoint fails. Limits: doctor.timeout_seconds per probe,
    doctor.slow_ms, doctor.latency_samples; doctor.api_key to probe the API's auth.
    """
    from shoplake.cli.main import platform  # not at import: main imports this module
    from shoplake.ops.doctor import diagnose
    from shoplake.ops.endpoints import build_probes

    settings = platform(ctx).settings
    reports = diagnose(build_probes(settings, endpoints or ()))
    if output == "json":
        emit_json([r.to_dict() for r in reports])
    else:
        for line in render(reports, details=details):
            out.print(line)
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


def render(reports: list[EndpointReport], *, details: bool = False) -> list[Text]:
    """The text report: a line per endpoint, a failure's layers, problem and fix; a summary."""
    name_width = max((len(r.endpoint) for r in reports), default=0)
    target_width = max((len(r.target) for r in reports), default=0)
    lines: list[Text] = []
    for report in reports:
        lines.append(_headline(report, name_width, target_width))
        if details:
            lines += [_layer_line(result) for result in report.layers]
        if report.problem:
            where = f"    problem ({report.failed_layer}): "
            lines.append(Text.assemble((where, "bold red"), report.problem))
            lines.append(Text.assemble(("    fix: ".ljust(len(where)), "bold"), report.fix or ""))
        elif report.start:
            lines.append(Text(f"    not running — start it with `{report.start}`", style="dim"))
        elif report.warning:
            lines.append(Text.assemble(("    note:    ", "bold yellow"), report.warning))
    lines.append(_summary(reports))
    return lines


def _headline(report: EndpointReport, name_width: int, target_width: int) -> Text:
    mark, style = "✓", "green"
    if not report.ok:
        mark, style = "✗", "red"
    elif report.start:
        mark, style = "○", "dim"
    elif report.warning:
        mark, style = "!", "yellow"
    line = Text.assemble((mark, f"bold {style}"), " ", (report.endpoint.ljust(name_width), "bold"))
    line.append(f"  {report.target.ljust(target_width)}  ")
    for result in report.layers:
        symbol, layer_style = _MARKS[result.status]
        line.append(f"{result.layer}{symbol} ", style=layer_style)
    if report.latency_ms is not None:
        line.append(f" {format_ms(report.latency_ms)}")
    line.rstrip()
    return line


def _layer_line(result: LayerResult) -> Text:
    symbol, style = _MARKS[result.status]
    return Text.assemble("    ", (f"{symbol} {result.layer:<10}", style), " ", result.detail)


def _summary(reports: list[EndpointReport]) -> Text:
    failing = [r.endpoint for r in reports if not r.ok]
    warned = sum(1 for r in reports if r.ok and r.warning)
    idle = sum(1 for r in reports if r.start)
    ok = len(reports) - len(failing) - idle
    noun = "endpoint" if len(reports) == 1 else "endpoints"
    text = f"{len(reports)} {noun}: {ok} ok"
    if warned:
        text += f" ({warned} with notes)"
    if idle:
        text += f", {idle} not running"
    if failing:
        return Text(f"{text}, {len(failing)} failing: {', '.join(failing)}", style="bold red")
    return Text(text, style="bold green")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel=PANEL)(doctor)
