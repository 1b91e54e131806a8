"""A trained version loaded for serving: embeddings, id maps and the fallback chain.

Artifacts of a version (written by :meth:`ServingModel.save`, all plain numpy / Parquet, no
pickles):

=====================  ===================================================================
file                   content
=====================  ===================================================================
customers.npy          int64 (U,): customer numbers, sorted — row ``i`` of user_factors
products.npy           str (I,): product codes, sorted — row ``j`` of item_factors
user_factors.npy       float32 (U, factors): ALS customer embeddings (zero: no history)
item_factors.npy       float32 (I, factors): ALS product embeddings
item_vectors.npy       float32 (I, d): unit product feature vectors (content model)
interactions.npz       scipy CSR (U, I) of interaction weights (what each customer has seen)
products.parquet       product attributes, in products.npy order (names for display)
=====================  ===================================================================

plus ``features.joblib`` (the fitted scikit-learn pipelines, a pickle: load only your own
registry) and the JSON documents of :mod:`.registry`.

For real-time scoring, ``load_promoted(settings)`` and then ``model.user_factors[
model.data.customer_rows([n])]``, ``model.item_factors``, ``model.data.products``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shoplake.ml.als import ALS
from shoplake.ml.content import ContentBased
from shoplake.ml.dataset import InteractionMatrix
from shoplake.ml.errors import ModelError
from shoplake.ml.popularity import Popularity
from shoplake.ml.registry import Registry
from shoplake.ml.similarity import similar_items

if TYPE_CHECKING:
    import pyarrow as pa

    from shoplake.config import Settings
    from shoplake.ml.base import Recommender
    from shoplake.vectors import VectorIndex

ARRAYS = ("customers", "products", "user_factors", "item_factors", "item_vectors")
#: The vector index of item embeddings (``vectors.backend``), rebuilt on each promotion.
ITEM_INDEX = "items"


@dataclass(frozen=True)
class ScoredProduct:
    """A recommended or similar product, with its name and line for display."""

    product_code: str
    product_name: str
    product_line: str
    score: float


@dataclass(frozen=True)
class Recommendations:
    """Top products for one customer and which model chose them."""

    customer_number: int
    model_version: str
    strategy: str  # als | content | popularity
    items: list[ScoredProduct] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_number": self.customer_number,
            "model_version": self.model_version,
            "strategy": self.strategy,
            "items": [vars(item) for item in self.items],
        }


@dataclass
class ServingModel:
    """Everything needed to recommend without the lakehouse."""

    version: str
    data: InteractionMatrix
    user_factors: np.ndarray
    item_factors: np.ndarray
    item_vectors: np.ndarray
    catalogue: pa.Table

    @cached_property
    def recommender(self) -> Recommender:
        """ALS, falling back to content-based, then popularity."""
        popular = Popularity(self.data)
        content = ContentBased(self.data, self.item_vectors, popular)
        return ALS(self.data, self.user_factors, self.item_factors, content)

    def arrays(self) -> dict[str, np.ndarray]:
        """The numpy artifacts, by file name stem (:data:`ARRAYS`)."""
        return {
            "customers": self.data.customers,
            "products": self.data.products,
            "user_factors": self.user_factors,
            "item_factors": self.item_factors,
            "item_vectors": self.item_vectors,
        }

    def save(self, directory: Path) -> None:
        import pyarrow.parquet as pq
        from scipy.sparse import save_npz

        for name, array in self.arrays().items():
            np.save(directory / f"{name}.npy", array, allow_pickle=False)
        save_npz(directory / "interactions.npz", self.data.matrix)
        pq.write_table(self.catalogue, directory / "products.parquet")

    @classmethod
    def load(cls, directory: Path, version: str) -> ServingModel:
        import pyarrow.parquet as pq
        from scipy.sparse import load_npz

        try:
            arrays = {n: np.load(directory / f"{n}.npy", allow_pickle=False) for n in ARRAYS}
            matrix = load_npz(directory / "interactions.npz").tocsr()
            # One file: ParquetFile, not read_table, whose dataset layer imports pandas when it
            # is installed (a heavier heap for the serving process to carry).
            catalogue = pq.ParquetFile(directory / "products.parquet").read()
        except (OSError, ValueError) as exc:
            raise ModelError(f"model {version}: cannot load its artifacts: {exc}") from None
        data = InteractionMatrix(arrays["customers"], arrays["products"], matrix)
        return cls(
            version,
            data,
            arrays["user_factors"],
            arrays["item_factors"],
            arrays["item_vectors"],
            catalogue,
        )

    def recommend(self, customer_number: int, k: int) -> Recommendations:
        """Top ``k`` unseen products for a known customer."""
        row = self.data.customer_rows(np.asarray([customer_number]))
        if row[0] < 0:
            raise ModelError(f"customer {customer_number} is unknown to model {self.version}")
        ranking = self.recommender.rank(row, k)
        items = [
            self._scored(int(i), float(s))
            for i, s in zip(ranking.items[0], ranking.scores[0], strict=True)
            if i >= 0
        ]
        return Recommendations(customer_number, self.version, str(ranking.served_by[0]), items)

    def similar(
        self, product_code: str, k: int, index: VectorIndex | None = None
    ) -> list[ScoredProduct]:
        """The ``k`` products nearest to ``product_code`` by embedding cosine similarity:
        from the vector index when it holds the product, else by exact search here."""
        found = None
        if index is not None:
            from shoplake.vectors import VectorError

            try:
                neighbours = index.search_ids([product_code], k)[0]
                found = [(n.id, 1.0 - n.distance) for n in neighbours]
            except VectorError:
                found = None  # not indexed (no embedding) or no index yet
        if found is None:
            found = similar_items(self.item_factors, self.data.products, product_code, k)
        rows = self.data.product_rows(np.asarray([code for code, _ in found]))
        return [self._scored(int(r), s) for r, (_, s) in zip(rows, found, strict=True)]

    def describe(self, product_code: str, score: float) -> ScoredProduct:
        """A product of this model's catalogue with its name and line, and a score."""
        row = int(self.data.product_rows(np.asarray([product_code]))[0])
        if row < 0:
            raise ModelError(f"product {product_code} is unknown to model {self.version}")
        return self._scored(row, score)

    def _scored(self, column: int, score: float) -> ScoredProduct:
        return ScoredProduct(
            str(self.data.products[column]),
            str(self.catalogue["product_name"][column].as_py() or ""),
            str(self.catalogue["product_line"][column].as_py() or ""),
            score,
        )


def load_version(settings: Settings, version: str | None = None) -> ServingModel:
    """A registered version (default: the promoted one) ready to serve."""
    registry = Registry(settings.models_dir)
    chosen = version or registry.require_promoted()
    return ServingModel.load(registry.path(chosen), chosen)


def load_promoted(settings: Settings) -> ServingModel:
    """The promoted version: what serving uses."""
    return load_version(settings)
