"""Vector search behind one interface: faiss index files (default) or PostgreSQL + pgvector.

``open_vector_index(settings, "items")`` returns a :class:`VectorIndex`; which backend is a
matter of ``vectors.backend``, never of the caller. Search is exact cosine search and both
backends return identical neighbours and distances for the same vectors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shoplake.errors import ConfigError
from shoplake.vectors.base import Neighbour, VectorError, VectorIndex

if TYPE_CHECKING:
    from shoplake.config import Settings

__all__ = ["Neighbour", "VectorError", "VectorIndex", "open_vector_index"]


def open_vector_index(settings: Settings, name: str) -> VectorIndex:
    """Open (not necessarily build) the index ``name`` of the configured backend."""
    backend = settings.vectors.backend
    if backend == "faiss":
        from shoplake.vectors.faiss_index import FaissIndex

        return FaissIndex(settings.vectors_dir, name)
    if backend == "pgvector":
        from shoplake.vectors.pgvector import PgVectorIndex, pgvector_url

        url, setting = pgvector_url(settings)
        return PgVectorIndex(url, name, setting=setting)
    raise ConfigError(f"unknown vectors.backend {backend!r}: use 'faiss' or 'pgvector'")
