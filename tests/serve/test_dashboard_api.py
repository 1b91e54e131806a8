"""The analytics endpoints behind the dashboard answer with the lakehouse's own figures.

Each figure is checked against an independent query over the lakehouse (silver rather than
gold where possible), the recommendations against the promoted model, and the roles against
real keys. Also: an empty lakehouse answers 200 with notes, and the page and its files are
served from this server only.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shoplake.platform import Platform
from shoplake.serve.app import create_app
from shoplake.serve.auth import create_key
from shoplake.services import free_port
from tests.support.streams import local_valkey

ENDPOINTS = (
    "/analytics/kpis",
    "/analytics/revenue_by_month",
    "/analytics/revenue_by_product_line",
    "/analytics/top_products",
    "/analytics/customers",
    "/analytics/customers/103",
    "/analytics/stream",
    "/analytics/health",
)
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def get(client: TestClient, api_keys: dict[str, str]) -> Any:
    """GET an endpoint with the analyst key; asserts 200 and returns the JSON body."""

    def get(path: str) -> Any:
        response = client.get(path, headers={"X-API-Key": api_keys["analyst"]})
        assert response.status_code == 200, response.text
        return response.json()

    return get


def rows(shop: Platform, sql: str) -> list[dict[str, Any]]:
    return shop.query(sql).table.to_pylist()


@pytest.fixture(scope="module")
def streamed(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    """A shop of its own for the stream test (which adds tables and events): bronze only."""
    data_dir = tmp_path_factory.mktemp("dashboard-stream") / "shop"
    shop = Platform(data_dir=data_dir, **{"services.valkey_port": free_port()})
    shop.generate(scale=0.02, seed=7)
    assert shop.ingest().ok
    return shop


def cents(value: float) -> Decimal:
    """A JSON amount as exact cents (it must carry no more than two decimals)."""
    exact = Decimal(repr(value))
    assert exact == exact.quantize(CENT), value
    return exact.quantize(CENT)


# Sales ---------------------------------------------------------------------------------------


def test_kpis_equal_gold_fact_orders(lakehouse: Platform, get: Any) -> None:
    body = get("/analytics/kpis")
    [gold] = rows(
        lakehouse,
        "SELECT sum(order_amount) AS revenue, count(DISTINCT order_number) AS orders, "
        "count(*) AS lines, sum(quantity_ordered) AS units FROM gold.fact_orders",
    )
    assert gold["orders"] > 1000
    assert cents(body["revenue"]) == gold["revenue"]
    assert body["orders"] == gold["orders"]
    assert body["order_lines"] == gold["lines"]
    assert body["units"] == gold["units"]
    assert cents(body["average_order_value"]) == (gold["revenue"] / gold["orders"]).quantize(CENT)
    assert body["note"] is None


def test_revenue_by_month_matches_the_sales_mart_and_silver_orders(
    lakehouse: Platform, get: Any
) -> None:
    months = get("/analytics/revenue_by_month")["months"]
    mart = rows(
        lakehouse,
        'SELECT "month", sum(revenue) AS revenue FROM gold.sales_by_month GROUP BY 1 ORDER BY 1',
    )
    assert [m["month"] for m in months] == [r["month"].isoformat() for r in mart]
    assert [cents(m["revenue"]) for m in months] == [r["revenue"] for r in mart]
    orders = rows(
        lakehouse,
        "SELECT CAST(date_trunc('month', order_date) AS DATE) AS month, count(*) AS orders "
        "FROM silver.orders WHERE order_number IN (SELECT order_number FROM silver.orderdetails) "
        "GROUP BY 1 ORDER BY 1",
    )
    assert [m["orders"] for m in months] == [r["orders"] for r in orders]


def test_revenue_by_product_line_matches_the_sales_mart(lakehouse: Platform, get: Any) -> None:
    lines = get("/analytics/revenue_by_product_line")["lines"]
    mart = rows(
        lakehouse,
        "SELECT product_line, sum(revenue) AS revenue, sum(units) AS units "
        "FROM gold.sales_by_month GROUP BY 1 ORDER BY revenue DESC",
    )
    assert [(x["product_line"], cents(x["revenue"]), x["units"]) for x in lines] == [
        (r["product_line"], r["revenue"], r["units"]) for r in mart
    ]
    assert math.isclose(sum(x["share"] for x in lines), 1.0, abs_tol=0.001)


def test_top_products_match_silver_order_lines(lakehouse: Platform, get: Any) -> None:
    products = get("/analytics/top_products?limit=5")["products"]
    silver = rows(
        lakehouse,
        """
        SELECT d.product_code, p.product_name, p.product_line,
               sum(d.quantity_ordered * d.price_each) AS revenue,
               sum(d.quantity_ordered) AS units
        FROM silver.orderdetails AS d
        INNER JOIN silver.products AS p ON p.product_code = d.product_code
        GROUP BY 1, 2, 3 ORDER BY revenue DESC, d.product_code LIMIT 5
        """,
    )
    assert [
        (p["product_code"], p["product_name"], p["product_line"], cents(p["revenue"]), p["units"])
        for p in products
    ] == [tuple(r.values()) for r in silver]
    assert len(get("/analytics/top_products?limit=12")["products"]) == 12


# Recommendation explorer ----------------------------------------------------------------------


def customer_revenue(shop: Platform) -> list[dict[str, Any]]:
    return rows(
        shop,
        """
        SELECT o.customer_number, sum(d.quantity_ordered * d.price_each) AS revenue,
               count(DISTINCT o.order_number) AS orders
        FROM silver.orders AS o
        INNER JOIN silver.orderdetails AS d ON d.order_number = o.order_number
        GROUP BY 1 ORDER BY revenue DESC, o.customer_number
        """,
    )


def test_customers_are_ranked_by_revenue(lakehouse: Platform, get: Any) -> None:
    listed = get("/analytics/customers?limit=5")["customers"]
    expected = customer_revenue(lakehouse)[:5]
    assert [(c["customer_number"], cents(c["revenue"]), c["orders"]) for c in listed] == [
        (r["customer_number"], r["revenue"], r["orders"]) for r in expected
    ]
    assert all(c["country"] for c in listed)
    assert not {"customer_name", "phone", "contact_last_name"} & set(listed[0])  # no PII


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_explorer_shows_history_recommendations_and_why(lakehouse: Platform, get: Any) -> None:
    top = customer_revenue(lakehouse)[0]
    number = top["customer_number"]
    body = get(f"/analytics/customers/{number}?limit=10")

    bought = rows(
        lakehouse,
        f"""
        SELECT d.product_code, sum(d.quantity_ordered * d.price_each) AS revenue
        FROM silver.orders AS o
        INNER JOIN silver.orderdetails AS d ON d.order_number = o.order_number
        WHERE o.customer_number = {number} GROUP BY 1
        """,
    )
    history = {h["product_code"]: cents(h["revenue"]) for h in body["history"]}
    assert history == {r["product_code"]: r["revenue"] for r in bought}
    assert cents(body["revenue"]) == top["revenue"]
    assert body["orders"] == top["orders"]
    assert math.isclose(sum(s["share"] for s in body["line_shares"]), 1.0, abs_tol=0.001)

    model = lakehouse.recommend(number, 10)
    recommended = body["recommendations"]
    assert [r["product_code"] for r in recommended] == [i.product_code for i in model.items]
    assert (body["model_version"], body["strategy"]) == (model.model_version, model.strategy)
    assert len(recommended) == 10
    assert not set(history) & {r["product_code"] for r in recommended}  # unseen products only

    vectors = {
        r["product_code"]: r["embedding"]
        for r in rows(lakehouse, "SELECT product_code, embedding FROM gold.item_embeddings")
    }
    share_of = {s["product_line"]: s["share"] for s in body["line_shares"]}
    for item in recommended:
        similarity = {
            code: cosine(vectors[item["product_code"]], vectors[code]) for code in history
        }
        closest = sorted(similarity, key=lambda code: -similarity[code])[:3]
        assert [b["product_code"] for b in item["because"]] == closest
        for reason in item["because"]:
            assert math.isclose(
                reason["similarity"], similarity[reason["product_code"]], abs_tol=1e-4
            )
        assert item["line_share"] == share_of.get(item["product_line"], 0.0)
    assert body["note"] is None


def test_explorer_of_an_unknown_customer_says_so(get: Any) -> None:
    body = get("/analytics/customers/999999")
    assert body["history"] == [] and body["recommendations"] == []
    assert "999999" in body["note"] and "unknown" in body["note"]


# Stream and health -----------------------------------------------------------------------------


def test_stream_without_the_event_log_reads_the_lakehouse(lakehouse: Platform, get: Any) -> None:
    body = get("/analytics/stream")
    assert body["log"] == "down"
    assert body["backend"] == "valkey"
    assert body["shards"] == [] and body["total_lag"] is None
    assert "not running" in body["note"]
    assert not lakehouse.services()[0].running  # a GET never starts the local valkey


@pytest.mark.integration
def test_stream_with_the_event_log_reports_lag_per_shard(streamed: Platform) -> None:
    key = create_key(streamed.settings, "analyst", "stream test")[1]
    with TestClient(create_app(streamed.settings)) as client:

        def stream() -> Any:
            response = client.get("/analytics/stream", headers={"X-API-Key": key})
            assert response.status_code == 200, response.text
            return response.json()

        with local_valkey(streamed.settings):
            assert streamed.produce(events=400, bad_rate=0.1, seed=5).events == 400
            processed = streamed.process(until_idle=True)
            body = stream()
            [counts] = rows(
                streamed,
                "SELECT (SELECT count(*) FROM bronze.events) AS events, "
                "(SELECT count(*) FROM bronze.dead_letters) AS dead",
            )
            assert body["log"] == "up"
            assert (body["events"], body["dead_letters"]) == (counts["events"], counts["dead"])
            assert (body["events"], body["dead_letters"]) == (processed.valid, processed.invalid)
            assert body["dead_letters"] > 0
            shards = streamed.settings.stream.shards
            assert [s["shard"] for s in body["shards"]] == list(range(shards))
            assert body["total_lag"] == 0
            assert body["last_commit"] is not None

            streamed.produce(events=50, seed=6)
            body = stream()
            assert body["total_lag"] == 50 == sum(s["lag"] for s in body["shards"])
        body = stream()
    assert body["log"] == "down"
    assert body["events"] == counts["events"]


def test_health_lists_every_table_with_freshness_and_contracts(
    lakehouse: Platform, get: Any, client: TestClient, api_keys: dict[str, str]
) -> None:
    body = get("/analytics/health")
    stats = {s.name: s for s in lakehouse.tables()}
    tables = {t["name"]: t for t in body["tables"]}
    assert set(tables) == set(stats)
    for name, table in tables.items():
        assert table["rows"] == stats[name].rows
        assert table["snapshots"] == stats[name].snapshots
        if stats[name].last_commit is None:  # created, nothing committed yet
            assert table["age_seconds"] is None
        else:
            assert table["age_seconds"] >= 0
    latest = rows(
        lakehouse,
        """
        WITH latest AS (
            SELECT * FROM audit.contract_results
            QUALIFY checked_at = max(checked_at) OVER (PARTITION BY model)
        )
        SELECT model, count(*) AS checks, count(*) FILTER (WHERE status <> 'pass') AS failed
        FROM latest GROUP BY model
        """,
    )
    assert {r["model"] for r in latest} >= {"gold.fact_orders", "gold.sales_by_month"}
    for result in latest:
        table = tables[result["model"]]
        assert table["checks_passed"] + table["checks_failed"] == result["checks"]
        assert table["checks_failed"] == result["failed"]
        assert table["status"] == ("fail" if result["failed"] else "pass")
    assert tables["gold.fact_orders"]["status"] == "pass"
    assert tables["bronze.orders"]["status"] == "unchecked"

    # Contract messages may quote row values: admins read them, analysts do not.
    admin = client.get("/analytics/health", headers={"X-API-Key": api_keys["admin"]}).json()
    assert {type(c["message"]) for t in admin["tables"] for c in t["contracts"]} == {str}
    assert {c["message"] for t in body["tables"] for c in t["contracts"]} == {None}


# Access, empty lakehouse, the page ------------------------------------------------------------


def test_analytics_need_an_analyst_or_admin_key(
    client: TestClient, api_keys: dict[str, str]
) -> None:
    for path in ENDPOINTS:
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"X-API-Key": "slk_wrong"}).status_code == 401, path
        assert client.get(path, headers={"X-API-Key": api_keys["app"]}).status_code == 403, path
        assert client.get(path, headers={"X-API-Key": api_keys["admin"]}).status_code == 200, path


def test_an_empty_lakehouse_answers_with_notes(tmp_path: Path) -> None:
    empty = Platform(data_dir=tmp_path / "empty")
    key = create_key(empty.settings, "analyst", "empty")[1]
    with TestClient(create_app(empty.settings)) as client:
        bodies = {}
        for path in ENDPOINTS:
            response = client.get(path, headers={"X-API-Key": key})
            assert response.status_code == 200, (path, response.text)
            bodies[path] = response.json()
    assert bodies["/analytics/kpis"]["revenue"] == 0
    assert "gold.fact_orders does not exist yet" in bodies["/analytics/kpis"]["note"]
    assert bodies["/analytics/revenue_by_month"]["months"] == []
    assert bodies["/analytics/top_products"]["products"] == []
    assert bodies["/analytics/customers/103"]["recommendations"] == []
    assert bodies["/analytics/health"]["tables"] == []
    assert all(body["note"] for body in bodies.values())


def test_the_page_and_its_files_come_from_this_server(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/static/vendor/vega-embed.min.js" in sources
    assert not [s for s in sources if "//" in s]  # nothing from another host
    for source in sources:
        if source.startswith("/static/"):
            assert client.get(source).status_code == 200, source
    for outside in ("/static/../dashboard.py", "/static/%2e%2e/app.py", "/static/nope.js"):
        assert client.get(outside).status_code == 404, outside


def test_openapi_documents_the_analytics_responses(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path in ENDPOINTS:
        template = path.replace("/103", "/{customer_number}")
        operation = schema["paths"][template]["get"]
        assert "$ref" in operation["responses"]["200"]["content"]["application/json"]["schema"]
    kpis = schema["components"]["schemas"]["Kpis"]["properties"]
    assert {"revenue", "orders", "average_order_value"} <= set(kpis)
    assert "/" not in schema["paths"]  # the page is not an API operation
