"""Content-based recommendations: products like the ones a customer already chose.

A customer's profile is the interaction-weighted sum of the unit feature vectors
(:func:`~shoplake.ml.features.product_vectors`) of the products in their history, scaled to
unit length; a product's score is its cosine similarity to the profile. It needs no other
customers' behaviour, so it also ranks products nobody has bought yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from shoplake.ml.base import Recommender
from shoplake.ml.features import unit_rows

if TYPE_CHECKING:
    from shoplake.ml.dataset import InteractionMatrix


class ContentBased(Recommender):
    """Cosine similarity between a customer's weighted history and each product."""

    name = "content"

    def __init__(
        self,
        data: InteractionMatrix,
        item_vectors: np.ndarray,
        fallback: Recommender | None = None,
    ) -> None:
        super().__init__(data, fallback)
        self.item_vectors = item_vectors

    def profiles(self, rows: np.ndarray) -> np.ndarray:
        """Unit profile vectors of customer rows."""
        return unit_rows(np.asarray(self.data.matrix[rows] @ self.item_vectors, dtype=np.float64))

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return self.profiles(rows) @ self.item_vectors.T.astype(np.float64)
