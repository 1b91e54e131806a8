"""Contract results kept in ``audit.contract_results``: one row per check per run, appended."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from shoplake.transform.contracts import CheckResult

RESULTS_TABLE = "audit.contract_results"
RESULTS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string()),
        pa.field("checked_at", pa.timestamp("us", tz="UTC")),
        pa.field("source", pa.string()),  # transform (before publish) | check (published)
        pa.field("model", pa.string()),
        pa.field("check_name", pa.string()),
        pa.field("status", pa.string()),
        pa.field("failing_rows", pa.int64()),
        pa.field("sample", pa.string()),
        pa.field("message", pa.string()),
    ]
)


def record_results(catalog: Catalog, run_id: str, source: str, results: list[CheckResult]) -> None:
    """Append one run's check results (nothing to append, nothing committed)."""
    if not results:
        return
    catalog.create_namespace_if_not_exists("audit")
    table = catalog.create_table_if_not_exists(RESULTS_TABLE, schema=RESULTS_SCHEMA)
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "run_id": run_id,
            "checked_at": now,
            "source": source,
            "model": r.model,
            "check_name": r.check,
            "status": r.status,
            "failing_rows": r.failing_rows,
            "sample": r.sample,
            "message": r.message,
        }
        for r in results
    ]
    table.append(pa.Table.from_pylist(rows, schema=RESULTS_SCHEMA))
