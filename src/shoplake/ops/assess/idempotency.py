"""Reliability: the state that makes re-runs no-ops, committed in each bronze table —
batch ingest state, stream sink positions, the supplier API watermark."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shoplake.cli.output import plural

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from shoplake.ops.assess.context import Context
    from shoplake.ops.assess.model import Recorder

SUPPLIER_SOURCE = "supplier-api"


def check_state(ctx: Context, rec: Recorder) -> None:
    """Every bronze table with rows carries the state its writer needs to resume exactly."""
    from shoplake.ingest.api.load import DEAD_LETTERS_TABLE as SUPPLIER_DEAD_LETTERS
    from shoplake.ingest.stream_sink import DEAD_LETTERS_TABLE, EVENTS_TABLE

    stream_tables = {EVENTS_TABLE, DEAD_LETTERS_TABLE}
    problems: dict[str, str] = {}
    states: dict[str, str] = {}
    for name in ctx.table_names:
        if not name.startswith("bronze.") or name == SUPPLIER_DEAD_LETTERS:
            continue
        table = ctx.table(name)
        if not _has_rows(ctx, name):
            continue
        verdict = _positions(table) if name in stream_tables else _ingest_state(table)
        target = problems if verdict.startswith("!") else states
        target[name] = verdict.lstrip("!")
    if problems:
        rec.finding(
            "ingest-state-missing",
            "high",
            f"{len(problems)} bronze table(s) lack usable ingest state: a re-run would land "
            "duplicates",
            problems,
            "re-ingest these tables with --full-refresh under the ingest lock (state is then "
            "committed with the rows)",
        )
    if states:
        rec.passed(
            "ingest state",
            f"{plural(len(states), 'bronze table')} carry usable state: {', '.join(states)}",
        )


def _has_rows(ctx: Context, name: str) -> bool:
    points = ctx.history(name)
    return bool(points) and points[-1].records > 0


def _positions(table: Table) -> str:
    from shoplake.ingest.stream_sink import POSITIONS_PREFIX

    positions = {k: v for k, v in table.properties.items() if k.startswith(POSITIONS_PREFIX)}
    if not positions:
        return f"!no stream positions ({POSITIONS_PREFIX}<backend>.<shard>)"
    return f"{len(positions)} shard position(s)"


def _ingest_state(table: Table) -> str:
    from shoplake.lake.state import STATE_PROPERTY, read_state

    if STATE_PROPERTY not in table.properties:
        return f"!no {STATE_PROPERTY} property"
    try:
        state = read_state(table)
    except (ValueError, KeyError, TypeError) as exc:
        return f"!{STATE_PROPERTY} unparseable: {exc}"
    assert state is not None
    details: dict[str, Any] = {"batch": state.batch_id, "strategy": state.strategy}
    if table.properties.get("shoplake.source") == SUPPLIER_SOURCE:
        if state.watermark is None:
            return "!supplier API table without a watermark"
        details["watermark"] = state.watermark
    elif state.cursor:
        details["watermark"] = state.watermark
    return ", ".join(f"{k} {v}" for k, v in details.items())
