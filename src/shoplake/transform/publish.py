"""Publishing audited model results to Iceberg, in a background thread, in run order.

A result that passed its contract is handed over as a :class:`PublishJob`; one worker thread
writes it to Parquet (DuckDB's own writer, on a cursor of the run's connection) and swaps it in
for the table's previous files with one Iceberg commit. Meanwhile the run computes and audits
the next models — DuckDB works outside the GIL, so the commit's Python work overlaps it.

Jobs run one at a time in submission order, so an upstream table is committed before any model
that reads it; a job whose upstream failed to commit is skipped, and its table keeps its
previous snapshot. The model's lock is released only once its job is done.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Collection
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shoplake.transform.engines.duckdb import Exposed, arrow_schema, write_parquet

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from shoplake.transform.project import Model
    from shoplake.transform.runner import ModelResult

log = logging.getLogger(__name__)

SOURCES_PROPERTY = "shoplake.transform.sources"


@dataclass
class PublishJob:
    """An audited result waiting to be committed."""

    model: Model
    target: Table | None  # the table as loaded under the lock; None: not created yet
    relation: str  # the result in the run's DuckDB
    inputs: list[Exposed]  # the upstream tables read (snapshot ids of in-run ones come later)
    result: ModelResult  # updated in place: status, error, seconds
    lock: AbstractContextManager[None]  # held since the model started; released when done
    cursor: duckdb.DuckDBPyConnection  # this job's own cursor on the run's connection


class Publisher:
    """Commits jobs one by one in a background thread; remembers what each commit made."""

    def __init__(self, catalog: Catalog, run_id: str) -> None:
        self.catalog = catalog
        self.run_id = run_id
        self.published: dict[str, Table] = {}
        self.failed: set[str] = set()
        self._jobs: dict[str, Future[None]] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shoplake-publish")

    def submit(self, job: PublishJob) -> None:
        self._jobs[job.model.target] = self._executor.submit(self._run, job)

    def pending(self, names: Collection[str]) -> bool:
        return any(n in self._jobs and not self._jobs[n].done() for n in names)

    def wait(self, names: Collection[str] | None = None) -> None:
        """Wait until the jobs of ``names`` (all by default) are done."""
        for name, job in list(self._jobs.items()):
            if names is None or name in names:
                job.result()

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def snapshot_id(self, name: str) -> int | None:
        table = self.published.get(name)
        snapshot = table.current_snapshot() if table is not None else None
        return snapshot.snapshot_id if snapshot is not None else None

    def _run(self, job: PublishJob) -> None:
        started = time.perf_counter()
        result = job.result
        try:
            failed = sorted(u for u in job.model.depends_on if u in self.failed)
            if failed:
                result.status, result.error = "skipped", f"skipped: upstream {failed[0]} failed"
                self.failed.add(job.model.target)
                return
            sources = {
                e.name: self.snapshot_id(e.name) if e.name in self.published else e.snapshot_id
                for e in job.inputs
                if e.name in job.model.upstream
            }
            self.published[job.model.target] = self._publish(job, sources)
            result.status = "published"
        except Exception as exc:  # reported on the model; the run goes on
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            result.status = "failed"
            result.error = f"{job.model.target}: commit failed: {type(exc).__name__}: {message}"
            self.failed.add(job.model.target)
        finally:
            job.cursor.close()
            job.lock.__exit__(None, None, None)
            result.seconds += time.perf_counter() - started

    def _publish(self, job: PublishJob, sources: dict[str, int | None]) -> Table:
        """Write the result to one Parquet file and swap it in for the previous files."""
        model, result = job.model, job.result
        summary = {
            "shoplake.model": model.target,
            "shoplake.run-id": self.run_id,
            "shoplake.mode": result.mode,
            "shoplake.rows-scanned": str(result.rows_scanned),
            "shoplake.sources": json.dumps(sources, sort_keys=True),
        }
        properties = {SOURCES_PROPERTY: json.dumps(sources, sort_keys=True)}
        target, created = self._target_for(job, arrow_schema(job.cursor, job.relation))
        name = f"{self.run_id}-{uuid.uuid4().hex}.parquet"
        written: str | None = None
        try:
            written = _write_data_file(job, target, name)
            replace_files(target, written, summary, properties)
        except BaseException:
            if written is not None:
                with contextlib.suppress(Exception):
                    target.io.delete(written)  # not referenced by any snapshot
            if created:  # leave no empty table behind
                self.catalog.drop_table(model.target)
            raise
        return target

    def _target_for(self, job: PublishJob, schema: pa.Schema) -> tuple[Table, bool]:
        """The table to commit to — as loaded, or (re)created when missing or its columns
        changed — and whether it was created now."""
        model, target = job.model, job.target
        if target is not None and not same_columns(target, schema):
            log.warning("%s: output columns changed; rebuilding the table", model.target)
            self.catalog.drop_table(model.target)
            target = None
        if target is None:
            target = self.catalog.create_table(
                model.target,
                schema=schema,
                properties={
                    "shoplake.layer": model.target.split(".")[0],
                    "shoplake.model": model.path.name,
                },
            )
            return target, True
        return target, False


def _write_data_file(job: PublishJob, target: Table, name: str) -> str:
    """Write the result as one Parquet file in the table's data folder; returns its URI.

    DuckDB writes local warehouses directly; for an object store (the aws profile's S3) it
    writes a local temporary file that is then uploaded through the table's FileIO.
    """
    location = target.location().rstrip("/")
    if _is_local(location):
        path = _local_path(location) / "data" / name
        try:
            write_parquet(job.cursor, job.relation, path)
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            raise
        return path.as_uri()
    uri = f"{location}/data/{name}"
    with tempfile.TemporaryDirectory(prefix="shoplake-publish-") as scratch:
        local = Path(scratch) / name
        write_parquet(job.cursor, job.relation, local)
        with local.open("rb") as source, target.io.new_output(uri).create(overwrite=True) as sink:
            shutil.copyfileobj(source, sink, length=8 * 1024 * 1024)
    return uri


def replace_files(
    target: Table, uri: str, summary: dict[str, str], properties: dict[str, str]
) -> None:
    """One ``overwrite`` snapshot (``append`` for the first) that removes every current data
    file of the target and adds the file at ``uri``, plus the properties, in one commit."""
    from pyiceberg.io.pyarrow import parquet_file_to_data_file
    from pyiceberg.table import TableProperties

    current = list(target.scan().plan_files()) if target.current_snapshot() else []
    with target.transaction() as tx:
        if tx.table_metadata.name_mapping() is None:  # DuckDB's files carry no field ids
            mapping = tx.table_metadata.schema().name_mapping.model_dump_json()
            tx.set_properties({TableProperties.DEFAULT_NAME_MAPPING: mapping})
        added = parquet_file_to_data_file(target.io, tx.table_metadata, uri)
        with tx.update_snapshot(snapshot_properties=summary).overwrite() as overwrite:
            for task in current:
                overwrite.delete_data_file(task.file)
            overwrite.append_data_file(added)
        tx.set_properties(properties)


def same_columns(table: Table, schema: pa.Schema) -> bool:
    """True when the table's columns have the names and types of ``schema``."""
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    current = schema_to_pyarrow(table.schema(), include_field_ids=False)
    plain = [(f.name, _plain_type(f.type)) for f in current]
    return plain == [(f.name, _plain_type(f.type)) for f in schema]


def _plain_type(kind: pa.DataType) -> str:
    text = str(kind)
    return text.replace("large_string", "string").replace("large_binary", "binary")


def _is_local(location: str) -> bool:
    from urllib.parse import urlparse

    return urlparse(location).scheme in ("", "file")


def _local_path(location: str) -> Path:
    from urllib.parse import unquote, urlparse

    return Path(unquote(urlparse(location).path))
