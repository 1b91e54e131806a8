"""`query` runs exactly one read-only statement; everything else is refused with a reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shoplake.errors import QueryError, QueryRefusedError, TableNotFoundError
from shoplake.lake.query import rows_as_json
from shoplake.platform import Platform


def test_select_over_bronze(tiny: Platform) -> None:
    result = tiny.query("SELECT name, price FROM bronze.items WHERE price > 5 ORDER BY id")
    assert result.table.to_pylist() == [
        {"name": "kettle", "price": Decimal("19.99")},
        {"name": "teapot", "price": Decimal("31.00")},
    ]
    assert rows_as_json(result.table) == [
        {"name": "kettle", "price": 19.99},
        {"name": "teapot", "price": 31.0},
    ]


def test_with_clause_and_row_limit(tiny: Platform) -> None:
    result = tiny.query(
        "WITH t AS (SELECT * FROM bronze.items) SELECT id FROM t ORDER BY id", max_rows=2
    )
    assert result.table.column("id").to_pylist() == [1, 2]
    assert result.truncated


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("DELETE FROM bronze.items", "refused: DELETE statement"),
        ("INSERT INTO bronze.items VALUES (4, 'x', 1, NULL)", "refused: INSERT statement"),
        ("DROP TABLE bronze.items", "refused: DROP statement"),
        ("CREATE TABLE x AS SELECT 1", "refused: CREATE statement"),
        ("SELECT 1; SELECT 2", "refused: 2 statements"),
        ("ATTACH 'other.db' AS other", "refused: ATTACH statement"),
        ("COPY bronze.items TO 'out.csv'", "refused: COPY statement"),
        ("INSTALL httpfs", "refused: LOAD statement"),
        ("LOAD httpfs", "refused: LOAD statement"),
        ("PRAGMA database_list", "refused: PRAGMA statement"),
        ("SET enable_external_access = true", "refused: SET statement"),
        ("", "empty query"),
    ],
)
def test_non_read_only_statements_are_refused(tiny: Platform, sql: str, reason: str) -> None:
    with pytest.raises(QueryRefusedError) as info:
        tiny.query(sql)
    assert str(info.value).startswith(reason)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_parquet('/tmp/*.parquet')",
        "SELECT * FROM 'https://example.com/data.csv'",
        "SELECT * FROM glob('/etc/*')",
    ],
)
def test_file_and_network_functions_are_blocked(tiny: Platform, sql: str) -> None:
    with pytest.raises(QueryError) as info:
        tiny.query(sql)
    assert str(info.value).startswith("query failed:")
    assert "disabled by configuration" in str(info.value) or "Permission" in str(info.value)


def test_unknown_table_is_named(tiny: Platform) -> None:
    with pytest.raises(TableNotFoundError) as info:
        tiny.query("SELECT * FROM silver.nothing")
    assert str(info.value) == "no lakehouse table 'silver.nothing' (tables: bronze.items)"


def test_join_using_between_lakehouse_tables(tiny: Platform) -> None:
    # Finding the tables a query names must not bind it: a USING join of tables not yet
    # exposed used to fail with "Column does not exist on left side of join".
    result = tiny.query(
        "SELECT a.id, b.name FROM bronze.items a JOIN bronze.items b USING (id) ORDER BY id"
    )
    assert result.table.column("name").to_pylist() == ["kettle", "mug", "teapot"]


def test_a_typo_gets_the_closest_table(tiny: Platform) -> None:
    with pytest.raises(TableNotFoundError) as info:
        tiny.query("SELECT * FROM bronze.item")
    assert str(info.value) == "no lakehouse table 'bronze.item' — did you mean bronze.items?"


def test_a_bare_name_gets_the_qualified_names_it_could_mean(tiny: Platform) -> None:
    with pytest.raises(TableNotFoundError) as info:
        tiny.query("SELECT count(*) FROM items")
    assert str(info.value) == "no table 'items': tables are named layer.table: try bronze.items"
    # A CTE of that name is not a lakehouse table and is left to DuckDB.
    cte = tiny.query("WITH items AS (SELECT 7 AS id) SELECT id FROM items")
    assert cte.table.column("id").to_pylist() == [7]
