"""Ranking metrics at k, per customer, from a hit matrix (binary relevance).

``hits[u, j]`` is True when the product ranked ``j + 1``-th for customer ``u`` is relevant (in
their held-out interactions); ``relevant[u]`` counts their relevant products (at least 1).
Lists shorter than k are padded with misses.

==============  =======================================================================
metric          per customer
==============  =======================================================================
precision@k     hits / k
recall@k        hits / relevant
NDCG@k          DCG / IDCG, DCG = Σ_j hits[j] / log2(j + 2); IDCG the DCG of a perfect list
                (min(relevant, k) hits at the top)
MAP@k           Σ_j precision@(j+1) · hits[j] / min(relevant, k)  (mean = MAP)
coverage        share of the catalogue recommended to anyone (one number per model)
==============  =======================================================================
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np


def hit_matrix(
    ranked: Sequence[Sequence[object]], relevant: Sequence[Collection[object]]
) -> np.ndarray:
    """Hits of ranked lists (padded to the longest) against each customer's relevant set."""
    width = max((len(r) for r in ranked), default=0)
    hits = np.zeros((len(ranked), width), dtype=bool)
    for u, (items, truth) in enumerate(zip(ranked, relevant, strict=True)):
        hits[u, : len(items)] = [item in truth for item in items]
    return hits


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def precision_at_k(hits: np.ndarray) -> np.ndarray:
    return hits.sum(axis=1) / hits.shape[1]


def recall_at_k(hits: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    return hits.sum(axis=1) / relevant


def ndcg_at_k(hits: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    k = hits.shape[1]
    discounts = _discounts(k)
    dcg = hits @ discounts
    ideal = np.cumsum(discounts)[np.minimum(relevant, k) - 1]
    return dcg / ideal


def average_precision_at_k(hits: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    k = hits.shape[1]
    precision = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return (precision * hits).sum(axis=1) / np.minimum(relevant, k)


def catalog_coverage(items: np.ndarray, n_products: int) -> float:
    """Distinct products in ranked lists (``-1`` = padding) over the catalogue size."""
    return float(np.unique(items[items >= 0]).size / n_products) if n_products else 0.0
