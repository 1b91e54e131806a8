"""Training on generated data (scale 0.1): quality against the baseline and the oracle,
published outputs, reproducibility and cold start.

The tests share one lakehouse and run in file order: each later test moves the registry on
(a second version, a promotion, a changed lakehouse).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from shoplake.ml.registry import Registry
from shoplake.ml.train import TrainReport, train
from shoplake.platform import Platform
from tests.ml.conftest import build_generated, rows, scalar

MODELS = ["popularity", "content", "als", "oracle"]
ARTIFACTS = {
    "customers.npy",
    "products.npy",
    "user_factors.npy",
    "item_factors.npy",
    "item_vectors.npy",
    "interactions.npz",
    "products.parquet",
    "features.joblib",
    "model.json",
    "metrics.json",
    "config.json",
    "snapshots.json",
}
NEW_PRODUCT = "S99_0001"
RECOMMENDATIONS = (
    "SELECT customer_number, rank, product_code, score FROM gold.recommendations "
    "ORDER BY customer_number, rank"
)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    return build_generated(tmp_path_factory.mktemp("ml-generated"), scale=0.1)


@pytest.fixture(scope="module")
def first(lake: Platform) -> TrainReport:
    return lake.train()


def metrics_table(report: TrainReport) -> str:
    header = (
        f"{'model':<11}{'P@10':>8}{'R@10':>8}{'NDCG@10':>9}{'MAP@10':>8}{'cover':>7}{'lift':>7}"
    )
    lines = [header]
    for m in report.metrics:
        lines.append(
            f"{m.model:<11}{m.precision:>8.4f}{m.recall:>8.4f}{m.ndcg:>9.4f}{m.map:>8.4f}"
            f"{m.coverage:>7.3f}{report.lift(m.model):>6.2f}x"
        )
    return "\n".join(lines)


def test_als_beats_popularity_by_half_and_the_oracle_is_the_ceiling(
    lake: Platform, first: TrainReport, capsys: pytest.CaptureFixture[str]
) -> None:
    with capsys.disabled():
        print(f"\nscale 0.1, seed 42, held out from {first.cutoff}:\n{metrics_table(first)}")
    assert [m.model for m in first.metrics] == MODELS
    assert first.lift("als") >= 1.5
    oracle = first.metric("oracle").ndcg
    assert all(oracle > m.ndcg for m in first.metrics if m.model != "oracle")
    for m in first.metrics:
        values = (m.precision, m.recall, m.ndcg, m.map, m.coverage)
        assert all(0.0 <= v <= 1.0 for v in values), m
    held_out = f"FROM gold.interactions WHERE last_interaction_at >= TIMESTAMP '{first.cutoff}'"
    tested = scalar(lake, f"SELECT count(DISTINCT customer_number) {held_out}")
    assert {m.customers for m in first.metrics} == {tested}
    assert first.counts == {
        "customers": 1000,
        "customers_with_history": scalar(
            lake, "SELECT count(DISTINCT customer_number) FROM gold.interactions"
        ),
        "products": 110,
        "interactions": scalar(lake, "SELECT count(*) FROM gold.interactions"),
        "train_interactions": first.counts["interactions"] - first.counts["test_interactions"],
        "test_interactions": scalar(lake, f"SELECT count(*) {held_out}"),
        "clickstream_pairs": 0,
    }


def test_the_first_version_is_registered_promoted_and_published(
    lake: Platform, first: TrainReport
) -> None:
    registry = Registry(lake.settings.models_dir)
    assert (first.version, first.promoted, registry.promoted()) == ("v0001", True, "v0001")
    assert {p.name for p in registry.path("v0001").iterdir()} == ARTIFACTS
    info = lake.model("v0001")
    assert info.config == lake.settings.ml.model_dump(mode="json")
    current = {
        name: lake.catalog.load_table(name).current_snapshot().snapshot_id  # type: ignore[union-attr]
        for name in (
            "gold.interactions",
            "gold.dim_products",
            "gold.dim_customers",
            "silver.orders",
        )
    }
    assert info.snapshots == first.snapshots == current
    assert first.published == {
        "gold.user_embeddings": first.counts["customers_with_history"],
        "gold.item_embeddings": 110,
        "gold.recommendations": 10_000,
        "vector index items": 110,  # every product has an embedding at this scale
    }
    per_customer = rows(
        lake,
        "SELECT count(*) AS n, min(rank) AS lo, max(rank) AS hi, count(DISTINCT product_code) "
        "AS products FROM gold.recommendations GROUP BY customer_number",
    )
    assert len(per_customer) == 1000
    assert {tuple(r.values()) for r in per_customer} == {(10, 1, 10, 10)}
    already_bought = scalar(
        lake,
        "SELECT count(*) FROM gold.recommendations r JOIN gold.interactions i "
        "ON i.customer_number = r.customer_number AND i.product_code = r.product_code",
    )
    assert already_bought == 0
    for table in ("gold.recommendations", "gold.user_embeddings", "gold.item_embeddings"):
        assert rows(lake, f"SELECT DISTINCT model_version FROM {table}") == [
            {"model_version": "v0001"}
        ]
    assert scalar(lake, "SELECT DISTINCT len(embedding) FROM gold.user_embeddings") == 32
    embedding = lake.catalog.load_table("gold.item_embeddings").schema().find_field("embedding")
    assert str(embedding.field_type) == "list<float>"


def test_serving_matches_the_published_tables(lake: Platform) -> None:
    published = rows(lake, RECOMMENDATIONS)
    customer = published[0]["customer_number"]
    served = lake.recommend(customer)
    assert served.strategy == "als"
    assert [i.product_code for i in served.items] == [r["product_code"] for r in published[:10]]
    # One customer or a thousand at once: BLAS may sum in another order, in the last bits.
    assert [i.score for i in served.items] == pytest.approx([r["score"] for r in published[:10]])

    items = rows(lake, "SELECT product_code, embedding FROM gold.item_embeddings ORDER BY 1")
    codes = [r["product_code"] for r in items]
    vectors = np.array([r["embedding"] for r in items], dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = vectors @ vectors[0]
    nearest = [codes[i] for i in np.argsort(-cosine, kind="stable")[1:6]]
    similar = lake.similar(codes[0], 5)
    assert [s.product_code for s in similar] == nearest
    assert [s.score for s in similar] == pytest.approx(sorted(cosine, reverse=True)[1:6])


def test_a_customer_without_history_gets_the_most_popular_products(lake: Platform) -> None:
    newcomer = scalar(
        lake,
        "SELECT min(customer_number) FROM silver.customers WHERE customer_number NOT IN "
        "(SELECT customer_number FROM gold.interactions)",
    )
    popular = rows(
        lake,
        "SELECT product_code, count(*) AS buyers FROM gold.interactions "
        "GROUP BY 1 ORDER BY buyers DESC, product_code LIMIT 10",
    )
    served = lake.recommend(newcomer)
    assert served.strategy == "popularity"
    assert [(i.product_code, i.score) for i in served.items] == [
        (r["product_code"], float(r["buyers"])) for r in popular
    ]


def test_same_snapshot_and_seed_give_identical_metrics_and_recommendations(
    lake: Platform, first: TrainReport
) -> None:
    before = rows(lake, RECOMMENDATIONS)
    second = lake.train()
    assert (second.version, second.promoted, second.published) == ("v0002", False, {})
    assert second.snapshots == first.snapshots
    assert [m.as_dict() for m in second.metrics] == [m.as_dict() for m in first.metrics]
    assert lake.model().version == "v0001"

    assert lake.promote("v0002") == first.published
    assert lake.model().version == "v0002"
    assert rows(lake, "SELECT DISTINCT model_version FROM gold.recommendations") == [
        {"model_version": "v0002"}
    ]
    assert rows(lake, RECOMMENDATIONS) == before


def test_an_old_snapshot_replays_after_the_lakehouse_moved_on_and_new_products_start_warm(
    lake: Platform, first: TrainReport
) -> None:
    # The lakehouse moves on: a new product nobody has bought yet and one more interaction
    # (appended, so the snapshots of the first training stay in the tables' history).
    template = "product_code = 'S10_2556'"
    append_like(lake, "gold.dim_products", template, product_code=NEW_PRODUCT)
    unseen = scalar(
        lake,
        "SELECT min(product_code) FROM gold.dim_products WHERE product_code NOT IN "
        "(SELECT product_code FROM gold.interactions WHERE customer_number = 103)",
    )
    append_like(lake, "gold.interactions", "customer_number = 103", product_code=unseen)

    replay = train(lake.settings, lake.catalog, snapshots=first.snapshots)
    assert replay.snapshots == first.snapshots
    assert [m.as_dict() for m in replay.metrics] == [m.as_dict() for m in first.metrics]

    current = lake.train()
    assert current.snapshots["gold.interactions"] != first.snapshots["gold.interactions"]
    assert current.counts["interactions"] == first.counts["interactions"] + 1
    assert current.counts["products"] == 111
    lake.promote(current.version)
    embedding = scalar(
        lake, f"SELECT embedding FROM gold.item_embeddings WHERE product_code = '{NEW_PRODUCT}'"
    )
    assert np.linalg.norm(embedding) > 0
    line = scalar(
        lake, f"SELECT product_line FROM gold.dim_products WHERE product_code = '{NEW_PRODUCT}'"
    )
    neighbours = lake.similar(NEW_PRODUCT, 5)
    assert sum(n.product_line == line for n in neighbours) >= 3, neighbours


def append_like(shop: Platform, name: str, where: str, **changes: object) -> None:
    """Append a copy of the first row matching ``where``, with some columns changed."""
    table = shop.catalog.load_table(name)
    template = table.scan(row_filter=where, limit=1).to_arrow()
    row = template.to_pylist()[0] | changes
    table.append(pa.Table.from_pylist([row], schema=template.schema))
