"""``POST /query``: one read-only SELECT over the lakehouse, limited in rows, bytes and time.

The statement passes :func:`shoplake.serve.query_guard.guard` first. For callers who may not see
PII (every role but admin), each table's PII columns are masked in its Arrow data before DuckDB
is handed it — so no alias, expression, ``SELECT *`` or CTE can reach a clear value.

Statements run in the app's own small pool (``query.workers``), never on the event loop nor in
the thread pool other routes share, so slow queries cannot stall ``/health`` or recommendations;
a key with ``query.concurrent_per_key`` statements in flight gets 429 with ``Retry-After``.
A result is cut at the row limit or at ``query.max_bytes`` of JSON rows, whichever comes first,
and says so (``truncated``, ``truncated_by``); repeated column names become ``a``, ``a_1`` ….
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Request, Response

from shoplake.serve.auth import Caller, require_role
from shoplake.serve.query_guard import guard
from shoplake.serve.responses import error, json_response, serve_state
from shoplake.serve.schemas import Detail, QueryIn, QueryOut, documented

if TYPE_CHECKING:
    from shoplake.lake.query import Prepare
    from shoplake.serve.state import ServeState

router = APIRouter(tags=["analytics"])
#: What a key over its concurrent-query share is told to wait.
RETRY_AFTER_SECONDS = 1


@router.post(
    "/query",
    summary="Run a read-only SQL query",
    response_class=Response,
    responses={
        200: documented(QueryOut, "The rows, at most the row and byte limits."),
        400: documented(Detail, "The query was refused (the reason names what) or failed."),
        404: documented(Detail, "A table the query names does not exist."),
        429: documented(Detail, "The key has its share of queries running (see Retry-After)."),
    },
)
async def query(
    request: Request,
    body: QueryIn,
    caller: Annotated[Caller, Depends(require_role("analyst"))],
) -> Response:
    """One SELECT over ``bronze.*``, ``silver.*``, ``gold.*`` and ``audit.*`` tables, with
    DuckDB SQL. No writes, DDL, settings, extensions, files or URLs; PII masked but for admins."""
    state = serve_state(request)
    if not state.query_slots.take(caller.key_id):
        allowed = state.settings.query.concurrent_per_key
        response = error(
            429, f"key {caller.key_id} already has {allowed} queries running: retry shortly"
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    try:
        payload = await state.in_query_pool(_run, state, body, caller)
    finally:
        state.query_slots.give(caller.key_id)
    return json_response(payload)


def _run(state: ServeState, body: QueryIn, caller: Caller) -> dict[str, object]:
    from shoplake.lake.query import rows_as_json, run_query
    from shoplake.lake.query_json import unique_names

    checked = guard(body.sql)
    serve = state.settings.serve
    limit = min(body.limit or serve.query_max_rows, serve.query_max_rows)
    masked: list[str] = []
    prepare: Prepare | None = None
    if not caller.sees_pii:
        from shoplake.serve.pii import masking

        prepare = masking(state.pii(), state.mask, masked)

    result = run_query(
        state.platform.catalog,
        checked.sql,
        max_rows=limit,
        max_bytes=state.settings.query.max_bytes,
        timeout=serve.query_timeout_seconds,
        prepare=prepare,
    )
    return {
        "columns": unique_names(result.table.column_names),
        "rows": rows_as_json(result.table),
        "row_count": result.table.num_rows,
        "truncated": result.truncated,
        "truncated_by": result.truncated_by,
        "masked": sorted(masked),
        "seconds": round(result.seconds, 4),
    }
