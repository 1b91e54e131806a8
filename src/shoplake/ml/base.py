"""What every recommender shares: scoring rows, falling back, excluding seen items, top-k.

A model scores the customers it *covers* (for most: known customers with a history); the rest
go down its fallback chain — ALS → content-based → popularity — so a new customer gets the
popular products and nobody gets nothing. Ranks are deterministic: equal scores are broken by
product code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from shoplake.ml.dataset import InteractionMatrix

#: Customers scored at once (bounds the dense score block to CHUNK x products).
CHUNK = 2048


@dataclass(frozen=True)
class Ranking:
    """Top-k per customer row: product columns (-1 pads short lists), scores, serving model."""

    items: np.ndarray  # int64 (n, k)
    scores: np.ndarray  # float64 (n, k), -inf where items is -1
    served_by: np.ndarray  # str (n,)


class Recommender(ABC):
    """A model over one :class:`InteractionMatrix`, with an optional fallback model."""

    name: ClassVar[str]

    def __init__(self, data: InteractionMatrix, fallback: Recommender | None = None) -> None:
        self.data = data
        self.fallback = fallback

    def covers(self, rows: np.ndarray) -> np.ndarray:
        """Which customer rows this model scores itself (-1 = unknown customer)."""
        known = rows >= 0
        covered = np.zeros(len(rows), dtype=bool)
        covered[known] = self.data.has_history[rows[known]]
        return covered

    @abstractmethod
    def scores(self, rows: np.ndarray) -> np.ndarray:
        """Scores of every product for covered customer rows, shape (len(rows), products)."""

    def score(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores for any rows (uncovered ones through the fallback) and who scored each."""
        result = np.full((len(rows), len(self.data.products)), -np.inf)
        served = np.full(len(rows), "", dtype=object)
        mine = self.covers(rows)
        if mine.any():
            result[mine] = self.scores(rows[mine])
            served[mine] = self.name
        rest = ~mine
        if rest.any() and self.fallback is not None:
            result[rest], served[rest] = self.fallback.score(rows[rest])
        return result, served

    def rank(self, rows: np.ndarray, k: int, *, exclude_seen: bool = True) -> Ranking:
        """The top ``k`` products for each customer row, best first."""
        starts = range(0, len(rows), CHUNK)
        parts = [self._rank_chunk(rows[s : s + CHUNK], k, exclude_seen) for s in starts]
        if not parts:
            empty = np.zeros((0, k), dtype=np.int64)
            return Ranking(empty, empty.astype(np.float64), np.zeros(0, dtype=object))
        return Ranking(
            np.concatenate([p.items for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.served_by for p in parts]),
        )

    def _rank_chunk(self, rows: np.ndarray, k: int, exclude_seen: bool) -> Ranking:
        scores, served = self.score(rows)
        if exclude_seen:
            known = np.flatnonzero(rows >= 0)
            seen = self.data.matrix[rows[known]].tocoo()
            scores[known[seen.row], seen.col] = -np.inf
        width = min(k, scores.shape[1])
        order = np.argsort(-scores, axis=1, kind="stable")[:, :width]
        top = np.take_along_axis(scores, order, axis=1)
        items = np.where(np.isfinite(top), order, -1)
        if width < k:
            pad = ((0, 0), (0, k - width))
            items = np.pad(items, pad, constant_values=-1)
            top = np.pad(top, pad, constant_values=-np.inf)
        return Ranking(items.astype(np.int64), top, served)

    def recommend(
        self, customer_numbers: Sequence[int] | np.ndarray, k: int, exclude_seen: bool = True
    ) -> dict[int, list[tuple[str, float]]]:
        """Per customer number, up to ``k`` (product_code, score) pairs, best first.

        Unknown customer numbers are treated as new customers (the fallback chain).
        """
        numbers = np.asarray(customer_numbers, dtype=np.int64)
        ranking = self.rank(self.data.customer_rows(numbers), k, exclude_seen=exclude_seen)
        products = self.data.products
        return {
            int(number): [
                (str(products[item]), float(score))
                for item, score in zip(items, scores, strict=True)
                if item >= 0
            ]
            for number, items, scores in zip(numbers, ranking.items, ranking.scores, strict=True)
        }
