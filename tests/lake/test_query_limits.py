"""A result is cut at the row limit or at the byte limit of its JSON rows, at a whole row, and
says which; the CLI's platform query and the API share the cut."""

from __future__ import annotations

import duckdb
import pytest

from shoplake.lake.query_limits import collect, json_size
from shoplake.platform import Platform
from tests.lake.conftest import tiny  # noqa: F401  (fixture)


def reader(sql: str, batch_rows: int = 7) -> object:
    return duckdb.connect().sql(sql).to_arrow_reader(batch_rows)


def test_the_byte_limit_cuts_at_the_last_whole_row_that_fits() -> None:
    sql = "SELECT i AS n, 'row ' || i AS label FROM range(100) t(i)"
    sizes = [json_size({"n": i, "label": f"row {i}"}) for i in range(100)]
    budget = sum(sizes[:23]) + sizes[23] - 1  # row 23 misses by one byte
    kept = collect(reader(sql), max_rows=1_000, max_bytes=budget)
    assert kept.table.column("n").to_pylist() == list(range(23))
    assert kept.truncated_by == "bytes"
    exact = collect(reader(sql), max_rows=1_000, max_bytes=sum(sizes))
    assert (exact.table.num_rows, exact.truncated_by) == (100, None)


def test_the_row_limit_and_a_result_ending_exactly_there() -> None:
    sql = "SELECT i FROM range(20) t(i)"
    cut = collect(reader(sql), max_rows=14, max_bytes=10**9)
    assert (cut.table.num_rows, cut.truncated_by) == (14, "rows")
    whole = collect(reader(sql), max_rows=20, max_bytes=None)
    assert (whole.table.num_rows, whole.truncated_by) == (20, None)


def test_a_value_larger_than_the_limit_leaves_no_row() -> None:
    kept = collect(
        reader("SELECT 1 AS n, repeat('x', 50000000) AS big"), max_rows=10, max_bytes=1_000_000
    )
    assert (kept.table.num_rows, kept.truncated_by) == (0, "bytes")
    assert kept.table.column_names == ["n", "big"]


def test_binary_counts_as_its_hex_text() -> None:
    sql = "SELECT repeat('ab', 400)::blob AS b FROM range(10)"  # 800 bytes, 1,600 hex chars
    size = json_size({"b": "ab" * 800})
    assert size > 1_600
    kept = collect(reader(sql), max_rows=10, max_bytes=3 * size)
    assert (kept.table.num_rows, kept.truncated_by) == (3, "bytes")


def test_platform_query_applies_the_configured_byte_limit(
    tiny: Platform,  # noqa: F811
) -> None:
    sql = "SELECT id, name FROM bronze.items ORDER BY id"
    first_two = json_size({"id": 1, "name": "kettle"}) + json_size({"id": 2, "name": "mug"})
    limited = Platform(
        settings=tiny.settings.model_copy(
            update={"query": tiny.settings.query.model_copy(update={"max_bytes": first_two})}
        )
    )
    result = limited.query(sql)
    assert result.table.to_pylist() == [{"id": 1, "name": "kettle"}, {"id": 2, "name": "mug"}]
    assert (result.truncated, result.truncated_by) == (True, "bytes")
    everything = tiny.query(sql)
    assert (everything.table.num_rows, everything.truncated_by) == (3, None)


@pytest.mark.parametrize("limit", [1, 2])
def test_the_row_limit_through_the_platform(tiny: Platform, limit: int) -> None:  # noqa: F811
    result = tiny.query("SELECT id FROM bronze.items ORDER BY id", max_rows=limit)
    assert result.table.column("id").to_pylist() == list(range(1, limit + 1))
    assert (result.truncated, result.truncated_by) == (True, "rows")
