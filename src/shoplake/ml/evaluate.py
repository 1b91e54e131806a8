"""Offline evaluation: a time split of the interactions and ranking metrics at k per model.

The split is by time, like serving: the latest ``test_fraction`` of the interaction pairs by
``last_interaction_at`` is held out, and models train strictly before the cutoff (pairs at the
cutoff instant go to the test side, so the test share can exceed the fraction a little when
many pairs share a timestamp). Each customer with held-out pairs is then asked for k products
it has not interacted with before the cutoff; the held-out products are the relevant ones.
Customers new at the cutoff get what a new customer gets in production (the fallback).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from shoplake.ml import metrics
from shoplake.ml.base import Recommender
from shoplake.ml.errors import ModelError
from shoplake.ml.interactions import Interactions


@dataclass(frozen=True)
class Split:
    train: Interactions
    test: Interactions
    cutoff: np.datetime64


@dataclass(frozen=True)
class ModelMetrics:
    """Mean metrics at k over the evaluated customers (see :mod:`.metrics`)."""

    model: str
    k: int
    precision: float
    recall: float
    ndcg: float
    map: float
    coverage: float
    customers: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def time_split(interactions: Interactions, test_fraction: float) -> Split:
    """Hold out the latest ``test_fraction`` of pairs; train on those strictly before."""
    if not len(interactions):
        raise ModelError("no interactions to train on: gold.interactions is empty")
    ordered = np.sort(interactions.at)
    cutoff = ordered[min(len(ordered) - 1, int(len(ordered) * (1.0 - test_fraction)))]
    before = interactions.at < cutoff
    if not before.any():
        raise ModelError(
            f"cannot split by time: every interaction is at or after {cutoff} "
            f"({len(interactions)} interactions)"
        )
    return Split(interactions.take(before), interactions.take(~before), cutoff)


def evaluate(model: Recommender, test: Interactions, k: int) -> ModelMetrics:
    """Metrics at ``k`` of ``model`` against held-out interactions, seen items excluded."""
    data = model.data
    columns = data.product_rows(test.product_code)
    known = columns >= 0
    customers, who = np.unique(test.customer_number[known], return_inverse=True)
    if not len(customers):
        raise ModelError("no held-out interactions to evaluate on")
    relevant = np.bincount(who, minlength=len(customers))
    n_products = len(data.products)
    truth = np.unique(who * n_products + columns[known])
    ranking = model.rank(data.customer_rows(customers), k, exclude_seen=True)
    keys = np.arange(len(customers))[:, None] * n_products + ranking.items
    hits = np.isin(keys, truth) & (ranking.items >= 0)
    return ModelMetrics(
        model=model.name,
        k=k,
        precision=float(metrics.precision_at_k(hits).mean()),
        recall=float(metrics.recall_at_k(hits, relevant).mean()),
        ndcg=float(metrics.ndcg_at_k(hits, relevant).mean()),
        map=float(metrics.average_precision_at_k(hits, relevant).mean()),
        coverage=metrics.catalog_coverage(ranking.items, n_products),
        customers=len(customers),
    )
