"""The supplier store in process: seeding, planted malformed records, changes, cursors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from shoplake.platform import Platform
from shoplake.supplier.paging import InvalidRequestError, PageQuery, decode_cursor, encode_cursor
from shoplake.supplier.records import review_malformation
from shoplake.supplier.store import CHANGE_KINDS, SupplierStore, SupplierStoreError
from tests.support.streams import generate_source


@pytest.fixture(scope="module")
def source_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{generate_source(tmp_path_factory.mktemp('store-source')) / 'source.db'}"


@pytest.fixture
def store(source_url: str, tmp_path: Path) -> SupplierStore:
    store = SupplierStore(tmp_path / "supplier" / "supplier.db")
    store.seed_from_source(source_url)
    return store


def test_seed_is_reproducible(source_url: str, store: SupplierStore, tmp_path: Path) -> None:
    twin = SupplierStore(tmp_path / "twin.db")
    counts = twin.seed_from_source(source_url)
    for resource in ("products", "reviews"):
        assert twin.records(resource) == store.records(resource)
        assert len(store.records(resource)) == counts[resource]
    other = SupplierStore(tmp_path / "other.db")
    other.seed_from_source(source_url, seed=1)
    assert other.records("reviews") != store.records("reviews")
    assert (store.path.parent / "supplier.db").exists()


def test_seed_spreads_updated_at_over_90_days(store: SupplierStore) -> None:
    stamps = sorted(r["updated_at"] for r in store.records("products"))
    assert stamps[0][:10] >= "2026-01-31" and stamps[-1] <= "2026-05-01T00:00:00.000000Z"
    counts = store.counts()
    assert 2.5 <= counts["reviews"] / counts["products"] <= 3.5


def test_planted_malformed_records(store: SupplierStore) -> None:
    reviews = {r["review_id"]: r for r in store.records("reviews")}
    planted = store.malformed_ids("reviews")
    assert planted == {rid for rid in reviews if review_malformation(int(rid[1:]))}
    assert len(planted) == len(reviews) // 40
    assert [review_malformation(n) for n in (40, 80, 120, 160, 200)] == [
        "rating_zero",
        "rating_string",
        "sku_missing",
        "sku_unknown",
        "rating_zero",
    ]
    assert reviews["R000040"]["rating"] == 0
    assert reviews["R000080"]["rating"] == "five"
    assert "sku" not in reviews["R000120"]
    skus = {p["sku"] for p in store.records("products")}
    assert reviews["R000160"]["sku"] not in skus
    [bad] = store.malformed_ids("products")
    assert [p["sku"] for p in store.records("products") if p["unit_price"] == "N/A"] == [bad]


def _changed(store: SupplierStore, before: dict[str, dict[str, Any]]) -> dict[str, list[Any]]:
    """The records of each resource that differ from (or are new since) ``before``."""
    keys = {"products": "sku", "reviews": "review_id"}
    return {
        res: [r for r in store.records(res) if before[res].get(r[key]) != r]
        for res, key in keys.items()
    }


def test_changes_touch_only_clean_records_with_new_increasing_stamps(
    store: SupplierStore,
) -> None:
    keys = {"products": "sku", "reviews": "review_id"}
    before = {res: {r[k]: r for r in store.records(res)} for res, k in keys.items()}
    latest = max(r["updated_at"] for res in before.values() for r in res.values())
    planted = {res: store.malformed_ids(res) for res in keys}
    counts = store.apply_changes(200, seed=3)
    assert set(counts) == set(CHANGE_KINDS) and sum(counts.values()) == 200
    assert all(counts.values())
    changed = _changed(store, before)
    stamps = [r["updated_at"] for res in changed.values() for r in res]
    assert min(stamps) > latest and len(set(stamps)) == len(stamps)
    for res, key in keys.items():
        assert not {r[key] for r in changed[res]} & planted[res]
        assert store.malformed_ids(res) >= planted[res]
    new = [r for r in changed["reviews"] if r["review_id"] not in before["reviews"]]
    assert len(new) == counts["new_reviews"]
    assert all(latest < r["created_at"] <= r["updated_at"] for r in new)
    discontinued = Counter(p["discontinued"] for p in store.records("products"))
    assert discontinued[True] >= counts["discontinued"]


def test_missing_source_is_one_line_error(tmp_path: Path) -> None:
    store = SupplierStore(tmp_path / "supplier.db")
    with pytest.raises(SupplierStoreError) as missing:
        store.seed_from_source(f"sqlite:///{tmp_path / 'source.db'}")
    message = str(missing.value)
    assert "\n" not in message
    assert "run `shoplake generate` or `shoplake sources load-classicmodels` first" in message
    assert not (tmp_path / "source.db").exists() and not store.exists()
    (tmp_path / "empty.db").touch()
    with pytest.raises(SupplierStoreError, match="cannot read products"):
        store.seed_from_source(f"sqlite:///{tmp_path / 'empty.db'}")


def test_seed_from_classicmodels(classicmodels_dump: Path, tmp_path: Path) -> None:
    shop = Platform(data_dir=tmp_path)
    shop.load_classicmodels(classicmodels_dump, None)
    store = SupplierStore(tmp_path / "supplier.db")
    assert store.seed_from_source(shop.settings.source_url)["products"] == 110
    assert store.records("products")[0]["sku"].startswith("SUP-S")
    assert len(store.malformed_ids("products")) == 1


def test_cursor_round_trip_and_refusals() -> None:
    query = PageQuery("reviews", 10, "2026-01-01T00:00:00.000000Z", None)
    last = {"review_id": "R000007", "updated_at": "2026-02-03T04:05:06.000007Z"}
    cursor = encode_cursor(query, last)
    assert decode_cursor("reviews", cursor) == (query.since, (last["updated_at"], "R000007"))
    for bad in ("", "!!!", "bnVsbA", cursor[:-3]):
        with pytest.raises(InvalidRequestError):
            decode_cursor("reviews", bad)
    with pytest.raises(InvalidRequestError, match="belongs to /v1/reviews"):
        decode_cursor("products", cursor)
