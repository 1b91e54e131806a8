"""The default vector backend: exact faiss ``IndexFlatIP`` files under ``settings.vectors_dir``.

One index ``<name>`` is two files:

- ``<name>.<sha256[:16]>.faiss`` — the faiss index over L2-normalised float32 vectors (inner
  product of unit vectors = cosine similarity), named by its content hash;
- ``<name>.ids.json`` — the manifest: the ids in row order, the dimension, and the name and
  checksum of the index file. Replacing it (``os.replace``) is the commit point.

``replace`` writes the new index file, then the new manifest, each to a temporary name first,
and only then deletes files of older versions. A write killed at any point leaves the old
manifest pointing at the old, untouched index file. Writers of one index are serialised by a
lock file (``<name>.lock``); readers take no lock and reload when the manifest changes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from shoplake.vectors.base import (
    ClosesOnExit,
    Neighbour,
    VectorError,
    check_k,
    check_name,
    prepare_queries,
    prepare_vectors,
)
from shoplake.vectors.ranking import Candidates, exact_search

FORMAT = 1
_LOAD_ATTEMPTS = 5  # a concurrent replace may delete the file a manifest named; re-read


@dataclass(frozen=True)
class _Loaded:
    """One committed version of the index, in memory."""

    stamp: tuple[int, int, int]  # manifest (inode, mtime_ns, size)
    ids: list[str]
    positions: dict[str, int]
    dimension: int
    index: Any  # faiss.IndexFlatIP
    vectors: np.ndarray  # (n, dimension) float32 unit rows, as stored


def _stamp(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``, durably."""
    temp = path.with_name(path.name + ".tmp")
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    _fsync_dir(path.parent)


class FaissIndex(ClosesOnExit):
    """A named faiss index in a directory; see the module docstring for the file layout."""

    def __init__(self, directory: Path, name: str) -> None:
        self.name = check_name(name)
        self.directory = Path(directory)
        self._loaded: _Loaded | None = None
        self._closed = False

    # Where ------------------------------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.directory / f"{self.name}.ids.json"

    @property
    def location(self) -> str:
        return str(self.manifest_path)

    @property
    def _where(self) -> str:
        return f"vector index {self.name!r} ({self.manifest_path})"

    # Reading ----------------------------------------------------------------------------

    def _state(self) -> _Loaded | None:
        """The committed version (reloaded when the manifest changed), or None if none."""
        if self._closed:
            raise VectorError(f"{self._where}: the index is closed")
        for _ in range(_LOAD_ATTEMPTS):
            try:
                stamp = _stamp(self.manifest_path.stat())
            except FileNotFoundError:
                self._loaded = None
                return None
            if self._loaded is not None and self._loaded.stamp == stamp:
                return self._loaded
            try:
                self._loaded = self._load()
            except FileNotFoundError:
                continue
            return self._loaded
        raise VectorError(f"{self._where}: the index kept changing while being read")

    def _require(self) -> _Loaded:
        state = self._state()
        if state is None:
            raise VectorError(f"{self._where}: not found; build it with replace() first")
        return state

    def _load(self) -> _Loaded:
        import faiss

        with open(self.manifest_path, "rb") as handle:
            stamp = _stamp(os.fstat(handle.fileno()))
            raw = handle.read()
        try:
            manifest = json.loads(raw)
            ids: list[str] = manifest["ids"]
            dimension = int(manifest["dimension"])
            index_file = str(manifest["index_file"])
            checksum = str(manifest["sha256"])
            if manifest["format"] != FORMAT or os.sep in index_file:
                raise ValueError(f"unsupported format {manifest['format']!r}")
        except (ValueError, KeyError, TypeError) as exc:
            raise VectorError(f"{self._where}: unreadable manifest: {exc}") from None
        path = self.directory / index_file
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != checksum:
            raise VectorError(f"{self._where}: {path} does not match its checksum (corrupt)")
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        if index.d != dimension or index.ntotal != len(ids):
            raise VectorError(
                f"{self._where}: {path} holds {index.ntotal} × {index.d} vectors, the manifest "
                f"{len(ids)} × {dimension}"
            )
        vectors = (
            index.reconstruct_n(0, index.ntotal)
            if index.ntotal
            else np.empty((0, dimension), dtype=np.float32)
        )
        positions = {item: row for row, item in enumerate(ids)}
        return _Loaded(stamp, ids, positions, dimension, index, vectors)

    @property
    def dimension(self) -> int | None:
        state = self._state()
        return None if state is None else state.dimension

    def __len__(self) -> int:
        state = self._state()
        return 0 if state is None else len(state.ids)

    def search(self, queries: np.ndarray, k: int) -> list[list[Neighbour]]:
        """Exact cosine top-k of each query row; ranking as in :mod:`.ranking`."""
        state = self._require()
        k = check_k(k, self.name)
        unit = prepare_queries(queries, state.dimension, self._where)
        return exact_search(unit, k, partial(_fetch, state, unit))

    def search_ids(self, ids: Sequence[str], k: int) -> list[list[Neighbour]]:
        """Neighbours of stored vectors, each without its own id."""
        state = self._require()
        k = check_k(k, self.name)
        wanted = list(ids)
        missing = [item for item in wanted if item not in state.positions]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise VectorError(f"{self._where}: unknown id {missing[0]!r}{more}")
        rows = state.vectors[[state.positions[item] for item in wanted]]
        unit = prepare_queries(rows, state.dimension, self._where)
        return exact_search(unit, k, partial(_fetch, state, unit), exclude=wanted)

    # Writing ----------------------------------------------------------------------------

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        with open(self.directory / f"{self.name}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def replace(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Build a new index and commit it atomically; the old one stays until the commit."""
        import faiss

        if self._closed:
            raise VectorError(f"{self._where}: the index is closed")
        id_list, unit = prepare_vectors(ids, vectors, self._where)
        index = faiss.IndexFlatIP(unit.shape[1])
        if len(unit):
            index.add(unit)
        data = faiss.serialize_index(index).tobytes()
        checksum = hashlib.sha256(data).hexdigest()
        index_file = f"{self.name}.{checksum[:16]}.faiss"
        manifest = {
            "format": FORMAT,
            "dimension": int(unit.shape[1]),
            "count": len(id_list),
            "metric": "cosine",
            "index_file": index_file,
            "sha256": checksum,
            "ids": id_list,
        }
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with self._write_lock():
                _write_atomic(self.directory / index_file, data)
                _write_atomic(self.manifest_path, json.dumps(manifest).encode())  # commit
                self._remove_old_files(keep=index_file)
        except OSError as exc:
            raise VectorError(f"{self._where}: cannot write the index: {exc}") from None
        self._loaded = None

    def _remove_old_files(self, keep: str) -> None:
        """Delete index files of older versions and temporaries left by killed writes."""
        current = {keep, self.manifest_path.name, f"{self.name}.lock"}
        for path in self.directory.glob(f"{self.name}.*"):
            if path.name not in current:
                path.unlink(missing_ok=True)

    # Lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        self._loaded = None
        self._closed = True

    def __repr__(self) -> str:
        return f"FaissIndex({self.name!r}, {str(self.directory)!r})"


def _fetch(state: _Loaded, unit: np.ndarray, rows: np.ndarray, m: int) -> list[Candidates]:
    """faiss's own first ``m`` hits for the given query rows."""
    total = len(state.ids)
    m = min(m, total)
    if m == 0:
        empty = Candidates([], state.vectors[:0], np.empty(0), exhausted=True)
        return [empty for _ in range(len(rows))]
    similarities, labels = state.index.search(np.ascontiguousarray(unit[rows], dtype=np.float32), m)
    result = []
    for sims, labs in zip(similarities, labels, strict=True):
        keep = labs >= 0
        positions = labs[keep]
        result.append(
            Candidates(
                ids=[state.ids[p] for p in positions.tolist()],
                vectors=state.vectors[positions],
                distances=1.0 - sims[keep].astype(np.float64),
                exhausted=m >= total,
            )
        )
    return result
