"""Session-aware recommendations, computed live from a session's state in the online store.

The query blends who the customer is with what the session is doing now:

* the **session vector** — the recent products of the session (newest first), each weighted
  ``RECENCY_DECAY ** i``, averaged once in the ALS embedding space and once in the content
  (product feature) space;
* the **customer vector** — the customer's ALS embedding, when the customer is known and has
  history, mixed into the ALS query with weight ``1 - SESSION_SHARE``.

A product's score is the mean of its cosine similarity to the ALS query and to the content
query, so a session that browses one product line is answered mostly from that line within
the event that showed it. Products the customer has bought (or rated) and products in the
cart are never recommended. A session with no products yet gets the precomputed list.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shoplake.ml.features import unit_rows

if TYPE_CHECKING:
    from shoplake.ml.serving import ServingModel

RECENCY_DECAY = 0.7
SESSION_SHARE = 0.7  # of the ALS query when the session has products
SIMILAR_ITEMS = 5
RECS_PREFIX = "recs:session:"
CUSTOMER_RECS_PREFIX = "recs:customer:"


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


@dataclass
class LiveRecommender:
    """Scores every product for one session against a loaded model version."""

    model: ServingModel

    def __post_init__(self) -> None:
        self._als = unit_rows(np.asarray(self.model.item_factors, dtype=np.float64))
        self._content = unit_rows(np.asarray(self.model.item_vectors, dtype=np.float64))
        self._codes = np.asarray(self.model.data.products)

    def recommend(
        self, session_id: str, session: dict[str, Any], k: int = 10
    ) -> dict[str, Any] | None:
        """The live recommendation document for a session, or None when it has no products.

        ``session`` is the decoded state from :class:`~shoplake.streams.online.SessionStore`.
        """
        recent = [p for p in session.get("recent_products", []) if p]
        known = self._rows_of(recent)
        if not known:
            return None
        customer = _customer(session.get("customer_number"))
        scores = self._scores(known, customer)
        scores[self._excluded(customer, session)] = -np.inf
        order = np.argsort(-scores, kind="stable")[:k]
        items = [
            {"product_code": str(self._codes[i]), "score": round(float(scores[i]), 6)}
            for i in order
            if np.isfinite(scores[i])
        ]
        return {
            "customer_number": customer,
            "session_id": session_id,
            "model_version": self.model.version,
            "recommended_items": items,
            "similar_items": self._similar(known[0]),
        }

    def _rows_of(self, codes: list[str]) -> list[int]:
        """Columns of the known products among ``codes``, in their order."""
        if not codes:
            return []
        rows = self.model.data.product_rows(np.asarray(codes, dtype=str))
        return [int(r) for r in rows if r >= 0]

    def _scores(self, rows: list[int], customer: int | None) -> np.ndarray:
        weights = RECENCY_DECAY ** np.arange(len(rows), dtype=np.float64)
        session_als = _unit(weights @ self._als[rows])
        session_content = _unit(weights @ self._content[rows])
        query = session_als
        user = self._user_vector(customer)
        if user is not None:
            query = _unit(SESSION_SHARE * session_als + (1 - SESSION_SHARE) * user)
        return 0.5 * (self._als @ query) + 0.5 * (self._content @ session_content)

    def _user_vector(self, customer: int | None) -> np.ndarray | None:
        if customer is None:
            return None
        row = int(self.model.data.customer_rows(np.asarray([customer]))[0])
        if row < 0 or not self.model.data.has_history[row]:
            return None
        return _unit(np.asarray(self.model.user_factors[row], dtype=np.float64))

    def _excluded(self, customer: int | None, session: dict[str, Any]) -> np.ndarray:
        """Columns never to recommend: bought or rated before, bought now, in the cart."""
        codes = list(session.get("cart", {})) + list(session.get("purchased", []))
        excluded = set(self._rows_of(codes))
        if customer is not None:
            row = int(self.model.data.customer_rows(np.asarray([customer]))[0])
            if row >= 0:
                matrix = self.model.data.matrix
                excluded.update(matrix.indices[matrix.indptr[row] : matrix.indptr[row + 1]])
        return np.asarray(sorted(excluded), dtype=np.int64)

    def _similar(self, row: int) -> dict[str, Any]:
        """The nearest products to the session's latest product, by ALS embedding."""
        distance = 1 - self._als @ self._als[row]
        distance[row] = np.inf
        order = np.argsort(distance, kind="stable")[:SIMILAR_ITEMS]
        return {
            "product_code": str(self._codes[row]),
            "items": [
                {"product_code": str(self._codes[i]), "distance": round(float(distance[i]), 6)}
                for i in order
            ],
        }


def _customer(value: Any) -> int | None:
    if value in (None, ""):
        return None
    return int(value)


def realtime_rows(documents: list[dict[str, Any]], at: dt.datetime) -> list[dict[str, Any]]:
    """Rows of ``gold.realtime_recommendations``: one per recommended item of each document."""
    return [
        {
            "session_id": doc["session_id"],
            "customer_number": doc["customer_number"],
            "rank": rank,
            "product_code": item["product_code"],
            "score": item["score"],
            "model_version": doc["model_version"],
            "generated_at": at,
        }
        for doc in documents
        for rank, item in enumerate(doc["recommended_items"], 1)
    ]


def encode(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))
