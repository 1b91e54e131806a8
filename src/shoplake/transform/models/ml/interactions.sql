-- Implicit-feedback table for the recommender, one row per customer x product that the
-- customer bought (in an order that was not cancelled) or rated.
-- weight = greatest(ln(1 + quantity) + coalesce(rating - 3, 0) * 0.5, 0.1)
WITH src_lines AS (
    SELECT * FROM silver.orderdetails
),

src_orders AS (
    SELECT * FROM silver.orders
),

src_ratings AS (
    SELECT * FROM silver.ratings
),

purchases AS (
    SELECT
        o.customer_number,
        l.product_code,
        CAST(count(*) AS INTEGER) AS purchases,
        CAST(sum(l.quantity_ordered) AS BIGINT) AS quantity,
        CAST(max(o.order_date) AS TIMESTAMP) AS last_purchase_at
    FROM src_lines AS l
    INNER JOIN src_orders AS o ON o.order_number = l.order_number
    WHERE o.status <> 'Cancelled'
    GROUP BY 1, 2
),

combined AS (
    SELECT
        coalesce(p.customer_number, r.customer_number) AS customer_number,
        coalesce(p.product_code, r.product_code) AS product_code,
        coalesce(p.purchases, 0) AS purchases,
        coalesce(p.quantity, 0) AS quantity,
        r.product_rating AS rating,
        p.last_purchase_at,
        r.rated_at
    FROM purchases AS p
    FULL OUTER JOIN src_ratings AS r
        ON r.customer_number = p.customer_number AND r.product_code = p.product_code
),

final AS (
    SELECT
        customer_number,
        product_code,
        CAST(purchases AS INTEGER) AS purchases,
        CAST(quantity AS BIGINT) AS quantity,
        CAST(rating AS INTEGER) AS rating,
        CAST(
            greatest(ln(1 + quantity) + coalesce(rating - 3, 0) * 0.5, 0.1) AS DOUBLE
        ) AS weight,
        greatest(last_purchase_at, rated_at) AS last_interaction_at
    FROM combined
)

SELECT * FROM final
