"""The four workloads in DuckDB SQL over the input Parquet files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shoplake.bench.engines.common import CANCELLED, SESSION_GAP_MINUTES

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

#: Order lines with their order, product and keys: the body of fact_orders.
ORDER_LINES_SQL = """
SELECT
    l.order_number,
    l.order_line_number,
    p.product_key,
    CAST(strftime(o.order_date, '%Y%m%d') AS INTEGER) AS order_date_key,
    o.order_date,
    o.required_date,
    o.shipped_date,
    o.status,
    o.customer_number,
    p.product_line,
    l.quantity_ordered,
    l.price_each,
    CAST(l.quantity_ordered * l.price_each AS DECIMAL(12, 2)) AS order_amount,
    p.buy_price,
    p.msrp,
    CAST(l.quantity_ordered * (l.price_each - p.buy_price) AS DECIMAL(12, 2)) AS profit,
    CAST(round(1 - l.price_each / NULLIF(p.msrp, 0), 4) AS DECIMAL(6, 4)) AS discount_pct
FROM orderdetails AS l
INNER JOIN orders AS o ON o.order_number = l.order_number
LEFT JOIN (
    SELECT *, CAST('0x' || substr(md5(product_code), 1, 15) AS BIGINT) AS product_key
    FROM products
) AS p ON p.product_code = l.product_code
"""

FACT_ORDERS_SQL = f"""
SELECT * EXCLUDE (customer_number, product_line) FROM ({ORDER_LINES_SQL})
"""

MONTHLY_REVENUE_SQL = f"""
SELECT
    CAST(date_trunc('month', f.order_date) AS DATE) AS "month",
    f.product_line,
    c.country,
    CAST(sum(f.order_amount) AS DECIMAL(18, 2)) AS revenue,
    CAST(count(DISTINCT f.order_number) AS INTEGER) AS orders,
    CAST(count(*) AS INTEGER) AS order_lines,
    CAST(sum(f.quantity_ordered) AS BIGINT) AS units,
    CAST(sum(f.profit) AS DECIMAL(18, 2)) AS profit
FROM ({ORDER_LINES_SQL}) AS f
INNER JOIN customers AS c ON c.customer_number = f.customer_number
WHERE f.product_key IS NOT NULL
GROUP BY 1, 2, 3
"""

SESSIONIZE_SQL = f"""
WITH deduplicated AS (
    SELECT * FROM events
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY _position) = 1
),
arrival AS (
    SELECT *, event_time < max(event_time) OVER (
        PARTITION BY session_id ORDER BY _position
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS is_late
    FROM deduplicated
),
numbered AS (
    SELECT *, sum(CASE
        WHEN event_time - prev_time <= INTERVAL {SESSION_GAP_MINUTES} MINUTE THEN 0 ELSE 1
    END) OVER (by_time ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session_index
    FROM (SELECT *, lag(event_time) OVER by_time AS prev_time FROM arrival
          WINDOW by_time AS (PARTITION BY session_id ORDER BY event_time, event_id))
    WINDOW by_time AS (PARTITION BY session_id ORDER BY event_time, event_id)
)
SELECT
    session_id,
    CAST(session_index AS INTEGER) AS session_index,
    max(customer_number) AS customer_number,
    min(device) AS device,
    min(event_time) AS started_at,
    max(event_time) AS ended_at,
    CAST(epoch(max(event_time)) - epoch(min(event_time)) AS DOUBLE) AS duration_seconds,
    CAST(count(*) AS INTEGER) AS events,
    CAST(count(*) FILTER (WHERE event_type = 'page_view') AS INTEGER) AS pages,
    CAST(count(DISTINCT product_code) FILTER (WHERE event_type = 'page_view') AS INTEGER)
        AS products_viewed,
    CAST(count(DISTINCT product_code) FILTER (WHERE event_type = 'add_to_cart') AS INTEGER)
        AS products_added,
    CAST(count(DISTINCT product_code) FILTER (WHERE event_type = 'purchase') AS INTEGER)
        AS products_purchased,
    count(*) FILTER (WHERE event_type = 'purchase') > 0 AS converted,
    CAST(count(*) FILTER (WHERE is_late) AS INTEGER) AS late_events
FROM numbered
GROUP BY session_id, session_index
"""

INTERACTION_MATRIX_SQL = f"""
WITH purchases AS (
    SELECT
        o.customer_number,
        l.product_code,
        count(*) AS purchases,
        sum(l.quantity_ordered) AS quantity,
        CAST(max(o.order_date) AS TIMESTAMP) AS last_purchase_at
    FROM orderdetails AS l
    INNER JOIN orders AS o ON o.order_number = l.order_number
    WHERE o.status <> '{CANCELLED}'
    GROUP BY 1, 2
)
SELECT
    coalesce(p.customer_number, r.customer_number) AS customer_number,
    coalesce(p.product_code, r.product_code) AS product_code,
    CAST(coalesce(p.purchases, 0) AS INTEGER) AS purchases,
    CAST(coalesce(p.quantity, 0) AS BIGINT) AS quantity,
    r.product_rating AS rating,
    CAST(greatest(ln(1 + coalesce(p.quantity, 0)) + coalesce(r.product_rating - 3, 0) * 0.5, 0.1)
        AS DOUBLE) AS weight,
    greatest(p.last_purchase_at, r.rated_at) AS last_interaction_at
FROM purchases AS p
FULL OUTER JOIN ratings AS r
    ON r.customer_number = p.customer_number AND r.product_code = p.product_code
"""


def fact_orders(inputs: dict[str, str]) -> pa.Table:
    """Order-line fact with product and date keys (no SCD2 customer lookup)."""
    return _run(inputs, FACT_ORDERS_SQL)


def monthly_revenue(inputs: dict[str, str]) -> pa.Table:
    """Revenue, orders, lines, units and profit by month x product line x country."""
    return _run(inputs, MONTHLY_REVENUE_SQL)


def sessionize(inputs: dict[str, str]) -> pa.Table:
    """Clickstream sessions: a session_id's events split at gaps over 30 minutes."""
    return _run(inputs, SESSIONIZE_SQL)


def interaction_matrix(inputs: dict[str, str]) -> pa.Table:
    """Customer x product implicit-feedback weights from purchases and ratings."""
    return _run(inputs, INTERACTION_MATRIX_SQL)


def _run(inputs: dict[str, str], sql: str) -> pa.Table:
    con = _connect(inputs)
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()


def _connect(inputs: dict[str, str]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB in UTC with one view per input file."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, path in inputs.items():
        quoted = path.replace("'", "''")
        con.execute(f"CREATE VIEW \"{name}\" AS SELECT * FROM read_parquet('{quoted}')")
    return con
