-- Product dimension (type 1: current attributes), one row per current product, with its
-- product line's text description.
WITH src_products AS (
    SELECT * FROM silver.products
),

src_productlines AS (
    SELECT * FROM silver.productlines
),

final AS (
    SELECT
        CAST('0x' || substr(md5(p.product_code), 1, 15) AS BIGINT) AS product_key,
        p.product_code,
        p.product_name,
        p.product_line,
        l.text_description AS product_line_description,
        p.product_scale,
        p.product_vendor,
        p.product_description,
        p.quantity_in_stock,
        p.buy_price,
        p.msrp
    FROM src_products AS p
    LEFT JOIN src_productlines AS l ON l.product_line = p.product_line
)

SELECT * FROM final
