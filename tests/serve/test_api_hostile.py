"""What a hostile client sends never gets a 5xx: odd SQL, odd values in results, statement
types the guard does not name, bodies JSON allows but UTF-8 or numbers cannot carry, odd paths.
Every answer is strict JSON (no NaN, no Infinity, no raw surrogate)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.serve.conftest import auth

HOSTILE_QUERIES = (
    # values Python's types or JSON cannot hold as they are
    "SELECT 'infinity'::date AS d, '-infinity'::date AS e, '10000-01-01'::date AS f",
    "SELECT 'infinity'::timestamptz AS t, '-infinity'::timestamp AS u, "
    "'294247-01-10 04:00:54'::timestamp AS v",
    "SELECT '0044-03-15 (BC)'::date AS ides, '5877642-06-25 (BC)'::date AS first_day",
    "SELECT 'nan'::double AS n, 'inf'::float AS i, -'inf'::double AS j, [1, 'nan'::double] AS l",
    "SELECT 99999999999999999999999999999999999999::decimal(38,0) AS d, "
    "(2::uhugeint ** 127)::uhugeint AS u, 1e308 * 10 AS over",
    "SELECT 1::varint AS v, '10101'::bit AS b, '23:59:59+14:59'::timetz AS tz",
    "SELECT INTERVAL '-178000000 years' AS i, INTERVAL '1 microsecond' AS j",
    "SELECT '\\x00\\xFF'::blob AS b, repeat('\\xAB', 10)::blob AS c",
    "SELECT {'a': {'b': [MAP {DATE 'infinity': [INTERVAL '1 day']}]}} AS deep",
    "SELECT union_value(t := TIMESTAMP 'infinity') AS u, 'x'::enum('x', 'y') AS e",
    "SELECT [[[]]] AS empty, {'': 1} AS blank_key, NULL AS nothing",
    'SELECT 1 AS a, 2 AS a, 3 AS a_1, 4 AS "", 5 AS ""',
    "SELECT chr(55296) AS surrogate_codepoint",
    "SELECT '\U0001f600' AS emoji, 'nul\x01byte' AS control",
    # sizes and shapes
    "SELECT repeat('x', 250000000) AS big",
    "SELECT list(i) AS l FROM range(2000000) t(i)",
    "SELECT * FROM range(5000) a(i), range(3) b(j)",
    "SELECT i, repeat('y', 100000) AS s FROM range(500) t(i)",
    # statements the guard must refuse, including types DuckDB's Python enum lacks
    "UPDATE EXTENSIONS",
    "UPDATE EXTENSIONS (httpfs)",
    "MERGE INTO silver.customers USING silver.customers s ON true WHEN MATCHED THEN DELETE",
    "CHECKPOINT",
    "VACUUM",
    "DETACH memory",
    "USE memory",
    "RESET threads",
    "SET VARIABLE x = 1",
    "CREATE SECRET s (TYPE s3)",
    "EXPLAIN SELECT 1",
    "SUMMARIZE silver.customers",
    "PREPARE p AS SELECT 1",
    "EXECUTE p",
    "BEGIN TRANSACTION",
    "COMMENT ON TABLE silver.customers IS 'x'",
    "TRUNCATE silver.customers",
    "EXPORT DATABASE 'x'",
    "CALL pragma_version()",
    "SELECT * FROM query_table('silver.customers')",
    "FROM silver.customers SELECT *",
    "SELECT 1 /* unterminated",
    "SELECT '",
    ";;;",
    "\x00",
    "SELECT 1; SELECT 2",
)

HOSTILE_BODIES = (
    ("/query", b'{"sql": "SELECT \'\\ud800\' AS x"}'),
    ("/query", b'{"sql": "SELECT 1 AS \\udbff"}'),
    ("/query", b'{"sql": "SELECT 1", "limit": 1e400}'),
    ("/query", b'{"sql": "SELECT 1", "limit": NaN}'),
    ("/query", b'{"sql": "SELECT 1", "limit": 99999999999999999999999999999}'),
    ("/query", b'{"sql": "SELECT 1", "limit": -1}'),
    ("/query", b'{"sql": "SELECT 1", "\\ud800": "\\udfff"}'),
    ("/query", b'{"sql": ' + b'"' + b"x" * 200_000 + b'"}'),
    ("/query", b'{"sql": null}'),
    ("/query", b"\xff\xfe\x00"),
    ("/query", b"[" * 50_000),
    ("/query", b'{"sql": "SELECT 1"' + b', "a": 1' * 10_000 + b"}"),
    ("/events", b'[{"event_id": "\\ud800", "event_type": "page_view"}]'),
    ("/events", b'[{"\\udc00": 1}, {"event_id": ["\\ud800"]}]'),
    ("/events", b'[{"event_id": "e", "price": 1e400, "quantity": -1e400}]'),
    ("/events", b'[{"event_id": "e", "customer_number": 1e999999}]'),
    ("/events", b'[{"event_time": "+10000-01-01T00:00:00Z"}, {"event_time": "\\u0000"}]'),
    ("/events", b"[" * 50_000),
    ("/events", b'"\\ud800"'),
    ("/events", b"[NaN, Infinity, -Infinity]"),
    ("/events", b"[" + b"{}," * 5_000 + b"{}]"),
)

HOSTILE_GETS = (
    "/recommendations/99999999999999999999999999",
    "/recommendations/%ED%A0%80",
    "/recommendations/1?limit=1e400",
    "/recommendations/1?session_id=%ED%A0%80",
    "/recommendations/1?session_id=%00",
    "/products/%ED%A0%80/similar",
    "/products/%00/similar?limit=-1",
    "/tables/silver/%ED%A0%80",
    "/tables/%ED%A0%80/customers",
    "/tables/silver/customers%00",
)


def strict(text: str) -> object:
    """The body parsed as strict JSON: NaN and Infinity refused."""
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in {text[:200]}"))


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_hostile_queries_never_get_a_server_error(
    client: TestClient, api_keys: dict[str, str], role: str
) -> None:
    failures = []
    for sql in HOSTILE_QUERIES:
        response = client.post("/query", json={"sql": sql}, headers=auth(api_keys, role))
        if response.status_code >= 500:
            failures.append((sql, response.status_code, response.text[:200]))
            continue
        body = strict(response.text)
        assert isinstance(body, dict)
        if response.status_code == 200:
            assert len(body["rows"]) == body["row_count"]
            assert len(response.content) < 9 * 1024 * 1024  # query.max_bytes plus the frame
        else:
            assert isinstance(body["detail"], str | list), sql
    assert failures == []


def test_hostile_bodies_never_get_a_server_error(
    client: TestClient, api_keys: dict[str, str]
) -> None:
    failures = []
    for path, body in HOSTILE_BODIES:
        role = "app" if path == "/events" else "analyst"
        headers = {**auth(api_keys, role), "content-type": "application/json"}
        response = client.post(path, content=body, headers=headers)
        if response.status_code >= 500:
            failures.append((path, body[:80], response.status_code, response.text[:200]))
            continue
        strict(response.text)
    assert failures == []


def test_hostile_paths_never_get_a_server_error(
    client: TestClient, api_keys: dict[str, str]
) -> None:
    failures = []
    for path in HOSTILE_GETS:
        role = "admin"
        response = client.get(path, headers=auth(api_keys, role))
        if response.status_code >= 500:
            failures.append((path, response.status_code, response.text[:200]))
            continue
        strict(response.text)
    assert failures == []
