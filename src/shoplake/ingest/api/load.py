"""``shoplake ingest api``: the supplier's catalog and reviews into bronze, incrementally.

Each resource is read with ``updated_since`` = the watermark committed with its bronze table
(the newest ``updated_at`` landed), oldest change first. The bound is inclusive, so records
at the watermark itself are fetched again and dropped when bronze already holds that version:
a record is landed once per version however often a run is repeated or resumed. Rows and the
new watermark are one Iceberg commit (the watermark is in the table's state property and the
snapshot summary); a long run commits every ``supplier.checkpoint_pages`` pages, so a crash
loses at most that much work. Invalid records go to ``bronze.supplier_dead_letters`` with
the reason, once each (keyed by a hash of the raw record).

A full refresh reads every record first and then replaces each table in one commit (no
checkpoints): the resource's dead letters, then its bronze table (schema brought in line, old
rows deleted, new rows and a fresh state written together). Killed at any point, each table
holds its old content or its new one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from shoplake.ingest.api.client import SupplierApiError, SupplierClient
from shoplake.ingest.api.records import (
    PRODUCTS,
    RESOURCES,
    InvalidRecordError,
    Resource,
    parse_timestamp,
    record_id,
    validate,
)
from shoplake.ingest.bronze import (
    BATCH_ID,
    INGESTED_AT,
    META_FIELDS,
    OP,
    SchemaPlan,
    bronze_columns,
    plan_replace,
    write_schema,
)
from shoplake.ingest.columns import SourceColumn
from shoplake.ingest.locks import table_lock
from shoplake.lake.expressions import at_least, equals
from shoplake.lake.state import STATE_PROPERTY, IngestState, read_state

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from shoplake.config import Settings

DEAD_LETTERS_TABLE = "bronze.supplier_dead_letters"
DEAD_LETTER_SCHEMA = pa.schema(
    [
        pa.field("resource", pa.string()),
        pa.field("record_id", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("payload", pa.string()),
        pa.field("payload_hash", pa.string()),
        pa.field(INGESTED_AT, pa.timestamp("us", tz="UTC")),
        pa.field(BATCH_ID, pa.int64()),
    ]
)
#: One `ingest api` at a time per data dir: two would race on the same watermark.
LOCK_NAME = "bronze.supplier_api"
ProgressHook = Callable[[str, int], Callable[[int], None]]
Status = Literal["loaded", "unchanged", "failed", "skipped"]


@dataclass
class ResourceResult:
    """What one resource's ingest did."""

    resource: str
    table: str
    status: Status = "unchanged"
    pages: int = 0
    fetched: int = 0
    inserts: int = 0
    updates: int = 0
    already_landed: int = 0
    dead_letters: int = 0
    commits: int = 0
    updated_since: str = ""
    watermark: str = ""
    seconds: float = 0.0
    error: str | None = None


@dataclass
class ApiIngestReport:
    """One ``ingest api`` run: per-resource results and what the HTTP traffic took."""

    run_id: str
    base_url: str
    results: list[ResourceResult] = field(default_factory=list)
    requests: int = 0
    token_fetches: int = 0
    retries: dict[str, int] = field(default_factory=dict)
    waited_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.status in ("loaded", "unchanged") for r in self.results)


def ingest_api(
    settings: Settings,
    catalog: Catalog,
    resources: list[str] | None = None,
    *,
    full_refresh: bool = False,
    progress: ProgressHook | None = None,
) -> ApiIngestReport:
    """Land new and changed supplier records in bronze; returns what each resource did."""
    names = _resource_names(resources)
    run = _Run(uuid.uuid4().hex[:12], dt.datetime.now(dt.UTC))
    report = ApiIngestReport(run.run_id, settings.supplier.base_url())
    with table_lock(settings.locks_dir, LOCK_NAME):
        _ingest_resources(
            settings, catalog, names, run, report, full_refresh=full_refresh, progress=progress
        )
    return report


def _ingest_resources(
    settings: Settings,
    catalog: Catalog,
    names: list[str],
    run: _Run,
    report: ApiIngestReport,
    *,
    full_refresh: bool,
    progress: ProgressHook | None,
) -> None:
    dead = _DeadLetters(catalog)
    with SupplierClient(settings.supplier) as client:
        failed: str | None = None
        for name in names:
            resource = RESOURCES[name]
            result = ResourceResult(name, f"bronze.{resource.table}")
            started = time.perf_counter()
            if failed is not None and resource is not PRODUCTS:
                result.status, result.error = "skipped", f"skipped: {failed} failed"
            else:
                loader = _ResourceLoader(catalog, resource, dead, run, result)
                try:
                    loader.run(client, full_refresh=full_refresh, progress=progress)
                except SupplierApiError as exc:
                    result.status, result.error = "failed", str(exc)
                    failed = name
            result.seconds = time.perf_counter() - started
            report.results.append(result)
        stats = client.stats
    report.requests, report.token_fetches = stats.requests, stats.token_fetches
    report.retries, report.waited_seconds = dict(stats.retries), stats.waited_seconds


def _resource_names(resources: list[str] | None) -> list[str]:
    """Requested resources in dependency order (reviews are checked against products)."""
    if not resources:
        return list(RESOURCES)
    unknown = sorted(set(resources) - set(RESOURCES))
    if unknown:
        raise SupplierApiError(
            f"unknown supplier resource(s) {', '.join(unknown)}; choose from {', '.join(RESOURCES)}"
        )
    return [name for name in RESOURCES if name in resources]


@dataclass(frozen=True)
class _Run:
    run_id: str
    started_at: dt.datetime


class _DeadLetters:
    """``bronze.supplier_dead_letters``: invalid records with their reason, once each."""

    def __init__(self, catalog: Catalog) -> None:
        self.table = catalog.create_table_if_not_exists(
            DEAD_LETTERS_TABLE, schema=DEAD_LETTER_SCHEMA, properties={"shoplake.layer": "bronze"}
        )

    def known_hashes(self, resource: str) -> set[str]:
        rows = self.table.scan(
            row_filter=equals("resource", resource), selected_fields=("payload_hash",)
        ).to_arrow()
        return set(rows.column("payload_hash").to_pylist())

    def record_ids(self, resource: str) -> set[str]:
        rows = self.table.scan(
            row_filter=equals("resource", resource), selected_fields=("record_id",)
        ).to_arrow()
        return {r for r in rows.column("record_id").to_pylist() if r is not None}

    def append(self, rows: list[dict[str, Any]], run: _Run, batch_id: int) -> None:
        if not rows:
            return
        self.table.refresh()
        self.table.append(
            _stamped(rows, run, batch_id), snapshot_properties={"shoplake.run-id": run.run_id}
        )

    def replace(self, resource: str, rows: list[dict[str, Any]], run: _Run, batch_id: int) -> None:
        """Swap ``resource``'s dead letters for ``rows`` in one commit (a full refresh)."""
        self.table.refresh()
        with self.table.transaction() as tx:
            if self.table.current_snapshot() is not None:
                tx.delete(equals("resource", resource))
            if rows:
                tx.append(
                    _stamped(rows, run, batch_id),
                    snapshot_properties={"shoplake.run-id": run.run_id},
                )


def _stamped(rows: list[dict[str, Any]], run: _Run, batch_id: int) -> pa.Table:
    """Dead-letter rows with the run's ingest time and batch."""
    stamped = [{**r, INGESTED_AT: run.started_at, BATCH_ID: batch_id} for r in rows]
    return pa.Table.from_pylist(stamped, schema=DEAD_LETTER_SCHEMA)


def _payload_hash(resource: str, record: Any) -> str:
    text = json.dumps(record, sort_keys=True, default=str)
    return hashlib.sha256(f"{resource}\n{text}".encode()).hexdigest()


class _ResourceLoader:
    """Pages of one resource → validated rows and dead letters → checkpoint commits."""

    def __init__(
        self,
        catalog: Catalog,
        resource: Resource,
        dead: _DeadLetters,
        run: _Run,
        result: ResourceResult,
    ) -> None:
        self.catalog, self.resource, self.dead = catalog, resource, dead
        self.run_info, self.result = run, result
        self.rows: list[dict[str, Any]] = []
        self.dead_rows: list[dict[str, Any]] = []
        self.newest: dt.datetime | None = None

    def run(
        self, client: SupplierClient, *, full_refresh: bool, progress: ProgressHook | None
    ) -> None:
        resource = self.resource
        self.table = self._open_table()  # a full refresh replaces its rows at the end
        fresh = IngestState(strategy="api", cursor="updated_at", primary_key=[resource.key])
        self.state = fresh if full_refresh else read_state(self.table) or fresh
        since = self.state.watermark
        self.result.updated_since = _iso(since) if since else ""
        self.known_ids: set[str] = set()
        self.landed: set[tuple[str, dt.datetime]] = set()
        self.known_dead: set[str] = set()
        if not full_refresh:  # a full refresh takes every record as new, dead letters too
            self.known_ids, self.landed = self._landed_versions(since)
            self.known_dead = self.dead.known_hashes(resource.name)
        if resource is not PRODUCTS:
            self.products = self._product_skus()
            self.dead_products = self.dead.record_ids(PRODUCTS.name)
        advance = progress(resource.name, 0) if progress else None
        pages_since_commit = 0
        for page in client.pages(resource.name, _iso(since) if since else None):
            self.result.pages += 1
            self.result.fetched += len(page.records)
            for record in page.records:
                self._take(record)
            if advance:
                advance(len(page.records))
            pages_since_commit += 1
            if not full_refresh and pages_since_commit >= client.settings.checkpoint_pages:
                self._commit()
                pages_since_commit = 0
        self._replace() if full_refresh else self._commit()
        self.result.watermark = _iso(self.state.watermark) if self.state.watermark else ""

    def _open_table(self) -> Table:
        schema = pa.schema(list(self.resource.schema) + list(META_FIELDS))
        return self.catalog.create_table_if_not_exists(
            f"bronze.{self.resource.table}",
            schema=schema,
            properties={"shoplake.layer": "bronze", "shoplake.source": "supplier-api"},
        )

    def _landed_versions(
        self, since: dt.datetime | None
    ) -> tuple[set[str], set[tuple[str, dt.datetime]]]:
        """Keys bronze holds, and the versions at or after the watermark (refetched now)."""
        from pyiceberg.expressions import AlwaysTrue

        key = self.resource.key
        ids = self.table.scan(selected_fields=(key,)).to_arrow().column(key).to_pylist()
        row_filter = AlwaysTrue() if since is None else at_least("updated_at", since.isoformat())
        recent = self.table.scan(row_filter=row_filter, selected_fields=(key, "updated_at"))
        versions = recent.to_arrow().to_pylist()
        return set(ids), {(v[key], v["updated_at"]) for v in versions}

    def _product_skus(self) -> set[str]:
        name = f"bronze.{PRODUCTS.table}"
        if not self.catalog.table_exists(name):
            return set()
        table = self.catalog.load_table(name)
        return set(table.scan(selected_fields=("sku",)).to_arrow().column("sku").to_pylist())

    def _take(self, record: Any) -> None:
        """Validate one record into a row to land, a dead letter, or nothing (landed before)."""
        stamp = record.get("updated_at") if isinstance(record, dict) else None
        try:
            when = parse_timestamp(stamp)
        except InvalidRecordError:
            when = None
        if when is not None and (self.newest is None or when > self.newest):
            self.newest = when
        try:
            row = validate(self.resource, record)
            if self.resource is not PRODUCTS and row["sku"] not in self.products:
                why = (
                    "the reviewed product's record was dead-lettered"
                    if row["sku"] in self.dead_products
                    else "the reviewed product is not in the supplier's catalog"
                )
                raise InvalidRecordError(f"sku: {why}")
        except InvalidRecordError as exc:
            self._dead_letter(record, str(exc))
            return
        key = row[self.resource.key]
        if (key, row["updated_at"]) in self.landed:
            self.result.already_landed += 1
            return
        row[OP] = "update" if key in self.known_ids else "insert"
        self.known_ids.add(key)
        self.landed.add((key, row["updated_at"]))
        self.rows.append(row)

    def _dead_letter(self, record: Any, reason: str) -> None:
        digest = _payload_hash(self.resource.name, record)
        if digest in self.known_dead:
            return
        self.known_dead.add(digest)
        self.dead_rows.append(
            {
                "resource": self.resource.name,
                "record_id": record_id(self.resource, record),
                "reason": reason,
                "payload": json.dumps(record, sort_keys=True, default=str),
                "payload_hash": digest,
            }
        )

    def _next_state(self) -> IngestState:
        """The state after the rows taken so far: the next batch, the advanced watermark."""
        old = self.state.watermark
        watermark = self.newest if self.newest and (old is None or self.newest > old) else old
        return IngestState(
            batch_id=self.state.batch_id + 1,
            strategy="api",
            cursor="updated_at",
            watermark=watermark,
            primary_key=[self.resource.key],
        )

    def _commit(self) -> None:
        """Dead letters, then rows with the advanced watermark in one commit."""
        state = self._next_state()
        if not self.rows and not self.dead_rows and state.watermark == self.state.watermark:
            return
        self.dead.append(self.dead_rows, self.run_info, state.batch_id)
        self._write(state)

    def _replace(self) -> None:
        """A full refresh's only commits: the resource's dead letters, then its table."""
        state = self._next_state()
        self.dead.replace(self.resource.name, self.dead_rows, self.run_info, state.batch_id)
        self._write(state, plan=self._schema_plan())

    def _schema_plan(self) -> SchemaPlan:
        """The table's schema brought in line with the resource's fields (a full refresh)."""
        fields = [SourceColumn(n, kind, not required) for n, kind, required in self.resource.fields]
        return plan_replace(self.resource.table, fields, bronze_columns(self.table))

    def _write(self, state: IngestState, *, plan: SchemaPlan | None = None) -> None:
        """The rows and ``state`` in one commit; with a ``plan`` (a full refresh) the same
        commit also changes the schema and deletes every row the table held."""
        from pyiceberg.expressions import AlwaysTrue

        self.result.dead_letters += len(self.dead_rows)
        properties = {STATE_PROPERTY: state.to_json(), "shoplake.last-run-id": self.run_info.run_id}
        summary = self._summary(state)
        self.table.refresh()
        with self.table.transaction() as tx:
            if plan is not None:
                plan.apply(tx)
                if self.table.current_snapshot() is not None:
                    tx.delete(AlwaysTrue(), snapshot_properties=summary)
            if self.rows:
                tx.append(self._arrow(state.batch_id, plan), snapshot_properties=summary)
            tx.set_properties(properties)
        self.result.inserts += sum(r[OP] == "insert" for r in self.rows)
        self.result.updates += sum(r[OP] == "update" for r in self.rows)
        self.result.commits += 1
        self.result.status = "loaded"
        self.rows, self.dead_rows, self.state = [], [], state

    def _arrow(self, batch_id: int, plan: SchemaPlan | None = None) -> pa.Table:
        stamped = [
            {**r, INGESTED_AT: self.run_info.started_at, BATCH_ID: batch_id} for r in self.rows
        ]
        schema = (
            write_schema(plan.write_columns)
            if plan is not None
            else pa.schema(list(self.resource.schema) + list(META_FIELDS))
        )
        return pa.Table.from_pylist(stamped, schema=schema)

    def _summary(self, state: IngestState) -> dict[str, str]:
        return {
            "shoplake.run-id": self.run_info.run_id,
            "shoplake.batch-id": str(state.batch_id),
            "shoplake.strategy": "api",
            "shoplake.api.updated-since": self.result.updated_since,
            "shoplake.watermark": _iso(state.watermark) if state.watermark else "",
        }


def _iso(value: dt.datetime) -> str:
    """UTC ISO 8601 with microseconds and a ``Z``, as the API writes it."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
