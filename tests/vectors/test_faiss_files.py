"""The faiss backend's files: persistence across reopening, and readers following replaces."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shoplake.vectors import open_vector_index
from shoplake.vectors.faiss_index import FaissIndex
from tests.vectors.conftest import faiss_settings, random_embeddings


def test_reopened_index_gives_the_same_results(tmp_path: Path) -> None:
    settings = faiss_settings(tmp_path)
    ids, vectors = random_embeddings(1000, 16, seed=5)
    queries = np.random.default_rng(6).standard_normal((50, 16))
    with open_vector_index(settings, "items") as index:
        index.replace(ids, vectors)
        results, by_id = index.search(queries, 10), index.search_ids(ids[::25], 10)
    assert isinstance(index, FaissIndex)
    assert (settings.vectors_dir / "items.ids.json").is_file()

    with open_vector_index(settings, "items") as reopened:
        assert (len(reopened), reopened.dimension) == (1000, 16)
        assert reopened.search(queries, 10) == results
        assert reopened.search_ids(ids[::25], 10) == by_id
    # another name in the same directory is another index
    with open_vector_index(settings, "items_2") as other:
        assert len(other) == 0


def test_open_reader_follows_a_replace_by_another_writer(tmp_path: Path) -> None:
    settings = faiss_settings(tmp_path)
    with (
        open_vector_index(settings, "items") as reader,
        open_vector_index(settings, "items") as writer,
    ):
        writer.replace(["a", "b"], np.array([[1.0, 0.0], [0.0, 1.0]]))
        assert [n.id for n in reader.search(np.array([[1.0, 0.2]]), 1)[0]] == ["a"]
        writer.replace(["c"], np.array([[1.0, 1.0, 0.0]]))
        assert (len(reader), reader.dimension) == (1, 3)
        assert [(n.id, n.distance) for n in reader.search(np.ones((1, 3)), 5)[0]] == [
            ("c", 0.183503)  # 1 - 2/√6
        ]
