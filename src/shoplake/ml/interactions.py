"""Implicit feedback: one weighted row per customer x product, from purchases, ratings and clicks.

``gold.interactions`` already folds purchases and ratings into one weight per pair
(``greatest(ln(1 + quantity) + coalesce(rating - 3, 0) * 0.5, 0.1)``, see its model). When the
clickstream has landed (``bronze.events``), each identified visitor's product events add

=====================  ========  =========================================================
event                  weight    why
=====================  ========  =========================================================
``page_view``          +0.1      looked at the product page
``add_to_cart``        +0.5      meant to buy it
``remove_from_cart``   -0.3      changed their mind, but an add + remove still says +0.2
``purchase``           0         web orders reach the source database and are counted there
``search``             0         a query, not a product choice
=====================  ========  =========================================================

per event, summed per pair and clipped to ``0 .. CLICK_WEIGHT_CAP`` (a customer browsing a page
fifty times has not bought it); anonymous events (``customer_number`` null) are skipped. The
weight of a pair is its ``gold.interactions`` weight plus its click weight; its time is the later
of the two. Pairs whose weight comes out 0 are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from shoplake.ml.snapshots import PinnedTables

INTERACTIONS_TABLE: Final = "gold.interactions"
EVENTS_TABLE: Final = "bronze.events"
EVENT_WEIGHTS: Final[dict[str, float]] = {
    "page_view": 0.1,
    "add_to_cart": 0.5,
    "remove_from_cart": -0.3,
}
CLICK_WEIGHT_CAP: Final = 1.0


@dataclass(frozen=True)
class Interactions:
    """Parallel arrays, one entry per (customer, product) pair."""

    customer_number: np.ndarray  # int64
    product_code: np.ndarray  # str
    weight: np.ndarray  # float64
    at: np.ndarray  # datetime64[us], naive UTC

    def __len__(self) -> int:
        return len(self.customer_number)

    def take(self, selection: np.ndarray) -> Interactions:
        """The entries picked by a boolean mask or an index array."""
        return Interactions(
            self.customer_number[selection],
            self.product_code[selection],
            self.weight[selection],
            self.at[selection],
        )

    @classmethod
    def from_arrow(cls, table: pa.Table) -> Interactions:
        """From columns customer_number, product_code, weight, last_interaction_at."""
        import pyarrow as pa

        at = table["last_interaction_at"]
        if isinstance(at.type, pa.TimestampType) and at.type.tz is not None:
            at = at.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))
        return cls(
            np.asarray(table["customer_number"].to_numpy(zero_copy_only=False), dtype=np.int64),
            np.asarray(table["product_code"].to_pylist(), dtype=str),
            np.asarray(table["weight"].to_numpy(zero_copy_only=False), dtype=np.float64),
            np.asarray(
                at.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False), dtype="datetime64[us]"
            ),
        )


@dataclass(frozen=True)
class InteractionSources:
    """How many pairs each source contributed."""

    purchases_and_ratings: int
    clickstream: int
    clickstream_only: int


def load_interactions(pinned: PinnedTables) -> tuple[Interactions, InteractionSources]:
    """Every pair's combined weight and time, in (customer_number, product_code) order.

    Reads ``gold.interactions`` and, when it is pinned, ``bronze.events`` — each at its pinned
    snapshot (``pinned.snapshot_ids`` holds the ids used).
    """
    import pyarrow as pa

    gold = pinned.read(
        INTERACTIONS_TABLE, ("customer_number", "product_code", "weight", "last_interaction_at")
    )
    gold = gold.set_column(0, "customer_number", gold["customer_number"].cast(pa.int64()))
    clicks = click_weights(pinned) if pinned.has(EVENTS_TABLE) else None
    combined = gold if clicks is None else combine(gold, clicks)
    combined = combined.filter(combined["weight"].to_numpy() > 0)
    combined = combined.sort_by([("customer_number", "ascending"), ("product_code", "ascending")])
    sources = InteractionSources(
        purchases_and_ratings=gold.num_rows,
        clickstream=0 if clicks is None else clicks.num_rows,
        clickstream_only=combined.num_rows - gold.num_rows,
    )
    return Interactions.from_arrow(combined), sources


def click_weights(pinned: PinnedTables) -> pa.Table:
    """Per identified (customer, product) pair: clipped sum of event weights, last event time.

    Pairs whose clipped weight is 0 are left out.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    kinds = ", ".join(f"'{kind}'" for kind in EVENT_WEIGHTS)
    events = pinned.read(
        EVENTS_TABLE,
        ("event_type", "event_time", "customer_number", "product_code"),
        row_filter="customer_number IS NOT NULL AND product_code IS NOT NULL "
        f"AND event_type IN ({kinds})",
    )
    types = events["event_type"].to_pylist()
    weights = pa.array([EVENT_WEIGHTS[t] for t in types], pa.float64())
    naive = events["event_time"].cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))
    table = pa.table(
        {
            "customer_number": events["customer_number"].cast(pa.int64()),
            "product_code": events["product_code"],
            "weight": weights,
            "last_interaction_at": naive,
        }
    )
    grouped = table.group_by(["customer_number", "product_code"]).aggregate(
        [("weight", "sum"), ("last_interaction_at", "max")]
    )
    clipped = pc.min_element_wise(pc.max_element_wise(grouped["weight_sum"], 0.0), CLICK_WEIGHT_CAP)
    pairs = pa.table(
        {
            "customer_number": grouped["customer_number"],
            "product_code": grouped["product_code"],
            "weight": clipped,
            "last_interaction_at": grouped["last_interaction_at_max"],
        }
    )
    return pairs.filter(pc.greater(clipped, 0.0))


def combine(gold: pa.Table, clicks: pa.Table) -> pa.Table:
    """Full outer join on the pair: weights added, the later time kept."""
    import pyarrow as pa
    import pyarrow.compute as pc

    joined = gold.join(
        clicks,
        keys=["customer_number", "product_code"],
        join_type="full outer",
        left_suffix="_gold",
        right_suffix="_clicks",
        coalesce_keys=True,
    )
    weight = pc.add(
        pc.fill_null(joined["weight_gold"], 0.0), pc.fill_null(joined["weight_clicks"], 0.0)
    )
    at = pc.max_element_wise(
        joined["last_interaction_at_gold"].cast(pa.timestamp("us")),
        joined["last_interaction_at_clicks"],
        skip_nulls=True,
    )
    return pa.table(
        {
            "customer_number": joined["customer_number"],
            "product_code": joined["product_code"],
            "weight": weight,
            "last_interaction_at": at,
        }
    )
