"""Collaborative filtering: implicit-feedback ALS (Hu, Koren & Volinsky 2008) via ``implicit``.

The confidence that customer ``u`` likes product ``i`` is ``1 + alpha * weight[u, i]`` for the
pairs they interacted with and 1 elsewhere (preference 0). ``implicit`` takes the confidence
itself as the matrix value, so the matrix holds ``1 + alpha * weight`` and the library's own
``alpha`` stays 1.

Training is reproducible: the factors start from ``random_state=seed``, the solver runs on one
thread and BLAS is limited to one thread while it does (so no floating-point sum depends on
thread scheduling). Same interactions + same settings → bit-identical factors.

Cold start: customers without interactions keep a zero vector and go to the fallback model;
products without interactions get the similarity-weighted mean of the factors of their
``COLD_NEIGHBOURS`` most similar bought products (by product features), so they can be
recommended and found by similarity search from day one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np

from shoplake.ml.base import Recommender

if TYPE_CHECKING:
    from shoplake.config import MlSettings
    from shoplake.ml.dataset import InteractionMatrix

COLD_NEIGHBOURS: Final = 10


class ALS(Recommender):
    """Scores are dot products of customer and product factors (the 32-d embeddings)."""

    name = "als"

    def __init__(
        self,
        data: InteractionMatrix,
        user_factors: np.ndarray,
        item_factors: np.ndarray,
        fallback: Recommender | None = None,
    ) -> None:
        super().__init__(data, fallback)
        self.user_factors = user_factors
        self.item_factors = item_factors

    @classmethod
    def fit(
        cls,
        data: InteractionMatrix,
        settings: MlSettings,
        item_vectors: np.ndarray,
        fallback: Recommender | None = None,
    ) -> ALS:
        """Factorise the confidence matrix with the settings' factors, sweeps and seed."""
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        confidence = data.matrix.astype(np.float32, copy=True)
        confidence.data = 1.0 + np.float32(settings.alpha) * confidence.data
        with threadpool_limits(limits=1):
            model = AlternatingLeastSquares(
                factors=settings.factors,
                regularization=settings.regularization,
                alpha=1.0,
                iterations=settings.iterations,
                random_state=settings.seed,
                num_threads=1,
                dtype=np.float32,
            )
            model.fit(confidence, show_progress=False)
        users = np.array(model.user_factors, dtype=np.float32)
        users[~data.has_history] = 0.0
        items = fill_cold_items(
            np.array(model.item_factors, dtype=np.float32), data.buyers > 0, item_vectors
        )
        return cls(data, users, items, fallback)

    def scores(self, rows: np.ndarray) -> np.ndarray:
        users = self.user_factors[rows].astype(np.float64)
        return users @ self.item_factors.T.astype(np.float64)


def fill_cold_items(
    item_factors: np.ndarray,
    warm: np.ndarray,
    item_vectors: np.ndarray,
    neighbours: int = COLD_NEIGHBOURS,
) -> np.ndarray:
    """Factors of products without interactions from their most similar warm products."""
    cold = np.flatnonzero(~warm)
    if not cold.size or not warm.any():
        return item_factors
    warm_rows = np.flatnonzero(warm)
    similarity = item_vectors[cold] @ item_vectors[warm_rows].T
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :neighbours]
    weights = np.maximum(np.take_along_axis(similarity, nearest, axis=1), 0.0)
    totals = weights.sum(axis=1, keepdims=True)
    blended = np.einsum("cn,cnf->cf", weights, item_factors[warm_rows][nearest])
    filled = item_factors.copy()
    filled[cold] = np.divide(blended, totals, out=np.zeros_like(blended), where=totals > 0)
    return filled
