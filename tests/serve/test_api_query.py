"""POST /query: analysts never see clear PII however the query is written; admins see the
lakehouse's values; refused queries answer 400 with the guard's reason; limits hold."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shoplake.platform import Platform
from shoplake.serve.app import create_app
from shoplake.serve.pii import MASK_PREFIX
from tests.serve.conftest import auth, rows, with_serve

HEXLIKE = re.compile(r"[0-9a-f ]+")
CUSTOMER_PII = (
    "customer_name",
    "contact_last_name",
    "contact_first_name",
    "phone",
    "address_line1",
    "postal_code",
)


def query(client: TestClient, keys: dict[str, str], role: str, sql: str, **extra: Any) -> Any:
    response = client.post("/query", json={"sql": sql, **extra}, headers=auth(keys, role))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def clear(lakehouse: Platform) -> dict[str, set[str]]:
    """Every clear PII value of silver.customers, by column (read directly)."""
    found = rows(lakehouse, f"SELECT {', '.join(CUSTOMER_PII)} FROM silver.customers")
    return {c: {r[c] for r in found if r[c] is not None} for c in CUSTOMER_PII}


def all_clear(clear: dict[str, set[str]]) -> set[str]:
    return set().union(*clear.values())


def assert_masked(values: list[Any], clear: dict[str, set[str]]) -> None:
    present = [v for v in values if v is not None]
    assert present, "expected values"
    assert not set(present) & all_clear(clear)
    assert all(v.startswith(MASK_PREFIX) and len(v) == len(MASK_PREFIX) + 10 for v in present)


def test_plain_select_is_masked(client: TestClient, api_keys: dict[str, str], clear: Any) -> None:
    result = query(
        client, api_keys, "analyst",
        "SELECT customer_number, customer_name, phone, city FROM silver.customers",
    )  # fmt: skip
    assert result["row_count"] == 200
    assert_masked([r["customer_name"] for r in result["rows"]], clear)
    assert_masked([r["phone"] for r in result["rows"]], clear)
    assert all(not r["city"].startswith(MASK_PREFIX) for r in result["rows"])  # not PII
    assert "silver.customers.customer_name" in result["masked"]
    # The mask is a keyed hash: equal values stay equal, so analysts can still count them.
    names = [r["customer_name"] for r in result["rows"]]
    assert len(set(names)) == len(clear["customer_name"])


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT customer_name AS n FROM silver.customers",
        "SELECT upper(customer_name) || '' AS n FROM silver.customers",
        "SELECT substr(phone, 1, 100) AS n FROM silver.customers",
        "SELECT concat_ws(' ', contact_first_name, contact_last_name) AS n FROM silver.customers",
        "WITH c AS (SELECT * FROM silver.customers) SELECT x.postal_code AS n FROM c AS x",
        "SELECT n FROM (SELECT address_line1 AS n FROM silver.customers) WHERE n IS NOT NULL",
        "SELECT customer_name AS n FROM gold.dim_customers",
        "SELECT string_agg(customer_name, '|') AS n FROM silver.customers",
    ],
)
def test_aliases_expressions_ctes_and_gold_are_masked(
    client: TestClient, api_keys: dict[str, str], clear: dict[str, set[str]], sql: str
) -> None:
    values = [str(r["n"]) for r in query(client, api_keys, "analyst", sql)["rows"]]
    text = " ".join(values)
    assert not set(values) & all_clear(clear)
    # No clear value hides inside a value either (masks are hex: skip hex-looking values).
    telling = {v for v in all_clear(clear) if len(v) >= 5 and not HEXLIKE.fullmatch(v)}
    assert not [v for v in telling if v in text]
    assert MASK_PREFIX.upper() in text.upper()


def test_select_star_masks_every_pii_column(
    client: TestClient, api_keys: dict[str, str], clear: dict[str, set[str]]
) -> None:
    result = query(client, api_keys, "analyst", "SELECT * FROM silver.customers")
    for column in CUSTOMER_PII:
        assert_masked([r[column] for r in result["rows"]], clear)
    assert {f"silver.customers.{c}" for c in CUSTOMER_PII} <= set(result["masked"])


def test_bronze_raw_columns_are_masked(
    client: TestClient, api_keys: dict[str, str], clear: dict[str, set[str]]
) -> None:
    result = query(
        client, api_keys, "analyst",
        "SELECT customerName, contactLastName, contactFirstName, phone, addressLine1, "
        "postalCode, city FROM bronze.customers",
    )  # fmt: skip
    for column in ("customerName", "contactLastName", "phone", "addressLine1", "postalCode"):
        assert_masked([r[column] for r in result["rows"]], clear)
    employees = query(client, api_keys, "analyst", "SELECT * FROM bronze.employees")
    assert all(r["email"].startswith(MASK_PREFIX) for r in employees["rows"])
    assert all(r["lastName"].startswith(MASK_PREFIX) for r in employees["rows"])
    assert not any(r["jobTitle"].startswith(MASK_PREFIX) for r in employees["rows"])


def test_filters_cannot_probe_clear_values(
    client: TestClient, api_keys: dict[str, str], clear: dict[str, set[str]], lakehouse: Platform
) -> None:
    name = sorted(clear["customer_name"])[0].replace("'", "''")
    sql = f"SELECT count(*) AS n FROM silver.customers WHERE customer_name = '{name}'"
    assert query(client, api_keys, "analyst", sql)["rows"] == [{"n": 0}]
    matching = rows(lakehouse, sql)[0]["n"]
    assert matching >= 1
    assert query(client, api_keys, "admin", sql)["rows"] == [{"n": matching}]


def test_admin_sees_the_lakehouse_values(
    client: TestClient, api_keys: dict[str, str], lakehouse: Platform
) -> None:
    sql = (
        "SELECT customer_number, customer_name, phone, postal_code, credit_limit "
        "FROM silver.customers ORDER BY customer_number"
    )
    result = query(client, api_keys, "admin", sql)
    expected = rows(lakehouse, sql)
    assert result["masked"] == []
    assert result["columns"] == list(expected[0])
    assert [
        (r["customer_number"], r["customer_name"], r["phone"], r["postal_code"])
        for r in result["rows"]
    ] == [
        (r["customer_number"], r["customer_name"], r["phone"], r["postal_code"]) for r in expected
    ]
    assert [r["credit_limit"] for r in result["rows"]] == [
        float(r["credit_limit"]) for r in expected
    ]


def test_contract_samples_are_masked_for_analysts(
    client: TestClient, api_keys: dict[str, str]
) -> None:
    sql = "SELECT sample, message FROM audit.contract_results WHERE message <> ''"
    analyst = query(client, api_keys, "analyst", sql)["rows"]
    admin = query(client, api_keys, "admin", sql)["rows"]
    assert len(analyst) == len(admin) > 0
    assert all(r["message"].startswith(MASK_PREFIX) for r in analyst)
    assert not any(r["message"].startswith(MASK_PREFIX) for r in admin)


def test_row_limit_and_truncation(
    client: TestClient, api_keys: dict[str, str], lakehouse: Platform
) -> None:
    sql = "SELECT order_number FROM silver.orders ORDER BY order_number"
    total = len(rows(lakehouse, sql))
    assert total > 1_000
    capped = query(client, api_keys, "analyst", sql)
    assert capped["row_count"] == lakehouse.settings.serve.query_max_rows == 1_000
    assert capped["truncated"] is True
    few = query(client, api_keys, "analyst", sql, limit=5)
    assert [r["order_number"] for r in few["rows"]] == [
        r["order_number"] for r in rows(lakehouse, sql)[:5]
    ]
    assert few["truncated"] is True
    everything = query(client, api_keys, "analyst", "SELECT count(*) AS n FROM silver.orders")
    assert everything["rows"] == [{"n": total}] and everything["truncated"] is False


@pytest.mark.parametrize(
    ("sql", "status", "detail"),
    [
        ("DROP TABLE silver.customers", 400, "refused: DROP statement"),
        ("SELECT 1; SELECT 2", 400, "refused: 2 statements"),
        ("COPY silver.customers TO 'x.csv'", 400, "refused: COPY statement"),
        ("SELECT * FROM read_csv('/etc/passwd')", 400, "refused: table function read_csv()"),
        ("SELECT current_setting('threads')", 400, "refused: function current_setting()"),
        ("SELECT * FROM 'https://example.com/x.csv'", 400, "refused: 'https://example.com/x.csv'"),
        ("SELECT * FROM silver.nothing", 404, "no lakehouse table 'silver.nothing'"),
        ("SELECT nope FROM silver.customers", 400, "query failed: Binder Error"),
        # Statement types DuckDB's Python enum does not name: refused, not a 500.
        ("UPDATE EXTENSIONS", 400, "refused: UPDATE statement; only a single read-only"),
        ("UPDATE EXTENSIONS (httpfs)", 400, "refused: UPDATE statement"),
        (
            "MERGE INTO silver.customers USING silver.customers s ON true WHEN MATCHED THEN DELETE",
            400,
            "refused: MERGE_INTO statement (MERGE)",
        ),
    ],
)
def test_refused_and_failed_queries_say_why(
    client: TestClient, api_keys: dict[str, str], sql: str, status: int, detail: str
) -> None:
    response = client.post("/query", json={"sql": sql}, headers=auth(api_keys, "admin"))
    assert response.status_code == status
    assert response.json()["detail"].startswith(detail)


def test_a_slow_query_is_interrupted(lakehouse: Platform, api_keys: dict[str, str]) -> None:
    settings = with_serve(lakehouse.settings, query_timeout_seconds=0.3)
    with TestClient(create_app(settings)) as quick:
        response = quick.post(
            "/query",
            json={"sql": "SELECT sum(hash(i)) AS h FROM range(1000000000000) t(i)"},
            headers=auth(api_keys, "analyst"),
        )
    assert response.status_code == 400
    assert response.json()["detail"] == "query timed out after 0.3 s and was stopped"


def test_repeated_column_names_each_keep_their_value(
    client: TestClient, api_keys: dict[str, str]
) -> None:
    result = query(client, api_keys, "analyst", "SELECT 1 AS a, 2 AS a, 3 AS b")
    assert result["columns"] == ["a", "a_1", "b"]
    assert result["rows"] == [{"a": 1, "a_1": 2, "b": 3}]


def test_values_json_lacks_are_answered_as_json(
    client: TestClient, api_keys: dict[str, str]
) -> None:
    sql = (
        "SELECT 'infinity'::date AS d, '-infinity'::date AS e, '10000-01-01'::date AS f, "
        "'infinity'::timestamp AS t, 'inf'::double AS i, 'nan'::double AS n, "
        "INTERVAL '1 month 2 days' AS iv, 12345678901234567890123456789012345678::hugeint AS h, "
        "'\\xAA'::blob AS b, [DATE '10000-01-01'] AS l, {'k': 'infinity'::date} AS s"
    )
    response = client.post("/query", json={"sql": sql}, headers=auth(api_keys, "analyst"))
    assert response.status_code == 200, response.text
    assert json.loads(response.text, parse_constant=pytest.fail)["rows"] == [
        {
            "d": "infinity",
            "e": "-infinity",
            "f": "+10000-01-01",
            "t": "infinity",
            "i": "inf",
            "n": "nan",
            "iv": "P1M2D",
            "h": "12345678901234567890123456789012345678",
            "b": "aa",
            "l": ["+10000-01-01"],
            "s": {"k": "infinity"},
        }
    ]


def test_a_huge_value_is_cut_by_the_byte_limit(
    client: TestClient, api_keys: dict[str, str], lakehouse: Platform
) -> None:
    sql = "SELECT 1 AS n, repeat('x', 250000000) AS big"
    response = client.post("/query", json={"sql": sql}, headers=auth(api_keys, "analyst"))
    assert response.status_code == 200
    assert len(response.content) < 1_000 < lakehouse.settings.query.max_bytes
    result = response.json()
    assert (result["rows"], result["row_count"]) == ([], 0)
    assert (result["truncated"], result["truncated_by"]) == (True, "bytes")


def test_the_byte_limit_keeps_the_rows_that_fit(
    lakehouse: Platform, api_keys: dict[str, str]
) -> None:
    sql = "SELECT order_number FROM silver.orders ORDER BY order_number"
    numbers = [r["order_number"] for r in rows(lakehouse, sql)]
    row_bytes = [len(json.dumps({"order_number": n}, separators=(",", ":"))) + 1 for n in numbers]
    budget = sum(row_bytes[:40])
    limits = lakehouse.settings.query.model_copy(update={"max_bytes": budget})
    settings = lakehouse.settings.model_copy(update={"query": limits})
    with TestClient(create_app(settings)) as small:
        result = query(small, api_keys, "analyst", sql)
        unlimited = query(small, api_keys, "analyst", "SELECT count(*) AS n FROM silver.orders")
    assert [r["order_number"] for r in result["rows"]] == numbers[:40]
    assert (result["truncated"], result["truncated_by"]) == (True, "bytes")
    assert unlimited["rows"] == [{"n": len(numbers)}]
    assert (unlimited["truncated"], unlimited["truncated_by"]) == (False, None)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"sql": "SELECT \'\\ud800\' AS x"}', "string_unicode"),
        (b'{"sql": "\\udfff"}', "string_unicode"),
        (b'{"sql": "SELECT 1", "limit": 1e400}', "finite_number"),
        (b'{"sql": "SELECT 1", "limit": -Infinity}', "finite_number"),
    ],
)
def test_bodies_json_cannot_carry_to_duckdb_are_422(
    client: TestClient, api_keys: dict[str, str], body: bytes, problem: str
) -> None:
    response = client.post(
        "/query",
        content=body,
        headers={**auth(api_keys, "analyst"), "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert [p["type"] for p in response.json()["detail"]] == [problem]
