"""Run SQL models in dependency order: compute, audit against the contract, then publish.

Write–audit–publish: a model's result is computed in DuckDB and checked against its contract
before anything is committed. A failing model is not published (its table keeps its previous
snapshot) and every model downstream of it is skipped.

``incremental`` models read only the rows appended to their upstream tables since the
snapshots recorded at their last publish, and merge the result into the target by key; a row
with ``_deleted`` true removes its key. When history cannot be read incrementally (first run,
``--full-refresh``, an upstream table rewritten by maintenance or expired), the model is
rebuilt from the whole upstream, which by construction gives the same table.
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
from shoplake.transform.contracts import CheckResult, failure_summary, run_checks
from shoplake.transform.engines.duckdb import (
    Exposed,
    expose,
    expose_arrow,
    new_connection,
    run_model,
)
from shoplake.transform.project import Model, Project

if TYPE_CHECKING:
    import duckdb
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

log = logging.getLogger(__name__)

SOURCES_PROPERTY = "shoplake.transform.sources"
DELETED = "_deleted"
Status = Literal["published", "unchanged", "failed", "skipped", "waiting"]


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
    scanned: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TransformReport:
    """Every selected model's result, in run order, and every contract check."""

    run_id: str
    results: list[ModelResult]
    checks: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(r.status in ("published", "unchanged", "waiting") for r in self.results)


def recorded_sources(table: Table | None) -> dict[str, int]:
    """The upstream snapshot ids a target was last built from."""
    if table is None:
        return {}
    text = table.properties.get(SOURCES_PROPERTY)
    return {k: int(v) for k, v in json.loads(text).items()} if text else {}


def appended_only_since(table: Table, snapshot_id: int) -> bool:
    """True when every commit after ``snapshot_id`` only appended rows (no rewrite, no delete)."""
    snapshot = table.current_snapshot()
    if snapshot is None or table.snapshot_by_id(snapshot_id) is None:
        return False
    while snapshot is not None and snapshot.snapshot_id != snapshot_id:
        summary = snapshot.summary
        operation = str(summary.operation.value) if summary else ""
        if operation != "append" or (summary and summary.get("shoplake.maintenance")):
            return False
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
    return snapshot is not None


class Runner:
    """Runs a selection of models against one catalog."""

    def __init__(
        self, catalog: Catalog, project: Project | None = None, *, locks_dir: Path | None = None
    ) -> None:
        self.catalog = catalog
        self.project = project or Project.load()
        self.locks_dir = locks_dir
        self.run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]

    def _table(self, name: str) -> Table | None:
        from pyiceberg.exceptions import NoSuchTableError

        try:
            return self.catalog.load_table(name)
        except NoSuchTableError:
            return None

    def _lock(self, target: str) -> AbstractContextManager[None]:
        """Hold the target's lock so two runs never publish the same table at once."""
        if self.locks_dir is None:
            return nullcontext()
        from shoplake.ingest.locks import table_lock

        return table_lock(self.locks_dir, target)

    def _require_bronze(self, targets: list[str]) -> None:
        models = self.project.models
        bronze = {u for t in targets for u in models[t].upstream if u.startswith("bronze.")}
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
        results: list[ModelResult] = []
        checks: list[CheckResult] = []
        blocked: dict[str, str] = {}
        for target in selected:
            model = self.project.models[target]
            started = time.perf_counter()
            cause = next((blocked[u] for u in sorted(model.depends_on) if u in blocked), None)
            missing = self._missing_sources(model)
            if cause is not None:
                status: Status = "waiting" if cause.startswith("waiting") else "skipped"
                result = ModelResult(target, model.materialized, status, error=cause)
            elif missing:
                result = ModelResult(
                    target, model.materialized, "waiting",
                    error=f"waiting for {', '.join(missing)}: nothing has landed there yet",
                )  # fmt: skip
            else:
                try:
                    with self._lock(target):
                        result, model_checks = self._run_model(model, full_refresh)
                    checks.extend(model_checks)
                except ShoplakeError as exc:
                    result = ModelResult(target, model.materialized, "failed", error=str(exc))
            result.seconds = time.perf_counter() - started
            if result.status == "failed":
                blocked[target] = f"skipped: upstream {target} failed"
            elif result.status in ("skipped", "waiting"):
                blocked[target] = result.error or result.status
            results.append(result)
        return TransformReport(self.run_id, results, checks)

    def _missing_sources(self, model: Model) -> list[str]:
        """Bronze tables the model reads that do not exist (e.g. no events streamed yet)."""
        bronze = sorted(u for u in model.upstream if u.startswith("bronze."))
        return [name for name in bronze if self._table(name) is None]

    def check(self, selectors: list[str] | None = None) -> list[CheckResult]:
        """Run the contracts of published tables (unpublished models are reported as errors)."""
        results: list[CheckResult] = []
        for target in self.project.select(selectors):
            model = self.project.models[target]
            if self._table(target) is None:
                if self._missing_sources(model):
                    continue  # nothing to check until its sources exist (e.g. no events yet)
                message = "not published yet: run `shoplake transform`"
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
        if model.materialized != "incremental" or full_refresh or target is None:
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
        if target is None or not recorded:
            return False
        for name in model.upstream:
            table = self._table(name)
            snapshot = table.current_snapshot() if table else None
            if snapshot is None or recorded.get(name) != snapshot.snapshot_id:
                return False
        return True

    def _run_model(self, model: Model, full_refresh: bool) -> tuple[ModelResult, list[CheckResult]]:
        target = self._table(model.target)
        result = ModelResult(model.target, model.materialized, "unchanged")
        if not full_refresh and self._up_to_date(model, target):
            snapshot = target.current_snapshot() if target is not None else None
            summary = snapshot.summary if snapshot is not None else None
            result.rows = int(summary.get("total-records", 0)) if summary else 0
            return result, []
        deltas = self._plan_deltas(model, target, full_refresh)
        con = new_connection()
        try:
            exposed = self._expose_inputs(con, model, deltas)
            by = model.config.get("incremental_by")
            if deltas and by:
                affected = self._widen_to_affected(con, model, deltas, exposed, by)
            computed = run_model(con, model)
            if deltas and target is not None and by:
                final = replace_partitions(con, target, computed, by, affected)
            elif deltas and target is not None:
                final = merge_by_key(con, target, computed, model.unique_key)
            else:
                final = drop_deleted(computed)
            expose_arrow(con, model.target, final)
            checks = run_checks(con, model, model.target)
        except ShoplakeError:
            raise
        except Exception as exc:  # DuckDB and Arrow errors carry the model's SQL problem
            message = str(exc).strip().splitlines()[0]
            raise ShoplakeError(f"{model.target}: {type(exc).__name__}: {message}") from None
        finally:
            con.close()
        result.mode = "incremental" if deltas else "full"
        result.rows = final.num_rows
        result.scanned = {e.name: e.rows for e in exposed if e.name in model.upstream}
        result.rows_scanned = sum(result.scanned.values())
        result.files_read = sum(e.files for e in exposed if e.name in model.upstream)
        result.checks_passed = sum(c.status == "pass" for c in checks)
        result.checks_failed = len(checks) - result.checks_passed
        if result.checks_failed:
            result.status = "failed"
            result.error = f"{model.target}: not published — {failure_summary(checks)}"
            return result, checks
        sources = {e.name: e.snapshot_id for e in exposed if e.name in model.upstream}
        self._publish(model, target, final, sources, result)
        result.status = "published"
        return result, checks

    def _expose_inputs(
        self, con: duckdb.DuckDBPyConnection, model: Model, deltas: dict[str, int]
    ) -> list[Exposed]:
        needed = set(model.depends_on)
        exposed = []
        for name in sorted(needed):
            if name == model.target:
                continue
            table = self._table(name)
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
            query = f'SELECT DISTINCT "{by}" FROM "{namespace}"."{table_name}"'
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

    def _publish(
        self,
        model: Model,
        target: Table | None,
        data: pa.Table,
        sources: dict[str, int | None],
        result: ModelResult,
    ) -> None:
        summary = {
            "shoplake.model": model.target,
            "shoplake.run-id": self.run_id,
            "shoplake.mode": result.mode,
            "shoplake.rows-scanned": str(result.rows_scanned),
            "shoplake.sources": json.dumps(sources, sort_keys=True),
        }
        properties = {SOURCES_PROPERTY: json.dumps(sources, sort_keys=True)}
        if target is not None and not _same_columns(target, data.schema):
            log.warning("%s: output columns changed; rebuilding the table", model.target)
            self.catalog.drop_table(model.target)
            target = None
        if target is None:
            target = self.catalog.create_table(
                model.target,
                schema=data.schema,
                properties={
                    "shoplake.layer": model.target.split(".")[0],
                    "shoplake.model": model.path.name,
                },
            )
        with target.transaction() as tx:
            if target.current_snapshot() is None:
                tx.append(data, snapshot_properties=summary)
            else:
                tx.overwrite(data, snapshot_properties=summary)
            tx.set_properties(properties)


def _same_columns(table: Table, schema: pa.Schema) -> bool:
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    current = schema_to_pyarrow(table.schema(), include_field_ids=False)
    plain = [(f.name, _plain_type(f.type)) for f in current]
    return plain == [(f.name, _plain_type(f.type)) for f in schema]


def _plain_type(kind: pa.DataType) -> str:
    text = str(kind)
    return text.replace("large_string", "string").replace("large_binary", "binary")


def drop_deleted(data: pa.Table) -> pa.Table:
    """Remove rows flagged ``_deleted`` and the flag column itself."""
    import pyarrow.compute as pc

    if DELETED not in data.column_names:
        return data
    keep = pc.invert(pc.fill_null(data.column(DELETED), False))
    return data.filter(keep).drop_columns([DELETED])


def replace_partitions(
    con: duckdb.DuckDBPyConnection, target: Table, computed: pa.Table, by: str, keys: list[Any]
) -> pa.Table:
    """The target with every row of the recomputed keys replaced by the computed rows."""
    from shoplake.transform.engines.duckdb import iceberg_friendly

    current = target.scan().to_arrow()
    con.register("__current", current)
    con.register("__computed", drop_deleted(computed))
    con.register(
        "__keys",
        pa.table({"k": keys})
        if keys
        else pa.table({"k": pa.array([], current.schema.field(by).type)}),
    )
    columns = ", ".join(f'"{name}"' for name in current.column_names)
    merged = con.sql(
        f'SELECT {columns} FROM __current WHERE "{by}" NOT IN (SELECT k FROM __keys) '
        f"UNION ALL SELECT {columns} FROM __computed"
    ).to_arrow_table()
    return iceberg_friendly(merged).cast(iceberg_friendly(current.slice(0, 0)).schema)


def merge_by_key(
    con: duckdb.DuckDBPyConnection, target: Table, delta: pa.Table, key: list[str]
) -> pa.Table:
    """The target with every key in ``delta`` replaced by the delta's row (or removed)."""
    from shoplake.transform.engines.duckdb import iceberg_friendly

    if not key:
        raise ShoplakeError(f"{target.name()}: an incremental model needs unique_key")
    current = target.scan().to_arrow()
    con.register("__current", current)
    con.register("__delta", delta)
    on = " AND ".join(f'c."{k}" IS NOT DISTINCT FROM d."{k}"' for k in key)
    columns = ", ".join(f'"{name}"' for name in current.column_names)
    merged = con.sql(
        f"SELECT {columns} FROM __current c WHERE NOT EXISTS (SELECT 1 FROM __delta d WHERE {on}) "
        f"UNION ALL SELECT {columns} FROM __delta d "
        + (f"WHERE NOT coalesce(d.{DELETED}, false)" if DELETED in delta.column_names else "")
    ).to_arrow_table()
    return iceberg_friendly(merged).cast(iceberg_friendly(current.slice(0, 0)).schema)
