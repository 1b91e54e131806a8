"""Batch ingestion of source tables into bronze, one atomic Iceberg commit per table."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from shoplake.errors import IngestError, ShoplakeError, SourceError, UnknownSourceTableError
from shoplake.ingest.bronze import (
    INGESTED_AT,
    OP,
    bronze_columns,
    bronze_name,
    create_bronze,
    landed_source_tables,
    plan_replace,
    plan_schema,
    write_schema,
)
from shoplake.ingest.changes import (
    ChangeSet,
    TableJob,
    Tick,
    cursor_changes,
    new_duckdb,
    op_counts,
    snapshot_changes,
)
from shoplake.ingest.columns import SourceColumn, list_source_tables, reflect_columns
from shoplake.ingest.extract import Extractor, make_extractor
from shoplake.ingest.locks import table_lock
from shoplake.ingest.specs import TableSpec, resolve_spec
from shoplake.lake.state import STATE_PROPERTY, IngestState, display_watermark, read_state
from shoplake.redact import redact
from shoplake.sourcedb import check_connection

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from shoplake.config import Settings

log = logging.getLogger(__name__)

#: Called with (table, expected rows) when a table starts extracting; returns a row counter.
ProgressHook = Callable[[str, int], Tick]
Status = Literal["loaded", "unchanged", "failed"]


@dataclass(frozen=True)
class IngestRun:
    """One ``ingest`` invocation. Every row it lands carries ``started_at`` as _ingested_at,
    so rows of different tables landed together can be matched in time (SCD2 lookups)."""

    run_id: str
    started_at: dt.datetime


@dataclass
class TableResult:
    """What one table's ingest did."""

    table: str
    strategy: str
    status: Status
    rows: int = 0
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    batch_id: int | None = None
    watermark: str = ""
    seconds: float = 0.0
    schema_changes: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class IngestReport:
    """Every table's result, in the order they ran."""

    results: list[TableResult]

    @property
    def ok(self) -> bool:
        return all(r.status != "failed" for r in self.results)

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.results)


def ingest(
    settings: Settings,
    catalog: Catalog,
    tables: list[str] | None = None,
    *,
    full_refresh: bool = False,
    progress: ProgressHook | None = None,
) -> IngestReport:
    """Ingest the named source tables (default: all of them) into bronze.

    A table that fails (unreachable, dropped from the source or hidden from its user, schema
    drift, bad values, a NULL key) writes nothing and is reported; the others still ingest.
    A named table neither the source nor bronze knows (a typo) is refused before any table
    is ingested. With ``full_refresh`` each table's new content replaces the old in one commit.
    """
    extractor = make_extractor(settings.source_url)
    check_connection(extractor.engine, settings.source_url, must_exist=True)
    # A table bronze holds but the source no longer lists (dropped, or hidden from this user)
    # is attempted too, so it fails with its name instead of silently keeping stale rows.
    known = sorted(set(list_source_tables(extractor.engine)) | set(landed_source_tables(catalog)))
    if tables:
        _refuse_unknown(tables, known)
    names = tables or known
    if not names:
        raise SourceError(f"source {redact(settings.source_url)!r} has no tables to ingest")
    started_at = dt.datetime.now(dt.UTC)
    run = IngestRun(started_at.strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6], started_at)
    results = []
    for name in names:
        started = time.perf_counter()
        try:
            with table_lock(settings.locks_dir, bronze_name(name)), _undo_create(catalog, name):
                result = _ingest_table(
                    settings,
                    catalog,
                    extractor,
                    name,
                    full_refresh=full_refresh,
                    run=run,
                    progress=progress,
                )
        except ShoplakeError as exc:
            result = TableResult(name, "", "failed", error=str(exc))
        except Exception as exc:  # keep going: one table's bug must not stop the others
            log.exception("ingest of %s failed", name)
            result = TableResult(name, "", "failed", error=f"{name}: {type(exc).__name__}: {exc}")
        result.seconds = time.perf_counter() - started
        results.append(result)
    return IngestReport(results)


def _refuse_unknown(tables: list[str], known: list[str]) -> None:
    """Raise UnknownSourceTableError naming every table in ``tables`` that is not ``known``,
    each with the closest known name when there is one."""
    from shoplake.lake.naming import closest

    lines = []
    for name in (t for t in tables if t not in known):
        line = f"source table {name!r} does not exist or is not visible to this user"
        match = closest(name, known)
        lines.append(f"{line} — did you mean {match}?" if match else line)
    if lines:
        raise UnknownSourceTableError("; ".join([*lines, "nothing was ingested"]))


@contextmanager
def _undo_create(catalog: Catalog, name: str) -> Iterator[None]:
    """Drop the table's bronze again if this run created it and then failed before landing
    anything, so a refused first ingest leaves the lakehouse as it found it."""
    identifier = bronze_name(name)
    existed = catalog.table_exists(identifier)
    try:
        yield
    except BaseException:
        created = not existed and catalog.table_exists(identifier)
        if created and catalog.load_table(identifier).current_snapshot() is None:
            catalog.drop_table(identifier)
        raise


def _open_bronze(catalog: Catalog, name: str, columns: list[Any]) -> Table:
    """The table's bronze, created empty on its first ingest.

    A full refresh does not drop it: the new content replaces the old in one commit, so a
    run killed at any point leaves the old content in place.
    """
    from pyiceberg.exceptions import NoSuchTableError

    try:
        return catalog.load_table(bronze_name(name))
    except NoSuchTableError:
        return create_bronze(catalog, name, columns)


def _ingest_table(
    settings: Settings,
    catalog: Catalog,
    extractor: Extractor,
    name: str,
    *,
    full_refresh: bool,
    run: IngestRun,
    progress: ProgressHook | None,
) -> TableResult:
    source_columns = reflect_columns(extractor.engine, name)
    spec = resolve_spec(name, source_columns, extractor.engine, settings.ingest)
    _refuse_null_cursor(extractor, spec, source_columns)
    bronze = _open_bronze(catalog, name, source_columns)
    planner = plan_replace if full_refresh else plan_schema
    plan = planner(name, source_columns, bronze_columns(bronze))
    for line in plan.describe(name):
        log.warning(line)
    state = (None if full_refresh else read_state(bronze)) or IngestState()
    if (state.strategy, state.cursor) != (spec.strategy, spec.cursor):
        state.watermark = None  # a watermark only means something for the cursor it tracks
    settings.data_dir.joinpath("tmp").mkdir(parents=True, exist_ok=True)
    con = new_duckdb(str(settings.data_dir / "tmp"))
    try:

        def open_progress(expected: int) -> Tick:
            return progress(name, expected) if progress else (lambda _n: None)

        job = TableJob(
            extractor, bronze, name, plan.write_columns, spec.primary_key,
            settings.ingest.batch_rows, con, open_progress, fresh=full_refresh,
        )  # fmt: skip
        changes = _detect(job, spec, state)
        if changes is None and full_refresh:  # an empty source still replaces what bronze held
            changes = ChangeSet(batches=iter(()), expected_rows=0)
        result = TableResult(name, spec.strategy, "unchanged", schema_changes=plan.describe(name))
        if changes is None:
            if plan.changes_schema:
                with bronze.transaction() as tx:
                    plan.apply(tx)
            result.batch_id, result.watermark = state.batch_id, display_watermark(state.watermark)
            return result
        new_state = IngestState(
            batch_id=state.batch_id + 1,
            strategy=spec.strategy,
            cursor=spec.cursor,
            watermark=changes.watermark,
            primary_key=spec.primary_key,
        )
        counts = _commit(bronze, plan, changes, new_state, run, replace=full_refresh)
    finally:
        con.close()
    result.status = "loaded"
    result.inserts, result.updates, result.deletes = (
        counts.get("insert", 0),
        counts.get("update", 0),
        counts.get("delete", 0),
    )
    result.rows = sum(counts.values())
    result.batch_id, result.watermark = new_state.batch_id, display_watermark(changes.watermark)
    return result


def _refuse_null_cursor(extractor: Extractor, spec: TableSpec, columns: list[SourceColumn]) -> None:
    """IngestError when a nullable cursor column holds NULLs: a cursor range never reads
    those rows, so they would be lost without a word."""
    if spec.cursor is None or not next(c.nullable for c in columns if c.name == spec.cursor):
        return
    if nulls := extractor.null_count(spec.name, spec.cursor):
        raise IngestError(
            f"{spec.name}.{spec.cursor}: the cursor column is NULL in {nulls:,} source "
            f"row{'' if nulls == 1 else 's'}, which a cursor read never lands; "
            f"nothing written for {spec.name} "
            f"(fill them in, or set ingest.tables.{spec.name}.strategy = 'snapshot')"
        )


def _detect(job: TableJob, spec: TableSpec, state: IngestState) -> ChangeSet | None:
    """Find the rows to land: by cursor when a watermark (or an empty bronze) allows it."""
    if spec.cursor and (state.watermark is not None or not job.has_history):
        return cursor_changes(job, spec.cursor, state.watermark)
    # Snapshot strategy, or a cursor table whose history predates its watermark: diff the
    # whole table once; a cursor table then continues from the cursor's value before the diff.
    high = job.extractor.max_value(spec.name, spec.cursor, None) if spec.cursor else None
    changes = snapshot_changes(job)
    changes.watermark = high
    if changes.expected_rows == 0 and high == state.watermark:
        return None
    return changes


def _commit(
    bronze: Table,
    plan: Any,
    changes: ChangeSet,
    state: IngestState,
    run: IngestRun,
    *,
    replace: bool = False,
) -> dict[str, int]:
    """Append the changes, the schema evolution and the new state in one Iceberg commit.

    With ``replace`` the same commit first deletes every row bronze held (a full refresh).
    """
    from pyiceberg.expressions import AlwaysTrue

    schema = write_schema(plan.write_columns)
    ingested_at = pa.scalar(run.started_at, type=schema.field(INGESTED_AT).type)
    counts: dict[str, int] = {}

    def with_meta() -> Iterator[pa.RecordBatch]:
        for batch in changes.batches:
            if not batch.num_rows:
                continue
            for op, n in op_counts(batch).items():
                counts[op] = counts.get(op, 0) + n
            rows = batch.num_rows
            arrays = [batch.column(c.name).cast(c.arrow_type) for c in plan.write_columns]
            arrays += [
                batch.column(OP),
                pa.nulls(rows, ingested_at.type).fill_null(ingested_at),
                pa.nulls(rows, pa.int64()).fill_null(state.batch_id),
            ]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    summary = {
        "shoplake.run-id": run.run_id,
        "shoplake.batch-id": str(state.batch_id),
        "shoplake.strategy": state.strategy,
        "shoplake.watermark": display_watermark(state.watermark),
    }
    with bronze.transaction() as tx:
        plan.apply(tx)
        if replace and bronze.current_snapshot() is not None:
            tx.delete(AlwaysTrue(), snapshot_properties=summary)
        tx.append(
            pa.RecordBatchReader.from_batches(schema, with_meta()), snapshot_properties=summary
        )
        tx.set_properties({STATE_PROPERTY: state.to_json(), "shoplake.last-run-id": run.run_id})
    return counts
