"""The query guard refuses each class of unsafe SQL with a one-line reason naming it, and
admits ordinary analytics (CTEs, windows, lambdas, range) over lakehouse tables."""

from __future__ import annotations

import pytest

from shoplake.errors import QueryError, QueryRefusedError
from shoplake.serve.query_guard import guard

ONLY_SELECT = "; only a single read-only SELECT is allowed"
NOT_LAKEHOUSE = "is not a lakehouse table"

REFUSED = [
    # writes and DDL
    ("INSERT INTO silver.customers VALUES (1)", "refused: INSERT statement" + ONLY_SELECT),
    ("UPDATE silver.customers SET phone = ''", "refused: UPDATE statement" + ONLY_SELECT),
    ("DELETE FROM silver.customers", "refused: DELETE statement" + ONLY_SELECT),
    ("CREATE TABLE t AS SELECT 1", "refused: CREATE statement" + ONLY_SELECT),
    ("CREATE SECRET s (TYPE s3)", "refused: CREATE statement" + ONLY_SELECT),
    ("DROP TABLE silver.customers", "refused: DROP statement" + ONLY_SELECT),
    ("ALTER TABLE silver.customers ADD COLUMN x INT", "refused: ALTER statement" + ONLY_SELECT),
    # more than one statement
    ("SELECT 1; SELECT 2", "refused: 2 statements" + ONLY_SELECT),
    ("SELECT 1; DROP TABLE silver.customers", "refused: 2 statements" + ONLY_SELECT),
    # statements that reach outside the query
    ("ATTACH 'other.db' AS other", "refused: ATTACH statement" + ONLY_SELECT),
    ("COPY silver.customers TO 'out.csv'", "refused: COPY statement" + ONLY_SELECT),
    ("INSTALL httpfs", "refused: LOAD statement (INSTALL)" + ONLY_SELECT),
    ("LOAD httpfs", "refused: LOAD statement" + ONLY_SELECT),
    ("PRAGMA database_list", "refused: PRAGMA statement" + ONLY_SELECT),
    ("SET enable_external_access = true", "refused: SET statement" + ONLY_SELECT),
    ("CALL pragma_version()", "refused: CALL statement" + ONLY_SELECT),
    ("EXPORT DATABASE 'dump'", "refused: EXPORT statement" + ONLY_SELECT),
    ("IMPORT DATABASE 'dump'", "refused: PRAGMA statement (IMPORT)" + ONLY_SELECT),
    ("-- note\nDETACH other", "refused: DETACH statement" + ONLY_SELECT),
    # settings and the environment
    ("SELECT getenv('HOME')", "refused: function getenv() reveals settings or the environment"),
    (
        "SELECT current_setting('threads')",
        "refused: function current_setting() reveals settings or the environment",
    ),
    ("SELECT getvariable('x')", "refused: function getvariable() reveals settings"),
    ("SELECT * FROM duckdb_settings()", "refused: table function duckdb_settings()"),
    (
        "SELECT * FROM information_schema.tables",
        "refused: 'information_schema.tables' " + NOT_LAKEHOUSE,
    ),
    ("SELECT * FROM duckdb_tables", "refused: 'duckdb_tables' " + NOT_LAKEHOUSE),
    ("DESCRIBE silver.customers", "refused: DESCRIBE, SHOW and SUMMARIZE are not allowed"),
    ("SELECT * FROM query('SELECT 1')", "refused: table function query()"),
    (
        "SELECT json_execute_serialized_sql('x')",
        "refused: function json_execute_serialized_sql() runs SQL text",
    ),
    ("SELECT * FROM memory.main.x", "refused: 'memory.main.x' " + NOT_LAKEHOUSE),
]

FILE_READERS = [
    "read_csv('/etc/passwd')",
    "read_csv_auto('/etc/passwd')",
    "read_parquet('/tmp/x.parquet')",
    "parquet_scan('/tmp/x.parquet')",
    "parquet_metadata('/tmp/x.parquet')",
    "read_json('/tmp/x.json')",
    "read_json_auto('/tmp/x.json')",
    "read_ndjson('/tmp/x.json')",
    "read_text('/etc/hostname')",
    "read_blob('/etc/hostname')",
    "glob('/etc/*')",
    "sniff_csv('/etc/passwd')",
    "sqlite_scan('x.db', 't')",
    "postgres_scan('dbname=x', 'public', 't')",
    "iceberg_scan('/tmp/warehouse')",
    "delta_scan('/tmp/delta')",
    "read_duckdb('x.db')",
]


@pytest.mark.parametrize(("sql", "message"), REFUSED)
def test_refused_with_a_clear_message(sql: str, message: str) -> None:
    with pytest.raises(QueryRefusedError) as info:
        guard(sql)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("call", FILE_READERS)
def test_every_file_reading_table_function_is_refused(call: str) -> None:
    name = call.split("(", maxsplit=1)[0]
    with pytest.raises(QueryRefusedError) as info:
        guard(f"SELECT * FROM {call}")
    assert str(info.value).startswith(f"refused: table function {name}() reads files")


@pytest.mark.parametrize("call", ["read_text('/etc/hostname')", "glob('/etc/*')"])
def test_file_readers_are_refused_inside_expressions_too(call: str) -> None:
    with pytest.raises(QueryRefusedError, match=r"refused: .*\(\)"):
        guard(f"SELECT (SELECT count(*) FROM {call}) AS n FROM silver.customers")
    with pytest.raises(QueryRefusedError, match="refused: function"):
        guard(f"SELECT {call}")


@pytest.mark.parametrize(
    "source",
    [
        "'https://example.com/data.csv'",
        "'s3://bucket/key.parquet'",
        "'/etc/passwd'",
        '"/tmp/x.parquet"',
        "'data.csv'",
    ],
)
def test_file_names_and_urls_as_tables_are_refused(source: str) -> None:
    with pytest.raises(QueryRefusedError, match=NOT_LAKEHOUSE):
        guard(f"SELECT * FROM {source}")


@pytest.mark.parametrize("url", ["https://example.com/x", "s3://bucket/x", "file:///etc/passwd"])
def test_urls_in_string_literals_are_refused(url: str) -> None:
    with pytest.raises(QueryRefusedError) as info:
        guard(f"SELECT count(*) FROM silver.customers WHERE city = '{url}'")
    assert str(info.value) == (
        f"refused: the string {url!r} is a URL; queries cannot read files or the network"
    )


@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        ("SELECT count(*) FROM gold.fact_orders", {"gold.fact_orders"}),
        (
            "WITH c AS (SELECT * FROM silver.customers) "
            "SELECT c.country, count(*) FROM c JOIN gold.fact_orders f USING (customer_number) "
            "GROUP BY ALL ORDER BY 2 DESC",
            {"silver.customers", "gold.fact_orders"},
        ),
        (
            "SELECT product_code, row_number() OVER (PARTITION BY product_line ORDER BY msrp) "
            "FROM silver.products QUALIFY row_number() OVER (PARTITION BY product_line "
            "ORDER BY msrp) <= 3",
            {"silver.products"},
        ),
        ("SELECT list_transform([1, 2], x -> x * 2), i FROM range(3) t(i)", set()),
        ("SELECT * FROM unnest([1, 2, 3])", set()),
        (
            "FROM audit.contract_results SELECT status, count(*) GROUP BY status",
            {"audit.contract_results"},
        ),
        (
            "SELECT date_trunc('month', order_date), sum(order_amount) "
            "FROM gold.fact_orders GROUP BY 1",
            {"gold.fact_orders"},
        ),
    ],
)
def test_ordinary_analytics_is_admitted(sql: str, tables: set[str]) -> None:
    assert guard(sql).tables == tables


def test_an_unknown_function_is_named() -> None:
    with pytest.raises(QueryRefusedError, match=r"refused: function frobnicate\(\) is unknown"):
        guard("SELECT frobnicate(1)")


def test_unparsable_sql_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="cannot parse query"):
        guard("SELEC 1")
