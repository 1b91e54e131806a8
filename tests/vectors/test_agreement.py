"""faiss and pgvector return identical exact top-k for the same embeddings, ties included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shoplake.vectors import Neighbour, open_vector_index
from tests.vectors.conftest import faiss_settings, pgvector_settings, random_embeddings

pytestmark = pytest.mark.integration

K = 10


def planted(rows: int = 2000, dim: int = 32) -> tuple[list[str], np.ndarray]:
    """Random embeddings plus exact ties: 50 scaled twins and a group of 6 equal directions."""
    ids, vectors = random_embeddings(rows, dim, seed=20240601)
    twins = list(range(0, rows, 40))
    ids += [f"t{i:05d}" for i in twins]  # same direction as p<i>: cosine distance 0 between them
    group = [f"g{j}" for j in range(5)]  # with p00003: six vectors, one direction
    ids += group
    extra = np.vstack([vectors[twins] * 2.5, np.repeat(vectors[[3]] * 0.5, 5, axis=0)])
    return ids, np.vstack([vectors, extra])


def reference(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Cosine distances in float64 from the original (unnormalised, never stored) vectors."""
    v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    return np.asarray(1.0 - q @ v.T)


def test_exact_search_identical_in_both_backends(tmp_path: Path, fresh_postgres_db: str) -> None:
    ids, vectors = planted()
    rng = np.random.default_rng(7)
    queries = np.vstack([rng.standard_normal((100, 32)), vectors[[0, 40, 3, 1999]]])

    faiss_index = open_vector_index(faiss_settings(tmp_path), "items")
    pg_index = open_vector_index(pgvector_settings(tmp_path, fresh_postgres_db), "items")
    with faiss_index, pg_index:
        faiss_index.replace(ids, vectors)
        order = rng.permutation(len(ids))  # storage order must not matter
        pg_index.replace([ids[i] for i in order], vectors[order])
        assert len(faiss_index) == len(pg_index) == 2055
        assert faiss_index.dimension == pg_index.dimension == 32

        from_faiss = faiss_index.search(queries, K)
        from_pg = pg_index.search(queries, K)
        assert from_faiss == from_pg  # same ids, same order, same distances (bit for bit)

        # ... and both are the true top-k (distances within 1e-5 of a float64 brute force)
        truth = reference(vectors, queries)
        position = {item: row for row, item in enumerate(ids)}
        for row, result in enumerate(from_faiss):
            assert len(result) == K
            best = np.sort(truth[row])[:K]
            assert np.abs(np.array([n.distance for n in result]) - best).max() < 1e-5
            exact = [truth[row, position[n.id]] for n in result]
            assert np.abs(np.array([n.distance for n in result]) - exact).max() < 1e-5
            keys = [(n.distance, n.id) for n in result]
            assert keys == sorted(keys)

        # planted ties are broken by id, the same way in both backends
        p0, p40, p3 = from_faiss[100:103]
        assert [(n.id, n.distance) for n in p0[:2]] == [("p00000", 0.0), ("t00000", 0.0)]
        assert [n.id for n in p40[:2]] == ["p00040", "t00040"]
        assert p3[:6] == [Neighbour(i, 0.0) for i in ["g0", "g1", "g2", "g3", "g4", "p00003"]]
        # a tie straddling k: six equal vectors, k = 4 -> the four smallest ids
        cut = [n.id for n in pg_index.search(vectors[[3]], 4)[0]]
        assert cut == [n.id for n in faiss_index.search(vectors[[3]], 4)[0]]
        assert cut == ["g0", "g1", "g2", "g3"]

        # neighbours of stored ids, without themselves
        probe = ["p00003", "g2", "t00040", *rng.choice(ids, 60, replace=False).tolist()]
        by_faiss = faiss_index.search_ids(probe, K)
        assert by_faiss == pg_index.search_ids(probe, K)
        assert [n.id for n in by_faiss[0][:5]] == ["g0", "g1", "g2", "g3", "g4"]
        assert [n.id for n in by_faiss[1][:5]] == ["g0", "g1", "g3", "g4", "p00003"]
        assert by_faiss[2][0] == Neighbour("p00040", 0.0)
        assert all(
            item not in [n.id for n in found] for item, found in zip(probe, by_faiss, strict=True)
        )
