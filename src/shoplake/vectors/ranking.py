"""Exact top-k ranking shared by every backend, so that backends agree bit for bit.

A backend's own distances differ in the last bits (faiss: float32 inner products; pgvector:
float arithmetic in C), and near-equal values can swap places. So neither is used for the final
answer. A backend only proposes *candidates* — ids with their stored float32 vectors, in its own
distance order — and this module recomputes each candidate's cosine distance in float64 from
those stored values (bit-identical in every backend: both store the same float32 unit vectors),
rounds it to 6 decimals and ranks by (distance, id). Ties, such as duplicate vectors under
different ids, are therefore broken by id, the same way everywhere.

The candidate set is widened until it provably holds every vector that can reach the top k: the
last candidate's backend distance must exceed the k-th ranked distance by more than ``MARGIN``
(far above any backend's rounding error), unless the backend returned every stored vector.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from shoplake.vectors.base import Neighbour

DECIMALS = 6
"""Distances are rounded to this many decimals before ranking (and in results)."""

MARGIN = 1e-4
"""Bound on |backend distance - recomputed distance|, with room to spare."""


@dataclass(frozen=True)
class Candidates:
    """What a backend proposes for one query: its first rows in its own distance order."""

    ids: list[str]
    vectors: np.ndarray  # (m, dimension) float32, as stored
    distances: np.ndarray  # (m,) the backend's own cosine distances, ascending
    exhausted: bool  # True when these are all the stored vectors


Fetch = Callable[[np.ndarray, int], list[Candidates]]
"""``fetch(query_rows, m)``: the first ``m`` candidates of each query row (indices)."""


def cosine_distances(query: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Cosine distances of one float64 unit query to stored rows, rounded, within [0, 2].

    Computed row by row (products, exact in float64, then a sum along the row), so a row's
    distance depends on that row's values only, never on which rows were fetched with it.
    """
    rows = np.ascontiguousarray(vectors, dtype=np.float64)
    dots = (rows * query).sum(axis=1)
    norms = np.sqrt((rows * rows).sum(axis=1))
    distances = np.clip(np.round(1.0 - dots / norms, DECIMALS), 0.0, 2.0)
    result: np.ndarray = distances + 0.0  # no negative zero
    return result


def rank(query: np.ndarray, candidates: Candidates, exclude: str | None) -> list[Neighbour]:
    """Candidates ordered by (recomputed distance, id), without the excluded id."""
    if not candidates.ids:
        return []
    distances = cosine_distances(query, candidates.vectors).tolist()
    pairs = sorted(zip(distances, candidates.ids, strict=True))
    return [Neighbour(id=i, distance=d) for d, i in pairs if i != exclude]


def exact_search(
    queries: np.ndarray,
    k: int,
    fetch: Fetch,
    exclude: Sequence[str] | None = None,
) -> list[list[Neighbour]]:
    """The exact top ``k`` of each float64 unit query row, widening candidates as needed."""
    results: list[list[Neighbour]] = [[] for _ in range(len(queries))]
    pending = np.arange(len(queries))
    m = 2 * k + 8
    while pending.size:
        left: list[int] = []
        for row, candidates in zip(pending.tolist(), fetch(pending, m), strict=True):
            ranked = rank(queries[row], candidates, exclude[row] if exclude else None)
            complete = candidates.exhausted or (
                len(ranked) >= k
                and float(candidates.distances[-1]) > ranked[k - 1].distance + MARGIN
            )
            if complete:
                results[row] = ranked[:k]
            else:
                left.append(row)
        pending = np.asarray(left, dtype=np.int64)
        m *= 4
    return results
