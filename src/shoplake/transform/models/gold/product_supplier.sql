-- The product dimension joined with the supplier's offer for each product: the supplier's
-- current price, stock and lead time next to our buy price, and what reviewers say.
WITH src_products AS (
    SELECT * FROM gold.dim_products
),

src_offers AS (
    SELECT * FROM silver.supplier_products
),

src_reviews AS (
    SELECT * FROM silver.supplier_reviews
),

review_stats AS (
    SELECT
        supplier_sku,
        count(*) AS reviews,
        CAST(avg(rating) AS DOUBLE) AS avg_rating
    FROM src_reviews
    GROUP BY supplier_sku
),

final AS (
    SELECT
        p.product_key,
        p.product_code,
        p.product_name,
        p.product_line,
        o.supplier_sku,
        o.supplier_vendor,
        o.supplier_price,
        o.currency,
        p.buy_price,
        o.supplier_price - p.buy_price AS price_gap,
        o.supplier_stock,
        o.lead_time_days,
        o.discontinued,
        coalesce(r.reviews, 0) AS reviews,
        r.avg_rating,
        o.updated_at AS supplier_updated_at
    FROM src_products AS p
    INNER JOIN src_offers AS o ON o.product_code = p.product_code
    LEFT JOIN review_stats AS r ON r.supplier_sku = o.supplier_sku
)

SELECT * FROM final
