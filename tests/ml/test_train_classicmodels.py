"""Training and evaluation on the real ClassicModels data with its ratings file."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoplake.ml.train import TrainReport
from shoplake.platform import Platform
from tests.ml.conftest import scalar
from tests.support.classicmodels import DUMP_COUNTS, RATINGS_IN_CSV, classicmodels_lakehouse


@pytest.fixture(scope="module")
def classicmodels(
    tmp_path_factory: pytest.TempPathFactory,
    classicmodels_dump: Path,
    classicmodels_ratings_csv: Path,
) -> Platform:
    return classicmodels_lakehouse(
        tmp_path_factory.mktemp("ml-classicmodels"), classicmodels_dump, classicmodels_ratings_csv
    )


@pytest.fixture(scope="module")
def report(classicmodels: Platform) -> TrainReport:
    return classicmodels.train()


def test_every_model_is_measured_against_the_baseline(
    report: TrainReport, capsys: pytest.CaptureFixture[str]
) -> None:
    with capsys.disabled():
        print("\nClassicModels (real data), k=10:")
        for m in report.metrics:
            print(
                f"  {m.model:<11} P {m.precision:.4f}  R {m.recall:.4f}  NDCG {m.ndcg:.4f}  "
                f"MAP {m.map:.4f}  coverage {m.coverage:.3f}  lift {report.lift(m.model):.2f}x"
            )
    # No latent tastes for real customers: no oracle.
    assert [m.model for m in report.metrics] == ["popularity", "content", "als"]
    tested = {m.customers for m in report.metrics}
    assert len(tested) == 1 and 0 < tested.pop() <= DUMP_COUNTS["customers"]
    for m in report.metrics:
        assert 0.0 < m.ndcg <= 1.0 and 0.0 < m.precision <= 1.0 and 0.0 < m.recall <= 1.0
        assert 0.0 < m.map <= m.ndcg + 1e-9
        assert 10 / DUMP_COUNTS["products"] <= m.coverage <= 1.0
    # Personalised models spread over the catalogue; the baseline repeats one list.
    assert report.metric("als").coverage > report.metric("popularity").coverage


def test_counts_match_the_sample(classicmodels: Platform, report: TrainReport) -> None:
    interactions = scalar(classicmodels, "SELECT count(*) FROM gold.interactions")
    assert interactions == RATINGS_IN_CSV  # every bought pair is also rated in the sample
    counts = report.counts
    assert (counts["customers"], counts["products"]) == (
        DUMP_COUNTS["customers"],
        DUMP_COUNTS["products"],
    )
    assert counts["interactions"] == interactions
    assert counts["train_interactions"] + counts["test_interactions"] == interactions
    assert report.promoted
    # Ten unseen products each — fewer for the few customers who bought nearly everything.
    expected = scalar(
        classicmodels,
        "SELECT sum(least(10, 110 - coalesce(n, 0))) FROM silver.customers c LEFT JOIN "
        "(SELECT customer_number, count(*) AS n FROM gold.interactions GROUP BY 1) i "
        "USING (customer_number)",
    )
    assert report.published["gold.recommendations"] == expected < 10 * DUMP_COUNTS["customers"]
    newcomer = scalar(
        classicmodels,
        "SELECT min(customer_number) FROM silver.customers WHERE customer_number NOT IN "
        "(SELECT customer_number FROM gold.interactions)",
    )
    assert classicmodels.recommend(newcomer).strategy == "popularity"
    assert classicmodels.recommend(103).strategy == "als"
