"""The vector index interface shared by every backend, its errors and input validation.

Metric: cosine. ``distance = 1 - cosine similarity``, in ``[0, 2]``. Search is exact, and
every backend ranks the same way (see :mod:`shoplake.vectors.ranking`), so two backends holding
the same vectors return the same neighbours in the same order with the same distances.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

import numpy as np

from shoplake.errors import ShoplakeError

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,35}")
"""Index names: lower-case identifiers, short enough for a PostgreSQL table name."""


class VectorError(ShoplakeError):
    """A vector index cannot be built, read or searched; the message names the index."""


@dataclass(frozen=True, slots=True)
class Neighbour:
    """One search result: a stored id and its cosine distance (rounded to 6 decimals)."""

    id: str
    distance: float


@runtime_checkable
class VectorIndex(Protocol):
    """A named, replace-only store of unit vectors with exact cosine search."""

    name: str

    @property
    def location(self) -> str:
        """Where the index lives (a path or a masked URL and table), for messages."""
        ...

    @property
    def dimension(self) -> int | None:
        """Length of the stored vectors; None while the index has never been built."""
        ...

    def __len__(self) -> int:
        """Number of stored vectors (0 while the index has never been built)."""
        ...

    def replace(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Replace the whole content atomically: readers see the old or the new index, never
        a mix. Vectors are L2-normalised before they are stored."""
        ...

    def search(self, queries: np.ndarray, k: int) -> list[list[Neighbour]]:
        """The ``k`` nearest stored vectors of each query row, by (distance, id)."""
        ...

    def search_ids(self, ids: Sequence[str], k: int) -> list[list[Neighbour]]:
        """The ``k`` nearest neighbours of stored vectors, each excluding its own id."""
        ...

    def close(self) -> None:
        """Release files or connections; the object is unusable afterwards."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class ClosesOnExit:
    """``with index: …`` closes the index at the end of the block."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def check_name(name: str) -> str:
    """Validate an index name (it becomes a file name and a table name)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise VectorError(
            f"invalid vector index name {name!r}: use 1-36 characters a-z, 0-9 and _, "
            "starting with a letter"
        )
    return name


def check_k(k: int, name: str) -> int:
    """k must be a positive integer."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise VectorError(f"vector index {name!r}: k must be a positive integer, got {k!r}")
    return int(k)


def _unit_rows(matrix: np.ndarray, labels: Sequence[str] | None, what: str) -> np.ndarray:
    """Rows divided by their L2 norm in float64; zero or non-finite rows are errors."""
    if not np.isfinite(matrix).all():
        row = int(np.flatnonzero(~np.isfinite(matrix).all(axis=1))[0])
        label = repr(labels[row]) if labels is not None else f"row {row}"
        raise VectorError(f"{what}: vector {label} contains NaN or infinity")
    norms = np.sqrt((matrix * matrix).sum(axis=1))
    if (norms == 0).any():
        row = int(np.flatnonzero(norms == 0)[0])
        label = repr(labels[row]) if labels is not None else f"row {row}"
        raise VectorError(f"{what}: vector {label} is all zeros (cosine is undefined)")
    result: np.ndarray = matrix / norms[:, None]
    return result


def prepare_vectors(
    ids: Sequence[str], vectors: np.ndarray, where: str
) -> tuple[list[str], np.ndarray]:
    """Validate ids and vectors for ``replace``; return the ids and float32 unit rows.

    Both backends store exactly these float32 values, which is what makes their results
    identical.
    """
    id_list = list(ids)
    for item in id_list:
        if not isinstance(item, str) or not item or "\x00" in item:
            raise VectorError(f"{where}: ids must be non-empty strings without NUL, got {item!r}")
    seen: set[str] = set()
    for item in id_list:
        if item in seen:
            raise VectorError(f"{where}: duplicate id {item!r}")
        seen.add(item)
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise VectorError(
            f"{where}: vectors must be a 2-D array (rows, dimension), got shape {matrix.shape}"
        )
    if matrix.shape[0] != len(id_list):
        raise VectorError(f"{where}: {len(id_list)} ids for {matrix.shape[0]} vectors")
    unit = _unit_rows(matrix, id_list, where) if id_list else matrix
    return id_list, np.ascontiguousarray(unit, dtype=np.float32)


def prepare_queries(queries: np.ndarray, dimension: int, where: str) -> np.ndarray:
    """Query rows as float64 unit vectors; one 1-D vector counts as one query."""
    matrix = np.asarray(queries, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2:
        raise VectorError(f"{where}: queries must be a 2-D array, got shape {matrix.shape}")
    if matrix.shape[1] != dimension:
        raise VectorError(
            f"{where}: queries have dimension {matrix.shape[1]}, the index has {dimension}"
        )
    return _unit_rows(matrix, None, f"{where}: query") if len(matrix) else matrix
