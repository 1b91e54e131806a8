"""Behaviour every backend shares: hand-computed distances, ties, errors (faiss and pgvector)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shoplake.config import Settings
from shoplake.vectors import Neighbour, VectorError, VectorIndex, open_vector_index

# Hand-computed cosine distances to the query [1, 0, 0] (distance = 1 - cos):
#   a [1,0,0] 0 · e [2,0,0] 0 (same direction) · b [1,1,0] 1 - 1/√2 = 0.292893 ·
#   g [1,2,2] 1 - 1/3 = 0.666667 · c [0,1,0] 1 · f [0,0,3] 1 · d [-1,0,0] 2
SMALL_IDS = ["a", "b", "c", "d", "e", "f", "g"]
SMALL = np.array(
    [[1, 0, 0], [1, 1, 0], [0, 1, 0], [-1, 0, 0], [2, 0, 0], [0, 0, 3], [1, 2, 2]], dtype=float
)


def hits(result: list[Neighbour]) -> list[tuple[str, float]]:
    return [(n.id, n.distance) for n in result]


def test_known_example_hand_computed(index: VectorIndex) -> None:
    assert (len(index), index.dimension) == (0, None)
    index.replace(SMALL_IDS, SMALL)
    assert (len(index), index.dimension) == (7, 3)
    assert round(1 - 1 / math.sqrt(2), 6) == 0.292893

    [everything] = index.search(np.array([[1.0, 0.0, 0.0]]), k=10)
    assert hits(everything) == [
        ("a", 0.0),
        ("e", 0.0),
        ("b", 0.292893),
        ("g", 0.666667),
        ("c", 1.0),
        ("f", 1.0),  # ties with c: ordered by id
        ("d", 2.0),
    ]
    # Scale does not matter (cosine); a 1-D query is one query.
    assert index.search(np.array([5.0, 0.0, 0.0]), k=3) == [everything[:3]]
    # Ties cut at k: the smaller ids win.
    assert hits(index.search(np.array([[0.0, 0.0, -1.0]]), k=2)[0]) == [("a", 1.0), ("b", 1.0)]


def test_search_ids_excludes_self(index: VectorIndex) -> None:
    index.replace(SMALL_IDS, SMALL)
    by_a, by_c = index.search_ids(["a", "c"], k=3)
    assert hits(by_a) == [("e", 0.0), ("b", 0.292893), ("g", 0.666667)]
    # c [0,1,0]: b 1 - 1/√2, g 1 - 2/3, then a, d, e, f all at 1 -> a by id
    assert hits(by_c) == [("b", 0.292893), ("g", 0.333333), ("a", 1.0)]
    assert index.search_ids([], k=3) == []


def test_replace_swaps_everything_even_the_dimension(index: VectorIndex) -> None:
    index.replace(SMALL_IDS, SMALL)
    index.replace(["x", "y"], np.array([[1.0, 0.0], [0.6, 0.8]]))
    assert (len(index), index.dimension) == (2, 2)
    assert hits(index.search(np.array([[1.0, 0.0]]), k=5)[0]) == [("x", 0.0), ("y", 0.4)]
    with pytest.raises(VectorError, match="unknown id 'a'"):
        index.search_ids(["a"], k=1)
    index.replace([], np.empty((0, 4)))
    assert (len(index), index.dimension) == (0, 4)
    assert index.search(np.ones((2, 4)), k=3) == [[], []]


def one_line_error(excinfo: pytest.ExceptionInfo[VectorError], index: VectorIndex) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    assert index.location in message, message  # names where
    return message


def test_errors_name_what_and_where(index: VectorIndex) -> None:
    with pytest.raises(VectorError, match="not found; build it") as excinfo:
        index.search(np.ones((1, 3)), k=1)
    one_line_error(excinfo, index)
    index.replace(SMALL_IDS, SMALL)

    with pytest.raises(VectorError, match=r"unknown id 'zz' \(and 1 more\)") as excinfo:
        index.search_ids(["a", "zz", "yy"], k=2)
    one_line_error(excinfo, index)
    with pytest.raises(VectorError, match="queries have dimension 2, the index has 3") as excinfo:
        index.search(np.ones((4, 2)), k=2)
    one_line_error(excinfo, index)
    with pytest.raises(VectorError, match="k must be a positive integer, got 0"):
        index.search(np.ones((1, 3)), k=0)
    with pytest.raises(VectorError, match="query: vector row 1 is all zeros"):
        index.search(np.array([[1.0, 0, 0], [0, 0, 0]]), k=2)

    bad_replaces = [
        (["a", "b", "a"], np.ones((3, 3)), "duplicate id 'a'"),
        (["a", "b"], np.ones((3, 3)), "2 ids for 3 vectors"),
        (["a", "b"], np.array([[1.0, 0], [0, 0]]), "vector 'b' is all zeros"),
        (["a", "b"], np.array([[1.0, np.nan], [0, 1]]), "vector 'a' contains NaN"),
        (["a", ""], np.ones((2, 3)), "ids must be non-empty strings"),
        (["a"], np.ones(3), r"2-D array \(rows, dimension\), got shape \(3,\)"),
    ]
    for ids, vectors, message in bad_replaces:
        with pytest.raises(VectorError, match=message) as excinfo:
            index.replace(ids, vectors)
        one_line_error(excinfo, index)
    # none of the refused replaces touched the index
    assert hits(index.search_ids(["a"], k=1)[0]) == [("e", 0.0)]


def test_invalid_name_is_refused(backend_settings: Settings) -> None:
    with pytest.raises(VectorError, match="invalid vector index name 'Items-2'"):
        open_vector_index(backend_settings, "Items-2")


def test_closed_index_refuses_use(index: VectorIndex) -> None:
    index.replace(SMALL_IDS, SMALL)
    index.close()
    with pytest.raises(VectorError, match="closed"):
        index.search(np.ones((1, 3)), k=1)
