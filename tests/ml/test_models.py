"""The models, the split and similarity search on small hand-made data."""

from __future__ import annotations

import numpy as np
import pytest

from shoplake.config import MlSettings
from shoplake.ml.als import ALS, fill_cold_items
from shoplake.ml.content import ContentBased
from shoplake.ml.dataset import InteractionMatrix, lookup
from shoplake.ml.errors import ModelError
from shoplake.ml.evaluate import evaluate, time_split
from shoplake.ml.interactions import Interactions
from shoplake.ml.popularity import Popularity
from shoplake.ml.similarity import similar_items


def interactions(*rows: tuple[int, str, float, str]) -> Interactions:
    customer, product, weight, day = zip(*rows, strict=True)
    return Interactions(
        np.array(customer, dtype=np.int64),
        np.array(product, dtype=str),
        np.array(weight, dtype=np.float64),
        np.array(day, dtype="datetime64[us]"),
    )


# Customers 1..4 over products A..D: 1 bought A and B, 2 bought A and C, 3 bought A, 4 nothing.
HISTORY = interactions(
    (1, "A", 1.0, "2005-01-01"),
    (1, "B", 1.0, "2005-01-02"),
    (2, "A", 1.0, "2005-01-03"),
    (2, "C", 1.0, "2005-01-04"),
    (3, "A", 1.0, "2005-01-05"),
)
# Unit feature vectors: A and B alike, C orthogonal to them, D in between (closer to C).
VECTORS = np.array([[1, 0], [1, 0], [0, 1], [0.6, 0.8]], dtype=np.float32)


@pytest.fixture
def data() -> InteractionMatrix:
    return InteractionMatrix.build(np.array([1, 2, 3, 4]), np.array(list("DCBA")), HISTORY)


def test_the_matrix_covers_every_customer_and_product(data: InteractionMatrix) -> None:
    assert data.customers.tolist() == [1, 2, 3, 4]
    assert data.products.tolist() == ["A", "B", "C", "D"]
    assert data.matrix.toarray().tolist() == [[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 0], [0] * 4]
    assert data.has_history.tolist() == [True, True, True, False]
    assert data.buyers.tolist() == [3, 1, 1, 0]


def test_lookup_does_not_truncate_longer_codes() -> None:
    keys = np.array(["S10_1", "S10_2"])
    assert lookup(keys, np.array(["S10_2", "S10_12345", "x"])).tolist() == [1, -1, -1]
    assert lookup(np.array([3, 5]), np.array([5, 4])).tolist() == [1, -1]


def test_popularity_excludes_what_was_seen_and_breaks_ties_by_code(
    data: InteractionMatrix,
) -> None:
    popular = Popularity(data)
    assert popular.recommend([3, 4, 99], k=2) == {
        3: [("B", 1.0), ("C", 1.0)],
        4: [("A", 3.0), ("B", 1.0)],
        99: [("A", 3.0), ("B", 1.0)],
    }
    assert popular.recommend([1], k=2, exclude_seen=False) == {1: [("A", 3.0), ("B", 1.0)]}
    assert popular.recommend([1], k=10) == {1: [("C", 1.0), ("D", 0.0)]}


def test_content_scores_cosine_to_the_history_and_new_customers_fall_back(
    data: InteractionMatrix,
) -> None:
    content = ContentBased(data, VECTORS, Popularity(data))
    assert content.recommend([3], k=3) == {3: [("B", 1.0), ("D", pytest.approx(0.6)), ("C", 0.0)]}
    ranking = content.rank(data.customer_rows(np.array([3, 4, 99])), k=1)
    assert ranking.served_by.tolist() == ["content", "popularity", "popularity"]


def test_cold_products_get_the_weighted_mean_of_their_nearest_warm_neighbours() -> None:
    factors = np.array([[1, 0], [0, 1], [2, 2], [9, 9]], dtype=np.float32)
    warm = np.array([True, True, True, False])
    filled = fill_cold_items(factors, warm, VECTORS, neighbours=2)
    # D's neighbours: C (cosine 0.8), then A (0.6, ties with B, A comes first).
    expected = (0.8 * np.array([2, 2]) + 0.6 * np.array([1, 0])) / 1.4
    assert filled[3] == pytest.approx(expected)
    assert filled[:3].tolist() == factors[:3].tolist()


def test_als_is_reproducible_and_new_customers_have_no_embedding(data: InteractionMatrix) -> None:
    settings = MlSettings(factors=8, iterations=5, regularization=0.1)
    first = ALS.fit(data, settings, VECTORS, Popularity(data))
    second = ALS.fit(data, settings, VECTORS)
    assert first.user_factors.shape == (4, 8) and first.item_factors.shape == (4, 8)
    assert np.array_equal(first.user_factors, second.user_factors)
    assert np.array_equal(first.item_factors, second.item_factors)
    assert not first.user_factors[3].any()
    assert first.rank(np.array([0, 3]), k=1).served_by.tolist() == ["als", "popularity"]
    other_seed = ALS.fit(data, settings.model_copy(update={"seed": 7}), VECTORS)
    assert not np.array_equal(first.user_factors, other_seed.user_factors)


def test_time_split_holds_out_the_latest_share() -> None:
    days = [f"2005-01-{d:02d}" for d in (1, 2, 3, 3, 3)]
    rows = interactions(*[(1, p, 1.0, day) for p, day in zip("ABCDE", days, strict=True)])
    split = time_split(rows, 0.2)
    # The cutoff is the 5th timestamp (index int(5 * 0.8) = 4): 3 January. Every pair at the
    # cutoff instant is held out, so the test share (3 of 5) exceeds the fraction.
    assert split.cutoff == np.datetime64("2005-01-03")
    assert split.train.product_code.tolist() == ["A", "B"]
    assert split.test.product_code.tolist() == ["C", "D", "E"]
    with pytest.raises(ModelError, match="cannot split by time"):
        time_split(interactions((1, "A", 1.0, "2005-01-01")), 0.2)


def test_evaluate_on_a_hand_made_split(data: InteractionMatrix) -> None:
    # Held out: 3 bought B and C, 4 (new) bought A. Popularity ranks (seen excluded):
    # 3 -> B, C (2 hits of 2); 4 -> A, B (1 hit of 1, at rank 1).
    test = interactions(
        (3, "B", 1.0, "2005-02-01"), (3, "C", 1.0, "2005-02-01"), (4, "A", 1.0, "2005-02-02")
    )
    result = evaluate(Popularity(data), test, k=2)
    assert (result.customers, result.precision, result.recall) == (2, 0.75, 1.0)
    assert (result.ndcg, result.map, result.coverage) == (1.0, 1.0, 0.75)


def test_similar_items_is_exact_cosine_without_the_product_itself() -> None:
    embeddings = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]])
    codes = np.array(["a", "b", "c", "d"])
    found = similar_items(embeddings, codes, "a", 2)
    assert found == [("b", pytest.approx(0.9 / np.sqrt(0.82))), ("c", 0.0)]
    assert [code for code, _ in similar_items(embeddings, codes, "a", 10)] == ["b", "c", "d"]
    with pytest.raises(ModelError, match=r"^product zz is unknown$"):
        similar_items(embeddings, codes, "zz", 2)
