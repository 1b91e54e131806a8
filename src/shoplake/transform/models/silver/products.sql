-- Current state of each product (latest version per product_code; delete versions flagged).
WITH source AS (
    SELECT *
    FROM bronze.products
    QUALIFY row_number() OVER (PARTITION BY productCode ORDER BY _batch_id DESC) = 1
),

renamed AS (
    SELECT
        TRIM(productCode) AS product_code,
        TRIM(productName) AS product_name,
        TRIM(productLine) AS product_line,
        TRIM(productScale) AS product_scale,
        TRIM(productVendor) AS product_vendor,
        TRIM(productDescription) AS product_description,
        CAST(quantityInStock AS INTEGER) AS quantity_in_stock,
        CAST(buyPrice AS DECIMAL(10, 2)) AS buy_price,
        CAST(MSRP AS DECIMAL(10, 2)) AS msrp,
        _ingested_at AS ingested_at,
        _op = 'delete' AS _deleted
    FROM source
),

final AS (
    SELECT * FROM renamed
)

SELECT * FROM final
