"""GET /recommendations and /products/{code}/similar answer with the lakehouse's own lists:
precomputed (from the model, or the online store once it runs), live for an active session,
and the most popular products for a customer the model does not know."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shoplake.ml.realtime import CUSTOMER_RECS_PREFIX, RECS_PREFIX
from shoplake.platform import Platform
from shoplake.serve.app import create_app
from shoplake.serve.auth import create_key
from shoplake.streams.events import encode, page_view
from shoplake.streams.online import redis_client
from tests.serve.conftest import auth, rows

CUSTOMER, OTHER, UNKNOWN = 103, 112, 999_999


def gold_list(shop: Platform, customer: int) -> list[dict[str, Any]]:
    return rows(
        shop,
        "SELECT product_code, score, model_version FROM gold.recommendations "
        f"WHERE customer_number = {customer} ORDER BY rank",
    )


def get(client: TestClient, keys: dict[str, str], path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params, headers=auth(keys, "app"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [item["product_code"] for item in body["items"]]


def test_precomputed_equals_gold_recommendations(
    client: TestClient, api_keys: dict[str, str], lakehouse: Platform
) -> None:
    expected = gold_list(lakehouse, CUSTOMER)
    body = get(client, api_keys, f"/recommendations/{CUSTOMER}")
    assert body["source"] == "precomputed"
    assert body["customer_number"] == CUSTOMER
    assert body["model_version"] == expected[0]["model_version"] == lakehouse.model().version
    assert codes(body) == [r["product_code"] for r in expected]
    assert [i["score"] for i in body["items"]] == pytest.approx([r["score"] for r in expected])
    names = {r["product_code"]: r for r in rows(lakehouse, "SELECT * FROM silver.products")}
    for item in body["items"]:
        product = names[item["product_code"]]
        assert (item["product_name"], item["product_line"]) == (
            product["product_name"],
            product["product_line"],
        )
    short = get(client, api_keys, f"/recommendations/{CUSTOMER}", limit=3)
    assert codes(short) == codes(body)[:3]


def test_an_unknown_customer_gets_the_most_popular_products(
    client: TestClient, api_keys: dict[str, str], lakehouse: Platform
) -> None:
    popular = rows(
        lakehouse,
        "SELECT product_code, count(DISTINCT customer_number) AS buyers FROM gold.interactions "
        "GROUP BY product_code ORDER BY buyers DESC, product_code LIMIT 5",
    )
    body = get(client, api_keys, f"/recommendations/{UNKNOWN}", limit=5)
    assert body["source"] == "cold_start"
    assert codes(body) == [r["product_code"] for r in popular]
    assert [i["score"] for i in body["items"]] == [float(r["buyers"]) for r in popular]


def test_bad_parameters_are_422(client: TestClient, api_keys: dict[str, str]) -> None:
    for path in (
        "/recommendations/abc",
        "/recommendations/-1",
        "/recommendations/1?limit=0",
        "/recommendations/1?limit=101",
        f"/recommendations/1?session_id={'x' * 129}",
        f"/recommendations/{2**63}",
    ):
        assert client.get(path, headers=auth(api_keys, "app")).status_code == 422, path  # fmt: skip
    problem = client.get("/recommendations/abc", headers=auth(api_keys, "app")).json()
    assert problem["detail"][0]["loc"] == ["path", "customer_number"]
    assert problem["detail"][0]["input"] == "abc"


def test_similar_products_match_the_platform(
    client: TestClient, api_keys: dict[str, str], lakehouse: Platform
) -> None:
    code = gold_list(lakehouse, CUSTOMER)[0]["product_code"]
    expected = lakehouse.similar(code, 5)
    body = get(client, api_keys, f"/products/{code}/similar", limit=5)
    assert body["product_code"] == code
    assert codes(body) == [p.product_code for p in expected]
    assert [i["score"] for i in body["items"]] == pytest.approx([p.score for p in expected])
    missing = client.get("/products/NOPE/similar", headers=auth(api_keys, "app"))
    assert missing.status_code == 404
    assert missing.json()["detail"].startswith("product 'NOPE' is unknown to model")


def test_without_a_promoted_model_recommendations_are_503(tmp_path: Any) -> None:
    empty = Platform(data_dir=tmp_path / "empty")
    key = create_key(empty.settings, "app")[1]
    with TestClient(create_app(empty.settings)) as bare:
        response = bare.get("/recommendations/1", headers={"X-API-Key": key})
        assert response.status_code == 503
        assert response.json() == {"detail": "no promoted model yet: run `shoplake train`"}
        health = bare.get("/health").json()
    assert health["status"] == "degraded"
    assert health["backends"]["model"] == {
        "state": "down",
        "detail": "no promoted model: run `shoplake train`",
    }


# With the online store ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(lakehouse: Platform, online_store: str) -> Iterator[TestClient]:
    """The API with the online store up and the promoted lists pushed to it."""
    published = lakehouse.promote(lakehouse.model().version)
    assert published["online store lists"] > 0
    with TestClient(create_app(lakehouse.settings)) as test_client:
        yield test_client


def browse(shop: Platform, session: str, customer: int | None, products: list[str]) -> None:
    """Page views of ``products`` in one session, processed into the online store."""
    log = shop.event_log()
    try:
        at = dt.datetime.now(dt.UTC)
        views = [
            encode(page_view(uuid.uuid4().hex, at + dt.timedelta(seconds=i), session, p, customer))
            for i, p in enumerate(products)
        ]
        log.produce(views, [session] * len(views))
    finally:
        log.close()
    assert shop.process(until_idle=True).live_sessions == 1


@pytest.mark.integration
def test_precomputed_lists_come_from_the_online_store(
    live: TestClient, api_keys: dict[str, str], lakehouse: Platform, online_store: str
) -> None:
    store = redis_client(online_store)
    try:
        stored = json.loads(store.get(f"{CUSTOMER_RECS_PREFIX}{CUSTOMER}"))
        body = get(live, api_keys, f"/recommendations/{CUSTOMER}")
        assert body["source"] == "precomputed"
        expected = gold_list(lakehouse, CUSTOMER)
        assert codes(body) == [r["product_code"] for r in expected]
        assert [i["product_code"] for i in stored["items"]] == codes(body)
        # What the store holds is what is served: a changed list shows at once.
        store.set(
            f"{CUSTOMER_RECS_PREFIX}{CUSTOMER}",
            json.dumps(stored | {"items": stored["items"][::-1]}),
        )
        assert codes(get(live, api_keys, f"/recommendations/{CUSTOMER}")) == codes(body)[::-1]
    finally:
        store.set(f"{CUSTOMER_RECS_PREFIX}{CUSTOMER}", json.dumps(stored))
        store.close()


@pytest.mark.integration
def test_an_active_session_gets_live_recommendations(
    live: TestClient, api_keys: dict[str, str], lakehouse: Platform, online_store: str
) -> None:
    line = rows(
        lakehouse,
        "SELECT product_code FROM silver.products WHERE product_line = 'Motorcycles' "
        "ORDER BY product_code LIMIT 3",
    )
    session = "api-live-" + uuid.uuid4().hex[:8]
    browse(lakehouse, session, CUSTOMER, [r["product_code"] for r in line])
    store = redis_client(online_store)
    try:
        document = json.loads(store.get(RECS_PREFIX + session))
    finally:
        store.close()
    assert document["customer_number"] == CUSTOMER

    body = get(live, api_keys, f"/recommendations/{CUSTOMER}", session_id=session)
    assert body["source"] == "live"
    assert codes(body) == [i["product_code"] for i in document["recommended_items"]]
    assert codes(body) != [r["product_code"] for r in gold_list(lakehouse, CUSTOMER)]

    # Another customer in the same session, or a longer list: scored live for that request.
    for customer, limit in ((OTHER, 10), (CUSTOMER, 20)):
        expected = lakehouse.recommend(customer, limit, session_id=session)
        assert expected.strategy == "live session"
        answer = get(
            live, api_keys, f"/recommendations/{customer}", session_id=session, limit=limit
        )
        assert answer["source"] == "live"
        assert codes(answer) == [p.product_code for p in expected.items]

    unknown = get(live, api_keys, f"/recommendations/{CUSTOMER}", session_id="never-seen")
    assert unknown["source"] == "precomputed"
