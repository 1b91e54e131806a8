"""The four workloads in Polars' lazy API: ``scan_parquet`` → joins, windows → ``collect``."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from shoplake.bench.engines.common import CANCELLED, FACT_COLUMNS, SESSION_GAP_MINUTES, md5_key

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa


def fact_orders(inputs: dict[str, str]) -> pa.Table:
    """Order-line fact with product and date keys (no SCD2 customer lookup)."""
    return _order_lines(inputs).select(FACT_COLUMNS).collect().to_arrow()


def monthly_revenue(inputs: dict[str, str]) -> pa.Table:
    """Revenue, orders, lines, units and profit by month x product line x country."""
    import polars as pl

    customers = _scan(inputs["customers"]).select("customer_number", "country")
    result = (
        _order_lines(inputs)
        .filter(pl.col("product_key").is_not_null())
        .join(customers, on="customer_number", how="inner")
        .group_by(pl.col("order_date").dt.truncate("1mo").alias("month"), "product_line", "country")
        .agg(
            revenue=pl.col("order_amount").sum(),
            orders=pl.col("order_number").n_unique(),
            order_lines=pl.len(),
            units=pl.col("quantity_ordered").sum(),
            profit=pl.col("profit").sum(),
        )
    )
    return result.collect().to_arrow()


def sessionize(inputs: dict[str, str]) -> pa.Table:
    """Clickstream sessions: a session_id's events split at gaps over 30 minutes."""
    import polars as pl

    time, kind, product = pl.col("event_time"), pl.col("event_type"), pl.col("product_code")
    gap = time.diff().over("session_id")
    starts = gap.is_null() | (gap > timedelta(minutes=SESSION_GAP_MINUTES))

    def distinct(event_type: str) -> pl.Expr:
        return product.filter(kind == event_type).drop_nulls().n_unique().cast(pl.Int32)

    sessions = (
        _scan(inputs["events"])
        .sort("_position")
        .unique("event_id", keep="first", maintain_order=True)
        .with_columns(is_late=(time < time.cum_max().shift(1).over("session_id")).fill_null(False))
        .sort("session_id", "event_time", "event_id")
        .with_columns(session_index=starts.cast(pl.Int32).cum_sum().over("session_id"))
        .group_by("session_id", "session_index")
        .agg(
            customer_number=pl.col("customer_number").max(),
            device=pl.col("device").min(),
            started_at=time.min(),
            ended_at=time.max(),
            events=pl.len(),
            pages=(kind == "page_view").sum(),
            products_viewed=distinct("page_view"),
            products_added=distinct("add_to_cart"),
            products_purchased=distinct("purchase"),
            converted=(kind == "purchase").any(),
            late_events=pl.col("is_late").sum(),
        )
        .with_columns(
            duration_seconds=(pl.col("ended_at") - pl.col("started_at")).dt.total_microseconds()
            / 1e6
        )
    )
    return sessions.collect().to_arrow()


def interaction_matrix(inputs: dict[str, str]) -> pa.Table:
    """Customer x product implicit-feedback weights from purchases and ratings."""
    import polars as pl

    orders = _scan(inputs["orders"]).filter(pl.col("status") != CANCELLED)
    purchases = (
        _scan(inputs["orderdetails"])
        .join(orders, on="order_number", how="inner")
        .group_by("customer_number", "product_code")
        .agg(
            purchases=pl.len(),
            quantity=pl.col("quantity_ordered").sum(),
            last_purchase_at=pl.col("order_date").max().cast(pl.Datetime("us")),
        )
    )
    ratings = _scan(inputs["ratings"]).select(
        "customer_number", "product_code", rating="product_rating", rated_at="rated_at"
    )
    quantity = pl.col("quantity").fill_null(0)
    bonus = (pl.col("rating") - 3).fill_null(0) * 0.5
    result = purchases.join(
        ratings, on=["customer_number", "product_code"], how="full", coalesce=True
    ).select(
        "customer_number",
        "product_code",
        purchases=pl.col("purchases").fill_null(0),
        quantity=quantity,
        rating="rating",
        weight=pl.max_horizontal(quantity.log1p() + bonus, pl.lit(0.1)),
        last_interaction_at=pl.max_horizontal("last_purchase_at", "rated_at"),
    )
    return result.collect().to_arrow()


def _order_lines(inputs: dict[str, str]) -> pl.LazyFrame:
    """Order lines joined to their order and product, with the fact's derived columns."""
    import polars as pl

    products = _scan(inputs["products"]).select(
        "product_code",
        "product_line",
        "buy_price",
        "msrp",
        product_key=pl.col("product_code").map_elements(md5_key, return_dtype=pl.Int64),
    )
    quantity, price, msrp = pl.col("quantity_ordered"), pl.col("price_each"), pl.col("msrp")
    date = pl.col("order_date")
    return (
        _scan(inputs["orderdetails"])
        .join(_scan(inputs["orders"]), on="order_number", how="inner")
        .join(products, on="product_code", how="left")
        .with_columns(
            order_date_key=date.dt.strftime("%Y%m%d").cast(pl.Int32),
            order_amount=(quantity * price).round(2),
            profit=(quantity * (price - pl.col("buy_price"))).round(2),
            discount_pct=(1 - price / pl.when(msrp != 0).then(msrp)).round(4),
        )
    )


def _scan(path: str) -> pl.LazyFrame:
    """Scan a Parquet file lazily, decimals as Float64."""
    import polars as pl

    frame = pl.scan_parquet(path)
    return frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64))
