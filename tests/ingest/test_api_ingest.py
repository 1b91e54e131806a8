"""`shoplake ingest api` against the real local supplier API (uvicorn in a subprocess), seeded
from the real ClassicModels products, with faults injected by the server itself."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from shoplake import services
from shoplake.config import child_environment, load_settings
from shoplake.ingest.api.records import PRODUCTS, REVIEWS, parse_timestamp
from shoplake.platform import Platform
from shoplake.services import free_port
from shoplake.supplier.store import SupplierStore, store_path
from tests.support.supplier import running_supplier_api

#: Client settings that retry fast: the faults below must never exhaust the attempts.
PATIENT_CLIENT = {
    "supplier.page_size": 5,
    "supplier.backoff_seconds": 0.02,
    "supplier.max_backoff_seconds": 0.3,
    "supplier.max_attempts": 12,
}
FAULTS = {"error_rate": 0.1, "drop_rate": 0.08, "malformed_rate": 0.05, "seed": 3}


@pytest.fixture(scope="module")
def classicmodels_source(
    tmp_path_factory: pytest.TempPathFactory, classicmodels_dump: Path
) -> Path:
    """A data dir holding only the ClassicModels source database."""
    directory = tmp_path_factory.mktemp("cm-source")
    Platform(data_dir=directory).load_classicmodels(classicmodels_dump)
    return directory


def _shop(source: Path, data_dir: Path, **overrides: Any) -> Platform:
    data_dir.mkdir(parents=True)
    shutil.copy(source / "source.db", data_dir / "source.db")
    settings = load_settings(data_dir=data_dir, **{"supplier.port": free_port(), **overrides})
    return Platform(settings=settings)


def _bronze(shop: Platform, table: str) -> list[dict[str, Any]]:
    return shop.catalog.load_table(f"bronze.{table}").scan().to_arrow().to_pylist()


def _expected(shop: Platform) -> tuple[dict[str, set[tuple[Any, ...]]], set[tuple[str, str]]]:
    """What a correct client lands from the store (key, updated_at, main value), and the
    (resource, id) pairs it must dead-letter — computed from the store, not the client."""
    store = SupplierStore(store_path(shop.settings.data_dir))
    bad_products = store.malformed_ids("products")
    bad_reviews = store.malformed_ids("reviews")
    products = {
        (r["sku"], parse_timestamp(r["updated_at"]), Decimal(r["unit_price"]))
        for r in store.records("products")
        if r["sku"] not in bad_products
    }
    skus = {sku for sku, _, _ in products}
    reviews = {
        (r["review_id"], parse_timestamp(r["updated_at"]), r["rating"])
        for r in store.records("reviews")
        if r["review_id"] not in bad_reviews and r.get("sku") in skus
    }
    orphans = {
        r["review_id"]
        for r in store.records("reviews")
        if r["review_id"] not in bad_reviews and r.get("sku") not in skus
    }
    dead = {("products", i) for i in bad_products} | {("reviews", i) for i in bad_reviews | orphans}
    return {"products": products, "reviews": reviews}, dead


def _landed(shop: Platform) -> dict[str, list[tuple[Any, ...]]]:
    products = [(r["sku"], r["updated_at"], r["unit_price"]) for r in _bronze(shop, PRODUCTS.table)]
    reviews = [(r["review_id"], r["updated_at"], r["rating"]) for r in _bronze(shop, REVIEWS.table)]
    return {"products": products, "reviews": reviews}


def _dead(shop: Platform) -> list[tuple[str, str]]:
    return [(r["resource"], r["record_id"]) for r in _bronze(shop, "supplier_dead_letters")]


def _snapshots(shop: Platform) -> dict[str, int | None]:
    tables = ("supplier_products", "supplier_reviews", "supplier_dead_letters")
    return {t: shop.catalog.load_table(f"bronze.{t}").metadata.current_snapshot_id for t in tables}


def test_faults_end_with_exactly_the_apis_records_once_and_a_rerun_adds_nothing(
    classicmodels_source: Path, tmp_path: Path
) -> None:
    shop = _shop(
        classicmodels_source,
        tmp_path / "shop",
        **PATIENT_CLIENT,
        **{
            "supplier.faults": FAULTS,
            "supplier.token_ttl_seconds": 1.0,  # expires several times during the run
            "supplier.rate_limit_per_second": 40.0,
            "supplier.rate_limit_burst": 4,  # 429 bursts
        },
    )
    with running_supplier_api(shop.settings):
        report = shop.ingest_api()
        assert report.ok, [r.error for r in report.results]
        # Every kind of fault happened and was survived.
        assert set(report.retries) >= {
            "server errors",
            "rate limited",
            "connection errors",
            "malformed pages",
            "token expired",
        }, report.retries
        assert report.token_fetches >= 2

        expected, dead = _expected(shop)
        landed = _landed(shop)
        for resource in ("products", "reviews"):
            rows = landed[resource]
            assert len(rows) == len(set(rows)), f"{resource} landed a record twice"
            assert set(rows) == expected[resource]
        assert len(expected["products"]) == 109  # 110 ClassicModels products, one malformed
        assert sorted(_dead(shop)) == sorted(dead)

        before = _snapshots(shop)
        again = shop.ingest_api()
        assert again.ok
        assert [r.status for r in again.results] == ["unchanged", "unchanged"]
        assert sum(r.inserts + r.updates + r.dead_letters for r in again.results) == 0
        assert _snapshots(shop) == before


def test_incremental_run_lands_exactly_the_changed_records(
    classicmodels_source: Path, tmp_path: Path
) -> None:
    shop = _shop(classicmodels_source, tmp_path / "shop", **{"supplier.page_size": 50})
    with running_supplier_api(shop.settings):
        first = shop.ingest_api()
        assert first.ok
        table = shop.catalog.load_table("bronze.supplier_products")
        snapshot = table.current_snapshot()
        assert snapshot is not None and snapshot.summary is not None
        summary = snapshot.summary
        newest = max(parse_timestamp(r["updated_at"]) for r in _store(shop).records("products"))
        assert summary["shoplake.watermark"] == newest.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert summary["shoplake.strategy"] == "api"

        changes = _store(shop).apply_changes(25, seed=11)
        assert sum(changes.values()) == 25
        landed_before = _landed(shop)
        second = shop.ingest_api()
        assert second.ok
        expected, _ = _expected(shop)
        landed = _landed(shop)
        for resource in ("products", "reviews"):
            new_rows = Counter(landed[resource]) - Counter(landed_before[resource])
            changed = expected[resource] - set(landed_before[resource])
            assert set(new_rows) == changed and all(n == 1 for n in new_rows.values())
        fetched = sum(r.fetched for r in second.results)
        assert fetched < 40  # only the changed records (and the watermark's own) were read
        products = next(r for r in second.results if r.resource == "products")
        assert products.updated_since == summary["shoplake.watermark"]


def _store(shop: Platform) -> SupplierStore:
    return SupplierStore(store_path(shop.settings.data_dir))


def test_supplier_data_joins_the_product_dimension(
    classicmodels_source: Path, tmp_path: Path
) -> None:
    shop = _shop(classicmodels_source, tmp_path / "shop")
    assert shop.ingest().ok
    with running_supplier_api(shop.settings):
        assert shop.ingest_api().ok
    report = shop.transform()
    statuses = {r.model: (r.status, r.error) for r in report.results}
    for model in ("silver.supplier_products", "silver.supplier_reviews", "gold.product_supplier"):
        assert statuses[model][0] == "published", statuses[model]
    expected, _ = _expected(shop)
    rows = shop.query("SELECT * FROM gold.product_supplier").table.to_pylist()
    assert len(rows) == len(expected["products"]) == 109
    ratings: dict[str, list[int]] = {}
    for review in _store(shop).records("reviews"):
        landed = (review["review_id"], parse_timestamp(review["updated_at"]), review["rating"])
        if landed in expected["reviews"]:
            ratings.setdefault(review["sku"], []).append(review["rating"])
    for row in rows:
        mine = ratings.get(row["supplier_sku"], [])
        assert row["reviews"] == len(mine)
        if mine:
            assert row["avg_rating"] == pytest.approx(sum(mine) / len(mine))
    supplier_checks = [c for c in report.checks if "supplier" in c.model]
    assert supplier_checks and all(c.status == "pass" for c in supplier_checks), [
        (c.model, c.check, c.message) for c in supplier_checks if c.status != "pass"
    ]


def _as_client(shop: Platform, client_id: str, secret: str) -> Platform:
    """The same platform, talking to the supplier API as another OAuth2 client."""
    supplier = shop.settings.supplier.model_copy(
        update={"client_id": client_id, "client_secret": SecretStr(secret)}
    )
    return Platform(settings=shop.settings.model_copy(update={"supplier": supplier}))


def test_wrong_secret_fails_in_one_line_and_writes_nothing(
    classicmodels_source: Path, tmp_path: Path
) -> None:
    shop = _shop(classicmodels_source, tmp_path / "shop")
    with running_supplier_api(shop.settings):
        report = _as_client(shop, "shoplake", "not-the-secret").ingest_api()
    assert not report.ok
    products, reviews = report.results
    assert products.status == "failed"
    assert products.error is not None
    assert "refused client 'shoplake': invalid_client: unknown client or wrong secret" in (
        products.error
    )
    assert "supplier.client_secret" in products.error
    assert (reviews.status, reviews.error) == ("skipped", "skipped: products failed")
    assert _bronze(shop, PRODUCTS.table) == []


def test_missing_scope_names_the_scope(classicmodels_source: Path, tmp_path: Path) -> None:
    shop = _shop(
        classicmodels_source,
        tmp_path / "shop",
        **{"supplier.clients": {"reviews-only": {"secret": "s3", "scopes": ["reviews:read"]}}},
    )
    with running_supplier_api(shop.settings):
        report = _as_client(shop, "reviews-only", "s3").ingest_api(["products"])
    (products,) = report.results
    assert products.status == "failed"
    assert products.error is not None
    assert "client 'reviews-only' needs scope catalog:read" in products.error


def test_unreachable_api_gives_up_after_max_attempts(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    overrides: dict[str, Any] = {
        "supplier.port": port,
        "supplier.max_attempts": 3,
        "supplier.backoff_seconds": 0.0,
    }
    shop = Platform(data_dir=tmp_path, **overrides)
    report = shop.ingest_api(["products"])
    (products,) = report.results
    assert products.status == "failed"
    assert products.error is not None
    assert f"supplier API http://127.0.0.1:{port}: POST /oauth/token failed 3 times" in (
        products.error
    )
    assert "connection failed" in products.error
    assert report.retries == {"connection errors": 2}


def test_an_unreachable_api_url_carrying_secrets_is_named_redacted(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"http://acme:pa%2Fss9Secret@127.0.0.1:{port}/v?api_key=k3ySecret"
    overrides = {"supplier.url": url, "supplier.max_attempts": 1}
    (products,) = Platform(data_dir=tmp_path, **overrides).ingest_api(["products"]).results
    assert products.status == "failed" and products.error is not None
    assert products.error.startswith(
        f"supplier API http://acme:***@127.0.0.1:{port}/v?api_key=***: POST /oauth/token failed"
    )
    assert "Secret" not in products.error


def test_an_unparsable_api_url_is_one_line_without_its_secret(tmp_path: Path) -> None:
    from shoplake.ingest.api.client import SupplierApiError

    url = "http://acme:pa/ss9Secret@127.0.0.1:1/v"  # "/" in the password ends the host
    with pytest.raises(SupplierApiError) as caught:
        Platform(data_dir=tmp_path, **{"supplier.url": url}).ingest_api(["products"])
    assert str(caught.value) == (
        "invalid supplier.url 'http://acme:***@127.0.0.1:1/v': not a URL; percent-encode '/', "
        "'@' and ':' in its user name and password"
    )


def test_watermark_parsing_keeps_utc() -> None:
    assert parse_timestamp("2026-05-01T12:00:00.123456Z") == dt.datetime(
        2026, 5, 1, 12, 0, 0, 123456, tzinfo=dt.UTC
    )


def test_a_second_concurrent_run_is_refused_in_one_line(tmp_path: Path) -> None:
    from shoplake.errors import IngestError
    from shoplake.ingest.api.load import LOCK_NAME
    from shoplake.ingest.locks import table_lock

    shop = Platform(data_dir=tmp_path)
    with table_lock(shop.settings.locks_dir, LOCK_NAME), pytest.raises(IngestError) as error:
        shop.ingest_api()
    assert str(error.value).startswith("bronze.supplier_api: another ingest holds ")
    assert str(error.value).endswith(f"(pid {os.getpid()})")


def test_a_run_killed_mid_way_resumes_and_lands_each_record_once(
    classicmodels_source: Path, tmp_path: Path
) -> None:
    shop = _shop(
        classicmodels_source,
        tmp_path / "shop",
        **{
            "supplier.page_size": 2,
            "supplier.checkpoint_pages": 3,
            "supplier.faults": {"latency_ms": 25.0},
        },
    )
    with running_supplier_api(shop.settings):
        command = [sys.executable, "-m", "shoplake.cli", "--data-dir", str(shop.settings.data_dir)]
        child = subprocess.Popen(
            [*command, "ingest", "api", "--no-progress"],
            env=child_environment(shop.settings),
            preexec_fn=services.child_setup,  # noqa: PLW1509 - default signal handling
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while _committed_reviews(shop) == 0 and child.poll() is None:
                assert time.monotonic() < deadline, "the child never committed a checkpoint"
                time.sleep(0.05)
            assert child.poll() is None, "the child finished before it could be killed"
            child.kill()  # SIGKILL, between or during checkpoints
        finally:
            child.wait()
        partial = _committed_reviews(shop)
        expected, dead = _expected(shop)
        assert 0 < partial < len(expected["reviews"])
        resumed = shop.ingest_api()
        assert resumed.ok, [r.error for r in resumed.results]
    landed = _landed(shop)
    for resource in ("products", "reviews"):
        assert sorted(landed[resource]) == sorted(expected[resource])
    assert sorted(_dead(shop)) == sorted(dead)


def _committed_reviews(shop: Platform) -> int:
    """Rows of bronze.supplier_reviews as committed right now (0 before it exists)."""
    name = f"bronze.{REVIEWS.table}"
    if not shop.catalog.table_exists(name):
        return 0
    snapshot = shop.catalog.load_table(name).current_snapshot()
    return int(snapshot.summary["total-records"]) if snapshot and snapshot.summary else 0
