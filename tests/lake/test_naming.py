"""The "not found" lines of table and model names: a close match, or a short listing."""

from __future__ import annotations

from shoplake.lake.naming import bare_table, closest, or_list, qualified_candidates, unknown_table

KNOWN = [
    "audit.contract_results",
    "bronze.orders",
    "bronze.orderdetails",
    "gold.fact_orders",
    "gold.orders_by_day",
    "silver.orders",
]


def test_the_closest_name_or_none() -> None:
    assert closest("gold.fact_order", KNOWN) == "gold.fact_orders"
    assert closest("gold.customers", KNOWN) is None


def test_an_unknown_table_lists_its_layer_when_nothing_is_close() -> None:
    assert unknown_table("gold.fact_ordr", KNOWN).endswith("did you mean gold.fact_orders?")
    assert unknown_table("gold.customers", KNOWN) == (
        "no lakehouse table 'gold.customers' (tables: gold.fact_orders, gold.orders_by_day)"
    )
    assert unknown_table("ml.model", KNOWN) == (
        f"no lakehouse table 'ml.model' (tables: {', '.join(sorted(KNOWN))})"
    )
    assert unknown_table("silver.orders", []) == (
        "no lakehouse table 'silver.orders' (tables: none yet — run `shoplake ingest`)"
    )


def test_a_bare_name_is_offered_silver_first() -> None:
    assert qualified_candidates("orders", KNOWN) == ["silver.orders", "bronze.orders"]
    assert qualified_candidates("ordrs", KNOWN) == ["silver.orders", "bronze.orders"]
    assert qualified_candidates("customers", KNOWN) == []
    assert or_list(["a"]) == "a" and or_list(["a", "b", "c"]) == "a, b or c"
    assert bare_table("customers", KNOWN) == (
        "no table 'customers': tables are named layer.table, e.g. silver.orders"
    )
    assert bare_table("orders", []) == (
        "no table 'orders': tables are named layer.table (tables: none yet — run `shoplake ingest`)"
    )


def test_layer_and_table_are_matched_apart() -> None:
    # "silver.nothing" and "silver.ratings" share their layer, not their table.
    assert unknown_table("silver.nothing", ["silver.ratings"]) == (
        "no lakehouse table 'silver.nothing' (tables: silver.ratings)"
    )
    assert unknown_table("silvr.orders", KNOWN).endswith("did you mean silver.orders?")
    assert unknown_table("gold.orderdetails", KNOWN).endswith("did you mean bronze.orderdetails?")
