"""The baseline: the products most customers interacted with, the same list for everyone."""

from __future__ import annotations

import numpy as np

from shoplake.ml.base import Recommender


class Popularity(Recommender):
    """Scores each product by the number of customers who interacted with it."""

    name = "popularity"

    def covers(self, rows: np.ndarray) -> np.ndarray:
        return np.ones(len(rows), dtype=bool)

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(
            self.data.buyers.astype(np.float64), (len(rows), self.data.buyers.size)
        )
