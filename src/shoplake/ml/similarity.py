"""Item similarity search over embeddings: exact cosine in numpy.

This is the one place serving looks up neighbours, so a vector index (faiss, pgvector) can
replace it without touching its callers.
"""

from __future__ import annotations

import numpy as np

from shoplake.ml.dataset import lookup
from shoplake.ml.errors import ModelError
from shoplake.ml.features import unit_rows


def similar_items(
    embeddings: np.ndarray, product_codes: np.ndarray, product_code: str, k: int
) -> list[tuple[str, float]]:
    """The ``k`` products most cosine-similar to ``product_code``, best first, itself excluded.

    ``embeddings[i]`` belongs to ``product_codes[i]`` (sorted, unique). Ties go to the smaller
    product code.
    """
    row = int(lookup(product_codes, np.asarray([product_code]))[0])
    if row < 0:
        raise ModelError(f"product {product_code} is unknown")
    unit = unit_rows(np.asarray(embeddings, dtype=np.float64))
    similarity = unit @ unit[row]
    similarity[row] = -np.inf
    order = np.argsort(-similarity, kind="stable")[: max(0, min(k, len(similarity) - 1))]
    return [(str(product_codes[i]), float(similarity[i])) for i in order]
