"""The promoted model's outputs in the lakehouse: embeddings and precomputed recommendations.

==========================  ================================================================
table                       rows
==========================  ================================================================
``gold.user_embeddings``    customer_number, model_version, embedding (list<float32>) — each
                            customer with a history
``gold.item_embeddings``    product_code, model_version, embedding — every product
``gold.recommendations``    customer_number, rank (1..k), product_code, score, model_version,
                            generated_at — top k unseen products for every known customer
==========================  ================================================================

Each table is replaced in one Iceberg commit (overwrite), so readers see the old model's rows or
the new one's, never a mix; the three tables are written one after the other, each carrying
``model_version``. Only the promoted version is published: promoting another version
republishes them.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Final

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from shoplake.ml.serving import ServingModel

USER_EMBEDDINGS: Final = "gold.user_embeddings"
ITEM_EMBEDDINGS: Final = "gold.item_embeddings"
RECOMMENDATIONS: Final = "gold.recommendations"
EMBEDDING: Final = pa.list_(pa.float32())
VERSION_PROPERTY: Final = "shoplake.ml.model-version"


def user_embeddings(model: ServingModel) -> pa.Table:
    rows = np.flatnonzero(model.data.has_history)
    customers = pa.array(model.data.customers[rows], pa.int64())
    return _embeddings("customer_number", customers, model.user_factors[rows], model.version)


def item_embeddings(model: ServingModel) -> pa.Table:
    codes = pa.array(model.data.products.tolist(), pa.string())
    return _embeddings("product_code", codes, model.item_factors, model.version)


def _embeddings(key: str, ids: pa.Array, factors: np.ndarray, version: str) -> pa.Table:
    flat = pa.array(np.ascontiguousarray(factors, dtype=np.float32).ravel(), pa.float32())
    offsets = pa.array(np.arange(0, len(flat) + 1, factors.shape[1], dtype=np.int32))
    return pa.table(
        {
            key: ids,
            "model_version": pa.array([version] * len(ids), pa.string()),
            "embedding": pa.ListArray.from_arrays(offsets, flat),
        }
    )


def recommendations(model: ServingModel, k: int, generated_at: dt.datetime) -> pa.Table:
    """Top ``k`` per known customer, through the served model's fallback chain."""
    rows = np.arange(len(model.data.customers))
    ranking = model.recommender.rank(rows, k)
    who, position = np.nonzero(ranking.items >= 0)
    return pa.table(
        {
            "customer_number": pa.array(model.data.customers[who], pa.int64()),
            "rank": pa.array(position + 1, pa.int32()),
            "product_code": pa.array(model.data.products[ranking.items[who, position]].tolist()),
            "score": pa.array(ranking.scores[who, position], pa.float64()),
            "model_version": pa.array([model.version] * len(who), pa.string()),
            "generated_at": pa.array([generated_at] * len(who), pa.timestamp("us", tz="UTC")),
        }
    )


def publish(catalog: Catalog, model: ServingModel, k: int) -> dict[str, int]:
    """Replace the three output tables with ``model``'s; returns rows written per table."""
    generated_at = dt.datetime.now(dt.UTC)
    tables = {
        USER_EMBEDDINGS: user_embeddings(model),
        ITEM_EMBEDDINGS: item_embeddings(model),
        RECOMMENDATIONS: recommendations(model, k, generated_at),
    }
    for name, data in tables.items():
        _replace(catalog, name, data, model.version)
    return {name: data.num_rows for name, data in tables.items()}


def _replace(catalog: Catalog, name: str, data: pa.Table, version: str) -> None:
    table = catalog.create_table_if_not_exists(
        name, schema=data.schema, properties={"shoplake.layer": "gold"}
    )
    summary = {VERSION_PROPERTY: version}
    with table.transaction() as tx:
        if table.current_snapshot() is None:
            tx.append(data, snapshot_properties=summary)
        else:
            tx.overwrite(data, snapshot_properties=summary)
        tx.set_properties(summary)
