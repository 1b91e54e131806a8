"""Ranking metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shoplake.ml import metrics

# Customer 0: ranked A B C D E, relevant {B, D, F} -> hits at ranks 2 and 4.
# Customer 1: ranked X Y (a short list), relevant {X} -> one hit at rank 1.
# Customer 2: ranked P Q R S T, relevant {Z} -> no hit.
RANKED = [["A", "B", "C", "D", "E"], ["X", "Y"], ["P", "Q", "R", "S", "T"]]
RELEVANT = [{"B", "D", "F"}, {"X"}, {"Z"}]
N_RELEVANT = np.array([3, 1, 1])


@pytest.fixture
def hits() -> np.ndarray:
    return metrics.hit_matrix(RANKED, RELEVANT)


def test_hit_matrix_pads_short_lists_with_misses(hits: np.ndarray) -> None:
    assert hits.tolist() == [
        [False, True, False, True, False],
        [True, False, False, False, False],
        [False, False, False, False, False],
    ]


def test_precision_is_hits_over_k(hits: np.ndarray) -> None:
    assert metrics.precision_at_k(hits).tolist() == [2 / 5, 1 / 5, 0.0]


def test_recall_is_hits_over_relevant(hits: np.ndarray) -> None:
    assert metrics.recall_at_k(hits, N_RELEVANT).tolist() == [2 / 3, 1.0, 0.0]


def test_ndcg(hits: np.ndarray) -> None:
    # DCG = 1/log2(3) + 1/log2(5) = 0.630930 + 0.430677 = 1.061606, NDCG = 0.498189
    # IDCG (3 relevant) = 1 + 1/log2(3) + 1/log2(4) = 2.130930
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert dcg / ideal == pytest.approx(0.498189, abs=1e-6)
    assert metrics.ndcg_at_k(hits, N_RELEVANT) == pytest.approx([dcg / ideal, 1.0, 0.0])


def test_average_precision(hits: np.ndarray) -> None:
    # Precision at the hits: 1/2 (rank 2) and 2/4 (rank 4); divided by min(3, 5) relevant.
    assert metrics.average_precision_at_k(hits, N_RELEVANT) == pytest.approx([1 / 3, 1.0, 0.0])


def test_average_precision_divides_by_k_when_more_are_relevant_than_fit() -> None:
    hits = metrics.hit_matrix([["A", "B"]], [{"A", "B", "C", "D"}])
    assert metrics.average_precision_at_k(hits, np.array([4])).tolist() == [1.0]
    assert metrics.ndcg_at_k(hits, np.array([4])).tolist() == [1.0]
    assert metrics.recall_at_k(hits, np.array([4])).tolist() == [0.5]


def test_catalog_coverage_counts_distinct_products_and_skips_padding() -> None:
    items = np.array([[0, 1, 2], [1, 2, -1], [2, 1, 0]])
    assert metrics.catalog_coverage(items, 10) == 0.3
    assert metrics.catalog_coverage(np.full((2, 3), -1), 10) == 0.0
