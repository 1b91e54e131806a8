"""Run SQL models in dependency order: compute, audit against the contract, then publish.

Write–audit–publish: a model's result is computed in DuckDB and checked against its contract
before anything is committed. A failing model is not published (its table keeps its previous
snapshot) and every model downstream of it is skipped.

``incremental`` models read only the rows appended to their upstream tables since the
snapshots recorded at their last publish, and merge the result into the target by key; a row
with ``_deleted`` true removes its key. Compactions are skipped: they add no row. When history
cannot be read incrementally (first run, ``--full-refresh``, an upstream snapshot expired),
the model is rebuilt from the whole upstream, which by construction gives the same table.

With the Spark engine every model is computed in full by Spark (no incremental deltas); the
result is brought back into the run's DuckDB, where its contract is checked and from where it
is published exactly as with the DuckDB engine.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from shoplake.errors import ShoplakeError
from shoplake.lake.integrity import named_in_error
from shoplake.lake.snapshots import current_rows, data_snapshot_id, is_maintenance, operation
from shoplake.transform.contracts import CheckResult, failure_summary, run_checks
from shoplake.transform.engines.duckdb import (
    DELETED,
    Exposed,
    columns_of,
    drop_deleted_rows,
    expose,
    expose_relation,
    materialize,
    new_connection,
    quoted,
    row_count,
    run_relation,
    subquery,
)
from shoplake.transform.optional import NO_SNAPSHOT, absent_note, empty_note, expose_stand_in
from shoplake.transform.project import Model, Project
from shoplake.transform.publish import SOURCES_PROPERTY, Publisher, PublishJob

if TYPE_CHECKING:
    import duckdb
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from shoplake.config import Settings
    from shoplake.transform.engines.spark import SparkEngine

log = logging.getLogger(__name__)

Status = Literal["published", "unchanged", "failed", "skipped", "waiting"]
EngineName = Literal["duckdb", "spark"]


@dataclass
class ModelResult:
    """What one model run did."""

    model: str
    materialized: str
    status: Status
    mode: str = ""  # full | incremental
    rows: int = 0
    rows_scanned: int = 0
    files_read: int = 0
    seconds: float = 0.0
    checks_passed: int = 0
    checks_failed: int = 0
    error: str | None = None
    note: str | None = None  # e.g. built empty because an optional source has no rows
    scanned: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TransformReport:
    """Every selected model's result, in run order, and every contract check."""

    run_id: str
    results: list[ModelResult]
    checks: list[CheckResult]
    engine: EngineName = "duckdb"

    @property
    def ok(self) -> bool:
        return all(r.status in ("published", "unchanged", "waiting") for r in self.results)


def recorded_sources(table: Table | None) -> dict[str, int]:
    """The upstream snapshot ids a target was last built from (:data:`NO_SNAPSHOT` for an
    upstream that had none)."""
    if table is None:
        return {}
    text = table.properties.get(SOURCES_PROPERTY)
    recorded = json.loads(text) if text else {}
    return {k: NO_SNAPSHOT if v is None else int(v) for k, v in recorded.items()}


def appended_only_since(table: Table, snapshot_id: int) -> bool:
    """True when every commit after ``snapshot_id`` only appended rows (no rewrite, no delete)."""
    snapshot = table.current_snapshot()
    if snapshot is None or table.snapshot_by_id(snapshot_id) is None:
        return False
    while snapshot is not None and snapshot.snapshot_id != snapshot_id:
        # A compaction adds no row (incremental scans skip it); anything else but an append
        # may have changed or removed rows.
        if not is_maintenance(snapshot) and operation(snapshot) != "append":
            return False
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
    return snapshot is not None


class Runner:
    """Runs a selection of models against one catalog."""

    def __init__(
        self,
        catalog: Catalog,
        project: Project | None = None,
        *,
        locks_dir: Path | None = None,
        engine: EngineName = "duckdb",
        settings: Settings | None = None,
    ) -> None:
        self.catalog = catalog
        self.project = project or Project.load()
        self.locks_dir = locks_dir
        self.engine = engine
        self._spark: SparkEngine | None = None
        if engine == "spark":
            from shoplake.config import load_settings
            from shoplake.transform.engines.spark import SparkEngine

            settings = settings or load_settings()
            self._spark = SparkEngine(settings.spark, settings.data_dir / "cache")
        self.run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        self._con: duckdb.DuckDBPyConnection | None = None
        self._built: dict[str, Exposed] = {}  # models published by this run
        self._stand_ins: set[str] = set()  # absent optional sources read as empty tables
        self._tables: dict[str, Table] = {}
        self._publisher: Publisher | None = None

    def _table(self, name: str, *, fresh: bool = False) -> Table | None:
        """A lakehouse table as of its first use in this run (``fresh``: reload it now).

        Inputs are read at one snapshot for the whole run; a model's own target is always
        reloaded under its lock, so a commit never builds on stale metadata.
        """
        from pyiceberg.exceptions import NoSuchTableError

        if not fresh and self._publisher is not None and name in self._publisher.published:
            return self._publisher.published[name]
        if not fresh and name in self._tables:
            return self._tables[name]
        try:
            table = self.catalog.load_table(name)
        except NoSuchTableError:
            return None
        self._tables[name] = table
        return table

    def _lock(self, target: str) -> AbstractContextManager[None]:
        """Hold the target's lock so two runs never publish the same table at once."""
        if self.locks_dir is None:
            return nullcontext()
        from shoplake.ingest.locks import table_lock

        return table_lock(self.locks_dir, target)

    def _require_bronze(self, targets: list[str]) -> None:
        models = self.project.models
        bronze = {
            u
            for t in targets
            for u in models[t].upstream - models[t].optional_sources.keys()
            if u.startswith("bronze.")
        }
        if bronze and not any(self._table(name) is not None for name in bronze):
            raise ShoplakeError(
                "the lakehouse has no bronze tables yet: run `shoplake ingest` before transforming"
            )

    def run(
        self, selectors: list[str] | None = None, *, full_refresh: bool = False
    ) -> TransformReport:
        """Run the selected models (all by default) in dependency order."""
        selected = self.project.select(selectors)
        self._require_bronze(selected)
        if self._spark is not None:
            self._spark.preflight()
        self._con, self._built, self._tables = new_connection(), {}, {}
        self._stand_ins = set()
        self._publisher = Publisher(self.catalog, self.run_id)
        try:
            return self._run_selected(selected, full_refresh)
        finally:
            self._publisher.close()
            self._con.close()
            self._con, self._publisher = None, None
            if self._spark is not None:
                self._spark.close()

    def _run_selected(self, selected: list[str], full_refresh: bool) -> TransformReport:
        results: list[ModelResult] = []
        checks: list[CheckResult] = []
        blocked: dict[str, str] = {}
        for target in selected:
            model = self.project.models[target]
            started = time.perf_counter()
            cause = next((blocked[u] for u in sorted(model.depends_on) if u in blocked), None)
            waiting, required = self._missing_sources(model)
            if cause is not None:
                status: Status = "waiting" if cause.startswith("waiting") else "skipped"
                result = ModelResult(target, model.materialized, status, error=cause)
            elif required:
                result = ModelResult(
                    target, model.materialized, "failed", error=missing_required(target, required)
                )
            elif waiting:
                result = ModelResult(
                    target, model.materialized, "waiting",
                    error=f"waiting for {', '.join(waiting)}: nothing has landed there yet",
                )  # fmt: skip
            else:
                result, model_checks = self._start_model(model, full_refresh, started)
                checks.extend(model_checks)
            if result.seconds == 0.0:
                result.seconds = time.perf_counter() - started
            if result.status == "failed":
                blocked[target] = f"skipped: upstream {target} failed"
            elif result.status in ("skipped", "waiting"):
                blocked[target] = result.error or result.status
            results.append(result)
        self._publishing().wait()  # statuses of models published in the background are final
        for result in results:
            result.note = result.note or self._empty_note(result)
        return TransformReport(self.run_id, results, checks, self.engine)

    def _empty_note(self, result: ModelResult) -> str | None:
        """Why a built model has no rows, when optional sources upstream of it are empty."""
        if result.rows or result.status not in ("published", "unchanged"):
            return None
        optional = {n for m in self.project.models.values() for n in m.optional_sources}
        upstream = [n for n in self.project.upstream(result.model) if n in optional]
        empty = [n for n in upstream if current_rows(self._table(n)) == 0]
        return empty_note(empty) if empty else None

    def _start_model(
        self, model: Model, full_refresh: bool, started: float
    ) -> tuple[ModelResult, list[CheckResult]]:
        """Compute and audit a model under its lock; hand a passing result to the publisher,
        which releases the lock once committed."""
        lock = self._lock(model.target)
        lock.__enter__()
        try:
            result, checks, job = self._run_model(model, full_refresh, lock)
        except ShoplakeError as exc:
            lock.__exit__(None, None, None)
            return ModelResult(model.target, model.materialized, "failed", error=str(exc)), []
        except BaseException:
            lock.__exit__(None, None, None)
            raise
        result.seconds = time.perf_counter() - started  # the publisher adds its own time
        if job is None:
            lock.__exit__(None, None, None)
        else:
            self._publishing().submit(job)
        return result, checks

    def _publishing(self) -> Publisher:
        if self._publisher is None:
            raise RuntimeError("models run only inside Runner.run")
        return self._publisher

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise RuntimeError("models run only inside Runner.run")
        return self._con

    def _missing_sources(self, model: Model) -> tuple[list[str], list[str]]:
        """Bronze tables the model reads, directly or through other models, that do not exist:
        those it waits for (no events streamed yet, no supplier API ingested) and required
        ones. Absent optional sources are neither: an empty table stands in for them."""
        waiting: set[str] = set()
        required: set[str] = set()
        pending: list[Model] = [model]
        seen: set[str] = set()
        while pending:
            reader = pending.pop()
            for name in reader.upstream - seen:
                seen.add(name)
                if name in self.project.models:
                    pending.append(self.project.models[name])
                elif name in reader.optional_sources or self._table(name) is not None:
                    continue
                elif name in reader.waits_for:
                    waiting.add(name)
                elif name.startswith("bronze."):
                    required.add(name)
        return sorted(waiting), sorted(required)

    def check(self, selectors: list[str] | None = None) -> list[CheckResult]:
        """Run the contracts of published tables (unpublished models are reported as errors)."""
        results: list[CheckResult] = []
        for target in self.project.select(selectors):
            model = self.project.models[target]
            if self._table(target) is None:
                waiting, required = self._missing_sources(model)
                if waiting and not required:
                    continue  # nothing to check until its sources exist (e.g. no events yet)
                message = (
                    missing_required(target, required)
                    if required
                    else "not published yet: run `shoplake transform`"
                )
                results.append(CheckResult(target, "published", "error", message=message))
                continue
            con = new_connection()
            try:
                for name in sorted({target} | model.checked_against):
                    table = self._table(name)
                    if table is not None:
                        expose(con, name, table)
                results.extend(run_checks(con, model, target))
            finally:
                con.close()
        return results

    # One model ------------------------------------------------------------------------------

    def _plan_deltas(
        self, model: Model, target: Table | None, full_refresh: bool
    ) -> dict[str, int]:
        """Upstream tables to read incrementally, with the snapshot to read after."""
        spark = self._spark is not None  # Spark computes every model in full
        if spark or model.materialized != "incremental" or full_refresh or target is None:
            return {}
        recorded = recorded_sources(target)
        deltas = {}
        for name in model.upstream:
            table = self._table(name)
            since = recorded.get(name)
            if table is None or since is None or not appended_only_since(table, since):
                return {}
            deltas[name] = since
        return deltas

    def _up_to_date(self, model: Model, target: Table | None) -> bool:
        recorded = recorded_sources(target)
        if target is None or not recorded or any(u in self._built for u in model.upstream):
            return False
        for name in model.upstream:
            table = self._table(name)
            snapshot = table.current_snapshot() if table else None
            current = snapshot.snapshot_id if snapshot is not None else NO_SNAPSHOT
            compacted = data_snapshot_id(table) if table is not None else None
            if name not in recorded or recorded[name] not in (current, compacted):
                return False
        return True

    def _run_model(
        self, model: Model, full_refresh: bool, lock: AbstractContextManager[None]
    ) -> tuple[ModelResult, list[CheckResult], PublishJob | None]:
        publisher = self._publishing()
        if model.materialized == "incremental" and publisher.pending(model.upstream):
            publisher.wait(model.upstream)  # deltas are planned on committed tables
        target = self._table(model.target, fresh=True)
        result = ModelResult(model.target, model.materialized, "unchanged")
        if not full_refresh and self._up_to_date(model, target):
            result.rows = current_rows(target)
            return result, [], None
        deltas = self._plan_deltas(model, target, full_refresh)
        con, relation = self._connection(), run_relation(model.target)
        try:
            exposed = self._expose_inputs(con, model, deltas)
            by = model.config.get("incremental_by")
            if deltas and by:
                affected = self._widen_to_affected(con, model, deltas, exposed, by)
            self._materialize(con, model, relation)
            if deltas and target is not None and by:
                replace_partitions(con, target, relation, by, affected)
            elif deltas and target is not None:
                merge_by_key(con, target, relation, model.unique_key)
            else:
                drop_deleted_rows(con, relation)
            expose_relation(con, model.target, relation)
            checks = run_checks(con, model, model.target)
        except ShoplakeError:
            raise
        except Exception as exc:  # DuckDB errors carry the model's SQL problem, or a bad file
            inputs = {name: self._table(name) for name in model.upstream}
            corrupt = named_in_error(exc, {n: t for n, t in inputs.items() if t is not None})
            if corrupt is not None:
                raise corrupt from None
            message = str(exc).strip().splitlines()[0]
            raise ShoplakeError(f"{model.target}: {type(exc).__name__}: {message}") from None
        result.mode = "incremental" if deltas else "full"
        absent = sorted(e.name for e in exposed if e.name in self._stand_ins)
        result.note = absent_note(absent) if absent else None
        result.rows = row_count(con, relation)
        result.scanned = {e.name: e.rows for e in exposed if e.name in model.upstream}
        result.rows_scanned = sum(result.scanned.values())
        result.files_read = sum(e.files for e in exposed if e.name in model.upstream)
        result.checks_passed = sum(c.status == "pass" for c in checks)
        result.checks_failed = len(checks) - result.checks_passed
        if result.checks_failed:
            result.status = "failed"
            result.error = f"{model.target}: not published — {failure_summary(checks)}"
            return result, checks, None
        self._built[model.target] = Exposed(model.target, None, result.rows, 1, None)
        job = PublishJob(model, target, relation, exposed, result, lock, con.cursor())
        return result, checks, job

    def _materialize(self, con: duckdb.DuckDBPyConnection, model: Model, relation: str) -> None:
        """Compute the model into ``relation``: in DuckDB, or in Spark when that is the engine
        (tables built earlier in this run are read from the run's copy, others at the run's
        snapshot)."""
        if self._spark is None:
            materialize(con, model.sql, relation)
            return
        in_run = self._built.keys() | self._stand_ins
        sources = {name: None if name in in_run else self._table(name) for name in model.upstream}
        self._spark.materialize(con, model, relation, sources)

    def _expose_inputs(
        self, con: duckdb.DuckDBPyConnection, model: Model, deltas: dict[str, int]
    ) -> list[Exposed]:
        """Make every table the model (and its contract) reads visible in the connection.

        A table published earlier in this run is read from the run's own copy (the rows just
        committed); anything else from its Iceberg snapshot.
        """
        exposed = []
        for name in sorted(model.depends_on):
            if name == model.target:
                continue
            built = self._built.get(name)
            if built is not None and name not in deltas:
                expose_relation(con, name, run_relation(name))
                exposed.append(built)
                continue
            table = self._table(name)
            if table is None and name in model.optional_sources:
                exposed.append(expose_stand_in(con, name, model.optional_sources[name]))
                self._stand_ins.add(name)
                continue
            if table is None:
                raise ShoplakeError(
                    f"{model.target}: reads {name}, which does not exist yet — run "
                    f"`shoplake ingest` (bronze) or the model that publishes it"
                )
            exposed.append(expose(con, name, table, deltas.get(name)))
        return exposed

    def _widen_to_affected(
        self,
        con: duckdb.DuckDBPyConnection,
        model: Model,
        deltas: dict[str, int],
        exposed: list[Exposed],
        by: str,
    ) -> list[Any]:
        """Re-expose each delta input as the whole history of the keys the delta touches.

        For models whose rows depend on every row of a key (sessions of a session id), the
        new rows decide which keys to recompute; those keys are then read in full.
        """
        from shoplake.lake.expressions import one_of

        keys: set[Any] = set()
        for name in deltas:
            namespace, table_name = name.split(".")
            query = f"SELECT DISTINCT {quoted(by)} FROM {quoted(namespace)}.{quoted(table_name)}"
            keys.update(row[0] for row in con.execute(query).fetchall())
        affected = sorted(keys, key=repr)
        for index, item in enumerate(exposed):
            if item.name in deltas:
                source = self._table(item.name)
                assert source is not None
                widened = expose(con, item.name, source, row_filter=one_of(by, affected))
                exposed[index] = Exposed(
                    item.name,
                    widened.snapshot_id,
                    item.rows + widened.rows,
                    item.files + widened.files,
                    item.delta_from,
                )
        return affected


def missing_required(target: str, tables: list[str]) -> str:
    """The one-line error of a model whose required bronze tables do not exist."""
    names = ", ".join(tables)
    return (
        f"{target}: required {names} does not exist — the source has no such table, or it "
        "has not been ingested yet (`shoplake ingest`)"
    )


def _current(con: duckdb.DuckDBPyConnection, target: Table) -> tuple[str, str]:
    """Expose the target's published rows; returns the relation and its typed column list."""
    name = target.name()
    namespace, table_name = name[-2], name[-1]
    expose(con, f"{namespace}.{table_name}", target)
    relation = f"{quoted(namespace)}.{quoted(table_name)}"
    return relation, ", ".join(quoted(n) for n, _ in columns_of(con, relation))


def _replace_with(con: duckdb.DuckDBPyConnection, relation: str, sql: str, current: str) -> None:
    """Make ``relation`` the result of ``sql``, cast to the published table's column types."""
    typed = ", ".join(
        f"CAST({quoted(n)} AS {t}) AS {quoted(n)}" for n, t in columns_of(con, current)
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE __merged AS SELECT {typed} FROM {subquery(sql)}")
    con.execute(f"CREATE OR REPLACE TABLE {relation} AS SELECT * FROM __merged")
    con.execute("DROP TABLE __merged")


def replace_partitions(
    con: duckdb.DuckDBPyConnection, target: Table, relation: str, by: str, keys: list[Any]
) -> None:
    """Make ``relation`` the target with every row of the recomputed keys replaced by the
    computed rows in ``relation``."""
    drop_deleted_rows(con, relation)
    current, columns = _current(con, target)
    con.register("__keys", pa.table({"k": keys}) if keys else pa.table({"k": pa.array([])}))
    sql = (
        f"SELECT {columns} FROM {current} WHERE {quoted(by)} NOT IN (SELECT k FROM __keys) "
        f"UNION ALL SELECT {columns} FROM {relation}"
    )
    _replace_with(con, relation, sql, current)
    con.unregister("__keys")


def merge_by_key(
    con: duckdb.DuckDBPyConnection, target: Table, relation: str, key: list[str]
) -> None:
    """Make ``relation`` (a delta) the target with every key in the delta replaced by the
    delta's row, or removed when the row is flagged deleted."""
    if not key:
        raise ShoplakeError(f"{target.name()}: an incremental model needs unique_key")
    current, columns = _current(con, target)
    on = " AND ".join(f"c.{quoted(k)} IS NOT DISTINCT FROM d.{quoted(k)}" for k in key)
    has_flag = DELETED in {n for n, _ in columns_of(con, relation)}
    keep = f"WHERE NOT coalesce(d.{DELETED}, false)" if has_flag else ""
    sql = (
        f"SELECT {columns} FROM {current} c WHERE NOT EXISTS (SELECT 1 FROM {relation} d "
        f"WHERE {on}) UNION ALL SELECT {columns} FROM {relation} d {keep}"
    )
    _replace_with(con, relation, sql, current)
