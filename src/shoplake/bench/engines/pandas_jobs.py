"""The four workloads in pandas: ``read_parquet``, merges, groupby (decimals as float64)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shoplake.bench.engines.common import CANCELLED, FACT_COLUMNS, SESSION_GAP_MINUTES, md5_key

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


def fact_orders(inputs: dict[str, str]) -> pa.Table:
    """Order-line fact with product and date keys (no SCD2 customer lookup)."""
    return _arrow(_order_lines(inputs)[list(FACT_COLUMNS)])


def monthly_revenue(inputs: dict[str, str]) -> pa.Table:
    """Revenue, orders, lines, units and profit by month x product line x country."""
    lines = _order_lines(inputs)
    lines = lines[lines["product_key"].notna()]
    customers = _read(inputs["customers"], ["customer_number", "country"])
    lines = lines.merge(customers, on="customer_number", how="inner")
    lines["month"] = lines["order_date"].dt.to_period("M").dt.start_time
    result = lines.groupby(["month", "product_line", "country"], as_index=False, dropna=False).agg(
        revenue=("order_amount", "sum"),
        orders=("order_number", "nunique"),
        order_lines=("order_number", "size"),
        units=("quantity_ordered", "sum"),
        profit=("profit", "sum"),
    )
    return _arrow(result)


def sessionize(inputs: dict[str, str]) -> pa.Table:
    """Clickstream sessions: a session_id's events split at gaps over 30 minutes."""
    import pandas as pd

    columns = ["event_id", "event_type", "event_time", "session_id", "customer_number"]
    events = _read(inputs["events"], [*columns, "product_code", "device", "_position"])
    events = events.sort_values("_position", kind="stable").drop_duplicates("event_id")
    by_session = events.groupby("session_id", sort=False)["event_time"]
    seen_max = by_session.cummax().groupby(events["session_id"], sort=False).shift(1)
    events["is_late"] = events["event_time"] < seen_max
    events = events.sort_values(["session_id", "event_time", "event_id"])
    gap = events.groupby("session_id", sort=False)["event_time"].diff()
    starts = gap.isna() | (gap > pd.Timedelta(minutes=SESSION_GAP_MINUTES))
    events["session_index"] = starts.astype("int64").groupby(events["session_id"]).cumsum()
    kind = events["event_type"]
    events["is_page"] = kind == "page_view"
    events["is_purchase"] = kind == "purchase"
    events["viewed"] = events["product_code"].where(events["is_page"])
    events["added"] = events["product_code"].where(kind == "add_to_cart")
    events["purchased"] = events["product_code"].where(events["is_purchase"])
    sessions = events.groupby(["session_id", "session_index"], as_index=False).agg(
        customer_number=("customer_number", "max"),
        device=("device", "min"),
        started_at=("event_time", "min"),
        ended_at=("event_time", "max"),
        events=("event_id", "size"),
        pages=("is_page", "sum"),
        products_viewed=("viewed", "nunique"),
        products_added=("added", "nunique"),
        products_purchased=("purchased", "nunique"),
        converted=("is_purchase", "any"),
        late_events=("is_late", "sum"),
    )
    sessions["customer_number"] = sessions["customer_number"].astype("Int64")
    duration = sessions["ended_at"] - sessions["started_at"]
    sessions["duration_seconds"] = duration.dt.total_seconds()
    return _arrow(sessions)


def interaction_matrix(inputs: dict[str, str]) -> pa.Table:
    """Customer x product implicit-feedback weights from purchases and ratings."""
    import numpy as np

    lines = _read(inputs["orderdetails"], ["order_number", "product_code", "quantity_ordered"])
    orders = _read(inputs["orders"], ["order_number", "customer_number", "order_date", "status"])
    orders = orders[orders["status"] != CANCELLED]
    bought = lines.merge(orders, on="order_number", how="inner")
    purchases = bought.groupby(["customer_number", "product_code"], as_index=False).agg(
        purchases=("order_number", "size"),
        quantity=("quantity_ordered", "sum"),
        last_purchase_at=("order_date", "max"),
    )
    ratings = _read(
        inputs["ratings"], ["customer_number", "product_code", "product_rating", "rated_at"]
    )
    both = purchases.merge(ratings, on=["customer_number", "product_code"], how="outer")
    both["purchases"] = both["purchases"].fillna(0).astype("int64")
    both["quantity"] = both["quantity"].fillna(0).astype("int64")
    both["rating"] = both["product_rating"].astype("Int64")
    bonus = (both["rating"] - 3).fillna(0).astype("float64") * 0.5
    both["weight"] = np.maximum(np.log1p(both["quantity"]) + bonus, 0.1)
    both["last_interaction_at"] = both[["last_purchase_at", "rated_at"]].max(axis=1)
    return _arrow(
        both[
            [
                "customer_number",
                "product_code",
                "purchases",
                "quantity",
                "rating",
                "weight",
                "last_interaction_at",
            ]
        ]
    )


def _order_lines(inputs: dict[str, str]) -> pd.DataFrame:
    """Order lines joined to their order and product, with the fact's derived columns."""
    import numpy as np

    lines = _read(
        inputs["orderdetails"],
        ["order_number", "product_code", "order_line_number", "quantity_ordered", "price_each"],
    )
    orders = _read(
        inputs["orders"],
        [
            "order_number",
            "order_date",
            "required_date",
            "shipped_date",
            "status",
            "customer_number",
        ],
    )
    products = _read(inputs["products"], ["product_code", "product_line", "buy_price", "msrp"])
    products["product_key"] = products["product_code"].map(md5_key).astype("Int64")
    df = lines.merge(orders, on="order_number", how="inner")
    df = df.merge(products, on="product_code", how="left")
    day = df["order_date"].dt
    df["order_date_key"] = day.year * 10_000 + day.month * 100 + day.day
    quantity, price = df["quantity_ordered"], df["price_each"]
    df["order_amount"] = (quantity * price).round(2)
    df["profit"] = (quantity * (price - df["buy_price"])).round(2)
    df["discount_pct"] = (1 - price / df["msrp"].replace(0, np.nan)).round(4)
    return df


def _read(path: str, columns: list[str]) -> pd.DataFrame:
    """Read Parquet columns; decimals become float64, dates datetime64."""
    import pandas as pd
    import pyarrow.parquet as pq
    import pyarrow.types as pt

    df = pd.read_parquet(path, columns=columns)
    schema = pq.read_schema(path)
    for name in columns:
        kind = schema.field(name).type
        if pt.is_decimal(kind):
            df[name] = df[name].astype("float64")
        elif pt.is_date(kind):
            df[name] = pd.to_datetime(df[name])
    return df


def _arrow(df: pd.DataFrame) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_pandas(df, preserve_index=False)
