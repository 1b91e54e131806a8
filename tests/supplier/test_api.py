"""The supplier API over a real uvicorn server: pages, incremental reads, auth, scopes, limits."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from shoplake.config import Settings, load_settings
from shoplake.services import free_port
from shoplake.supplier.records import parse_iso
from shoplake.supplier.store import SupplierStore, store_path
from tests.support.streams import generate_source
from tests.support.supplier import (
    copy_source,
    fetch_all,
    fetch_pages,
    fetch_token,
    running_supplier_api,
)

IDS = {"products": "sku", "reviews": "review_id"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
EXTRA_CLIENTS = {"reviewer": {"secret": "rv-secret", "scopes": ["reviews:read"]}}


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_source(tmp_path_factory.mktemp("supplier-source"))


def _settings(data_dir: Path, **overrides: Any) -> Settings:
    return load_settings(data_dir=data_dir, **{"supplier.port": free_port(), **overrides})


@pytest.fixture(scope="module")
def api(
    source_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Settings]]:
    """A supplier API without practical rate limits, with a reviews-only client."""
    data_dir = copy_source(source_dir, tmp_path_factory.mktemp("api") / "data")
    settings = _settings(
        data_dir,
        **{
            "supplier.rate_limit_per_second": 10_000,
            "supplier.rate_limit_burst": 10_000,
            "supplier.clients": EXTRA_CLIENTS,
        },
    )
    with running_supplier_api(settings) as url:
        yield url, settings


@pytest.fixture(scope="module")
def token(api: tuple[str, Settings]) -> str:
    url, settings = api
    secret = settings.supplier.client_secret.get_secret_value()
    return fetch_token(url, settings.supplier.client_id, secret)


def _store(settings: Settings) -> SupplierStore:
    return SupplierStore(store_path(settings.data_dir))


def _keys(resource: str, records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["updated_at"], r[IDS[resource]]) for r in records]


@pytest.mark.parametrize("resource", ["products", "reviews"])
@pytest.mark.parametrize("limit", [7, 50, 1000])
def test_pages_return_every_record_once_in_order(
    api: tuple[str, Settings], token: str, resource: str, limit: int
) -> None:
    url, settings = api
    pages = list(fetch_pages(url, resource, token, limit=limit))
    served = [r for page in pages for r in page["data"]]
    expected = _store(settings).records(resource)
    assert served == expected
    assert len({r[IDS[resource]] for r in served}) == len(served)
    assert _keys(resource, served) == sorted(_keys(resource, served))
    assert all(len(p["data"]) == limit for p in pages[:-1])
    assert len(pages) == -(-len(expected) // limit)


def test_default_page_size_is_100(api: tuple[str, Settings], token: str) -> None:
    url, _ = api
    page = next(fetch_pages(url, "reviews", token))
    assert len(page["data"]) == 100
    assert isinstance(page["next_cursor"], str)


def test_record_shapes(api: tuple[str, Settings], token: str) -> None:
    url, settings = api
    products = fetch_all(url, "products", token, limit=1000)
    clean = [p for p in products if p["unit_price"] != "N/A"]
    assert set(products[0]) == {
        "sku", "product_code", "name", "vendor", "unit_price", "currency", "stock",
        "lead_time_days", "discontinued", "updated_at",
    }  # fmt: skip
    for product in clean:
        assert product["sku"] == f"SUP-{product['product_code']}"
        assert re.fullmatch(r"\d+\.\d\d", product["unit_price"])
        assert product["currency"] == "USD"
        assert isinstance(product["stock"], int) and product["stock"] >= 0
        assert isinstance(product["discontinued"], bool)
        assert TIMESTAMP.match(product["updated_at"])
    reviews = fetch_all(url, "reviews", token, limit=1000)
    malformed = _store(settings).malformed_ids("reviews")
    for review in reviews:
        assert TIMESTAMP.match(review["updated_at"]) and TIMESTAMP.match(review["created_at"])
        if review["review_id"] not in malformed:
            assert review["rating"] in range(1, 6)
            assert review["sku"] in {p["sku"] for p in products}
            assert len(review["reviewer"].split()) == 2


def test_planted_malformed_records(api: tuple[str, Settings], token: str) -> None:
    url, settings = api
    store = _store(settings)
    products = {p["sku"]: p for p in fetch_all(url, "products", token, limit=1000)}
    reviews = {r["review_id"]: r for r in fetch_all(url, "reviews", token, limit=1000)}
    bad_prices = {sku for sku, p in products.items() if p["unit_price"] == "N/A"}
    assert bad_prices == store.malformed_ids("products") and len(bad_prices) == 1

    def malformed(review: dict[str, Any]) -> str | None:
        if "sku" not in review:
            return "sku_missing"
        if review["rating"] == "five":
            return "rating_string"
        if review["rating"] == 0:
            return "rating_zero"
        return None if review["sku"] in products else "sku_unknown"

    found = {rid: kind for rid, r in reviews.items() if (kind := malformed(r))}
    assert set(found) == store.malformed_ids("reviews")
    assert set(found.values()) == {"rating_zero", "rating_string", "sku_missing", "sku_unknown"}
    assert len(reviews) // 40 - 1 <= len(found) <= len(reviews) // 40 + 1
    assert all(TIMESTAMP.match(r["updated_at"]) for r in reviews.values())


def test_updated_since_returns_exactly_the_changed_records(
    api: tuple[str, Settings], token: str
) -> None:
    url, settings = api
    store = _store(settings)
    before = {res: {r[IDS[res]]: r for r in store.records(res)} for res in IDS}
    started = datetime.now(UTC).isoformat()
    counts = store.apply_changes(40, seed=11)
    assert sum(counts.values()) == 40
    for resource, key in IDS.items():
        changed = [r for r in store.records(resource) if before[resource].get(r[key]) != r]
        served = fetch_all(url, resource, token, limit=9, updated_since=started)
        assert served == changed
        assert all(parse_iso(r["updated_at"]) >= parse_iso(started) for r in served)
    new_reviews = [r for r in changed if r["review_id"] not in before["reviews"]]
    assert len(new_reviews) == counts["new_reviews"]


def test_keyset_pages_stay_stable_while_records_change(
    api: tuple[str, Settings], token: str
) -> None:
    url, settings = api
    store = _store(settings)
    pages = fetch_pages(url, "reviews", token, limit=25)
    seen = list(next(pages)["data"]) + list(next(pages)["data"])
    store.apply_changes(60, seed=5)  # edits reviews already served and not yet served
    seen += [r for page in pages for r in page["data"]]
    final = store.records("reviews")
    versions = _keys("reviews", seen)
    assert len(set(versions)) == len(versions)  # no version served twice
    assert {r["review_id"] for r in seen} == {r["review_id"] for r in final}  # none skipped
    latest = {r["review_id"]: r for r in seen}  # the last version seen of each review
    assert sorted(latest.values(), key=lambda r: (r["updated_at"], r["review_id"])) == final


def test_wrong_secret_is_invalid_client(api: tuple[str, Settings]) -> None:
    url, _ = api
    form = {"grant_type": "client_credentials", "client_id": "shoplake", "client_secret": "nope"}
    response = httpx.post(f"{url}/oauth/token", data=form)
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "unknown client or wrong secret",
    }
    form["grant_type"] = "password"
    response = httpx.post(f"{url}/oauth/token", data=form)
    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")


def test_basic_auth_and_requested_scope(api: tuple[str, Settings]) -> None:
    url, settings = api
    auth = (settings.supplier.client_id, settings.supplier.client_secret.get_secret_value())
    form = {"grant_type": "client_credentials", "scope": "reviews:read other"}
    response = httpx.post(f"{url}/oauth/token", data=form, auth=auth)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "reviews:read"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert httpx.get(f"{url}/v1/products", headers=headers).status_code == 403


def test_client_lacking_scope_is_forbidden(api: tuple[str, Settings]) -> None:
    url, _ = api
    response = httpx.post(
        f"{url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "reviewer",
            "client_secret": "rv-secret",
        },
    )
    assert response.json()["scope"] == "reviews:read"
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    forbidden = httpx.get(f"{url}/v1/products", headers=headers)
    assert forbidden.status_code == 403
    assert forbidden.json() == {"error": "insufficient_scope", "required": "catalog:read"}
    assert httpx.get(f"{url}/v1/reviews", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("authorization", "description"),
    [
        (None, "missing bearer token"),
        ("Bearer not-a-token", "unknown token"),
        ("Basic x", "missing bearer token"),
    ],
)
def test_bad_tokens_are_refused(
    api: tuple[str, Settings], authorization: str | None, description: str
) -> None:
    url, _ = api
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.get(f"{url}/v1/reviews", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer error="invalid_token", error_description="{description}"'
    )
    assert response.json() == {"error": "invalid_token", "error_description": description}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"limit": "ten"},
        {"cursor": "garbage!"},
        {"cursor": "eyJyIjoicHJvZHVjdHMifQ"},  # {"r":"products"}: incomplete
        {"updated_since": "yesterday"},
    ],
)
def test_bad_queries_are_invalid_requests(
    api: tuple[str, Settings], token: str, params: dict[str, Any]
) -> None:
    url, _ = api
    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.get(f"{url}/v1/products", headers=headers, params=params)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"]


def test_cursor_of_another_resource_is_refused(api: tuple[str, Settings], token: str) -> None:
    url, _ = api
    cursor = next(fetch_pages(url, "reviews", token, limit=5))["next_cursor"]
    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.get(f"{url}/v1/products", headers=headers, params={"cursor": cursor})
    assert response.status_code == 400


def test_health_needs_no_token(api: tuple[str, Settings]) -> None:
    url, _ = api
    response = httpx.get(f"{url}/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.fixture(scope="module")
def strict_api(source_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Tokens live 1 s; clients may burst 5 requests, then 1 every 2 s."""
    data_dir = copy_source(source_dir, tmp_path_factory.mktemp("strict") / "data")
    settings = _settings(
        data_dir,
        **{
            "supplier.token_ttl_seconds": 1,
            "supplier.rate_limit_burst": 5,
            "supplier.rate_limit_per_second": 0.5,
            "supplier.clients": {"burst": {"secret": "b"}},
        },
    )
    with running_supplier_api(settings) as url:
        yield url


def test_expired_token_is_refused(strict_api: str) -> None:
    token = fetch_token(strict_api, "shoplake", "local-supplier-secret")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{strict_api}/v1/products", headers=headers).status_code == 200
    time.sleep(1.1)
    response = httpx.get(f"{strict_api}/v1/products", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="token expired"'
    )
    assert response.json()["error_description"] == "token expired"


def test_burst_over_the_limit_is_rate_limited(strict_api: str) -> None:
    token = fetch_token(strict_api, "burst", "b")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=strict_api, headers=headers) as client:
        statuses = [client.get("/v1/reviews", params={"limit": 1}) for _ in range(7)]
    assert [r.status_code for r in statuses] == [200] * 5 + [429] * 2
    limited = statuses[-1]
    assert limited.json() == {"error": "rate_limited"}
    assert int(limited.headers["Retry-After"]) in (1, 2)
