-- Sales mart, one row per month x product line x customer country (the country of the customer
-- version each order points to). All order statuses count, as in fact_orders.
WITH facts AS (
    SELECT * FROM gold.fact_orders
),

product_lines AS (
    SELECT product_key, product_line FROM gold.dim_products
),

customer_countries AS (
    SELECT customer_key, country FROM gold.dim_customers
),

joined AS (
    SELECT
        CAST(date_trunc('month', f.order_date) AS DATE) AS "month",
        p.product_line,
        c.country,
        f.order_number,
        f.quantity_ordered,
        f.order_amount,
        f.profit
    FROM facts AS f
    INNER JOIN product_lines AS p ON p.product_key = f.product_key
    INNER JOIN customer_countries AS c ON c.customer_key = f.customer_key
),

final AS (
    SELECT
        "month",
        product_line,
        country,
        CAST(sum(order_amount) AS DECIMAL(18, 2)) AS revenue,
        CAST(count(DISTINCT order_number) AS INTEGER) AS orders,
        CAST(count(*) AS INTEGER) AS order_lines,
        CAST(sum(quantity_ordered) AS BIGINT) AS units,
        CAST(sum(profit) AS DECIMAL(18, 2)) AS profit
    FROM joined
    GROUP BY 1, 2, 3
)

SELECT * FROM final
