"""One Dagster asset per lakehouse table, generated from shoplake's own graph.

Bronze assets ingest one source table, silver and gold assets run one SQL model, and the ``ml``
assets train the recommender. Each runs the same ``Platform`` call as the CLI, and fails with
that call's one-line error. A failure that retrying cannot fix (a failed contract, bad source
rows) is marked so; a raised error (say, a source that refuses connections) is retried. Every
body is ``shielded``: what it raises reaches Dagster's storage redacted, with no cause chained.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Failure,
    MaterializeResult,
    RetryPolicy,
    asset,
    multi_asset,
)

from shoplake.errors import UnknownSourceTableError
from shoplake.ml.outputs import ITEM_EMBEDDINGS, RECOMMENDATIONS, USER_EMBEDDINGS
from shoplake.orchestrate.guard import shielded
from shoplake.orchestrate.resources import ShoplakeResource

if TYPE_CHECKING:
    from shoplake.transform.contracts import CheckResult
    from shoplake.transform.project import Model, Project

INGEST, TRANSFORM, ML = "ingest", "transform", "ml"
CONTRACT_CHECK = "contract"
EVENTS_TABLE = "bronze.events"
MODEL_KEY = AssetKey(["ml", "model"])
TRAIN_STEP = "train_recommender"
#: Tables training publishes when a version is promoted (the first one, or by `models promote`).
TRAIN_OUTPUTS = (RECOMMENDATIONS, USER_EMBEDDINGS, ITEM_EMBEDDINGS)


def key_of(table: str) -> AssetKey:
    """The asset key of a lakehouse table: ``silver.orders`` -> ``silver/orders``."""
    return AssetKey(table.split("."))


def table_of(key: AssetKey) -> str:
    return ".".join(key.path)


def naming(table: str, error: str | None) -> str:
    """The one-line error of a failed table, starting with the table's name."""
    message = error or "failed"
    return message if message.startswith(table) else f"{table}: {message}"


def bronze_asset(table: str, retry: RetryPolicy, *, optional: bool = False) -> AssetsDefinition:
    """``bronze/<table>``: ingest one source table. An ``optional`` one the source lacks (a
    ClassicModels copy without ``ratings``) materializes as absent: the models reading it
    use an empty stand-in, so everything downstream still runs."""

    @asset(
        key=key_of(f"bronze.{table}"),
        group_name=INGEST,
        retry_policy=retry,
        kinds={"iceberg"},
        description=f"Change history of source table {table} (`shoplake ingest {table}`).",
    )
    @shielded
    def _ingest(context: AssetExecutionContext, shoplake: ShoplakeResource) -> MaterializeResult:
        platform = shoplake.platform()
        if optional and table not in platform.source_tables():
            context.log.warning(
                f"bronze.{table}: the source has no table {table} (optional): nothing to ingest"
            )
            return MaterializeResult(metadata={"status": "absent", "rows": 0})
        try:
            report = platform.ingest([table])
        except UnknownSourceTableError as exc:  # the source lacks it: the same again next time
            raise Failure(naming(f"bronze.{table}", str(exc)), allow_retries=False) from exc
        result = report.results[0]
        if not report.ok:
            raise Failure(naming(f"bronze.{table}", result.error), allow_retries=False)
        context.log.info(f"bronze.{table}: {result.status}, {result.rows} rows")
        return MaterializeResult(
            metadata={"status": result.status, "rows": result.rows, "watermark": result.watermark}
        )

    return _ingest


def contract_names(model: "Model") -> list[str]:
    """The names of a model's contract checks (empty when it declares none)."""
    from shoplake.transform.contracts import compile_checks

    return [check.name for check in compile_checks(model, "result")]


def contract_result(target: str, results: "list[CheckResult]") -> AssetCheckResult:
    """One asset check result summing up every check of a model's contract."""
    failed = [r for r in results if r.status != "pass"]
    detail = "; ".join(f"{r.check}: {r.status} {r.message}".strip() for r in failed)
    return AssetCheckResult(
        asset_key=key_of(target),
        check_name=CONTRACT_CHECK,
        passed=not failed,
        severity=AssetCheckSeverity.ERROR,
        metadata={"checks": len(results), "failed": len(failed), "detail": detail or "all pass"},
    )


def model_asset(model: "Model", retry: RetryPolicy) -> AssetsDefinition:
    """``<namespace>/<model>``: run one SQL model; its contract is one asset check."""
    target = model.target
    checks = contract_names(model)
    bronze = model.waits_for  # landed outside batch ingest: not there until it lands
    check_specs = [
        AssetCheckSpec(
            CONTRACT_CHECK,
            asset=key_of(target),
            description=f"Contract of {target}: " + ", ".join(checks),
        )
    ]

    spec = AssetSpec(
        key_of(target),
        deps=[key_of(t) for t in sorted(model.depends_on)],
        group_name=TRANSFORM,
        skippable=True,  # not built while its input has never landed
        kinds={"iceberg", "duckdb"},
        description=f"{target}, built by {model.folder}/{model.path.name}.",
    )

    # A subsettable multi-asset, because only then may a skipped build also skip its check.
    @multi_asset(
        name="__".join(key_of(target).path),
        specs=[spec],
        check_specs=check_specs if checks else None,
        can_subset=True,
        retry_policy=retry,
    )
    @shielded
    def _transform(
        context: AssetExecutionContext, shoplake: ShoplakeResource
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        platform = shoplake.platform()
        missing = [t for t in sorted(bronze) if not platform.catalog.table_exists(t)]
        if missing:  # its input has never landed (no events streamed yet): nothing to build
            context.log.warning(f"{target}: waiting for {', '.join(missing)}")
            return
        report = platform.transform([target])
        result = report.results[0]
        if result.status == "waiting":
            context.log.warning(f"{target}: {result.error}")
            return
        if result.note:
            context.log.info(f"{target}: {result.note}")
        ran = [c for c in report.checks if c.model == target]
        if not report.ok:
            if checks and ran:  # record the failed contract too, then fail the step
                yield contract_result(target, ran)
            raise Failure(naming(target, result.error), allow_retries=False)
        meta: dict[str, Any] = {"status": result.status, "rows": result.rows}
        if result.note:
            meta["note"] = result.note
        if not checks:
            yield MaterializeResult(metadata=meta)
            return
        # An unchanged model ran no checks this time: check the published table instead.
        results = ran or platform.check([target])
        yield MaterializeResult(metadata=meta, check_results=[contract_result(target, results)])

    return _transform


def training_assets(retry: RetryPolicy) -> AssetsDefinition:
    """``ml/model`` (train, evaluate, register) and the tables a promoted version publishes."""
    from shoplake.ml.features import CUSTOMERS_TABLE, ORDERS_TABLE, PRODUCTS_TABLE
    from shoplake.ml.interactions import INTERACTIONS_TABLE

    inputs = (PRODUCTS_TABLE, CUSTOMERS_TABLE, ORDERS_TABLE, INTERACTIONS_TABLE)
    specs = [
        AssetSpec(
            MODEL_KEY,
            deps=[key_of(t) for t in inputs],
            group_name=ML,
            kinds={"sklearn"},
            description="The recommender: trained, evaluated and registered (`shoplake train`).",
        ),
        *(
            AssetSpec(
                key_of(t),
                deps=[MODEL_KEY],
                group_name=ML,
                skippable=True,
                kinds={"iceberg"},
                description=f"{t}, published when a trained version is promoted.",
            )
            for t in TRAIN_OUTPUTS
        ),
    ]

    @multi_asset(name=TRAIN_STEP, specs=specs, retry_policy=retry)
    @shielded
    def _train(
        context: AssetExecutionContext, shoplake: ShoplakeResource
    ) -> Iterator[MaterializeResult]:
        try:
            report = shoplake.platform().train(progress=context.log.info)
        except OSError:
            raise  # a file or connection that may answer next time: the retry policy applies
        except Exception as exc:  # the same lakehouse fails the same way again: no retry
            from shoplake.redact import error_message

            raise Failure(error_message(exc), allow_retries=False) from exc
        ndcg = {m.model: round(m.ndcg, 4) for m in report.metrics}
        yield MaterializeResult(
            asset_key=MODEL_KEY,
            metadata={"version": report.version, "promoted": report.promoted, "ndcg": ndcg},
        )
        for table in TRAIN_OUTPUTS:
            if table in report.published:
                rows = report.published[table]
                yield MaterializeResult(asset_key=key_of(table), metadata={"rows": rows})

    return _train


def build_assets(project: "Project", retry: RetryPolicy) -> list[AssetsDefinition | AssetSpec]:
    """Every asset of the graph, bronze first. ``bronze/events`` is landed by the stream
    processor (`shoplake stream process`) and the supplier tables by `shoplake ingest api`
    (an outside API that may not be there), so Dagster observes them rather than builds them."""
    from shoplake.generate.schema import CLASSICMODELS_TABLES, SOURCE_TABLES
    from shoplake.ingest.api.records import RESOURCES

    events = AssetSpec(
        key_of(EVENTS_TABLE),
        group_name=INGEST,
        kinds={"iceberg", "valkey"},
        description="Clickstream events, landed exactly once by `shoplake stream process`.",
    )
    built: list[AssetsDefinition | AssetSpec] = [events]
    built += [
        AssetSpec(
            key_of(f"bronze.{resource.table}"),
            group_name=INGEST,
            kinds={"iceberg"},
            description=f"The supplier API's {resource.name}, landed by `shoplake ingest api`.",
        )
        for resource in RESOURCES.values()
    ]
    built += [
        bronze_asset(table, retry, optional=table not in CLASSICMODELS_TABLES)
        for table in SOURCE_TABLES
    ]
    built += [model_asset(project.models[t], retry) for t in project.order]
    built.append(training_assets(retry))
    return built
