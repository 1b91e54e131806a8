"""GET /health reports each backend's state without a key; GET /metrics counts requests by
route and status in Prometheus text format; /tables describes the lakehouse."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from shoplake.platform import Platform
from tests.serve.conftest import auth, rows


def test_health_names_each_backend(client: TestClient, lakehouse: Platform) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    backends = body["backends"]
    assert list(backends) == ["catalog", "online_store", "event_log", "model", "vector_index"]
    assert backends["catalog"] == {"state": "ok", "detail": f"{len(lakehouse.tables())} tables"}
    assert backends["model"] == {"state": "ok", "detail": f"promoted {lakehouse.model().version}"}
    assert backends["vector_index"]["state"] == "ok"
    # No valkey runs for this module: the store and the log are down, and say how to fix it.
    assert backends["online_store"] == {
        "state": "down",
        "detail": "valkey is not running: `shoplake up` starts it",
    }
    assert body["status"] == "degraded"


def test_metrics_count_requests_by_route_and_status(
    client: TestClient, api_keys: dict[str, str]
) -> None:
    for _ in range(3):
        client.get("/recommendations/103", headers=auth(api_keys, "app"))
    client.get("/recommendations/103")
    client.get("/no/such/path")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.text
    route = 'method="GET",route="/recommendations/{customer_number}"'
    counts = dict(re.findall(r"shoplake_http_requests_total\{(.*)\} (\d+)", text))
    assert int(counts[f'{route},status="200"']) >= 3
    assert int(counts[f'{route},status="401"']) >= 1
    assert 'method="GET",route="unmatched",status="404"' in counts
    assert (
        f'shoplake_http_request_duration_seconds_bucket{{{route},status="200",le="+Inf"}}' in text
    )
    assert "# TYPE shoplake_http_request_duration_seconds histogram" in text
    assert "# TYPE shoplake_events_accepted_total counter" in text


def test_tables_list_and_detail(
    client: TestClient, api_keys: dict[str, str], lakehouse: Platform
) -> None:
    listed = client.get("/tables", headers=auth(api_keys, "analyst")).json()
    assert [t["name"] for t in listed] == [t.name for t in lakehouse.tables()]
    customers = next(t for t in listed if t["name"] == "silver.customers")
    assert (
        customers["rows"] == rows(lakehouse, "SELECT count(*) AS n FROM silver.customers")[0]["n"]
    )

    detail = client.get("/tables/silver/customers", headers=auth(api_keys, "analyst")).json()
    assert detail["rows"] == customers["rows"]
    schema = {f["name"]: f for f in detail["schema"]}
    assert schema["customer_name"]["pii"] is True and schema["city"]["pii"] is False
    assert detail["snapshots"][0]["total_records"] == customers["rows"]
    checks = {c["check_name"]: c for c in detail["contracts"]}
    assert checks and all(c["status"] == "pass" for c in checks.values())
    expected = rows(
        lakehouse,
        "SELECT DISTINCT check_name FROM audit.contract_results WHERE model = 'silver.customers'",
    )
    assert set(checks) == {r["check_name"] for r in expected}

    # Contract messages may quote rows: analysts see them masked, admins in clear.
    admin = client.get("/tables/silver/customers", headers=auth(api_keys, "admin")).json()
    quoted = [c for c in admin["contracts"] if c["message"]]
    assert quoted and all(c["message"] != "masked" for c in quoted)
    assert all(checks[c["check_name"]]["message"] == "masked" for c in quoted)

    missing = client.get("/tables/silver/nothing", headers=auth(api_keys, "analyst"))
    assert missing.status_code == 404
    assert missing.json()["detail"].startswith("no lakehouse table 'silver.nothing' (tables: ")
    space = client.get("/tables/platinum/x", headers=auth(api_keys, "analyst"))
    assert space.status_code == 404
    assert space.json()["detail"] == (
        "no namespace 'platinum': tables live in bronze, silver, gold, audit"
    )


def test_openapi_documents_keys_and_roles(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "shoplake"
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
    }  # fmt: skip
    recommendations = schema["paths"]["/recommendations/{customer_number}"]["get"]
    assert recommendations["security"] == [{"ApiKey": []}, {"Bearer": []}]
    assert recommendations["description"].endswith("Roles: admin, app.")
    assert [p["name"] for p in recommendations["parameters"]] == [
        "customer_number", "limit", "session_id",
    ]  # fmt: skip
    assert schema["paths"]["/query"]["post"]["description"].endswith("Roles: admin, analyst.")
    assert "security" not in schema["paths"]["/health"]["get"]
    assert client.get("/docs").status_code == 200
