"""What every engine's jobs share: the workload names, the output columns, the key hash."""

from __future__ import annotations

import hashlib
from typing import Literal

Engine = Literal["pandas", "polars", "duckdb", "spark"]
ENGINES: tuple[Engine, ...] = ("pandas", "polars", "duckdb", "spark")
WORKLOADS: tuple[str, ...] = ("fact_orders", "monthly_revenue", "sessionize", "interaction_matrix")

#: gold.fact_orders' columns computable from silver without the SCD2 customer version lookup
#: (customer_key, employee_key and office_key need gold.dim_customers' version history).
FACT_COLUMNS: tuple[str, ...] = (
    "order_number",
    "order_line_number",
    "product_key",
    "order_date_key",
    "order_date",
    "required_date",
    "shipped_date",
    "status",
    "quantity_ordered",
    "price_each",
    "order_amount",
    "buy_price",
    "msrp",
    "profit",
    "discount_pct",
)
#: Columns each workload's output is compared on (None: all of the published table's).
COMPARED_COLUMNS: dict[str, tuple[str, ...] | None] = {
    "fact_orders": FACT_COLUMNS,
    "monthly_revenue": None,
    "sessionize": None,
    "interaction_matrix": None,
}
SESSION_GAP_MINUTES = 30
CANCELLED = "Cancelled"


def md5_key(text: str) -> int:
    """The dimensions' surrogate key: the first 15 hex digits of md5(text) as a BIGINT."""
    return int(hashlib.md5(text.encode()).hexdigest()[:15], 16)
