"""Combining purchase/rating weights with clickstream weights (pure Arrow, no lakehouse)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from shoplake.ml.interactions import EVENT_WEIGHTS, Interactions, combine

DAY = dt.datetime(2005, 3, 1)
LATER = dt.datetime(2026, 11, 24, 10, 0)


def pairs(*rows: tuple[int, str, float, dt.datetime]) -> pa.Table:
    customer, product, weight, at = zip(*rows, strict=True)
    return pa.table(
        {
            "customer_number": pa.array(customer, pa.int64()),
            "product_code": pa.array(product, pa.string()),
            "weight": pa.array(weight, pa.float64()),
            "last_interaction_at": pa.array(at, pa.timestamp("us")),
        }
    )


def test_documented_event_weights() -> None:
    assert EVENT_WEIGHTS == {"page_view": 0.1, "add_to_cart": 0.5, "remove_from_cart": -0.3}


def test_weights_add_up_and_the_later_time_wins() -> None:
    gold = pairs((103, "S10_1", 2.0, DAY), (103, "S10_2", 1.0, DAY))
    clicks = pairs((103, "S10_1", 0.5, LATER), (104, "S10_3", 0.1, LATER))
    order = [("customer_number", "ascending"), ("product_code", "ascending")]
    result = Interactions.from_arrow(combine(gold, clicks).sort_by(order))
    assert result.customer_number.tolist() == [103, 103, 104]
    assert result.product_code.tolist() == ["S10_1", "S10_2", "S10_3"]
    assert result.weight.tolist() == pytest.approx([2.5, 1.0, 0.1])
    assert result.at.astype(dt.datetime).tolist() == [LATER, DAY, LATER]
