"""The facade every front end calls: it owns the settings and the backends, and delegates.

No stage logic lives here; each method wires configuration into one stage's function.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoplake.config import Settings, load_settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyiceberg.catalog import Catalog

    from shoplake.generate.simulate import SimulateResult
    from shoplake.generate.synthetic import GenerateResult
    from shoplake.ingest.api.load import ApiIngestReport
    from shoplake.ingest.runner import IngestReport, ProgressHook
    from shoplake.ingest.stream_processor import ProcessStats
    from shoplake.ingest.stream_status import StreamStatus
    from shoplake.lake.maintenance import MaintenanceResult
    from shoplake.lake.query import QueryResult
    from shoplake.lake.stats import TableStats
    from shoplake.ml.registry import ModelInfo
    from shoplake.ml.serving import Recommendations, ScoredProduct
    from shoplake.ml.train import Progress, TrainReport
    from shoplake.services import ServiceInfo
    from shoplake.streams.base import EventLog
    from shoplake.streams.produce import ProduceStats
    from shoplake.transform.contracts import CheckResult
    from shoplake.transform.project import Project
    from shoplake.transform.runner import EngineName, TransformReport


class Platform:
    """One shoplake installation: a source, a lakehouse and the pipelines between them."""

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        self.settings = settings or load_settings(**overrides)

    def with_settings(self, settings: Settings) -> Platform:
        """Another platform over the same installation with changed settings."""
        return Platform(settings=settings)

    @cached_property
    def catalog(self) -> Catalog:
        from shoplake.lake.catalog import open_catalog

        return open_catalog(self.settings)

    # Stage 1: sources ------------------------------------------------------------------------

    def generate(
        self, *, scale: float, seed: int, progress: Callable[[str, int], None] | None = None
    ) -> GenerateResult:
        """Create the source schema and fill it with seeded synthetic data."""
        from shoplake.generate.synthetic import generate

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return generate(
            self.settings.source_url,
            scale=scale,
            seed=seed,
            tastes_path=self.settings.tastes_path,
            progress=progress,
        )

    def simulate(self, *, orders: int, seed: int) -> SimulateResult:
        """Apply a realistic round of changes to the source."""
        from shoplake.generate.simulate import simulate

        tastes = self.settings.tastes_path
        return simulate(
            self.settings.source_url,
            orders=orders,
            seed=seed,
            tastes_path=tastes if tastes.exists() else None,
        )

    def load_classicmodels(
        self, dump: Path | None = None, ratings_csv: Path | None = None
    ) -> dict[str, int]:
        """Load a ClassicModels MySQL dump (default: the public one shipped with shoplake)
        unchanged, and optionally a ratings CSV."""
        from shoplake.generate.classicmodels import (
            SHIPPED_DUMP,
            load_classicmodels,
            load_ratings_csv,
            shipped_file,
        )

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        counts = load_classicmodels(self.settings.source_url, dump or shipped_file(SHIPPED_DUMP))
        if ratings_csv is not None:
            counts["ratings"] = load_ratings_csv(self.settings.source_url, ratings_csv)
        return counts

    def source_tables(self) -> list[str]:
        """The names of the tables the source database holds."""
        from shoplake.ingest.columns import list_source_tables
        from shoplake.sourcedb import check_connection, create_source_engine

        engine = create_source_engine(self.settings.source_url)
        try:
            check_connection(engine, self.settings.source_url, must_exist=True)
            return list_source_tables(engine)
        finally:
            engine.dispose()

    # Stage 2: ingest -------------------------------------------------------------------------

    def ingest(
        self,
        tables: list[str] | None = None,
        *,
        full_refresh: bool = False,
        progress: ProgressHook | None = None,
    ) -> IngestReport:
        """Land source changes in bronze, one atomic commit per table."""
        from shoplake.ingest.runner import ingest

        return ingest(
            self.settings, self.catalog, tables, full_refresh=full_refresh, progress=progress
        )

    def ingest_api(
        self,
        resources: list[str] | None = None,
        *,
        full_refresh: bool = False,
        progress: ProgressHook | None = None,
    ) -> ApiIngestReport:
        """Land the supplier API's new and changed records in bronze, incrementally."""
        from shoplake.ingest.api.load import ingest_api

        return ingest_api(
            self.settings, self.catalog, resources, full_refresh=full_refresh, progress=progress
        )

    # Stage 3: store --------------------------------------------------------------------------

    def tables(self) -> list[TableStats]:
        """Every lakehouse table with rows, files, bytes, snapshots and watermark."""
        from shoplake.lake.stats import all_table_stats

        return all_table_stats(self.catalog)

    def maintain(
        self, tables: list[str] | None = None, *, orphan_min_age_seconds: float = 3600.0
    ) -> list[MaintenanceResult]:
        """Compact small files, expire old snapshots and remove orphaned files.

        Every name is resolved and every table's files checked before any table is touched:
        a typo or a broken file maintains nothing."""
        from shoplake.lake.catalog import load_tables
        from shoplake.lake.maintenance import maintain_tables

        lake = self.settings.lake
        return maintain_tables(
            load_tables(self.catalog, tables),
            target_bytes=lake.target_file_mb * 1024 * 1024,
            retention=dt.timedelta(hours=lake.snapshot_retention_hours),
            keep_snapshots=lake.min_snapshots_to_keep,
            orphan_min_age_seconds=orphan_min_age_seconds,
        )

    def query(
        self, sql: str, *, max_rows: int | None = None, masked: list[str] | None = None
    ) -> QueryResult:
        """Run one read-only SQL statement over the lakehouse, within the query row and byte
        limits. With ``masked`` (a list the masked ``table.column`` names are added to), it
        runs as an analyst's ``POST /query`` does: refused unless the API's query guard
        passes it, PII columns masked before the engine sees them."""
        from shoplake.lake.query import Prepare, run_query

        prepare: Prepare | None = None
        if masked is not None:
            from shoplake.serve.pii import masker, masking, trace
            from shoplake.serve.query_guard import guard

            sql = guard(sql).sql
            prepare = masking(trace(self.catalog, self.project()), masker(), masked)
        limits = self.settings.query
        return run_query(
            self.catalog,
            sql,
            max_rows=max_rows or limits.max_rows,
            max_bytes=limits.max_bytes,
            prepare=prepare,
        )

    # Stage 4: transform ----------------------------------------------------------------------

    def project(self) -> Project:
        """The SQL models and their contracts."""
        from shoplake.transform.project import Project

        return Project.load(cache_file=self.settings.data_dir / "cache" / "model_tables.json")

    def transform(
        self,
        selectors: list[str] | None = None,
        *,
        full_refresh: bool = False,
        engine: EngineName = "duckdb",
    ) -> TransformReport:
        """Build silver and gold: compute (DuckDB, or Spark), check each contract, publish
        what passes."""
        from shoplake.transform.results import record_results
        from shoplake.transform.runner import Runner

        runner = Runner(
            self.catalog,
            self.project(),
            locks_dir=self.settings.locks_dir,
            engine=engine,
            settings=self.settings,
        )
        report = runner.run(selectors, full_refresh=full_refresh)
        record_results(self.catalog, report.run_id, "transform", report.checks)
        return report

    def check(self, selectors: list[str] | None = None) -> list[CheckResult]:
        """Run every contract against the published tables and keep the results."""
        from shoplake.transform.results import record_results
        from shoplake.transform.runner import Runner

        runner = Runner(self.catalog, self.project())
        results = runner.check(selectors)
        record_results(self.catalog, runner.run_id, "check", results)
        return results

    # Local services ---------------------------------------------------------------------------

    def up(self) -> list[ServiceInfo]:
        """Start the local servers (valkey) under the data dir; no-op for running ones."""
        from shoplake.services import start_valkey

        return [start_valkey(self.settings)]

    def down(self) -> list[bool]:
        """Stop the local servers by PID."""
        from shoplake.services import stop_valkey

        return [stop_valkey(self.settings)]

    def services(self) -> list[ServiceInfo]:
        """Health of each local server."""
        from shoplake.services import valkey_status

        return [valkey_status(self.settings)]

    # Streaming --------------------------------------------------------------------------------

    def event_log(self, *, start: bool = True) -> EventLog:
        """The configured event log. The local valkey, when it is the backend, is started if
        needed; with ``start=False`` it must be running (else a StreamError says how)."""
        from shoplake.streams import open_event_log

        return open_event_log(self.settings, start=start)

    def produce(self, **options: Any) -> ProduceStats:
        """Send simulated clickstream events onto the event log (see streams.produce)."""
        from shoplake.streams.produce import produce

        event_log = self.event_log()
        try:
            return produce(self.settings, event_log, **options)
        finally:
            event_log.close()

    def process(
        self,
        *,
        workers: int = 1,
        worker: int | None = None,
        until_idle: bool = False,
        max_events: int | None = None,
    ) -> ProcessStats:
        """Process the event log into bronze.events / bronze.dead_letters, exactly once."""
        from shoplake.ingest.stream_workers import run_worker, run_workers

        if worker is None and workers > 1:
            return run_workers(
                self.settings, workers=workers, until_idle=until_idle, max_events=max_events
            )
        return run_worker(
            self.settings, self.catalog, worker=worker or 0, workers=workers,
            until_idle=until_idle, max_events=max_events,
        )  # fmt: skip

    def stream_status(self) -> StreamStatus:
        """Positions, lag, throughput and dead letters of the stream pipeline. Never starts a
        server: when the log cannot be reached, the lakehouse side is reported with a note."""
        from shoplake.ingest.stream_status import stream_status
        from shoplake.streams import StreamError

        try:
            event_log = self.event_log(start=False)
        except StreamError as exc:
            return stream_status(self.settings, self.catalog, None, note=str(exc))
        try:
            return stream_status(self.settings, self.catalog, event_log)
        except StreamError as exc:
            return stream_status(self.settings, self.catalog, None, note=str(exc))
        finally:
            event_log.close()

    # Recommender ------------------------------------------------------------------------------

    def train(self, *, progress: Progress | None = None) -> TrainReport:
        """Train and evaluate the recommender on the current lakehouse snapshot; register it."""
        from shoplake.ml.train import train

        return train(self.settings, self.catalog, progress=progress)

    def models(self) -> list[ModelInfo]:
        """Every registered model version, oldest first."""
        from shoplake.ml.registry import Registry

        return Registry(self.settings.models_dir).list()

    def model(self, version: str | None = None) -> ModelInfo:
        """One registered version (default: the promoted one)."""
        from shoplake.ml.registry import Registry

        registry = Registry(self.settings.models_dir)
        return registry.info(version or registry.require_promoted())

    def promote(self, version: str) -> dict[str, int]:
        """Serve ``version``: republish the gold ML tables from it, then promote it."""
        from shoplake.ml.train import promote

        return promote(self.settings, self.catalog, version)

    def recommend(
        self, customer_number: int, k: int | None = None, *, session_id: str | None = None
    ) -> Recommendations:
        """The promoted model's top products for one customer; with ``session_id``, computed
        live from that session's state in the online store when it has one."""
        from shoplake.ml.live import session_recommendations
        from shoplake.ml.serving import load_promoted

        model, limit = load_promoted(self.settings), k or self.settings.ml.top_k
        if session_id is not None:
            live = session_recommendations(self.settings, model, customer_number, session_id, limit)
            if live is not None:
                return live
        return model.recommend(customer_number, limit)

    def similar(self, product_code: str, k: int | None = None) -> list[ScoredProduct]:
        """Products nearest to one product by the promoted model's item embeddings."""
        from shoplake.ml.serving import ITEM_INDEX, load_promoted
        from shoplake.vectors import open_vector_index

        model = load_promoted(self.settings)
        with open_vector_index(self.settings, ITEM_INDEX) as index:
            return model.similar(product_code, k or self.settings.ml.top_k, index)
