"""Contract checks compiled to SQL: each kind passes on good data and names offenders on bad."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from shoplake.transform.contracts import failure_summary, run_checks
from shoplake.transform.project import Model


def model(config: dict[str, Any]) -> Model:
    return Model("orders", "silver", "SELECT 1", config, Path("orders.sql"))


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA silver")
    orders = pa.table(
        {
            "order_number": [1, 2, 2, 4, None],
            "status": ["Shipped", "Shipped", "Lost", "On Hold", "Shipped"],
            "amount": [10.0, -5.0, 3.0, 7.0, 1.0],
            "customer_number": [100, 100, 999, None, 101],
        }
    )
    customers = pa.table({"customer_number": [100, 101]})
    con.register("o", orders)
    con.register("c", customers)
    con.execute("CREATE VIEW silver.orders AS SELECT * FROM o")
    con.execute("CREATE VIEW silver.customers AS SELECT * FROM c")
    return con


def results(con: duckdb.DuckDBPyConnection, config: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {r.check: (r.status, r.message) for r in run_checks(con, model(config), "silver.orders")}


def test_grain_unique_and_not_null(con: duckdb.DuckDBPyConnection) -> None:
    out = results(con, {"grain": ["order_number"], "unique_key": ["order_number"]})
    assert out["grain unique (order_number)"] == ("fail", "1 rows, e.g. 2")
    assert out["grain not null (order_number)"] == ("fail", "1 rows, e.g. None")


def test_accepted_values_range_and_relationships(con: duckdb.DuckDBPyConnection) -> None:
    out = results(
        con,
        {
            "unique_key": ["order_number"],
            "columns": {
                "status": {"accepted_values": ["Shipped", "On Hold"]},
                "amount": {"range": {"min": 0}},
                "customer_number": {"not_null": True},
            },
            "relationships": [
                {"column": "customer_number", "to": "silver.customers", "field": "customer_number"}
            ],
        },
    )
    assert out["status accepted values"] == ("fail", "1 rows, e.g. Lost")
    assert out["amount range (min 0)"] == ("fail", "1 rows, e.g. (2, -5.0)")
    assert out["customer_number not null"] == ("fail", "1 rows, e.g. 4")
    assert out["relationship customer_number → silver.customers.customer_number"] == (
        "fail",
        "1 rows, e.g. 999",
    )


def test_row_count_and_freshness(con: duckdb.DuckDBPyConnection) -> None:
    out = results(con, {"row_count": {"equals": "silver.customers", "min": 1}})
    assert out["row count equals silver.customers"] == ("fail", "5 rows vs 2")
    assert out["row count >= 1"] == ("pass", "5 rows")
    con.execute("CREATE OR REPLACE VIEW silver.orders AS SELECT now() AS seen")
    fresh = results(con, {"freshness": {"column": "seen", "max_age_hours": 1}})
    assert fresh["freshness (seen within 1 h)"][0] == "pass"


def test_freshness_of_an_empty_optional_source_passes_with_a_note(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute("CREATE OR REPLACE VIEW silver.orders AS SELECT now() AS seen LIMIT 0")
    freshness = {"freshness": {"column": "seen", "max_age_hours": 1}}
    name = "freshness (seen within 1 h)"
    assert results(con, freshness)[name] == ("fail", "no rows")  # a required source: stale
    optional = {**freshness, "optional_sources": {"bronze.seen": {"seen": "TIMESTAMP"}}}
    assert results(con, optional)[name] == ("pass", "no rows (optional source)")
    con.execute(
        "CREATE OR REPLACE VIEW silver.orders AS SELECT TIMESTAMP '2005-06-01 12:00:00' AS seen"
    )
    assert results(con, optional)[name] == ("fail", "latest 2005-06-01 12:00:00")


def test_passing_contract_and_failure_summary(con: duckdb.DuckDBPyConnection) -> None:
    checks = run_checks(con, model({"columns": {"status": {"not_null": True}}}), "silver.orders")
    assert [(c.check, c.status) for c in checks] == [("status not null", "pass")]
    failing = run_checks(con, model({"grain": ["order_number"]}), "silver.orders")
    assert failure_summary(failing) == (
        "grain unique (order_number) failed: 1 rows, e.g. 2; "
        "grain not null (order_number) failed: 1 rows, e.g. None"
    )


def test_samples_never_quote_pii_values(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE OR REPLACE VIEW silver.orders AS SELECT * FROM (VALUES "
        "(1, 'jane.roe@example.com', -1.0), (2, 'jane.roe@example.com', 3.0), "
        "(3, 'x', 4.0)) t(order_number, email, amount)"
    )
    config = {
        "unique_key": ["order_number"],
        "columns": {
            "email": {"pii": True, "unique": True, "accepted_values": ["x"]},
            "amount": {"range": {"min": 0}},
        },
    }
    checks = run_checks(con, model(config), "silver.orders")
    out = {r.check: (r.status, r.sample, r.message) for r in checks}
    assert out["email unique"] == ("fail", "<pii>", "1 rows, e.g. <pii>")
    assert out["email accepted values"] == ("fail", "<pii>", "1 rows, e.g. <pii>")
    assert out["amount range (min 0)"] == ("fail", "(1, -1.0)", "1 rows, e.g. (1, -1.0)")
    assert "jane" not in failure_summary(checks)
