"""Fixtures for vector index tests: one index per backend, built through the settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from shoplake.config import Settings, load_settings
from shoplake.vectors import VectorIndex, open_vector_index

BACKENDS = ["faiss", pytest.param("pgvector", marks=pytest.mark.integration)]


def faiss_settings(data_dir: Path) -> Settings:
    return load_settings(data_dir=data_dir, **{"vectors.backend": "faiss"})


def pgvector_settings(data_dir: Path, url: str) -> Settings:
    return load_settings(data_dir=data_dir, **{"vectors.backend": "pgvector", "vectors.url": url})


@pytest.fixture(params=BACKENDS)
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings selecting each backend in turn (pgvector on a fresh embedded database)."""
    if request.param == "pgvector":
        return pgvector_settings(tmp_path, request.getfixturevalue("fresh_postgres_db"))
    return faiss_settings(tmp_path)


@pytest.fixture
def index(backend_settings: Settings) -> Iterator[VectorIndex]:
    """An unbuilt index named ``items`` of each backend, closed afterwards."""
    with open_vector_index(backend_settings, "items") as opened:
        yield opened


def random_embeddings(rows: int, dim: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Ids ``p00000…`` and standard-normal vectors, deterministic from the seed."""
    rng = np.random.default_rng(seed)
    return [f"p{i:05d}" for i in range(rows)], rng.standard_normal((rows, dim))
