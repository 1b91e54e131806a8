"""``GET /tables`` and ``GET /tables/{namespace}/{name}``: what the lakehouse holds.

Stats come from snapshot summaries (no data is scanned); a table's page adds its schema (PII
columns flagged), its snapshots, and the latest result of each contract check from
``audit.contract_results`` — whose samples, which may quote PII, only admins see.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.concurrency import run_in_threadpool

from shoplake.lake.catalog import NAMESPACES
from shoplake.serve.auth import Caller, require_role
from shoplake.serve.responses import error, json_response, serve_state
from shoplake.serve.schemas import Detail, documented

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from shoplake.serve.state import ServeState

router = APIRouter(tags=["analytics"])
AnalystCaller = Annotated[Caller, Depends(require_role("analyst"))]
SNAPSHOTS_SHOWN = 20
_TABLE = {"type": "object", "additionalProperties": True}


@router.get(
    "/tables",
    summary="Every lakehouse table",
    response_class=Response,
    responses={200: {"description": "Rows, files, bytes, snapshots, last commit, watermark.",
                     "content": {"application/json": {"schema": {"type": "array",
                                                                 "items": _TABLE}}}}},
)  # fmt: skip
async def tables(request: Request, caller: AnalystCaller) -> Response:
    """Each table with its row count, files, bytes, snapshots, last commit and watermark
    (an unreadable one with a ``problem``, which names no server path)."""
    from shoplake.lake.integrity import unreadable_for_clients

    platform = serve_state(request).platform
    stats = await run_in_threadpool(platform.tables)
    return json_response(
        [
            s.as_dict() | ({"problem": unreadable_for_clients(s.name)} if s.problem else {})
            for s in stats
        ]
    )


@router.get(
    "/tables/{namespace}/{name}",
    summary="One lakehouse table",
    response_class=Response,
    responses={
        200: {"description": "Stats, schema, snapshots and contract results.",
              "content": {"application/json": {"schema": _TABLE}}},
        404: documented(Detail, "No such table."),
    },
)  # fmt: skip
async def table(
    request: Request,
    namespace: Annotated[str, Path(max_length=64)],
    name: Annotated[str, Path(max_length=128)],
    caller: AnalystCaller,
) -> Response:
    """Stats, schema (PII columns flagged), recent snapshots and the latest contract results."""
    if namespace not in NAMESPACES:
        spaces = ", ".join(NAMESPACES)
        return error(404, f"no namespace {namespace!r}: tables live in {spaces}")
    state = serve_state(request)
    return json_response(await run_in_threadpool(_describe, state, f"{namespace}.{name}", caller))


def _describe(state: ServeState, full_name: str, caller: Caller) -> dict[str, Any]:
    from shoplake.lake.catalog import load_table
    from shoplake.lake.stats import table_stats

    iceberg = load_table(state.platform.catalog, full_name)  # TableNotFoundError: 404
    columns = [f.name for f in iceberg.schema().fields]
    pii = set(state.pii().of(full_name, columns))
    return table_stats(full_name, iceberg).as_dict() | {
        "schema": [
            {
                "name": f.name,
                "type": str(f.field_type),
                "required": f.required,
                "pii": f.name in pii,
                "doc": f.doc,
            }
            for f in iceberg.schema().fields
        ],
        "snapshots": _snapshots(iceberg),
        "contracts": _contract_results(state, full_name, masked=not caller.sees_pii),
    }


def _snapshots(iceberg: Table) -> list[dict[str, Any]]:
    """The latest snapshots, newest first."""
    from shoplake.lake.snapshots import operation as snapshot_operation
    from shoplake.lake.snapshots import summary_int

    shown = sorted(iceberg.snapshots(), key=lambda s: s.timestamp_ms, reverse=True)
    rows = []
    for snapshot in shown[:SNAPSHOTS_SHOWN]:
        operation = snapshot_operation(snapshot) or None
        moment = dt.datetime.fromtimestamp(snapshot.timestamp_ms / 1000, tz=dt.UTC)
        rows.append(
            {
                "snapshot_id": snapshot.snapshot_id,
                "committed_at": moment.isoformat(timespec="seconds"),
                "operation": operation,
                "added_records": summary_int(snapshot, "added-records"),
                "total_records": summary_int(snapshot, "total-records"),
            }
        )
    return rows


def _contract_results(state: ServeState, full_name: str, *, masked: bool) -> list[dict[str, Any]]:
    """The latest result of each contract check of one table (empty when never checked)."""
    from pyiceberg.exceptions import NoSuchTableError

    from shoplake.lake.expressions import equals
    from shoplake.lake.query import rows_as_json
    from shoplake.transform.results import RESULTS_TABLE

    try:
        results = state.platform.catalog.load_table(RESULTS_TABLE)
    except NoSuchTableError:
        return []
    rows = rows_as_json(results.scan(row_filter=equals("model", full_name)).to_arrow())
    latest: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["checked_at"]):
        latest[row["check_name"]] = row
    hidden = ("sample", "message") if masked else ()
    return [
        {k: ("masked" if k in hidden and v else v) for k, v in row.items() if k != "model"}
        for row in latest.values()
    ]
