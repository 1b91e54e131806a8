"""Clickstream events in bronze.events add their documented weights to the interactions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from shoplake.ingest.stream_sink import EVENTS_TABLE, open_sink_table, with_stream_meta
from shoplake.ml.interactions import load_interactions
from shoplake.ml.snapshots import PinnedTables
from shoplake.ml.train import REQUIRED_TABLES
from shoplake.platform import Platform
from shoplake.streams.events import EVENTS_SCHEMA, Event, events_to_arrow
from tests.ml.conftest import build_generated, rows, scalar

START = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    return build_generated(tmp_path_factory.mktemp("ml-clicks"), scale=0.01)


def event(n: int, kind: str, customer: int | None, product: str | None) -> Event:
    carted = kind in ("add_to_cart", "remove_from_cart", "purchase")
    return Event(
        event_id=f"e{n:04d}",
        event_type=kind,
        event_time=START + dt.timedelta(seconds=n),
        session_id="s1" if customer else "anon",
        customer_number=customer,
        product_code=product,
        quantity=1 if carted else None,
        price=Decimal("10.00") if carted else None,
        device="web",
        query="ford" if kind == "search" else None,
        schema_version=1,
    )


def land(lake: Platform, events: list[Event]) -> None:
    payload = events_to_arrow(events)
    table = open_sink_table(lake.catalog, EVENTS_TABLE, EVENTS_SCHEMA)
    n = payload.num_rows
    table.append(with_stream_meta(payload, [0] * n, [str(i) for i in range(n)], START))


def test_views_and_carts_add_weight_anonymous_searches_and_purchases_do_not(
    lake: Platform,
) -> None:
    customer = 103
    bought = rows(
        lake,
        f"SELECT product_code, weight FROM gold.interactions WHERE customer_number = {customer} "
        "ORDER BY product_code LIMIT 1",
    )[0]
    fresh = [
        r["product_code"]
        for r in rows(
            lake,
            "SELECT product_code FROM gold.dim_products WHERE product_code NOT IN (SELECT "
            f"product_code FROM gold.interactions WHERE customer_number = {customer}) "
            "ORDER BY 1 LIMIT 4",
        )
    ]
    viewed, removed, purchased, searched = fresh
    kinds = (
        # bought before: 3 views + add + remove = 0.3 + 0.5 - 0.3 = +0.5
        [("page_view", customer, bought["product_code"])] * 3
        + [("add_to_cart", customer, bought["product_code"])]
        + [("remove_from_cart", customer, bought["product_code"])]
        # 20 views = 2.0, capped at 1.0
        + [("page_view", customer, viewed)] * 20
        # a lone removal clips to 0: no pair
        + [("remove_from_cart", customer, removed)]
        # purchases count through the source's orders, searches not at all
        + [("purchase", customer, purchased), ("search", customer, searched)]
        # anonymous visitors are skipped
        + [("page_view", None, removed)] * 5
    )
    land(lake, [event(n, kind, who, code) for n, (kind, who, code) in enumerate(kinds)])

    pinned = PinnedTables.pin(lake.catalog, REQUIRED_TABLES, [EVENTS_TABLE])
    assert set(pinned.snapshot_ids) == {*REQUIRED_TABLES, EVENTS_TABLE}
    interactions, sources = load_interactions(pinned)
    assert (sources.clickstream, sources.clickstream_only) == (2, 1)
    gold_rows = scalar(lake, "SELECT count(*) FROM gold.interactions")
    assert (sources.purchases_and_ratings, len(interactions)) == (gold_rows, gold_rows + 1)
    mine = interactions.customer_number == customer
    weights = dict(zip(interactions.product_code[mine], interactions.weight[mine], strict=True))
    assert weights[bought["product_code"]] == pytest.approx(bought["weight"] + 0.5)
    assert weights[viewed] == pytest.approx(1.0)
    assert removed not in weights and purchased not in weights and searched not in weights
    at = dict(zip(interactions.product_code[mine], interactions.at[mine], strict=True))
    assert at[viewed] == START.replace(tzinfo=None) + dt.timedelta(seconds=24)

    report = lake.train()
    assert report.snapshots[EVENTS_TABLE] == pinned.snapshot_ids[EVENTS_TABLE]
    assert report.counts["clickstream_pairs"] == 2
    assert report.counts["interactions"] == gold_rows + 1
