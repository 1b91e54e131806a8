"""The ceiling: ranks products by the customers' true latent affinity (generated data only).

The generator draws every order, rating and click from :func:`shoplake.generate.tastes.affinity`;
ranking by it is the best any model could do from behaviour, up to the randomness of the
choices themselves. Customers without tastes (real data, customers added later) fall back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from shoplake.ml.base import Recommender

if TYPE_CHECKING:
    import pyarrow as pa

    from shoplake.generate.tastes import Tastes
    from shoplake.ml.dataset import InteractionMatrix


class Oracle(Recommender):
    """Scores are the true utilities ``u[c, p]``; rows of NaN mean "no tastes known"."""

    name = "oracle"

    def __init__(
        self, data: InteractionMatrix, utility: np.ndarray, fallback: Recommender | None = None
    ) -> None:
        super().__init__(data, fallback)
        self.utility = utility

    @classmethod
    def from_tastes(
        cls,
        data: InteractionMatrix,
        tastes: Tastes,
        products: pa.Table,
        fallback: Recommender | None = None,
    ) -> Oracle:
        """Utilities of ``data``'s customers x products (``products`` sorted like data's)."""
        from shoplake.generate.tastes import affinity

        utility = np.full((len(data.customers), len(data.products)), np.nan, dtype=np.float32)
        rows = tastes.rows_of(data.customers)
        has = rows >= 0
        if has.any():
            utility[has] = affinity(tastes.take(rows[has]), products)
        return cls(data, utility, fallback)

    def covers(self, rows: np.ndarray) -> np.ndarray:
        covered = np.zeros(len(rows), dtype=bool)
        known = rows >= 0
        covered[known] = ~np.isnan(self.utility[rows[known], 0]) if self.utility.size else False
        return covered

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.utility[rows], dtype=np.float64)
