-- Training table for rating prediction, one row per current rating (customer x product), with
-- the customer's location and credit limit and the product's line, scale, stock and prices.
-- Same columns and rows as the ClassicModels ratings_ml_training.csv export.
WITH src_ratings AS (
    SELECT * FROM silver.ratings
),

src_customers AS (
    SELECT * FROM silver.customers
),

src_products AS (
    SELECT * FROM silver.products
),

final AS (
    SELECT
        r.customer_number,
        r.product_code,
        c.city,
        c.state,
        c.postal_code,
        c.country,
        c.credit_limit,
        p.product_line,
        p.product_scale,
        p.quantity_in_stock,
        p.buy_price,
        p.msrp,
        r.product_rating
    FROM src_ratings AS r
    INNER JOIN src_customers AS c ON c.customer_number = r.customer_number
    INNER JOIN src_products AS p ON p.product_code = r.product_code
)

SELECT * FROM final
