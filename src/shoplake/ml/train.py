"""Training: pin a snapshot, split by time, fit and evaluate every model, register, publish.

The metrics come from models fitted on the interactions before the time cutoff. The version
then registered is refitted on *all* interactions with the same settings: serving should know
every customer's latest purchases (to build on them and not to recommend them again), and the
held-out share is the most recent, most telling part of the history. The served model is ALS
(with content-based and popularity fallbacks); the others are reported for comparison.

The first version ever trained is promoted (and its outputs published) at once; later ones
wait for ``shoplake models promote``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from shoplake.ml import features as feats
from shoplake.ml.als import ALS
from shoplake.ml.content import ContentBased
from shoplake.ml.dataset import InteractionMatrix
from shoplake.ml.errors import ModelError
from shoplake.ml.evaluate import ModelMetrics, evaluate, time_split
from shoplake.ml.interactions import (
    EVENTS_TABLE,
    INTERACTIONS_TABLE,
    Interactions,
    InteractionSources,
    load_interactions,
)
from shoplake.ml.live import running_online_store
from shoplake.ml.online_store import push_recommendations
from shoplake.ml.oracle import Oracle
from shoplake.ml.outputs import RECOMMENDATIONS, publish
from shoplake.ml.popularity import Popularity
from shoplake.ml.registry import Registry, write_json
from shoplake.ml.serving import ITEM_INDEX, ServingModel, load_version
from shoplake.ml.snapshots import PinnedTables
from shoplake.streams.online import redis_client

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from sklearn.compose import ColumnTransformer

    from shoplake.config import Settings
    from shoplake.ml.base import Recommender

SERVED_MODEL: Final = "als"
BASELINE: Final = "popularity"
REQUIRED_TABLES: Final = (
    INTERACTIONS_TABLE,
    feats.PRODUCTS_TABLE,
    feats.CUSTOMERS_TABLE,
    feats.ORDERS_TABLE,
)
Progress = Callable[[str], None]


@dataclass
class TrainReport:
    """What one training run measured and registered."""

    version: str
    promoted: bool
    served_model: str
    k: int
    cutoff: str
    snapshots: dict[str, int]
    counts: dict[str, int]
    metrics: list[ModelMetrics]
    published: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def metric(self, model: str) -> ModelMetrics:
        return next(m for m in self.metrics if m.model == model)

    def lift(self, model: str) -> float:
        """NDCG@k of ``model`` over the popularity baseline's."""
        baseline = self.metric(BASELINE).ndcg
        return self.metric(model).ndcg / baseline if baseline else float("inf")

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["metrics"] = metrics_document(self.metrics)
        return document


def metrics_document(metrics: list[ModelMetrics]) -> list[dict[str, Any]]:
    """Metrics rows with each model's NDCG lift over the baseline."""
    baseline = next((m.ndcg for m in metrics if m.model == BASELINE), 0.0)
    return [
        m.as_dict() | {"ndcg_vs_popularity": round(m.ndcg / baseline, 4) if baseline else None}
        for m in metrics
    ]


@dataclass(frozen=True)
class TrainingSet:
    """The pinned snapshot's products, customers and interactions."""

    snapshots: dict[str, int]
    products: pa.Table
    customers: pa.Table
    interactions: Interactions
    sources: InteractionSources


def load_training_set(catalog: Catalog, snapshots: Mapping[str, int] | None = None) -> TrainingSet:
    """Read everything training needs at pinned snapshots (current ones by default)."""
    pinned = PinnedTables.pin(catalog, REQUIRED_TABLES, (EVENTS_TABLE,), snapshots)
    interactions, sources = load_interactions(pinned)
    return TrainingSet(
        dict(pinned.snapshot_ids),
        feats.load_products(pinned),
        feats.load_customers(pinned),
        interactions,
        sources,
    )


def candidate_models(
    data: InteractionMatrix,
    item_vectors: np.ndarray,
    settings: Settings,
    products: pa.Table,
) -> list[Recommender]:
    """Popularity, content-based, ALS and — when latent tastes exist — the oracle."""
    popularity = Popularity(data)
    content = ContentBased(data, item_vectors, popularity)
    models: list[Recommender] = [
        popularity,
        content,
        ALS.fit(data, settings.ml, item_vectors, content),
    ]
    if settings.tastes_path.exists():
        from shoplake.generate.tastes import load_tastes

        tastes = load_tastes(settings.tastes_path)
        models.append(Oracle.from_tastes(data, tastes, products, popularity))
    return models


def train(
    settings: Settings,
    catalog: Catalog,
    *,
    snapshots: Mapping[str, int] | None = None,
    progress: Progress | None = None,
) -> TrainReport:
    """Train, evaluate and register a version; promote and publish it if it is the first.

    ``snapshots`` (table -> snapshot id, e.g. an earlier version's) replays that lakehouse
    state; with the same settings the metrics and recommendations come out identical.
    """
    started = time.perf_counter()
    say = progress or (lambda _: None)
    ml = settings.ml
    say("reading the pinned lakehouse snapshot")
    data = load_training_set(catalog, snapshots)
    codes = np.asarray(data.products["product_code"].to_pylist(), dtype=str)
    if len(np.unique(codes)) != len(codes):
        raise ModelError(f"{feats.PRODUCTS_TABLE}: product codes are not unique")
    customers = data.customers["customer_number"].to_numpy()
    product_pipeline, customer_pipeline = _fit_pipelines(data)
    item_vectors = feats.product_vectors(product_pipeline, data.products)

    split = time_split(data.interactions, ml.test_fraction)
    held_in = InteractionMatrix.build(customers, codes, split.train)
    metrics = []
    for model in candidate_models(held_in, item_vectors, settings, data.products):
        say(f"evaluating {model.name}")
        metrics.append(evaluate(model, split.test, ml.top_k))

    say("refitting ALS on all interactions")
    full = InteractionMatrix.build(customers, codes, data.interactions)
    served = ALS.fit(full, ml, item_vectors)
    serving = ServingModel(
        "", full, served.user_factors, served.item_factors, item_vectors, data.products
    )
    report = TrainReport(
        version="",
        promoted=False,
        served_model=SERVED_MODEL,
        k=ml.top_k,
        cutoff=str(split.cutoff),
        snapshots=data.snapshots,
        counts=_counts(data, full, len(split.train), len(split.test)),
        metrics=metrics,
    )

    def write(directory: Path) -> None:
        import joblib

        serving.save(directory)
        pipelines = {"products": product_pipeline, "customers": customer_pipeline}
        joblib.dump(pipelines, directory / "features.joblib")
        write_json(directory / "model.json", _summary(report))
        write_json(directory / "metrics.json", metrics_document(metrics))
        write_json(directory / "config.json", ml.model_dump(mode="json"))
        write_json(directory / "snapshots.json", data.snapshots)

    registry = Registry(settings.models_dir)
    report.version = registry.save(write)
    say(f"registered {report.version}")
    if registry.promoted() is None:
        report.published = promote(settings, catalog, report.version)
        report.promoted = True
    report.seconds = time.perf_counter() - started
    return report


def promote(settings: Settings, catalog: Catalog, version: str) -> dict[str, int]:
    """Publish a version's outputs to the lakehouse, then point serving at it."""
    model = load_version(settings, version)
    published = publish(catalog, model, settings.ml.top_k)
    published[f"vector index {ITEM_INDEX}"] = index_items(settings, model)
    url = running_online_store(settings)
    if url is not None:  # lookups serve the new lists at once (else at the next promotion)
        client = redis_client(url)
        try:
            lists = catalog.load_table(RECOMMENDATIONS).scan().to_arrow()
            published["online store lists"] = push_recommendations(client, lists)
        finally:
            client.close()
    Registry(settings.models_dir).promote(version)
    return published


def index_items(settings: Settings, model: ServingModel) -> int:
    """Replace the item-similarity vector index with the model's item embeddings.

    Products without an embedding (never bought or rated: ALS leaves them at zero) are left
    out; similarity for them falls back to exact search over the model's own arrays.
    """
    from shoplake.vectors import open_vector_index

    norms = np.linalg.norm(model.item_factors, axis=1)
    keep = np.flatnonzero(norms > 0)
    with open_vector_index(settings, ITEM_INDEX) as index:
        index.replace([str(code) for code in model.data.products[keep]], model.item_factors[keep])
    return len(keep)


def _fit_pipelines(data: TrainingSet) -> tuple[ColumnTransformer, ColumnTransformer]:
    products = feats.product_pipeline().fit(
        feats.feature_frame(data.products, feats.PRODUCT_CATEGORICAL, feats.PRODUCT_NUMERIC)
    )
    customers = feats.customer_pipeline()
    if data.customers.num_rows:
        customers.fit(
            feats.feature_frame(data.customers, feats.CUSTOMER_CATEGORICAL, feats.CUSTOMER_NUMERIC)
        )
    return products, customers


def _counts(data: TrainingSet, full: InteractionMatrix, train: int, test: int) -> dict[str, int]:
    return {
        "customers": len(full.customers),
        "customers_with_history": int(full.has_history.sum()),
        "products": len(full.products),
        "interactions": len(data.interactions),
        "train_interactions": train,
        "test_interactions": test,
        "clickstream_pairs": data.sources.clickstream,
    }


def _summary(report: TrainReport) -> dict[str, Any]:
    return {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "served_model": report.served_model,
        "serving_fit": "all interactions (metrics: fit before the cutoff)",
        "k": report.k,
        "cutoff": report.cutoff,
        "counts": report.counts,
    }
